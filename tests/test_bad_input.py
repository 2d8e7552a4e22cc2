"""Bad configuration and arguments: exit non-zero within seconds, name the value and the fix, write nothing.

Each case runs `pinterest-sync` in a subprocess whose working folder, HOME, dlt data
folder and token store all live in the test's tmp folder, so "writes nothing" can be
checked on every file the run could touch. `tests/test_cli.py` covers the first cases
(malformed and reversed `--start-date`, a misspelt resource, a non-digit and a 20-digit
ad account id, missing credentials, an unclosed TOML table, click_window_days = 3, a
refused connection); the table below adds the rest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pipelines.pinterest.simulator import Simulator, SimulatorConfig

REPO = Path(__file__).resolve().parents[1]
TODAY = dt.datetime.now(dt.timezone.utc).date()
# Generous for a loaded 2-core machine, where starting Python and dlt alone takes seconds.
MAX_SECONDS = 30.0

EXIT_FAILED, EXIT_INVALID, EXIT_AUTH = 1, 2, 3

CLIENT_SECRET = "secret-value-8f2c"
REFRESH_TOKEN = "pinr.refresh-value-8f2c"
CREDENTIALS = {
    "SOURCES__PINTEREST__CREDENTIALS__CLIENT_ID": "1234",
    "SOURCES__PINTEREST__CREDENTIALS__CLIENT_SECRET": CLIENT_SECRET,
    "SOURCES__PINTEREST__CREDENTIALS__REFRESH_TOKEN": REFRESH_TOKEN,
    # Nothing listens on port 9: a request would fail, so an early exit proves none was sent.
    "SOURCES__PINTEREST__BASE_URL": "http://127.0.0.1:9/v5",
}
# A token store from an earlier authorization, which no failed run may change.
EXISTING_STORE = '{"version": 1, "clients": {}}'


@dataclass(frozen=True)
class BadInput:
    """One bad input: CLI arguments, environment overrides (None unsets) and files to create."""

    args: tuple[str, ...]
    named: tuple[str, ...]
    env: dict[str, str | None] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    exit_code: int = EXIT_INVALID


def analytics(name: str, value: str, *named: str) -> BadInput:
    return BadInput(("run",), (f"sources.pinterest.analytics.{name}", *named), {f"SOURCES__PINTEREST__ANALYTICS__{name.upper()}": value})


def setting(name: str, value: str, *named: str) -> BadInput:
    return BadInput(("run",), (f"sources.pinterest.{name}", *named), {f"SOURCES__PINTEREST__{name.upper()}": value})


NO_CREDENTIALS = {name: None for name in CREDENTIALS if "CREDENTIALS" in name}

BAD_INPUTS = {
    # Dates.
    "end date not in calendar": BadInput(("run", "--end-date", "2024-02-30"), ("--end-date", "'2024-02-30'", "YYYY-MM-DD")),
    "start date not zero-padded": BadInput(("run", "--start-date", "2024-5-1"), ("'2024-5-1'", "YYYY-MM-DD")),
    "start date as a word": setting("start_date", "yesterday", "'yesterday'", "YYYY-MM-DD"),
    "end date in the future": BadInput(("run", "--end-date", (TODAY + dt.timedelta(days=2)).isoformat()),
                                       ("--end-date", (TODAY + dt.timedelta(days=2)).isoformat(), "future", "today")),
    "configured dates reversed": BadInput(("run",), ("sources.pinterest.end_date", "2024-03-01", "before the start date 2024-03-05"),
                                          {"SOURCES__PINTEREST__START_DATE": "2024-03-05", "SOURCES__PINTEREST__END_DATE": "2024-03-01"}),
    # Resources.
    "resources only commas": BadInput(("run", "--resources", " , "), ("--resources", "empty", "campaigns")),
    "resource name capitalised": BadInput(("run", "--resources", "Campaigns"), ("'Campaigns'", "Valid names", "campaigns")),
    "configured resource unknown": setting("resources", "pins,pin_stats", "'pin_stats'", "Valid names"),
    # Ad account ids.
    "ad account id with full-width digits": BadInput(("run", "--ad-account-ids", "１２３"), ("'１２３'", "digits only")),
    "ad account id in hex": BadInput(("run", "--ad-account-ids", "549755885175,0x1F"), ("'0x1F'", "digits only")),
    "configured ad account id with a space": setting("ad_account_ids", "5497 55885175", "'5497 55885175'", "digits only"),
    "configured ad account id too long": setting("ad_account_ids", "1" * 25, "1" * 25, "at most 19"),
    # Analytics settings.
    "unknown analytics column": analytics("columns", "SPEND_IN_MICRO_DOLLAR,SPEND_IN_DOLLARS", "'SPEND_IN_DOLLARS'", "SPEND_IN_MICRO_DOLLAR"),
    "empty analytics columns": analytics("columns", "", "empty", "SPEND_IN_MICRO_DOLLAR"),
    "engagement window of 2 days": analytics("engagement_window_days", "2", "'2'", "0, 1, 7, 14, 30, 60"),
    "negative view window": analytics("view_window_days", "-1", "'-1'", "0, 1, 7, 14, 30, 60"),
    "click window as a word": analytics("click_window_days", "seven", "'seven'", "0, 1, 7, 14, 30, 60"),
    "unknown conversion report time": analytics("conversion_report_time", "TIME_OF_CLICK", "'TIME_OF_CLICK'", "TIME_OF_AD_ACTION"),
    "weekly granularity": analytics("granularity", "WEEK", "'WEEK'", "DAY, HOUR"),
    "unknown targeting type": analytics("targeting_types", "COUNTRY,SHOE_SIZE", "'SHOE_SIZE'", "AGE_BUCKET"),
    "lookback beyond 89 days": analytics("lookback_days", "120", "'120'", "0 to 89"),
    # Other settings.
    "zero workers": setting("max_workers", "0", "'0'", "1 to 64"),
    "unknown entity status": setting("entity_statuses", "ACTIVE,DELETED", "'ACTIVE,DELETED'", "ARCHIVED"),
    "unknown backend": BadInput(("run",), ("backend", "'graphql'", "pinterest, airbyte"), {"SOURCES__PINTEREST__BACKEND": "graphql"}),
    "base URL without scheme": setting("base_url", "api.pinterest.com/v5", "'api.pinterest.com/v5'", "https://api.pinterest.com/v5"),
    "continuous refresh not a boolean": BadInput(("run",), ("continuous_refresh", "'maybe'", "true or false"),
                                                 {"SOURCES__PINTEREST__CREDENTIALS__CONTINUOUS_REFRESH": "maybe"}),
    "empty pipeline name": BadInput(("run", "--pipeline-name", ""), ("--pipeline-name",)),
    # Credentials.
    "blank client secret": BadInput(("run",), ("sources.pinterest.credentials.client_secret", "SOURCES__PINTEREST__CREDENTIALS__CLIENT_SECRET"),
                                    {"SOURCES__PINTEREST__CREDENTIALS__CLIENT_SECRET": "   "}),
    "empty refresh token": BadInput(("run",), ("sources.pinterest.credentials.refresh_token", "pinterest-sync auth"),
                                    {"SOURCES__PINTEREST__CREDENTIALS__REFRESH_TOKEN": ""}),
    "credentials in config.toml": BadInput(
        ("run",), ("sources.pinterest.credentials.client_id", "secrets.toml"), NO_CREDENTIALS,
        {".dlt/config.toml": f'[sources.pinterest.credentials]\nclient_id = "1234"\nclient_secret = "{CLIENT_SECRET}"\nrefresh_token = "{REFRESH_TOKEN}"\n'},
    ),
    "credentials as a string in secrets.toml": BadInput(
        ("run",), ("sources.pinterest.credentials.client_id", "secrets.toml"), NO_CREDENTIALS,
        {".dlt/secrets.toml": '[sources.pinterest]\ncredentials = "1234"\n'},
    ),
    "unterminated string in secrets.toml": BadInput(
        ("run",), ("secrets.toml",), NO_CREDENTIALS,
        {".dlt/secrets.toml": f'[sources.pinterest.credentials]\nclient_id = "1234\nclient_secret = "{CLIENT_SECRET}"\n'},
    ),
    "malformed config.toml": BadInput(("run",), ("config.toml",), {}, {".dlt/config.toml": "[sources.pinterest\nstart_date = 2024-01-01\n"}),
    # Click's own checks.
    "unknown log level": BadInput(("--log-level", "TRACE", "run"), ("'TRACE'", "--log-level")),
    "unknown option": BadInput(("run", "--start", "2024-01-01"), ("--start",)),
}


def run_cli(args: tuple[str, ...], cwd: Path, env: dict[str, str | None], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full_env = {key: value for key, value in os.environ.items() if not key.startswith(("SOURCES__", "DESTINATION"))}
    full_env.update({
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "PYTHONPATH": str(REPO),
        "HOME": str(cwd / "home"),
        "DLT_DATA_DIR": str(cwd / "dlt-data"),
        "SOURCES__PINTEREST__TOKEN_STORE_PATH": str(cwd / "state" / "tokens.json"),
        **CREDENTIALS,
    })
    for key, value in env.items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    return subprocess.run([sys.executable, "-m", "pipelines.pinterest.cli", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def prepare(tmp_path: Path, files: dict[str, str]) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "state").mkdir(mode=0o700)
    (tmp_path / "state" / "tokens.json").write_text(EXISTING_STORE)
    os.chmod(tmp_path / "state" / "tokens.json", 0o600)
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def file_digests(root: Path) -> dict[str, str]:
    """Return the SHA-256 of every file below `root`, leaving out lock files, which hold no data."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.name.endswith(".lock")
    }


