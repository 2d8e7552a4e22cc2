"""Reporting views on DuckDB and PostgreSQL, and the sync progress displays.

The DuckDB demo database is built once per session by a real sync against the simulator
(`shared_demo_database`); the notebook tests read the same file.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pyarrow as pa
import pytest

from pipelines.pinterest.config import AnalyticsSettings, parse_resources
from pipelines.pinterest.pipeline import run_sync
from pipelines.pinterest.progress import LogProgress, NullProgress, RichProgress, batch_counter, make_progress, rows_by_account
from pipelines.pinterest.reporting import (
    REPORTING_VIEWS,
    Attribution,
    ReportingError,
    build_reporting_views,
    drop_reporting_views,
    open_report_database,
)
from pipelines.pinterest.simulator import Simulator, SimulatorConfig
from tests.fixtures_postgres import postgres_dsn, postgres_server  # noqa: F401
from tests.support import make_config, make_duckdb_pipeline, query

# dlt leaves `_dlt_load_id` out of Arrow batches unless this is set. The demo database is
# built with it, so the history views show per-row load times.
LOAD_ID_SETTING = "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID"
SETTINGS_FILTER = (
    "click_window_days = 30 AND engagement_window_days = 30 AND view_window_days = 1 "
    "AND conversion_report_time = 'TIME_OF_AD_ACTION'"
)
BIG_SPEND = 2**53 + 1  # the first integer a float64 cannot hold


@dataclass
class DemoDatabase:
    """A DuckDB file loaded from the simulator, and the simulator's own figures for checks.

    The file is closed after the build: DuckDB lets one process write a file, and the
    notebook kernels are other processes. Each query opens it read-only for its duration.
    """

    path: Path
    root: Path
    start_date: dt.date
    today: dt.date
    ad_accounts: dict[str, dict[str, Any]]
    campaigns: dict[str, dict[str, Any]]
    ads: dict[str, dict[str, Any]]
    account_spend: dict[tuple[str, dt.date], int]

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Run SQL with `%s` parameters; tables are `pinterest.<name>`."""
        connection = duckdb.connect()
        try:
            quoted = str(self.path).replace("'", "''")
            connection.execute(f"ATTACH '{quoted}' AS pinterest_file (READ_ONLY)")
            connection.execute("USE pinterest_file")
            return [tuple(row) for row in connection.execute(sql.replace("%s", "?"), list(args)).fetchall()]
        finally:
            connection.close()

    @contextmanager
    def writable_pipeline(self) -> Iterator[dlt.Pipeline]:
        """The demo pipeline with the file open for writing, closed again on exit."""
        pipeline = make_duckdb_pipeline(self.root)
        try:
            yield pipeline
        finally:
            release_duckdb(pipeline)


_DEMO: dict[str, DemoDatabase] = {}


@contextmanager
def environment(**values: str) -> Iterator[None]:
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def release_duckdb(pipeline: dlt.Pipeline) -> None:
    """Close the DuckDB connection that `duckdb_destination` keeps, releasing the file lock."""
    connection = pipeline.destination.config_params["credentials"].external_conn()
    if connection is not None:
        connection.close()


def shared_demo_database(tmp_path_factory: pytest.TempPathFactory) -> DemoDatabase:
    """Sync every resource from the simulator into a fresh DuckDB file once per session and build the views."""
    if "demo" in _DEMO:
        return _DEMO["demo"]
    root = tmp_path_factory.mktemp("demo")
    with Simulator(SimulatorConfig(seed=7, scale="small")) as sim, environment(**{LOAD_ID_SETTING: "true"}):
        config = make_config(sim, root)
        pipeline = make_duckdb_pipeline(root)
        result = run_sync(config, pipeline=pipeline)
        assert result.ok, result.summary.failed_resources
        build_reporting_views(pipeline, attribution=config.analytics)
        release_duckdb(pipeline)

        days = [config.start_date + dt.timedelta(days=offset) for offset in range((sim.today - config.start_date).days + 1)]
        account_spend = {
            (ad_account_id, day): sim.metrics.level_metrics("AD_ACCOUNT", ad_account_id, day, ["SPEND_IN_MICRO_DOLLAR"]).get("SPEND_IN_MICRO_DOLLAR", 0)
            for ad_account_id in sim.data.ad_accounts
            for day in days
        }
        demo = DemoDatabase(
            path=root / "pinterest.duckdb",
            root=root,
            start_date=config.start_date,
            today=sim.today,
            ad_accounts={key: dict(value) for key, value in sim.data.ad_accounts.items()},
            campaigns={key: dict(value) for key, value in sim.data.campaigns.items()},
            ads={key: dict(value) for key, value in sim.data.ads.items()},
            account_spend=account_spend,
        )
    _DEMO["demo"] = demo
    return demo


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoDatabase:
    return shared_demo_database(tmp_path_factory)


