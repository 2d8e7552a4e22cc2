"""Secrets suite: no client secret, refresh token or access token outside the token store.

The module runs several syncs against one simulator with debug logging:
- CLI runs with retried faults, a failing resource and a mid-run token refresh;
- a CLI run whose mid-run refresh is rejected, so the failure lands in dlt's trace;
- `check`, and a CLI run with a revoked refresh token;
- an in-process run logging everything, httpx included, to a file.
The tests then grep every output, log, dlt pipeline file (job files decompressed, Parquet
read, `trace.pickle` unpickled), destination table and formatted traceback for every
secret the simulator issued. The simulator keeps every access token it issued, and the
refresh tokens are recorded as it rotates them.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import io
import json
import logging
import os
import stat
import subprocess
import sys
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from dlt.common.versioned_state import decompress_state
from dlt.pipeline.trace import load_trace

from pipelines.pinterest.auth import Credentials
from pipelines.pinterest.client import PinterestClient
from pipelines.pinterest.config import SyncConfig
from pipelines.pinterest.errors import AuthError
from pipelines.pinterest.settings import ENTITY_TABLES
from pipelines.pinterest.simulator import Simulator, SimulatorConfig
from pipelines.pinterest.token_store import StoredToken, TokenStore

from .crash_worker import sync_once

REPO = Path(__file__).resolve().parents[1]
TODAY = dt.datetime.now(dt.timezone.utc).date()
RESOURCES = ENTITY_TABLES + ("campaign_analytics", "user_account_analytics")
EXPIRED_TOKEN = {"code": 2, "message": "Authentication failed: the access token is invalid or expired."}


@dataclass
class Evidence:
    """Everything the runs produced that could hold a secret, gathered for the scan."""

    root: Path
    client_id: str
    client_secret: str
    outputs: dict[str, str] = field(default_factory=dict)
    exit_codes: dict[str, int] = field(default_factory=dict)
    refresh_tokens: list[str] = field(default_factory=list)
    access_tokens: list[str] = field(default_factory=list)
    token_stores: list[Path] = field(default_factory=list)


def record_refresh_tokens(sim: Simulator, issued: list[str]) -> None:
    """Append every refresh token the simulator issues to `issued`, starting with the first."""
    issued.append(sim.refresh_token)
    rotate = sim.oauth.rotate_refresh_token

    def recording_rotate(scopes: tuple[str, ...]) -> tuple[str, int]:
        token, expires_at = rotate(scopes)
        issued.append(token)
        return token, expires_at

    sim.oauth.rotate_refresh_token = recording_rotate  # type: ignore[method-assign]


def reject_refreshes_after_the_next(sim: Simulator) -> None:
    """Let the next refresh succeed and reject every later one, as a revocation mid-run would."""
    rotate = sim.oauth.rotate_refresh_token

    def rotate_then_revoke(scopes: tuple[str, ...]) -> tuple[str, int]:
        result = rotate(scopes)
        sim.faults.reject_refresh = True
        sim.oauth.rotate_refresh_token = rotate  # type: ignore[method-assign]
        return result

    sim.oauth.rotate_refresh_token = rotate_then_revoke  # type: ignore[method-assign]


def run_cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {key: value for key, value in os.environ.items() if not key.startswith(("SOURCES__", "DESTINATION"))}
    full_env.update({
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "PYTHONPATH": str(REPO),
        "HOME": str(cwd / "home"),
        "DLT_DATA_DIR": str(cwd / "dlt-data"),
        **env,
    })
    return subprocess.run([sys.executable, "-m", "pipelines.pinterest.cli", "--log-level", "DEBUG", *args],
                          cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300)


def cli_env(sim: Simulator, configured_refresh_token: str, cwd: Path) -> dict[str, str]:
    return {
        "SOURCES__PINTEREST__BASE_URL": sim.base_url,
        "SOURCES__PINTEREST__CREDENTIALS__CLIENT_ID": sim.client_id,
        "SOURCES__PINTEREST__CREDENTIALS__CLIENT_SECRET": sim.client_secret,
        "SOURCES__PINTEREST__CREDENTIALS__REFRESH_TOKEN": configured_refresh_token,
        "SOURCES__PINTEREST__START_DATE": (TODAY - dt.timedelta(days=10)).isoformat(),
        "SOURCES__PINTEREST__TOKEN_STORE_PATH": str(cwd / "state" / "tokens.json"),
    }


def in_process_run_logged(sim: Simulator, work_dir: Path, evidence: Evidence) -> None:
    """Sync in this process with every logger at DEBUG into a file, then fail one sync and keep its traceback."""
    log_path = work_dir / "debug.log"
    work_dir.mkdir(parents=True)
    handler = logging.FileHandler(log_path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        spec = {
            "base_url": sim.base_url, "client_id": sim.client_id, "client_secret": sim.client_secret,
            "refresh_token": sim.refresh_token, "work_dir": str(work_dir), "resources": list(RESOURCES),
            "start_date": (TODAY - dt.timedelta(days=10)).isoformat(), "today": TODAY.isoformat(),
        }
        sim.faults.fail_next.append(("GET /v5/boards", 401, EXPIRED_TOKEN))
        outcome = sync_once(spec)
        evidence.outputs["in-process result"] = json.dumps(outcome)

        reject_refreshes_after_the_next(sim)
        sim.faults.fail_next.append(("GET /v5/boards", 401, EXPIRED_TOKEN))
        failing = {**spec, "refresh_token": sim.refresh_token, "work_dir": str(work_dir / "failing")}
        try:
            sync_once(failing)
        except Exception as error:  # noqa: BLE001 - any failure's traceback is scanned
            evidence.outputs["in-process traceback"] = "".join(traceback.format_exception(error))
            evidence.outputs["in-process repr"] = repr(error) + str(error)
        else:
            pytest.fail("the sync with a rejected mid-run refresh did not fail")
        finally:
            sim.faults.reject_refresh = False
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
        handler.close()
    evidence.token_stores += [work_dir / "state" / "tokens.json", work_dir / "failing" / "state" / "tokens.json"]


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Evidence]:
    root = tmp_path_factory.mktemp("secrets")
    with Simulator(SimulatorConfig(seed=7, scale="small", today=TODAY)) as sim:
        collected = Evidence(root=root, client_id=sim.client_id, client_secret=sim.client_secret)
        record_refresh_tokens(sim, collected.refresh_tokens)
        cwd = root / "cli"
        (cwd / "home").mkdir(parents=True)
        env = cli_env(sim, sim.refresh_token, cwd)
        collected.token_stores.append(cwd / "state" / "tokens.json")
        resources = ["--resources", ",".join(RESOURCES)]

        # Retried faults, a failing resource and a mid-run refresh, all at debug level.
        sim.faults.error_rate = 0.05
        sim.faults.items_not_list_paths.add("/ad_accounts/{ad_account_id}/customer_lists")
        sim.faults.fail_next.append(("GET /v5/boards", 401, EXPIRED_TOKEN))
        first = run_cli(["run", *resources], cwd, env)
        sim.faults.error_rate = 0.0
        sim.faults.items_not_list_paths.clear()

        second = run_cli(["run", *resources], cwd, env)
        check = run_cli(["check"], cwd, env)

        # The refresh after the 401 is rejected inside dlt's extract step.
        reject_refreshes_after_the_next(sim)
        sim.faults.fail_next.append(("GET /v5/boards", 401, EXPIRED_TOKEN))
        mid_run_rejection = run_cli(["run", *resources, "--pipeline-name", "rejected"], cwd,
                                    {**env, "SOURCES__PINTEREST__CREDENTIALS__REFRESH_TOKEN": sim.refresh_token})
        revoked = run_cli(["run", *resources], cwd, env)
        sim.faults.reject_refresh = False

        for name, result in {"first run": first, "second run": second, "check": check,
                             "rejected mid-run": mid_run_rejection, "revoked": revoked}.items():
            collected.outputs[f"{name} stdout"] = result.stdout
            collected.outputs[f"{name} stderr"] = result.stderr
            collected.exit_codes[name] = result.returncode

        in_process_run_logged(sim, root / "in-process", collected)

        collected.access_tokens = list(sim.oauth.access_tokens)
        yield collected


def secret_values(evidence: Evidence) -> dict[str, str]:
    """Return each secret under a label that is safe to print: its kind and index, never the value."""
    secrets = {"client secret": evidence.client_secret}
    secrets["basic authorization"] = base64.b64encode(f"{evidence.client_id}:{evidence.client_secret}".encode()).decode()
    for index, token in enumerate(evidence.refresh_tokens):
        secrets[f"refresh token #{index}"] = token
        secrets[f"refresh token #{index} without prefix"] = token.removeprefix("pinr.")
    for index, token in enumerate(evidence.access_tokens):
        secrets[f"access token #{index}"] = token
    return secrets


def leaks_in(text: str | bytes, secrets: dict[str, str]) -> list[str]:
    data = text.encode("utf-8", "replace") if isinstance(text, str) else text
    return [label for label, value in secrets.items() if value.encode() in data]


def readable_forms(path: Path) -> Iterator[tuple[str, bytes]]:
    """Yield the raw bytes of a file, plus its decoded content when it is gzip, Parquet, dlt state or a dlt trace."""
    raw = path.read_bytes()
    yield "raw", raw
    if raw[:2] == b"\x1f\x8b":
        yield "gunzipped", gzip.decompress(raw)
    if raw[:4] == b"PAR1":
        yield "parquet rows", repr(pq.read_table(io.BytesIO(raw)).to_pylist()).encode()
    if path.name == "trace.pickle":
        trace = load_trace(str(path.parent), ignore_errors=False)
        assert trace is not None
        yield "trace", (json.dumps(trace.asdict(), default=str) + repr(trace) + trace.asstr(verbosity=2)).encode()
    if path.name == "state.json":
        yield "state", json.dumps(json.loads(raw)).encode()


def destination_texts(database: Path) -> Iterator[tuple[str, str]]:
    """Yield every text value of every table in a DuckDB file, with `_dlt_pipeline_state` decompressed."""
    connection = duckdb.connect(str(database), read_only=True)
    try:
        columns = connection.execute(
            "SELECT table_catalog, table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE data_type IN ('VARCHAR', 'JSON') OR data_type LIKE '%[]'"
        ).fetchall()
        for catalog, schema, table, column in columns:
            values = connection.execute(f'SELECT "{column}"::VARCHAR FROM "{catalog}"."{schema}"."{table}"').fetchall()
            text = "\n".join(str(value[0]) for value in values)
            if table == "_dlt_pipeline_state" and column == "state":
                text += "\n".join(json.dumps(decompress_state(value[0])) for value in values if value[0])
            yield f"{database.name}:{schema}.{table}.{column}", text
    finally:
        connection.close()


def test_runs_behaved_as_planned(evidence):
    codes = evidence.exit_codes
    assert (codes["first run"], codes["second run"], codes["check"], codes["revoked"]) == (1, 0, 0, 3)
    assert codes["rejected mid-run"] != 0
    assert "Pinterest rejected the refresh token" in evidence.outputs["rejected mid-run stderr"]
    assert "customer_lists" in evidence.outputs["first run stderr"] + evidence.outputs["first run stdout"]
    assert "DEBUG" in evidence.outputs["first run stderr"]
    assert "pinterest-sync auth" in evidence.outputs["revoked stderr"]
    assert "AuthError" in evidence.outputs["in-process traceback"]
    assert len(evidence.refresh_tokens) >= 6
    assert len(evidence.access_tokens) >= 5


def test_no_secret_in_outputs_or_tracebacks(evidence):
    secrets = secret_values(evidence)

    leaks = {name: leaks_in(text, secrets) for name, text in evidence.outputs.items()}

    assert {name: found for name, found in leaks.items() if found} == {}


def test_no_secret_in_files(evidence):
    """Scan logs, DuckDB files, dlt's pipelines folders (state, schemas, job files, traces) and HOME."""
    secrets = secret_values(evidence)
    stores = {path.resolve() for path in evidence.token_stores}
    scanned: Counter[str] = Counter()
    leaks: dict[str, list[str]] = {}

    for path in sorted(evidence.root.rglob("*")):
        if not path.is_file() or path.resolve() in stores:
            continue
        for form, content in readable_forms(path):
            scanned[form] += 1
            found = leaks_in(content, secrets)
            if found:
                leaks[f"{path.relative_to(evidence.root)} ({form})"] = found

    assert leaks == {}
    names = {path.name for path in evidence.root.rglob("*")}
    assert {"trace.pickle", "state.json", "debug.log", "pinterest.duckdb"} <= names
    assert scanned["raw"] > 50
    assert scanned["parquet rows"] > 10
    assert scanned["trace"] >= 3
    assert scanned["state"] >= 3