def assert_wrote_nothing(tmp_path: Path, before: dict[str, str]) -> None:
    after = file_digests(tmp_path)

    assert not [name for name in after if name.endswith((".duckdb", ".duckdb.wal"))], after
    assert not [name for name in after if name.endswith("state.json")], after
    assert after.get("state/tokens.json") == before["state/tokens.json"]
    assert after == before


@pytest.mark.parametrize("case", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_rejected(tmp_path, case):
    prepare(tmp_path, case.files)
    before = file_digests(tmp_path)
    started = time.monotonic()

    result = run_cli(case.args, tmp_path, case.env)

    elapsed = time.monotonic() - started
    assert result.returncode == case.exit_code, result.stderr[-2000:]
    for text in case.named:
        assert text in result.stderr, f"{text!r} not in: {result.stderr[-2000:]}"
    assert "Traceback" not in result.stderr
    assert elapsed < MAX_SECONDS
    assert_wrote_nothing(tmp_path, before)


@pytest.fixture
def refusing_sim() -> Iterator[Simulator]:
    with Simulator(SimulatorConfig(seed=7, scale="small")) as sim:
        yield sim


def rejected_credentials(sim: Simulator, case: str) -> tuple[dict[str, str | None], tuple[str, ...], int]:
    """Environment, expected message parts and exit status of an input the API rejects."""
    base = {
        "SOURCES__PINTEREST__BASE_URL": sim.base_url,
        "SOURCES__PINTEREST__CREDENTIALS__CLIENT_ID": sim.client_id,
        "SOURCES__PINTEREST__CREDENTIALS__CLIENT_SECRET": sim.client_secret,
        "SOURCES__PINTEREST__CREDENTIALS__REFRESH_TOKEN": sim.refresh_token,
    }
    if case == "revoked refresh token":
        sim.faults.reject_refresh = True
        return base, ("configured refresh token", sim.client_id, "pinterest-sync auth"), EXIT_AUTH
    if case == "wrong client secret":
        secret = {"SOURCES__PINTEREST__CREDENTIALS__CLIENT_SECRET": "0" * 40}
        return {**base, **secret}, (sim.client_id, "sources.pinterest.credentials.client_secret"), EXIT_AUTH
    if case == "base URL without /v5":
        return {**base, "SOURCES__PINTEREST__BASE_URL": sim.origin}, (sim.origin, "sources.pinterest.base_url"), EXIT_FAILED
    if case == "refused connection":
        return {**base, "SOURCES__PINTEREST__BASE_URL": "http://127.0.0.1:9/v5"}, ("http://127.0.0.1:9/v5", "sources.pinterest.base_url"), EXIT_FAILED
    raise ValueError(case)


@pytest.mark.parametrize("case", ["revoked refresh token", "wrong client secret", "base URL without /v5", "refused connection"])
def test_rejected_credentials_write_nothing(tmp_path, refusing_sim, case):
    """Credentials or a base URL that fail the first request leave no destination, state or token behind."""
    env, named, exit_code = rejected_credentials(refusing_sim, case)
    prepare(tmp_path, {})
    before = file_digests(tmp_path)
    started = time.monotonic()

    result = run_cli(("run",), tmp_path, env)

    assert result.returncode == exit_code, result.stderr[-2000:]
    for text in named:
        assert text in result.stderr, f"{text!r} not in: {result.stderr[-2000:]}"
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < MAX_SECONDS
    assert_wrote_nothing(tmp_path, before)


def test_corrupt_token_store_left_alone(tmp_path):
    prepare(tmp_path, {})
    store = tmp_path / "state" / "tokens.json"
    store.write_text("not json")
    before = file_digests(tmp_path)

    result = run_cli(("run",), tmp_path, {})

    assert result.returncode == EXIT_INVALID, result.stderr[-2000:]
    assert str(store) in result.stderr
    assert "pinterest-sync auth" in result.stderr
    assert_wrote_nothing(tmp_path, before)