def per_account_day(rows: list[tuple[Any, ...]]) -> dict[tuple[str, dt.date], Any]:
    return {(str(account), day): value for account, day, value in rows}


def query_with(pipeline: dlt.Pipeline, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Run SQL with `%s` parameters against the pipeline's destination."""
    with pipeline.sql_client() as client:
        return [tuple(row) for row in client.execute_sql(sql, *args) or []]


# ----- DuckDB: the session's demo database ----------------------------------------------


def test_account_report_spend_equals_analytics(demo: DemoDatabase) -> None:
    analytics = per_account_day(demo.query(f"SELECT ad_account_id, date, spend_in_micro_dollar FROM pinterest.ad_account_analytics WHERE {SETTINGS_FILTER}"))
    advertiser = per_account_day(demo.query("SELECT advertiser_id, date, spend_in_micro_dollar FROM pinterest.advertiser_report"))
    ads_manager = per_account_day(demo.query("SELECT ad_account_id, date, spend_in_micro_dollar FROM pinterest.ad_account_daily_report"))

    assert len(analytics) == len(demo.ad_accounts) * ((demo.today - demo.start_date).days + 1)
    assert advertiser == analytics
    assert ads_manager == {key: value or 0 for key, value in analytics.items()}
    assert {key: value or 0 for key, value in analytics.items()} == demo.account_spend


def test_lower_level_reports_add_up_to_account(demo: DemoDatabase) -> None:
    account = per_account_day(demo.query("SELECT advertiser_id, date, spend_in_micro_dollar FROM pinterest.advertiser_report"))
    for view, account_column in (
        ("campaign_report", "advertiser_id"),
        ("ad_group_report", "ad_account_id"),
        ("pin_promotion_report", "ad_account_id"),
        ("campaign_daily_report", "ad_account_id"),
        ("ad_group_daily_report", "ad_account_id"),
        ("ad_daily_report", "ad_account_id"),
    ):
        sums = per_account_day(demo.query(
            f"SELECT {account_column}, date, CAST(SUM(spend_in_micro_dollar) AS BIGINT) FROM pinterest.{view} GROUP BY 1, 2",
        ))
        assert {key: sums.get(key) or 0 for key in account} == {key: value or 0 for key, value in account.items()}, view


def test_campaign_report_includes_archived(demo: DemoDatabase) -> None:
    rows = demo.query("SELECT DISTINCT campaign_id, campaign_name, campaign_status FROM pinterest.campaign_report")
    archived = {campaign_id for campaign_id, campaign in demo.campaigns.items() if campaign["status"] == "ARCHIVED"}

    assert archived
    assert archived <= {campaign_id for campaign_id, _, status in rows if status == "ARCHIVED"}
    for campaign_id, name, status in rows:
        assert (name, status) == (demo.campaigns[campaign_id]["name"], demo.campaigns[campaign_id]["status"])


def test_report_ids_and_micros_exact(demo: DemoDatabase) -> None:
    types = {
        (view, column): data_type
        for view, column, data_type in demo.query(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'pinterest' AND table_catalog = current_database()",
        )
    }
    for view in ("advertiser_report", "campaign_report", "ad_group_report", "pin_promotion_report", "keyword_report",
                 "ad_account_daily_report", "campaign_daily_report", "ad_group_daily_report", "ad_daily_report", "keyword_daily_report"):
        assert types[(view, "spend_in_micro_dollar")] == "BIGINT", view
        assert types[(view, "ad_account_id")] == "VARCHAR", view
    assert types[("ad_account_daily_report", "spend_in_account_currency")] == "DECIMAL(38,6)"

    advertiser_ids = {row[0] for row in demo.query("SELECT DISTINCT advertiser_id FROM pinterest.advertiser_report")}
    assert advertiser_ids == set(demo.ad_accounts)
    ad_rows = demo.query("SELECT DISTINCT pin_promotion_id, ad_group_id, campaign_id FROM pinterest.pin_promotion_report")
    for ad_id, ad_group_id, campaign_id in ad_rows:
        assert (ad_group_id, campaign_id) == (demo.ads[ad_id]["ad_group_id"], demo.ads[ad_id]["campaign_id"])

    amounts = demo.query("SELECT spend_in_micro_dollar, spend_in_account_currency, currency, ad_account_id FROM pinterest.ad_account_daily_report")
    assert max(micros for micros, *_ in amounts) > 2**31
    for micros, amount, currency, ad_account_id in amounts:
        assert amount == Decimal(micros) / Decimal(1_000_000)
        assert currency == demo.ad_accounts[ad_account_id]["currency"]


def test_ads_manager_ratios(demo: DemoDatabase) -> None:
    rows = demo.query(
        "SELECT spend_in_micro_dollar, paid_impressions, paid_clicks, conversion_value_in_micro_dollar, ctr, "
        "cpc_in_account_currency, cpm_in_account_currency, roas FROM pinterest.campaign_daily_report",
    )
    checked = 0
    for spend, impressions, clicks, value, ctr, cpc, cpm, roas in rows:
        if not (spend and impressions and clicks):
            continue
        assert ctr == pytest.approx(clicks / impressions)
        assert cpc == pytest.approx(spend / 1_000_000 / clicks)
        assert cpm == pytest.approx(spend / 1_000 / impressions)
        assert roas == pytest.approx(value / spend)
        checked += 1
    assert checked > 100


def test_history_views_one_row_per_entity(demo: DemoDatabase) -> None:
    for view, table in (
        ("advertiser_history", "ad_accounts"),
        ("campaign_history", "campaigns"),
        ("ad_group_history", "ad_groups"),
        ("pin_promotion_history", "ads"),
        ("keyword_history", "keywords"),
    ):
        table_ids = sorted(row[0] for row in demo.query(f"SELECT id FROM pinterest.{table}"))
        view_ids = sorted(row[0] for row in demo.query(f"SELECT id FROM pinterest.{view}"))
        assert view_ids == table_ids, view

        unmatched = demo.query(
            f"SELECT COUNT(*) FROM pinterest.{view} AS v JOIN pinterest.{table} AS t ON t.id = v.id "
            "JOIN pinterest._dlt_loads AS l ON l.load_id = t._dlt_load_id WHERE v._fivetran_synced IS DISTINCT FROM l.inserted_at",
        )
        assert unmatched == [(0,)], view

    campaigns = {row[0]: row[1:] for row in demo.query("SELECT id, advertiser_id, name, status FROM pinterest.campaign_history")}
    assert campaigns == {key: (value["ad_account_id"], value["name"], value["status"]) for key, value in demo.campaigns.items()}
    created = demo.query("SELECT id, created_time FROM pinterest.advertiser_history")
    for ad_account_id, created_time in created:
        assert created_time == dt.datetime.fromtimestamp(int(demo.ad_accounts[ad_account_id]["created_time"]), dt.timezone.utc)


def test_history_views_dbt_columns(demo: DemoDatabase) -> None:
    required = {
        "advertiser_history": {"id", "name", "status", "currency", "country", "created_time", "updated_time", "owner_user_id", "_fivetran_synced"},
        "campaign_history": {"id", "advertiser_id", "name", "status", "created_time", "_fivetran_synced"},
        "ad_group_history": {"id", "campaign_id", "ad_account_id", "name", "status", "start_time", "end_time", "created_time", "_fivetran_synced"},
        "pin_promotion_history": {"id", "ad_group_id", "ad_account_id", "pin_id", "name", "status", "creative_type", "destination_url", "created_time", "_fivetran_synced"},
        "keyword_history": {"id", "_fivetran_id", "ad_group_id", "advertiser_id", "ad_account_id", "campaign_id", "archived", "bid", "match_type", "parent_type", "value", "updated_time", "_fivetran_synced"},
        "keyword_report": {"date", "keyword_id", "pin_promotion_id", "ad_group_id", "ad_group_name", "ad_group_status", "campaign_id", "advertiser_id",
                           "impression_1", "impression_2", "clickthrough_1", "clickthrough_2", "spend_in_micro_dollar", "total_conversions",
                           "total_conversions_quantity", "total_conversions_value_in_micro_dollar", "_fivetran_synced"},
    }
    columns: dict[str, set[str]] = {}
    for view, column in demo.query("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'pinterest' AND table_catalog = current_database()"):
        columns.setdefault(view, set()).add(column)
    for view, names in required.items():
        assert names <= columns[view], (view, names - columns[view])


def test_keyword_report_matches_keyword_analytics(demo: DemoDatabase) -> None:
    analytics = demo.query(
        f"SELECT keyword_id, date, spend_in_micro_dollar, impression_1 FROM pinterest.keyword_analytics WHERE {SETTINGS_FILTER} ORDER BY 1, 2",
    )
    report = demo.query("SELECT keyword_id, date, spend_in_micro_dollar, impression_1 FROM pinterest.keyword_report ORDER BY 1, 2")

    assert analytics
    assert report == analytics


def test_views_in_named_duckdb_schema(demo: DemoDatabase) -> None:
    with demo.writable_pipeline() as pipeline:
        result = build_reporting_views(pipeline, schema_name="pinterest_reporting")
        reporting = query(pipeline, "SELECT CAST(SUM(spend_in_micro_dollar) AS BIGINT) FROM pinterest_reporting.advertiser_report")
        dataset = query(pipeline, "SELECT CAST(SUM(spend_in_micro_dollar) AS BIGINT) FROM pinterest.advertiser_report")
        dropped = drop_reporting_views(pipeline, "pinterest_reporting")

    assert sorted(result.built) == sorted(REPORTING_VIEWS)
    assert reporting == dataset
    assert sorted(dropped) == sorted(REPORTING_VIEWS)


def test_report_database_reads_views(demo: DemoDatabase) -> None:
    with open_report_database(demo.path) as database:
        database.require_views("ad_account_daily_report", "campaign_report")
        result = database.query(
            f"SELECT ad_account_id, SUM(spend_in_micro_dollar) FROM {database.view('ad_account_daily_report')} WHERE ad_account_id = %s GROUP BY 1",
            [next(iter(demo.ad_accounts))],
        )
        with pytest.raises(ReportingError, match="no reporting views"):
            database.require_views("no_such_view")

    ad_account_id = next(iter(demo.ad_accounts))
    expected = sum(value for (account, _), value in demo.account_spend.items() if account == ad_account_id)
    assert result.rows == [(ad_account_id, expected)]


def test_report_database_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ReportingError, match="pinterest-sync demo"):
        open_report_database(tmp_path / "absent.duckdb")


