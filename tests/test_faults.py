"""Fault suite: a flaky, throttling API must not change what a full sync loads.

Every sync here loads the entity tables and five analytics tables from a simulator with
faults switched on, through a client with a short timeout and a fast backoff. Its tables
must hold the same rows as a clean run's, dlt's own columns aside. Faults that cannot be retried (a repeated bookmark, `items` that is not
a list) must stop only their own resource, with an error naming the endpoint.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.pinterest.auth import Credentials
from pipelines.pinterest.client import PinterestClient
from pipelines.pinterest.settings import ENTITY_TABLES
from pipelines.pinterest.simulator import ERROR_KINDS, Simulator, SimulatorConfig
from pipelines.pinterest.token_store import TokenStore

from .crash_worker import sync_once, table_snapshot
from .test_bad_input import EXIT_AUTH, run_cli

ANALYTICS_TABLES = ("ad_account_analytics", "campaign_analytics", "ad_group_analytics", "user_account_analytics", "pin_analytics")
RESOURCES = ENTITY_TABLES + ANALYTICS_TABLES
START_DAYS_BACK = 10
TODAY = dt.datetime.now(dt.timezone.utc).date()
ERROR_RATE = 0.05
MIXED_RUNS = 3

# A timeout fault stalls the response twice as long as the client waits for it.
CLIENT_TIMEOUT_SECONDS = 1.0
STALL_SECONDS = 2.0

# A one-second quota window keeps each 429 wait at one second.
BURSTY_LIMITS = {"ads_read": 20, "ads_analytics": 8, "org_read": 8, "org_analytics": 8, "catalogs_read": 3, "per_second": 40}

EXPIRED_TOKEN = {"code": 2, "message": "Authentication failed: the access token is invalid or expired."}


def make_simulator(**overrides: Any) -> Simulator:
    return Simulator(SimulatorConfig(seed=7, scale="small", today=TODAY, **overrides)).start()


def spec_for(sim: Simulator, work_dir: Path) -> dict[str, Any]:
    return {
        "base_url": sim.base_url,
        "client_id": sim.client_id,
        "client_secret": sim.client_secret,
        "refresh_token": sim.refresh_token,
        "work_dir": str(work_dir),
        "resources": list(RESOURCES),
        "start_date": (TODAY - dt.timedelta(days=START_DAYS_BACK)).isoformat(),
        "today": TODAY.isoformat(),
    }


def fast_client(sim: Simulator, work_dir: Path) -> PinterestClient:
    """A client that gives up waiting after a second and backs off in tenths of seconds."""
    return PinterestClient(
        sim.base_url,
        Credentials(sim.client_id, sim.client_secret, sim.refresh_token),
        TokenStore(work_dir / "state" / "tokens.json"),
        timeout=CLIENT_TIMEOUT_SECONDS,
        max_retries=6,
        initial_backoff_seconds=0.05,
        max_backoff_seconds=0.5,
    )


def sync_with_fast_client(sim: Simulator, work_dir: Path) -> tuple[dict[str, Any], PinterestClient]:
    with fast_client(sim, work_dir) as client:
        outcome = sync_once(spec_for(sim, work_dir), client=client)
    return outcome, client


def count_fault_kinds(sim: Simulator) -> Counter[str]:
    """Count the random faults the simulator injects from now on, by kind."""
    injected: Counter[str] = Counter()
    draw = sim.faults.draw_error_kind

    def counting_draw() -> str | None:
        kind = draw()
        if kind is not None:
            injected[kind] += 1
        return kind

    sim.faults.draw_error_kind = counting_draw  # type: ignore[method-assign]
    return injected


def statuses(sim: Simulator) -> Counter[int]:
    return Counter(status for _, _, _, status in sim.requests_log)


@pytest.fixture(scope="module")
def clean_tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    sim = make_simulator()
    work_dir = tmp_path_factory.mktemp("clean")
    try:
        outcome, _ = sync_with_fast_client(sim, work_dir)
    finally:
        sim.stop()

    assert outcome["ok"], outcome["failed_resources"]
    tables = table_snapshot(work_dir / "sync.duckdb")
    assert set(RESOURCES) <= set(tables)
    return tables


@pytest.fixture
def faulty_sim(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    sim = make_simulator(**getattr(request, "param", {}))
    sim.faults.stall_seconds = STALL_SECONDS
    try:
        yield sim
    finally:
        sim.stop()


def assert_same_tables(work_dir: Path, expected: dict[str, Any], skip: tuple[str, ...] = ()) -> None:
    tables = table_snapshot(work_dir / "sync.duckdb")
    for name, (columns, rows) in expected.items():
        if name in skip:
            continue
        assert name in tables, f"table {name} missing"
        actual_columns, actual_rows = tables[name]
        assert actual_columns == columns, name
        missing = Counter(rows) - Counter(actual_rows)
        extra = Counter(actual_rows) - Counter(rows)
        assert not missing, f"{name}: {sum(missing.values())} row(s) missing"
        assert not extra, f"{name}: {sum(extra.values())} row(s) extra"


@pytest.mark.parametrize("faulty_sim", [{"rate_limits": BURSTY_LIMITS, "rate_limit_window_seconds": 1.0}], indirect=True)
def test_mixed_faults_and_429_bursts_match_clean_run(faulty_sim, clean_tables, tmp_path):
    """Three syncs into one destination, each through 5% random faults and 429 bursts."""
    injected = count_fault_kinds(faulty_sim)
    faulty_sim.faults.error_rate = ERROR_RATE
    burst = ("GET /v5/ad_accounts/{ad_account_id}/campaigns", 429, {"code": 8, "message": "Rate limit exceeded."}, {"X-RateLimit-Reset": "1"})

    for _ in range(MIXED_RUNS):
        faulty_sim.faults.fail_next.extend([burst] * 3)
        outcome, _ = sync_with_fast_client(faulty_sim, tmp_path)

        assert outcome["ok"], outcome["failed_resources"]
        assert_same_tables(tmp_path, clean_tables)

    assert sum(injected.values()) >= 8, injected
    assert len(injected) >= 4, injected
    assert statuses(faulty_sim)[429] >= 3 * MIXED_RUNS


@pytest.mark.parametrize("kind", ERROR_KINDS)
def test_each_fault_kind_retried(faulty_sim, clean_tables, tmp_path, kind):
    injected = count_fault_kinds(faulty_sim)
    faulty_sim.faults.error_kinds = (kind,)
    faulty_sim.faults.error_rate = ERROR_RATE

    outcome, _ = sync_with_fast_client(faulty_sim, tmp_path)

    assert outcome["ok"], outcome["failed_resources"]
    assert injected[kind] >= 1
    assert_same_tables(tmp_path, clean_tables)


def test_token_endpoint_outage_retried(faulty_sim, clean_tables, tmp_path):
    """A 503 and an HTML page from the token endpoint are retried, and no refresh token is lost."""
    unavailable = ("POST /v5/oauth/token", 503, {"code": 0, "message": "Service unavailable."})
    html = ("POST /v5/oauth/token", 200, "<html><body>Maintenance</body></html>", {"content-type": "text/html"})
    faulty_sim.faults.fail_next.extend([unavailable, html])

    outcome, _ = sync_with_fast_client(faulty_sim, tmp_path)

    assert outcome["ok"], outcome["failed_resources"]
    assert faulty_sim.request_counts["POST /v5/oauth/token"] == 3
    stored = TokenStore(tmp_path / "state" / "tokens.json").load(faulty_sim.client_id)
    assert stored is not None
    assert stored.refresh_token == faulty_sim.refresh_token
    assert_same_tables(tmp_path, clean_tables)


def test_expired_access_token_refreshed_once(faulty_sim, clean_tables, tmp_path):
    faulty_sim.faults.fail_next.append(("GET /v5/boards", 401, EXPIRED_TOKEN))

    outcome, client = sync_with_fast_client(faulty_sim, tmp_path)

    assert outcome["ok"], outcome["failed_resources"]
    assert client.auth.refresh_count == 2
    assert faulty_sim.request_counts["POST /v5/oauth/token"] == 2
    assert faulty_sim.request_counts["GET /v5/boards"] == 2
    assert_same_tables(tmp_path, clean_tables)


@pytest.mark.parametrize("faulty_sim", [{"access_token_ttl_seconds": 1, "latency_ms": 250.0}], indirect=True)
def test_short_lived_access_tokens_renewed(faulty_sim, clean_tables, tmp_path):
    """Tokens living one second expire many times in one run, and each expiry costs one refresh."""
    started = time.monotonic()

    outcome, client = sync_with_fast_client(faulty_sim, tmp_path)

    elapsed = time.monotonic() - started
    assert outcome["ok"], outcome["failed_resources"]
    refreshes = faulty_sim.request_counts["POST /v5/oauth/token"]
    rejected = statuses(faulty_sim)[401]
    # The latency makes the run outlive several token lifetimes even with parallel resources.
    assert elapsed > 2
    assert refreshes >= 2
    # One refresh per token lifetime (renewed 0.1 s early) plus one per rejected request,
    # at most: anything above that would be a refresh storm.
    assert refreshes <= elapsed / 0.9 + rejected + 1
    assert client.auth.refresh_count == refreshes
    assert_same_tables(tmp_path, clean_tables)


def add_audiences(sim: Simulator, ad_account_id: str, count: int) -> None:
    template = next(audience for audience in sim.data.audiences.values() if audience["ad_account_id"] == ad_account_id)
    for index in range(count):
        audience_id = str(2_549_000_000_000 + index)
        sim.data.audiences[audience_id] = {**template, "id": audience_id, "name": f"Audience {index}"}


def test_repeated_bookmark_stops_only_its_resource(faulty_sim, clean_tables, tmp_path):
    """Two identical pages end the audiences of that account, and every other table loads."""
    ad_account_id = next(iter(faulty_sim.data.ad_accounts))
    original_ids = {audience_id for audience_id, audience in faulty_sim.data.audiences.items() if audience["ad_account_id"] == ad_account_id}
    add_audiences(faulty_sim, ad_account_id, 300)
    faulty_sim.faults.repeat_bookmark_paths.add("/ad_accounts/{ad_account_id}/audiences")

    outcome, _ = sync_with_fast_client(faulty_sim, tmp_path)

    assert not outcome["ok"]
    assert list(outcome["failed_resources"]) == ["audiences"]
    message = outcome["failed_resources"]["audiences"]
    assert ad_account_id in message
    assert f"/ad_accounts/{ad_account_id}/audiences" in message
    assert "bookmark" in message
    accounts = len(faulty_sim.data.ad_accounts)
    assert faulty_sim.request_counts["GET /v5/ad_accounts/{ad_account_id}/audiences"] == accounts - 1 + 2
    assert_same_tables(tmp_path, clean_tables, skip=("audiences",))
    columns, rows = table_snapshot(tmp_path / "sync.duckdb")["audiences"]
    expected_columns, expected_rows = clean_tables["audiences"]
    others = [row for row in expected_rows if row[expected_columns.index("id")] not in original_ids]
    assert columns == expected_columns
    assert rows == others


def test_items_not_a_list_stops_only_its_resource(faulty_sim, clean_tables, tmp_path):
    faulty_sim.faults.items_not_list_paths.add("/ad_accounts/{ad_account_id}/customer_lists")

    outcome, _ = sync_with_fast_client(faulty_sim, tmp_path)

    assert not outcome["ok"]
    assert list(outcome["failed_resources"]) == ["customer_lists"]
    message = outcome["failed_resources"]["customer_lists"]
    assert "/customer_lists" in message
    assert "items" in message
    # Not retried: one request per ad account.
    assert faulty_sim.request_counts["GET /v5/ad_accounts/{ad_account_id}/customer_lists"] == len(faulty_sim.data.ad_accounts)
    assert_same_tables(tmp_path, clean_tables, skip=("customer_lists",))
    tables = table_snapshot(tmp_path / "sync.duckdb")
    assert "customer_lists" not in tables or tables["customer_lists"][1] == []


def test_refresh_rejected_mid_run_exits_as_auth_failure(faulty_sim, tmp_path):
    """A refresh token revoked during the run fails it with exit status 3 and the re-authorization fix."""
    rotate = faulty_sim.oauth.rotate_refresh_token

    def rotate_then_revoke(scopes: tuple[str, ...]) -> tuple[str, int]:
        result = rotate(scopes)
        faulty_sim.faults.reject_refresh = True
        return result

    faulty_sim.oauth.rotate_refresh_token = rotate_then_revoke  # type: ignore[method-assign]
    faulty_sim.faults.fail_next.append(("GET /v5/boards", 401, EXPIRED_TOKEN))
    (tmp_path / "home").mkdir()
    env = {
        "SOURCES__PINTEREST__BASE_URL": faulty_sim.base_url,
        "SOURCES__PINTEREST__CREDENTIALS__CLIENT_ID": faulty_sim.client_id,
        "SOURCES__PINTEREST__CREDENTIALS__CLIENT_SECRET": faulty_sim.client_secret,
        "SOURCES__PINTEREST__CREDENTIALS__REFRESH_TOKEN": faulty_sim.refresh_token,
        "SOURCES__PINTEREST__START_DATE": (TODAY - dt.timedelta(days=START_DAYS_BACK)).isoformat(),
    }

    result = run_cli(("run", "--resources", "ad_accounts,boards"), tmp_path, env)

    assert faulty_sim.request_counts["POST /v5/oauth/token"] == 2
    assert result.returncode == EXIT_AUTH, result.stderr[-2000:]
    assert "Pinterest rejected the refresh token stored in" in result.stderr
    assert "pinterest-sync auth" in result.stderr
    assert "In processing pipe" not in result.stderr
