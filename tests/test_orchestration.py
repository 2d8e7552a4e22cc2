"""Dagster definitions, the PostgreSQL token store and the per-pipeline run lock, against the simulator."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import dlt
import pytest

from orchestration import RESOURCE_GROUPS, PinterestSync, build_definitions, unit_from_partitions
from orchestration.build import RANGE_END_TAG, RANGE_START_TAG
from orchestration.groups import group_named
from pipelines.pinterest.client import PinterestClient
from pipelines.pinterest.config import Credentials
from pipelines.pinterest.errors import ConfigError, PinterestSyncError
from pipelines.pinterest.pipeline import make_pipeline, run_sync
from pipelines.pinterest.settings import ALL_TABLES, ENTITY_TABLES
from pipelines.pinterest.simulator import Simulator, SimulatorConfig
from pipelines.pinterest.token_store import StoredToken, TokenStore, fingerprint
from pipelines.pinterest.token_store_sql import SqlTokenStore, open_token_store
from tests.postgres import PLACEHOLDER_PASSWORD

from .support import make_config

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Runs each step in the run's own process. The default executor starts one more process
# per step, which imports Dagster and dlt a second time.
IN_PROCESS_EXECUTION = '{"execution": {"config": {"in_process": {}}}}'
ACCOUNT_TABLES = ("ad_accounts", "campaigns", "ad_groups", "ads", "keywords", "audiences", "customer_lists",
                  "conversion_tags", "product_group_promotions")


def sync_environment(sim: Simulator, token_store_url: str, destination_dsn: str) -> dict[str, str]:
    """dlt configuration, as environment variables, for runs against the simulator into PostgreSQL."""
    return {
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "SOURCES__PINTEREST__BASE_URL": sim.base_url,
        "SOURCES__PINTEREST__CREDENTIALS__CLIENT_ID": sim.client_id,
        "SOURCES__PINTEREST__CREDENTIALS__CLIENT_SECRET": sim.client_secret,
        "SOURCES__PINTEREST__CREDENTIALS__REFRESH_TOKEN": sim.refresh_token,
        "SOURCES__PINTEREST__TOKEN_STORE_URL": token_store_url,
        "DESTINATION__POSTGRES__CREDENTIALS": destination_dsn,
    }


def dataset_rows(postgres_dsn: str, table: str) -> tuple[list[str], list[tuple[str, ...]]]:
    """Return a table's data columns (dlt's own left out) and its rows as sorted text tuples."""
    import psycopg2

    connection = psycopg2.connect(postgres_dsn)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'pinterest' "
                "AND table_name = %s AND column_name NOT LIKE '\\_dlt%%' ORDER BY column_name",
                (table,),
            )
            columns = [row[0] for row in cursor.fetchall()]
            select_list = ", ".join(f'"{column}"::text' for column in columns)
            cursor.execute(f'SELECT {select_list} FROM pinterest."{table}"')
            rows = sorted(tuple("" if value is None else value for value in row) for row in cursor.fetchall())
    finally:
        connection.close()
    return columns, rows


def schemas(postgres_dsn: str) -> set[str]:
    import psycopg2

    connection = psycopg2.connect(postgres_dsn)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT schema_name FROM information_schema.schemata")
            return {row[0] for row in cursor.fetchall()}
    finally:
        connection.close()


def assets_by_name(defs: dg.Definitions) -> dict[str, dg.AssetsDefinition]:
    return {assets.node_def.name: assets for assets in defs.assets}


@pytest.fixture
def dagster_instance() -> Iterator[dg.DagsterInstance]:
    """A temporary Dagster instance, current while the test runs.

    Resolving definitions reads the current instance's state storage. After another test's
    `instance_for_test` has closed, Dagster 1.13 still points at that closed instance and
    fails with "Attempted to resolve undefined DagsterInstance weakref", so every test that
    resolves definitions opens its own.
    """
    with dg.instance_for_test() as instance:
        yield instance


# Units and definitions


def test_groups_cover_every_table_once():
    tables = [table for group in RESOURCE_GROUPS for table in group.tables]

    assert sorted(tables) == sorted(ALL_TABLES)
    assert len(tables) == len(set(tables))


def test_unit_names_differ_per_partition():
    group = group_named("ads_analytics")
    units = [
        unit_from_partitions(group, group.tables, [{"ad_account": account, "date": day}])
        for account in ("549755885175", "549755885176")
        for day in ("2024-05-01", "2024-05-02")
    ]
    names = [unit.pipeline_name("pinterest") for unit in units]
    layouts = [unit.staging_dataset_name_layout("pinterest") for unit in units]

    assert len(set(names)) == 4
    assert len(set(layouts)) == 4
    assert names[0] == "pinterest_ads_analytics_549755885175_20240501"
    for layout in layouts:
        assert len((layout % "pinterest").encode()) <= 63


def test_ranged_run_spans_days():
    group = group_named("ads_analytics")
    partitions = [{"ad_account": "549755885175", "date": f"2024-05-0{day}"} for day in (3, 1, 2)]

    unit = unit_from_partitions(group, ("ad_analytics",), partitions)

    assert unit.ad_account_ids == ("549755885175",)
    assert unit.start_date == dt.date(2024, 5, 1)
    assert unit.end_date == dt.date(2024, 5, 3)
    assert unit.pipeline_name("pinterest") == "pinterest_ads_analytics_549755885175_20240501_20240503"


def test_unsplit_group_ignores_partitions():
    group = group_named("catalogs")

    unit = unit_from_partitions(group, group.tables, [])

    assert unit.ad_account_ids is None
    assert unit.start_date is None
    assert unit.pipeline_name("pinterest") == "pinterest_catalogs"


def test_definitions_with_static_accounts(dagster_instance):
    defs = build_definitions(ad_account_ids=("111", "222"), start_date=dt.date(2024, 5, 1), restate_days=3)
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()

    keys = {key.path[-1] for key in graph.get_all_asset_keys()}
    assert keys == set(ALL_TABLES)
    entity_partitions = graph.get(dg.AssetKey(["pinterest", "campaigns"])).partitions_def
    assert entity_partitions.get_partition_keys() == ["111", "222"]
    assert graph.get(dg.AssetKey(["pinterest", "boards"])).partitions_def is None
    analytics_partitions = graph.get(dg.AssetKey(["pinterest", "ad_analytics"])).partitions_def
    assert isinstance(analytics_partitions, dg.MultiPartitionsDefinition)
    assert list(defs.sensors) == []


def test_daily_schedule_requests_ranges(dagster_instance):
    defs = build_definitions(ad_account_ids=("111", "222"), start_date=dt.date(2024, 5, 1), restate_days=3)
    context = dg.build_schedule_context(
        instance=dagster_instance,
        scheduled_execution_time=dt.datetime(2024, 6, 10, 3, tzinfo=dt.timezone.utc),
        repository_def=defs.get_repository_def(),
    )

    ads = defs.resolve_schedule_def("pinterest_ads_analytics_daily").evaluate_tick(context).run_requests
    organic = defs.resolve_schedule_def("pinterest_organic_analytics_daily").evaluate_tick(context).run_requests
    entities = defs.resolve_schedule_def("pinterest_ads_entities_daily").evaluate_tick(context).run_requests

    assert [(request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) for request in ads] == [
        ("111|2024-06-07", "111|2024-06-09"),
        ("222|2024-06-07", "222|2024-06-09"),
    ]
    assert [(request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) for request in organic] == [
        ("2024-06-07", "2024-06-09")
    ]
    assert [request.partition_key for request in entities] == ["111", "222"]


def test_daily_schedule_skips_without_accounts(dagster_instance):
    defs = build_definitions(ad_account_ids=(), start_date=dt.date(2024, 5, 1), restate_days=3)
    context = dg.build_schedule_context(
        instance=dagster_instance,
        scheduled_execution_time=dt.datetime(2024, 6, 10, 3, tzinfo=dt.timezone.utc),
        repository_def=defs.get_repository_def(),
    )

    result = defs.resolve_schedule_def("pinterest_ads_entities_daily").evaluate_tick(context)

    assert result.run_requests == []
    assert "turn on pinterest_ad_accounts_sensor" in result.skip_message


def test_sensor_adds_readable_ad_accounts(simulator, postgres_server, dagster_instance, monkeypatch):
    for name, value in sync_environment(simulator, postgres_server.create_database("tokens"), "unused").items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SOURCES__PINTEREST__AD_ACCOUNT_IDS", raising=False)
    defs = build_definitions(start_date=simulator.today - dt.timedelta(days=5), restate_days=1)
    sensor = defs.resolve_sensor_def("pinterest_ad_accounts_sensor")

    first = sensor(dg.build_sensor_context(instance=dagster_instance, resources={"pinterest": PinterestSync()}))
    for request in first.dynamic_partitions_requests:
        dagster_instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    second = sensor(dg.build_sensor_context(instance=dagster_instance, resources={"pinterest": PinterestSync()}))
    partitions = sorted(dagster_instance.get_dynamic_partitions("pinterest_ad_accounts"))

    assert [list(request.partition_keys) for request in first.dynamic_partitions_requests] == [list(simulator.data.ad_accounts)]
    assert partitions == sorted(simulator.data.ad_accounts)
    assert second.dynamic_partitions_requests == []


# Parallel units into one PostgreSQL dataset


def test_parallel_partitions_equal_single_run(simulator, postgres_server, dagster_instance, monkeypatch, tmp_path):
    """Units run four at a time in threads write the same tables as one run of everything."""
    orchestrated_dsn = postgres_server.create_database("orchestrated")
    single_dsn = postgres_server.create_database("single")
    for name, value in sync_environment(simulator, postgres_server.create_database("tokens"), orchestrated_dsn).items():
        monkeypatch.setenv(name, value)
    accounts = tuple(simulator.data.ad_accounts)
    first_day = simulator.today - dt.timedelta(days=2)
    last_day = simulator.today - dt.timedelta(days=1)
    pinterest = PinterestSync(destination="postgres", pipelines_dir=str(tmp_path / "workers"))
    defs = build_definitions(ad_account_ids=accounts, start_date=simulator.today - dt.timedelta(days=5), restate_days=2, pinterest=pinterest)
    assets = assets_by_name(defs)

    runs: list[tuple[str, str | None, dict[str, str] | None]] = [("pinterest_organic", None, None), ("pinterest_catalogs", None, None)]
    for account in accounts:
        runs.append(("pinterest_ads_entities", account, None))
    for account in accounts[:-1]:
        for day in (first_day, last_day):
            runs.append(("pinterest_ads_analytics", f"{account}|{day.isoformat()}", None))
    # The last account's days run as one ranged run, as a backfill with a backfill policy does.
    ranged = {RANGE_START_TAG: f"{accounts[-1]}|{first_day.isoformat()}", RANGE_END_TAG: f"{accounts[-1]}|{last_day.isoformat()}"}
    runs.append(("pinterest_ads_analytics", None, ranged))
    # Organic analytics run as one range: which all-zero pin days get rows depends on the
    # requested window, so per-day runs would load fewer zero rows than a two-day run.
    runs.append(("pinterest_organic_analytics", None, {RANGE_START_TAG: first_day.isoformat(), RANGE_END_TAG: last_day.isoformat()}))

    def materialize(run: tuple[str, str | None, dict[str, str] | None]) -> bool:
        name, partition_key, tags = run
        # One ephemeral instance per run: runs sharing the SQLite-backed test instance
        # from four threads hung for minutes with Dagster 1.13.
        result = dg.materialize([assets[name]], partition_key=partition_key, tags=tags,
                                resources={"pinterest": pinterest}, raise_on_error=False)
        return result.success

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(materialize, runs))

    assert outcomes == [True] * len(runs)
    config = make_config(simulator, tmp_path, start_date=first_day, end_date=last_day, resources=ALL_TABLES)
    single_pipeline = make_pipeline(
        pipeline_name="pinterest_single",
        destination=dlt.destinations.postgres(single_dsn),
        pipelines_dir=tmp_path / "single",
    )
    client = pinterest.open_client(config)
    try:
        single = run_sync(config, pipeline=single_pipeline, client=client)
    finally:
        client.close()
    assert single.ok, single.summary.failed_resources

    for table in ALL_TABLES:
        orchestrated_columns, orchestrated_rows = dataset_rows(orchestrated_dsn, table)
        single_columns, single_rows = dataset_rows(single_dsn, table)
        assert orchestrated_columns == single_columns, table
        assert single_rows, table
        assert orchestrated_rows == single_rows, table
    expected = simulator.expected_row_counts()
    for table in ENTITY_TABLES:
        assert len(dataset_rows(orchestrated_dsn, table)[1]) == expected[table], table
    assert not any("_staging_" in name for name in schemas(orchestrated_dsn))


def test_dagster_cli_workers_share_token_store(postgres_server, tmp_path):
    """Separate `dagster asset materialize` processes, one per ad account, as on separate machines."""
    with Simulator(SimulatorConfig(seed=7, scale="small")) as sim:
        destination_dsn = postgres_server.create_database("workers")
        token_store_url = postgres_server.create_database("tokens")
        accounts = list(sim.data.ad_accounts)
        environment = {
            **os.environ,
            **sync_environment(sim, token_store_url, destination_dsn),
            "DESTINATION_TYPE": "postgres",
            "SOURCES__PINTEREST__AD_ACCOUNT_IDS": ",".join(accounts),
        }

        processes = []
        for index, account in enumerate(accounts):
            worker = tmp_path / f"worker{index}"
            (worker / "dagster").mkdir(parents=True)
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "orchestration.definitions",
                     "--select", "group:pinterest_ads_entities", "--partition", account,
                     "--config-json", IN_PROCESS_EXECUTION],
                    cwd=PROJECT_ROOT,
                    env={**environment, "DLT_DATA_DIR": str(worker / "dlt"), "DAGSTER_HOME": str(worker / "dagster")},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
        outputs = [process.communicate(timeout=300)[0] for process in processes]

        for process, output in zip(processes, outputs):
            assert process.returncode == 0, output[-3000:]
        expected = sim.expected_row_counts()
        for table in ACCOUNT_TABLES:
            assert len(dataset_rows(destination_dsn, table)[1]) == expected[table], table
        stored = SqlTokenStore(token_store_url).load(sim.client_id)
        assert stored is not None
        assert stored.refresh_token == sim.refresh_token


# PostgreSQL token store


def test_sql_store_precedence(postgres_server):
    store = SqlTokenStore(postgres_server.create_database("tokens"))
    configured = "configured-token-1"

    first = store.resolve("client-a", configured)
    with store.lock():
        store.save("client-a", StoredToken("rotated-token-2", 1_900_000_000.0, fingerprint(configured)))
    rotated = store.resolve("client-a", configured)
    reauthorized = store.resolve("client-a", "new-authorization-token")

    assert first == StoredToken(configured, None, fingerprint(configured))
    assert rotated == StoredToken("rotated-token-2", 1_900_000_000.0, fingerprint(configured))
    assert reauthorized.refresh_token == "new-authorization-token"
    assert store.load("client-b") is None


def test_sql_store_save_commits_on_lock_exit(postgres_server):
    dsn = postgres_server.create_database("tokens")
    writer = SqlTokenStore(dsn)
    reader = SqlTokenStore(dsn)
    token = StoredToken("rotated", None, fingerprint("configured"))

    with writer.lock():
        writer.save("client-a", token)
        seen_inside = reader.load("client-a")
    seen_after = reader.load("client-a")

    assert seen_inside is None
    assert seen_after == token


def test_sql_store_concurrent_refreshes(simulator, postgres_server):
    """Four workers with their own client and store connection refresh at once."""
    dsn = postgres_server.create_database("tokens")
    credentials = Credentials(simulator.client_id, simulator.client_secret, simulator.refresh_token)
    configured = simulator.refresh_token
    barrier = threading.Barrier(4)

    def worker(_: int) -> int:
        client = PinterestClient(simulator.base_url, credentials, SqlTokenStore(dsn))
        try:
            barrier.wait()
            return len(client.get("/ad_accounts")["items"])
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        counts = list(pool.map(worker, range(4)))

    stored = SqlTokenStore(dsn).load(simulator.client_id)
    assert counts == [len(simulator.data.ad_accounts)] * 4
    assert stored is not None
    assert stored.refresh_token == simulator.refresh_token
    assert stored.rotated_from == fingerprint(configured)


def test_sql_store_lock_timeout(postgres_server):
    dsn = postgres_server.create_database("tokens")
    holder = SqlTokenStore(dsn)
    waiter = SqlTokenStore(dsn, lock_timeout_seconds=0.3)

    with holder.lock():
        started = time.monotonic()
        with pytest.raises(PinterestSyncError, match="Timed out after 0.3 s waiting for the refresh-token lock"):
            with waiter.lock():
                pass
        waited = time.monotonic() - started

    assert 0.25 <= waited < 5
    with waiter.lock():
        pass


def test_sql_store_repr_hides_password(postgres_server):
    dsn = postgres_server.dsn().replace(f":{PLACEHOLDER_PASSWORD}@", ":hunter2-secret@")
    store = SqlTokenStore(dsn)

    assert "hunter2" not in repr(store)
    assert "hunter2" not in store.path
    assert "database postgres as user postgres" in store.path


def test_sql_store_rejects_bad_table_name(postgres_server):
    with pytest.raises(ConfigError, match="table name 'tokens; DROP TABLE x' is invalid"):
        SqlTokenStore(postgres_server.dsn(), table="tokens; DROP TABLE x")


def test_open_token_store_selects_backend(postgres_server, tmp_path):
    assert isinstance(open_token_store(None, tmp_path / "tokens.json"), TokenStore)
    assert isinstance(open_token_store(postgres_server.dsn()), SqlTokenStore)
    with pytest.raises(ConfigError, match="token store URL is invalid"):
        open_token_store("mysql://host/db")


# Two runs of one pipeline on one machine


@dataclass
class TwoRuns:
    """Outcome of a second `pinterest-sync run` started while the first one syncs."""

    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]
    requests_before_second: int
    first_running_after_second: bool
    token_store: TokenStore
    accepted_refresh_token: str
    client_id: str


def run_twice_at_once(tmp_path: Path, destination_environment: dict[str, str], finish_first: bool = True) -> TwoRuns:
    """Start `pinterest-sync run` and, once it is sending requests, the same command again.

    The simulator delays each response by 800 ms, and one worker per resource makes the
    first run list product group promotions one ad group after another, so that it is
    still busy when the second one starts. With `finish_first` False the first run is terminated
    once the second has exited.
    """
    with Simulator(SimulatorConfig(seed=7, scale="small", latency_ms=800)) as sim:
        token_path = tmp_path / "state" / "tokens.json"
        environment = {
            **os.environ,
            **destination_environment,
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "DLT_DATA_DIR": str(tmp_path / "dlt"),
            "SOURCES__PINTEREST__BASE_URL": sim.base_url,
            "SOURCES__PINTEREST__CREDENTIALS__CLIENT_ID": sim.client_id,
            "SOURCES__PINTEREST__CREDENTIALS__CLIENT_SECRET": sim.client_secret,
            "SOURCES__PINTEREST__CREDENTIALS__REFRESH_TOKEN": sim.refresh_token,
            "SOURCES__PINTEREST__TOKEN_STORE_PATH": str(token_path),
            "SOURCES__PINTEREST__MAX_WORKERS": "1",
        }
        command = [sys.executable, "-m", "pipelines.pinterest.cli", "run", "--resources", ",".join(ENTITY_TABLES)]
        first = subprocess.Popen(command, cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while sum(sim.request_counts.values()) < 3 and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        requests_before_second = sum(sim.request_counts.values())

        second = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120)
        first_running_after_second = first.poll() is None
        if not finish_first:
            first.terminate()
        first_output, first_errors = first.communicate(timeout=300)

        return TwoRuns(
            first=subprocess.CompletedProcess(command, first.returncode, first_output, first_errors),
            second=second,
            requests_before_second=requests_before_second,
            first_running_after_second=first_running_after_second,
            token_store=TokenStore(token_path),
            accepted_refresh_token=sim.refresh_token,
            client_id=sim.client_id,
        )


def test_second_run_of_pipeline_exits(postgres_server, tmp_path):
    """While one process syncs, a second run of the same pipeline exits at once with a message."""
    runs = run_twice_at_once(
        tmp_path,
        {"DESTINATION_TYPE": "postgres", "DESTINATION__POSTGRES__CREDENTIALS": postgres_server.create_database()},
    )

    assert runs.requests_before_second >= 3, runs.first.stderr[-2000:]
    assert runs.first_running_after_second, "the first run ended before the second started: raise the simulator latency"
    assert runs.second.returncode == 1, runs.second.stderr[-2000:]
    assert "Another run of pipeline 'pinterest' holds" in runs.second.stderr
    assert runs.first.returncode == 0, runs.first.stderr[-2000:]
    stored = runs.token_store.load(runs.client_id)
    assert stored is not None
    assert stored.refresh_token == runs.accepted_refresh_token


def test_second_run_into_duckdb_exits(tmp_path):
    runs = run_twice_at_once(tmp_path, {}, finish_first=False)

    assert runs.first_running_after_second
    assert runs.second.returncode == 1, runs.second.stderr[-2000:]
    assert "pinterest.duckdb is in use by another process" in runs.second.stderr
    assert "Traceback" not in runs.second.stderr