def test_views_skipped_without_analytics(simulator: Simulator, tmp_path: Path) -> None:
    config = make_config(simulator, tmp_path, resources=parse_resources("ad_accounts,campaigns"))
    pipeline = make_duckdb_pipeline(tmp_path)
    assert run_sync(config, pipeline=pipeline).ok

    result = build_reporting_views(pipeline)

    assert sorted(result.built) == ["advertiser_history", "campaign_history"]
    assert result.skipped["advertiser_report"] == "table pinterest.ad_account_analytics is not loaded"
    assert result.skipped["keyword_history"] == "table pinterest.keywords is not loaded"


def test_attribution_rejects_invalid_window() -> None:
    with pytest.raises(ValueError, match="click_window_days = 3 is not an attribution window"):
        Attribution(click_window_days=3)


# ----- PostgreSQL -----------------------------------------------------------------------


def test_postgres_views_exact_per_attribution(tmp_path: Path, postgres_dsn: str) -> None:  # noqa: F811
    with Simulator(SimulatorConfig(seed=11, scale="small")) as sim:
        today = sim.today
        start = today - dt.timedelta(days=4)
        big_ad_id = next(ad_id for ad_id, ad in sim.data.ads.items() if ad["status"] == "ARCHIVED")
        big_account = sim.data.ads[big_ad_id]["ad_account_id"]
        sim.data.set_ad_metric(big_ad_id, today - dt.timedelta(days=1), "SPEND_IN_MICRO_DOLLAR", BIG_SPEND)

        pipeline = dlt.pipeline(
            pipeline_name="reporting_postgres",
            dataset_name="pinterest",
            destination=dlt.destinations.postgres(postgres_dsn),
            pipelines_dir=str(tmp_path / "pipelines"),
        )
        resources = parse_resources("ad_accounts,campaigns,ad_groups,ads,keywords,ad_account_analytics,campaign_analytics,ad_group_analytics,ad_analytics,keyword_analytics")
        for click_window in (30, 7):
            analytics = replace(AnalyticsSettings(), click_window_days=click_window)
            config = make_config(sim, tmp_path, start_date=start, resources=resources, analytics=analytics)
            assert run_sync(config, pipeline=pipeline).ok

        days = [start + dt.timedelta(days=offset) for offset in range(5)]
        expected_spend = {
            (ad_account_id, day): sim.metrics.level_metrics("AD_ACCOUNT", ad_account_id, day, ["SPEND_IN_MICRO_DOLLAR"]).get("SPEND_IN_MICRO_DOLLAR", 0)
            for ad_account_id in sim.data.ad_accounts
            for day in days
        }

    default = build_reporting_views(pipeline, schema_name="pinterest_reporting")
    assert sorted(default.built) == sorted(REPORTING_VIEWS)

    spend = per_account_day(query(pipeline, "SELECT advertiser_id, date, spend_in_micro_dollar FROM pinterest_reporting.advertiser_report"))
    assert {key: spend.get(key) or 0 for key in expected_spend} == expected_spend
    assert spend[(big_account, today - dt.timedelta(days=1))] > BIG_SPEND
    ad_spend = query_with(pipeline, "SELECT spend_in_micro_dollar, spend_in_account_currency FROM pinterest_reporting.ad_daily_report WHERE ad_id = %s AND date = %s", big_ad_id, today - dt.timedelta(days=1))
    assert ad_spend == [(BIG_SPEND, Decimal(BIG_SPEND) / Decimal(1_000_000))]

    types = dict(query(pipeline, "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'pinterest_reporting' AND table_name = 'ad_daily_report'"))
    assert types["spend_in_micro_dollar"] == "bigint"
    assert types["spend_in_account_currency"] == "numeric"
    assert types["ad_id"] == "character varying"

    def conversions(schema: str, source: str, condition: str) -> dict[tuple[str, dt.date], Any]:
        return per_account_day(query(pipeline, f"SELECT ad_account_id, date, total_conversions FROM {schema}.{source} {condition}"))

    thirty = conversions("pinterest", "ad_account_analytics", "WHERE click_window_days = 30")
    seven = conversions("pinterest", "ad_account_analytics", "WHERE click_window_days = 7")
    assert thirty != seven
    assert conversions("pinterest_reporting", "advertiser_report", "") == thirty

    build_reporting_views(pipeline, schema_name="pinterest_reporting", attribution=Attribution(click_window_days=7))
    assert conversions("pinterest_reporting", "advertiser_report", "") == seven
    spend_seven = per_account_day(query(pipeline, "SELECT advertiser_id, date, spend_in_micro_dollar FROM pinterest_reporting.advertiser_report"))
    assert spend_seven == spend

    synced = query(pipeline, "SELECT DISTINCT _fivetran_synced FROM pinterest_reporting.campaign_history")
    loads = query(pipeline, "SELECT MAX(inserted_at) FROM pinterest._dlt_loads WHERE status = 0")
    columns = {row[0] for row in query(pipeline, "SELECT column_name FROM information_schema.columns WHERE table_schema = 'pinterest' AND table_name = 'campaigns'")}
    if "_dlt_load_id" not in columns:
        assert synced == loads

    with open_report_database(postgres_dsn, schema="pinterest_reporting") as database:
        database.require_views("ad_account_daily_report")
        total = database.query(f"SELECT SUM(spend_in_micro_dollar) FROM {database.view('ad_account_daily_report')}").rows[0][0]
    assert total == sum(expected_spend.values())

    assert sorted(drop_reporting_views(pipeline, "pinterest_reporting")) == sorted(REPORTING_VIEWS)