def test_no_secret_in_destination_tables(evidence):
    secrets = secret_values(evidence)
    databases = sorted(evidence.root.rglob("*.duckdb"))
    scanned: list[str] = []
    leaks: dict[str, list[str]] = {}

    for database in databases:
        for location, text in destination_texts(database):
            scanned.append(location)
            found = leaks_in(text, secrets)
            if found:
                leaks[location] = found

    assert leaks == {}
    assert "pinterest.duckdb:pinterest._dlt_pipeline_state.state" in scanned
    assert "sync.duckdb:pinterest.campaigns.name" in scanned


def test_token_store_holds_only_the_newest_refresh_token(evidence):
    secrets = secret_values(evidence)
    store = evidence.root / "cli" / "state" / "tokens.json"

    found = leaks_in(store.read_bytes(), secrets)

    newest = [label for label in found if label.startswith("refresh token #") and not label.endswith("prefix")]
    assert len(newest) == 1
    assert not [label for label in found if label.startswith(("access token", "client secret", "basic"))]
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.parent.stat().st_mode) == 0o700


def test_config_and_client_reprs_hide_secrets(tmp_path):
    credentials = Credentials("1234", "client-secret-5d1e", "pinr.refresh-5d1e")
    config = SyncConfig(base_url="http://127.0.0.1:9/v5", credentials=credentials, start_date=TODAY, end_date=None,
                        ad_account_ids=None, resources=("campaigns",), token_store_path=tmp_path / "tokens.json")
    client = PinterestClient(config.base_url, credentials, TokenStore(config.token_store_path))
    stored = StoredToken("pinr.rotated-5d1e", None, "fingerprint")
    error = AuthError("Pinterest rejected the configured refresh token for client id 1234.")

    texts = [repr(credentials), repr(config), str(config), repr(client), repr(client.auth), repr(stored), repr(error)]
    client.close()

    for text in texts:
        assert "5d1e" not in text, text


