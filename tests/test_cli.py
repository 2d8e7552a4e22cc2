"""The command line: bad input exits non-zero with a clear message and writes nothing."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TODAY = dt.datetime.now(dt.timezone.utc).date()


def run_cli(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full_env = {key: value for key, value in os.environ.items() if not key.startswith(("SOURCES__", "DESTINATION"))}
    full_env.update({"RUNTIME__DLTHUB_TELEMETRY": "false", "PYTHONPATH": str(REPO), "DLT_DATA_DIR": str(cwd / "dlt-data")})
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "pipelines.pinterest.cli", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


CREDENTIALS = {
    "SOURCES__PINTEREST__CREDENTIALS__CLIENT_ID": "1234",
    "SOURCES__PINTEREST__CREDENTIALS__CLIENT_SECRET": "secret-value-xyz",
    "SOURCES__PINTEREST__CREDENTIALS__REFRESH_TOKEN": "pinr.refresh-value-xyz",
    # Nothing listens here: a request would fail, so an early exit proves none was sent.
    "SOURCES__PINTEREST__BASE_URL": "http://127.0.0.1:9/v5",
}

BAD_INPUTS = [
    (["--start-date", "2024-13-01"], "2024-13-01"),
    (["--start-date", "01/05/2024"], "01/05/2024"),
    (["--start-date", (TODAY + dt.timedelta(days=3)).isoformat()], "future"),
    (["--start-date", "2024-05-10", "--end-date", "2024-05-01"], "before the start date"),
    (["--resources", "campaigns,campains"], "campains"),
    (["--ad-account-ids", "12ab"], "12ab"),
    (["--ad-account-ids", "1" * 20], "1" * 20),
    (["--resources", ""], "--resources is empty"),
    (["--ad-account-ids", " "], "--ad-account-ids is empty"),
]


@pytest.mark.parametrize(("args", "named"), BAD_INPUTS)
def test_bad_arguments_exit_before_requests(tmp_path, args, named):
    started = time.monotonic()

    result = run_cli(["run", *args], tmp_path, CREDENTIALS)

    assert result.returncode == 2, result.stderr
    assert named in result.stderr
    assert time.monotonic() - started < 30
    assert not list(tmp_path.glob("*.duckdb"))
    assert not (tmp_path / "dlt-data").exists() or not list((tmp_path / "dlt-data").rglob("state.json"))


@pytest.mark.parametrize("missing", ["CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"])
def test_missing_credential_names_key_and_variable(tmp_path, missing):
    env = {key: value for key, value in CREDENTIALS.items() if not key.endswith(missing)}

    result = run_cli(["run"], tmp_path, env)

    assert result.returncode == 2
    assert f"sources.pinterest.credentials.{missing.lower()}" in result.stderr
    assert f"SOURCES__PINTEREST__CREDENTIALS__{missing}" in result.stderr


def test_malformed_secrets_toml(tmp_path):
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "secrets.toml").write_text('[sources.pinterest.credentials\nclient_id = "1"\n')

    result = run_cli(["run"], tmp_path)

    assert result.returncode == 2
    assert "secrets.toml" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_attribution_window(tmp_path):
    env = {**CREDENTIALS, "SOURCES__PINTEREST__ANALYTICS__CLICK_WINDOW_DAYS": "3"}

    result = run_cli(["run"], tmp_path, env)

    assert result.returncode == 2
    assert "click_window_days" in result.stderr
    assert "'3'" in result.stderr or " 3 " in result.stderr


def test_unreachable_base_url_fails_fast(tmp_path):
    started = time.monotonic()

    result = run_cli(["run", "--resources", "boards"], tmp_path, CREDENTIALS, timeout=120)

    assert result.returncode != 0
    assert "127.0.0.1:9" in result.stderr
    assert time.monotonic() - started < 90
    assert "secret-value-xyz" not in result.stderr + result.stdout
    assert "refresh-value-xyz" not in result.stderr + result.stdout


def test_demo_loads_every_entity_table(tmp_path):
    result = run_cli(["demo"], tmp_path, timeout=600)

    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "pinterest.duckdb").exists()
    for table in ("campaigns", "pins", "catalog_product_groups", "user_account"):
        assert table in result.stdout
    assert "notebooks" in result.stdout


def test_stored_token_serves_without_configured_one(tmp_path, monkeypatch):
    """After `auth` stored a token, a run needs no refresh token in the configuration."""
    from pipelines.pinterest.config import load_config
    from pipelines.pinterest.token_store import StoredToken, TokenStore

    store_path = tmp_path / "tokens.json"
    store = TokenStore(store_path)
    with store.lock():
        store.save("1234", StoredToken("pinr.from-auth", None, "fingerprint-of-nothing"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCES__PINTEREST__CREDENTIALS__CLIENT_ID", "1234")
    monkeypatch.setenv("SOURCES__PINTEREST__CREDENTIALS__CLIENT_SECRET", "secret")
    monkeypatch.delenv("SOURCES__PINTEREST__CREDENTIALS__REFRESH_TOKEN", raising=False)
    monkeypatch.setenv("SOURCES__PINTEREST__TOKEN_STORE_PATH", str(store_path))

    config = load_config()

    assert config.credentials.refresh_token == "pinr.from-auth"
    assert config.credentials.client_id == "1234"