# ----- progress -------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_log_progress_lines(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    progress = LogProgress(logging.getLogger("test.progress"), interval=10.0, clock=clock)
    caplog.set_level(logging.INFO, logger="test.progress")

    progress.start(["campaigns", "boards"], ["1", "2"])
    progress.rows("campaigns", 250, "1")
    clock.now = 5.0
    progress.rows("campaigns", 250, "1")
    progress.rows("campaigns", 100, "2")
    clock.now = 16.0
    progress.rows("campaigns", 10, "2")
    progress.rows("boards", 3)
    progress.resource_done("campaigns")
    progress.resource_failed("boards", "repeated bookmark")
    progress.finish()

    assert [record.getMessage() for record in caplog.records] == [
        "Sync started: 2 resources, 2 ad accounts.",
        "campaigns: ad account 1 (1 of 2 ad accounts), 250 rows so far.",
        "campaigns: ad account 2 (2 of 2 ad accounts), 600 rows so far.",
        "campaigns: 610 rows so far (2 of 2 ad accounts).",
        "boards: 3 rows so far.",
        "campaigns: done, 610 rows.",
        "boards: failed, the other resources go on.",
        "Sync finished: 613 rows in 2 tables.",
        "Ad account 1: 500 rows.",
        "Ad account 2: 110 rows.",
    ]