@pytest.mark.parametrize("umask", [0o000, 0o022])
def test_token_store_file_is_private(tmp_path, umask):
    """The file is 0600 and a new folder 0700 whatever the umask, also when an older file was 0644."""
    path = tmp_path / "state" / "tokens.json"
    store = TokenStore(path)
    previous = os.umask(umask)
    try:
        with store.lock():
            store.save("1234", StoredToken("pinr.first", None, "fingerprint"))
        os.chmod(path, 0o644)
        with store.lock():
            store.save("1234", StoredToken("pinr.second", None, "fingerprint"))
    finally:
        os.umask(previous)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [entry.name for entry in path.parent.iterdir() if entry.name.endswith(".tmp")] == []


@pytest.mark.parametrize("name", [
    ".dlt/secrets.toml",
    ".dlt/tokens.json",
    ".dlt/pinterest_tokens.json",
    # The token store writes this temporary file, then renames it over the store. A crash
    # between the two leaves it behind, holding a live refresh token.
    ".dlt/.tokens.json.0123456789abcdef.tmp",
    "pinterest.duckdb",
    "pinterest.duckdb.wal",
])
def test_gitignore_covers_secret_files(name):
    result = subprocess.run(["git", "check-ignore", "--no-index", "-q", name], cwd=REPO, capture_output=True, text=True)

    assert result.returncode == 0, f"{name} is not ignored by .gitignore"