def test_rich_progress_shows_resources_and_accounts() -> None:
    from rich.console import Console

    output = io.StringIO()
    progress = RichProgress(Console(file=output, force_terminal=True, width=140, color_system=None))

    progress.start(["campaigns", "campaign_analytics"], ["549755885175"])
    progress.rows("campaigns", 1234, "549755885175")
    progress.rows("campaign_analytics", 5000, "549755885175")
    progress.resource_done("campaigns")
    progress.resource_failed("campaign_analytics", "timed out")
    progress.finish()

    text = output.getvalue()
    assert "done campaigns" in text
    assert "1,234 rows" in text
    assert "campaign_analytics FAILED" in text
    assert "ad account 549755885175" in text
    assert "6,234 rows" in text
    assert "2 tables" in text


def test_make_progress_picks_display() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert isinstance(make_progress(Terminal()), RichProgress)
    assert isinstance(make_progress(io.StringIO()), LogProgress)
    assert isinstance(make_progress(Terminal(), enabled=False), NullProgress)


def test_rows_by_account_counts_items() -> None:
    table = pa.table({"ad_account_id": ["1", "2", "1", None], "spend": [1, 2, 3, 4]})

    assert rows_by_account(table) == {"1": 2, "2": 1, None: 1}
    assert rows_by_account(pa.table({"id": ["a", "b"]})) == {None: 2}
    assert rows_by_account([{"ad_account_id": 7}, {"ad_account_id": 7}, {"id": 1}]) == {"7": 2, None: 1}
    assert rows_by_account({"ad_account_id": "9"}) == {"9": 1}


def test_batch_counter_counts_loaded_rows(tmp_path: Path) -> None:
    counted: list[tuple[str, int, str | None]] = []

    @dlt.resource(name="metrics", write_disposition="append")
    def metrics() -> Iterator[pa.Table]:
        yield pa.table({"ad_account_id": ["1", "1", "2"], "value": [1, 2, 3]})
        yield pa.table({"ad_account_id": ["2"], "value": [4]})

    pipeline = dlt.pipeline(pipeline_name="progress_counts", destination=dlt.destinations.duckdb(str(tmp_path / "progress.duckdb")),
                            dataset_name="counts", pipelines_dir=str(tmp_path / "pipelines"))
    pipeline.run(metrics().add_map(batch_counter(lambda table, count, account: counted.append((table, count, account)), "metrics")))

    assert sorted(counted) == [("metrics", 1, "2"), ("metrics", 1, "2"), ("metrics", 2, "1")]
    assert query(pipeline, "SELECT COUNT(*) FROM counts.metrics") == [(4,)]


def test_hourly_rows_summed_to_days(simulator: Simulator, tmp_path: Path) -> None:
    analytics = replace(AnalyticsSettings(), granularity="HOUR")
    start = simulator.today - dt.timedelta(days=2)
    config = make_config(simulator, tmp_path, start_date=start, resources=parse_resources("ad_accounts,ad_account_analytics"), analytics=analytics)
    pipeline = make_duckdb_pipeline(tmp_path)
    assert run_sync(config, pipeline=pipeline).ok

    build_reporting_views(pipeline, attribution=analytics)

    hours = query(pipeline, "SELECT COUNT(DISTINCT hour) FROM pinterest.ad_account_analytics")
    report = per_account_day(query(pipeline, "SELECT advertiser_id, date, spend_in_micro_dollar FROM pinterest.advertiser_report"))
    expected = {
        (ad_account_id, day): simulator.metrics.level_metrics("AD_ACCOUNT", ad_account_id, day, ["SPEND_IN_MICRO_DOLLAR"]).get("SPEND_IN_MICRO_DOLLAR", 0)
        for ad_account_id in simulator.data.ad_accounts
        for day in (start + dt.timedelta(days=offset) for offset in range(3))
    }
    assert hours[0][0] > 1
    assert {key: report.get(key) or 0 for key in expected} == expected
