"""Ads analytics tables loaded from the simulator into a real DuckDB through the pipeline."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.pinterest import config as config_module
from pipelines.pinterest.analytics import reports, unavailable_days
from pipelines.pinterest.config import AnalyticsSettings
from pipelines.pinterest.pipeline import run_sync
from pipelines.pinterest.settings import ADS_ANALYTICS_TABLES
from pipelines.pinterest.simulator import Simulator, SimulatorConfig

from .conftest import make_config, make_duckdb_pipeline, query

LEVEL_TABLES = ("ad_account_analytics", "campaign_analytics", "ad_group_analytics", "ad_analytics")
SYNC_ENDPOINTS = {
    "ad_account_analytics": "GET /v5/ad_accounts/{ad_account_id}/analytics",
    "campaign_analytics": "GET /v5/ad_accounts/{ad_account_id}/campaigns/analytics",
    "ad_group_analytics": "GET /v5/ad_accounts/{ad_account_id}/ad_groups/analytics",
    "ad_analytics": "GET /v5/ad_accounts/{ad_account_id}/ads/analytics",
    "product_group_analytics": "GET /v5/ad_accounts/{ad_account_id}/product_groups/analytics",
    "targeting_analytics": "GET /v5/ad_accounts/{ad_account_id}/targeting_analytics",
}
REPORTS_CREATE = "POST /v5/ad_accounts/{ad_account_id}/reports"
SPEND = "SPEND_IN_MICRO_DOLLAR"


@pytest.fixture(autouse=True)
def fast_report_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The simulator finishes a report on its second status check; poll it without waiting a second."""
    monkeypatch.setattr(reports, "DEFAULT_POLL_POLICY", reports.PollPolicy(first_delay=0.02, max_delay=0.1, timeout=60))


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorConfig(seed=7, scale="small")) as simulator:
        yield simulator


def fix_today(monkeypatch: pytest.MonkeyPatch, sim: Simulator, day: dt.date) -> None:
    """Make the pipeline's UTC today and the simulator's today the same fixed date."""
    sim.today = day
    sim.metrics.today = day
    monkeypatch.setattr(config_module, "utc_today", lambda: day)


def sync(sim: Simulator, tmp_path: Path, resources: tuple[str, ...], pipeline: Any = None, **overrides: Any) -> Any:
    pipeline = pipeline or make_duckdb_pipeline(tmp_path, "analytics")
    config = make_config(sim, tmp_path, resources=resources, **overrides)
    result = run_sync(config, pipeline=pipeline)
    assert result.ok, result.summary.failed_resources
    return pipeline


def account_ids(sim: Simulator) -> list[str]:
    return list(sim.data.ad_accounts)


def ads_of(sim: Simulator, level_index: int, entity_id: str) -> list[str]:
    """Return the ads under an entity: level_index 0 is an account, 1 a campaign, 2 an ad group."""
    return [ad_id for ad_id, ad in sim.data.ads.items() if sim.metrics.ad_parents(ad)[level_index] == entity_id]


def campaigns_of(sim: Simulator, ad_account_id: str) -> list[str]:
    return [campaign_id for campaign_id, campaign in sim.data.campaigns.items() if campaign.get("ad_account_id") == ad_account_id]


def set_spend(sim: Simulator, ad_ids: list[str], day: dt.date, amounts: dict[str, int | None]) -> None:
    """Give the listed ads exactly `amounts` of spend that day; the others spend nothing."""
    for ad_id in ad_ids:
        sim.metrics.set_ad_metric(ad_id, day, SPEND, amounts.get(ad_id))


def logged(sim: Simulator, endpoint: str) -> list[tuple[str, str, dict[str, list[str]], int]]:
    """Return the requests-log entries of an endpoint named like `request_counts` keys ("GET /v5/...")."""
    return [entry for entry in sim.requests_log if f"{entry[0]} {entry[1]}" == endpoint]


def client_errors(sim: Simulator) -> list[tuple[str, str, dict[str, list[str]], int]]:
    return [entry for entry in sim.requests_log if 400 <= entry[3] < 500]


def spend_by_day(pipeline: Any, table: str, where: str = "true") -> dict[tuple[str, dt.date], int]:
    rows = query(pipeline, f"SELECT ad_account_id, date, sum(spend_in_micro_dollar) FROM pinterest.{table} WHERE {where} GROUP BY 1, 2")
    return {(account, day): int(total or 0) for account, day, total in rows}


# ----- full sync: totals, ids, request counts ---------------------------------------------------


def test_levels_sum_to_account_row(sim, tmp_path):
    pipeline = sync(sim, tmp_path, LEVEL_TABLES)
    today = sim.today

    account_rows = spend_by_day(pipeline, "ad_account_analytics")
    assert len(account_rows) > 200
    for table in ("campaign_analytics", "ad_group_analytics", "ad_analytics"):
        assert spend_by_day(pipeline, table) == account_rows, table

    for ad_account_id in account_ids(sim):
        for offset in (0, 1, 45, 89):
            day = today - dt.timedelta(days=offset)
            expected = sim.metrics.level_metrics("AD_ACCOUNT", ad_account_id, day, [SPEND]).get(SPEND, 0)
            assert account_rows.get((ad_account_id, day), 0) == expected, (ad_account_id, day)

    archived = [campaign_id for campaign_id, campaign in sim.data.campaigns.items() if campaign["status"] == "ARCHIVED"]
    loaded = {row[0] for row in query(pipeline, "SELECT DISTINCT campaign_id FROM pinterest.campaign_analytics")}
    assert archived
    assert set(archived) <= loaded
    assert loaded <= set(sim.data.campaigns)
    assert all(len(campaign_id) == 18 for campaign_id in loaded)


def test_campaign_rows_carry_settings_and_currency(sim, tmp_path):
    pipeline = sync(sim, tmp_path, ("campaign_analytics",))

    rows = query(
        pipeline,
        "SELECT DISTINCT ad_account_id, currency, click_window_days, engagement_window_days, view_window_days, "
        "conversion_report_time FROM pinterest.campaign_analytics",
    )
    expected = {(account_id, account["currency"], 30, 30, 1, "TIME_OF_AD_ACTION") for account_id, account in sim.data.ad_accounts.items()}
    assert set(rows) == expected

    types = dict(query(pipeline, "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'pinterest' AND table_name = 'campaign_analytics'"))
    assert types["campaign_id"] == "VARCHAR"
    assert types["date"] == "DATE"
    assert types["spend_in_micro_dollar"] == "BIGINT"
    assert types["spend_in_account_currency"] == "DOUBLE"
    assert types["total_conversions"] == "DOUBLE"
    assert types["click_window_days"] == "BIGINT"


def test_initial_sync_requests_at_minimum(sim, tmp_path):
    sync(sim, tmp_path, ADS_ANALYTICS_TABLES)

    minimum: dict[str, int] = dict.fromkeys(SYNC_ENDPOINTS, 0)
    for ad_account_id in account_ids(sim):
        ad_ids = ads_of(sim, 0, ad_account_id)
        campaigns = {sim.metrics.ad_parents(sim.data.ads[ad_id])[1] for ad_id in ad_ids} | set(campaigns_of(sim, ad_account_id))
        ad_groups = {group_id for group_id, group in sim.data.ad_groups.items() if group.get("campaign_id") in campaigns}
        promotions = [pid for pid, promotion in sim.data.product_group_promotions.items() if sim.metrics.product_group_parents(promotion)[0] == ad_account_id]
        minimum["ad_account_analytics"] += 1
        minimum["campaign_analytics"] += math.ceil(len(campaigns) / 250)
        minimum["ad_group_analytics"] += math.ceil(len(ad_groups) / 250)
        minimum["ad_analytics"] += math.ceil(len(ad_ids) / 250)
        minimum["product_group_analytics"] += math.ceil(len(promotions) / 250)
        minimum["targeting_analytics"] += 1

    sent = {table: sim.request_counts[endpoint] for table, endpoint in SYNC_ENDPOINTS.items()}
    print(f"sync analytics requests {sent} minimum {minimum}; report creations {sim.request_counts[REPORTS_CREATE]}")
    assert sent == minimum
    assert sum(sent.values()) <= 1.05 * sum(minimum.values())
    # Keyword rows come from one KEYWORD report per ad account for the 90 days.
    assert sim.request_counts[REPORTS_CREATE] == len(account_ids(sim))
    assert client_errors(sim) == []


# ----- bug cases ----------------------------------------------------------------------------


def test_archived_campaign_spend_counted(sim, tmp_path):
    ad_account_id = account_ids(sim)[0]
    day = sim.today - dt.timedelta(days=3)
    first, second, third, *others = campaigns_of(sim, ad_account_id)
    for campaign_id, status in ((first, "ACTIVE"), (second, "PAUSED"), (third, "ARCHIVED")):
        sim.data.campaigns[campaign_id]["status"] = status
    amounts = {}
    for campaign_id, micros in ((first, 10_000_000), (second, 5_000_000), (third, 2_500_000)):
        amounts[ads_of(sim, 1, campaign_id)[0]] = micros
    set_spend(sim, ads_of(sim, 0, ad_account_id), day, amounts)

    pipeline = sync(sim, tmp_path, ("campaigns", "campaign_analytics", "ad_account_analytics"), ad_account_ids=(ad_account_id,))

    statuses = dict(query(pipeline, f"SELECT id, status FROM pinterest.campaigns WHERE id IN ('{first}', '{second}', '{third}')"))
    assert statuses == {first: "ACTIVE", second: "PAUSED", third: "ARCHIVED"}
    campaign_rows = dict(query(pipeline, f"SELECT campaign_id, spend_in_account_currency FROM pinterest.campaign_analytics WHERE date = '{day}' AND spend_in_account_currency IS NOT NULL"))
    assert campaign_rows == {first: 10.0, second: 5.0, third: 2.5}
    assert sum(campaign_rows.values()) == 17.5
    account_row = query(pipeline, f"SELECT spend_in_account_currency FROM pinterest.ad_account_analytics WHERE date = '{day}'")
    assert account_row == [(17.5,)]


def test_paused_ad_spend_counted(sim, tmp_path):
    ad_account_id = account_ids(sim)[0]
    day = sim.today - dt.timedelta(days=2)
    active_ad, paused_ad = ads_of(sim, 0, ad_account_id)[:2]
    sim.data.ads[active_ad]["status"] = "ACTIVE"
    sim.data.ads[paused_ad]["status"] = "PAUSED"
    set_spend(sim, ads_of(sim, 0, ad_account_id), day, {active_ad: 10_000_000, paused_ad: 4_000_000})

    pipeline = sync(sim, tmp_path, ("ad_analytics", "ad_account_analytics"), ad_account_ids=(ad_account_id,))

    ad_rows = dict(query(pipeline, f"SELECT ad_id, spend_in_account_currency FROM pinterest.ad_analytics WHERE date = '{day}' AND spend_in_account_currency IS NOT NULL"))
    assert ad_rows == {active_ad: 10.0, paused_ad: 4.0}
    account_row = query(pipeline, f"SELECT spend_in_account_currency FROM pinterest.ad_account_analytics WHERE date = '{day}'")
    assert account_row == [(14.0,)]


def test_micros_exact_in_account_currency(sim, tmp_path):
    euro_account = next(account_id for account_id, account in sim.data.ad_accounts.items() if account["currency"] == "EUR")
    ad_id = ads_of(sim, 0, euro_account)[0]
    day = sim.today - dt.timedelta(days=5)
    big_day = sim.today - dt.timedelta(days=6)
    sim.metrics.set_ad_metric(ad_id, day, SPEND, 12_340_000)
    sim.metrics.set_ad_metric(ad_id, day, "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR", 45_990_000)
    sim.metrics.set_ad_metric(ad_id, big_day, SPEND, 9_007_199_254_740_993)

    pipeline = sync(sim, tmp_path, ("ad_analytics",), ad_account_ids=(euro_account,))

    row = query(
        pipeline,
        "SELECT spend_in_micro_dollar, spend_in_account_currency, total_checkout_value_in_micro_dollar, "
        f"total_checkout_value_in_account_currency, currency FROM pinterest.ad_analytics WHERE ad_id = '{ad_id}' AND date = '{day}'",
    )
    assert row == [(12_340_000, 12.34, 45_990_000, 45.99, "EUR")]
    big = query(pipeline, f"SELECT spend_in_micro_dollar FROM pinterest.ad_analytics WHERE ad_id = '{ad_id}' AND date = '{big_day}'")
    assert big == [(9_007_199_254_740_993,)]
    columns = [name for (name,) in query(pipeline, "SELECT column_name FROM information_schema.columns WHERE table_schema = 'pinterest' AND table_name = 'ad_analytics'")]
    assert not [name for name in columns if "usd" in name]
    assert "spend_in_account_currency" in columns


def test_sparse_first_day_keeps_column(sim, tmp_path, monkeypatch):
    ad_account_id = account_ids(sim)[0]
    ad_ids = ads_of(sim, 0, ad_account_id)
    first_day = sim.today - dt.timedelta(days=10)
    second_day = sim.today - dt.timedelta(days=9)
    for ad_id in ad_ids:
        sim.metrics.set_ad_metric(ad_id, first_day, "TOTAL_CONVERSIONS", None)
        sim.metrics.set_ad_metric(ad_id, second_day, "TOTAL_CONVERSIONS", 7 if ad_id == ad_ids[0] else None)
    settings = AnalyticsSettings(columns=(SPEND, "TOTAL_CONVERSIONS"))
    pipeline = make_duckdb_pipeline(tmp_path, "analytics")

    sync(sim, tmp_path, ("ad_analytics",), pipeline, ad_account_ids=(ad_account_id,), analytics=settings,
         start_date=first_day, end_date=first_day, is_backfill=True)

    first = query(pipeline, f"SELECT total_conversions FROM pinterest.ad_analytics WHERE ad_id = '{ad_ids[0]}' AND date = '{first_day}'")
    assert first == [(None,)]

    sync(sim, tmp_path, ("ad_analytics",), pipeline, ad_account_ids=(ad_account_id,), analytics=settings,
         start_date=second_day, end_date=second_day, is_backfill=True)

    both = query(pipeline, f"SELECT date, total_conversions FROM pinterest.ad_analytics WHERE ad_id = '{ad_ids[0]}' ORDER BY date")
    assert both == [(first_day, None), (second_day, 7.0)]


def test_late_conversions_replace_value(sim, tmp_path, monkeypatch):
    conversion_day = sim.today - dt.timedelta(days=20)
    ad_account_id = account_ids(sim)[0]
    ad_id = ads_of(sim, 0, ad_account_id)[0]
    pipeline = make_duckdb_pipeline(tmp_path, "analytics")

    fix_today(monkeypatch, sim, conversion_day + dt.timedelta(days=1))
    sim.metrics.set_ad_metric(ad_id, conversion_day, "TOTAL_CONVERSIONS", 3)
    sync(sim, tmp_path, ("ad_analytics",), pipeline, ad_account_ids=(ad_account_id,), start_date=conversion_day - dt.timedelta(days=5))

    fix_today(monkeypatch, sim, conversion_day + dt.timedelta(days=8))
    sim.metrics.set_ad_metric(ad_id, conversion_day, "TOTAL_CONVERSIONS", 5)
    sync(sim, tmp_path, ("ad_analytics",), pipeline, ad_account_ids=(ad_account_id,), start_date=conversion_day - dt.timedelta(days=5))

    rows = query(pipeline, f"SELECT total_conversions FROM pinterest.ad_analytics WHERE ad_id = '{ad_id}' AND date = '{conversion_day}'")
    assert rows == [(5.0,)]


def test_restated_days_hold_new_values(sim, tmp_path):
    pipeline = make_duckdb_pipeline(tmp_path, "analytics")
    tables = ("ad_analytics", "campaign_analytics")
    sync(sim, tmp_path, tables, pipeline)
    counts = {table: query(pipeline, f"SELECT count(*) FROM pinterest.{table}")[0][0] for table in tables}
    day = sim.today - dt.timedelta(days=3)
    before = dict(query(pipeline, f"SELECT ad_id, total_conversions FROM pinterest.ad_analytics WHERE date = '{day}'"))

    sim.metrics.restate(days=7, factor=1.5)
    sync(sim, tmp_path, tables, pipeline)

    assert {table: query(pipeline, f"SELECT count(*) FROM pinterest.{table}")[0][0] for table in tables} == counts
    after = dict(query(pipeline, f"SELECT ad_id, total_conversions FROM pinterest.ad_analytics WHERE date = '{day}'"))
    expected = {ad_id: float((sim.metrics.ad_metrics(ad_id, day, ["TOTAL_CONVERSIONS"]) or {}).get("TOTAL_CONVERSIONS", 0)) for ad_id in after}
    assert {ad_id: value or 0.0 for ad_id, value in after.items()} == expected
    assert after != before


def test_daily_grain_survives_merge(monkeypatch, tmp_path):
    first_day, second_day = dt.date(2024, 5, 1), dt.date(2024, 5, 2)
    with Simulator(SimulatorConfig(seed=7, scale="small", today=second_day)) as sim:
        fix_today(monkeypatch, sim, second_day)
        ad_account_id = account_ids(sim)[0]
        campaign_id = campaigns_of(sim, ad_account_id)[0]
        campaign_ads = ads_of(sim, 1, campaign_id)
        set_spend(sim, campaign_ads, first_day, {campaign_ads[0]: 10_000_000})
        set_spend(sim, campaign_ads, second_day, {campaign_ads[0]: 20_000_000})
        pipeline = make_duckdb_pipeline(tmp_path, "analytics")

        for _ in range(2):
            sync(sim, tmp_path, ("campaign_analytics",), pipeline, ad_account_ids=(ad_account_id,), start_date=first_day)

    rows = query(pipeline, f"SELECT date, spend_in_account_currency FROM pinterest.campaign_analytics WHERE campaign_id = '{campaign_id}' ORDER BY date")
    assert rows == [(first_day, 10.0), (second_day, 20.0)]
    assert sum(spend for _, spend in rows) == 30.0


@pytest.mark.parametrize("as_backfill", [False, True])
def test_widened_start_loads_older_days(sim, tmp_path, as_backfill):
    ad_account_id = account_ids(sim)[0]
    campaign_id = campaigns_of(sim, ad_account_id)[0]
    campaign_ads = ads_of(sim, 1, campaign_id)
    for offset in range(90):
        set_spend(sim, campaign_ads, sim.today - dt.timedelta(days=offset), {campaign_ads[0]: 1_000_000})
    pipeline = make_duckdb_pipeline(tmp_path, "analytics")

    sync(sim, tmp_path, ("campaign_analytics",), pipeline, ad_account_ids=(ad_account_id,), start_date=sim.today - dt.timedelta(days=1))
    sync(sim, tmp_path, ("campaign_analytics",), pipeline, ad_account_ids=(ad_account_id,),
         start_date=sim.today - dt.timedelta(days=89), is_backfill=as_backfill)

    rows = query(pipeline, f"SELECT date, spend_in_account_currency FROM pinterest.campaign_analytics WHERE campaign_id = '{campaign_id}'")
    assert len(rows) == 90
    assert len({day for day, _ in rows}) == 90
    assert {spend for _, spend in rows} == {1.0}
    assert min(day for day, _ in rows) == sim.today - dt.timedelta(days=89)


def test_dates_utc_in_kiritimati(sim, tmp_path):
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "Pacific/Kiritimati"
    time.tzset()
    try:
        assert time.strftime("%z") == "+1400"
        pipeline = sync(sim, tmp_path, ("campaign_analytics", "ad_account_analytics"), start_date=sim.today - dt.timedelta(days=730))
    finally:
        if previous is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = previous
        time.tzset()

    today = sim.today
    sync_requests = logged(sim, SYNC_ENDPOINTS["campaign_analytics"]) + logged(sim, SYNC_ENDPOINTS["ad_account_analytics"])
    assert sync_requests
    for _, _, params, status in sync_requests:
        assert dt.date.fromisoformat(params["start_date"][0]) >= today - dt.timedelta(days=89)
        assert dt.date.fromisoformat(params["end_date"][0]) <= today
        assert status == 200
    assert client_errors(sim) == []
    assert sim.request_counts[REPORTS_CREATE] > 0
    dates = query(pipeline, "SELECT min(date), max(date) FROM pinterest.campaign_analytics")[0]
    assert dates[0] < today - dt.timedelta(days=89)
    assert dates[0] >= today - dt.timedelta(days=730)
    assert dates[1] == today


def test_backfill_beyond_914_days(sim, tmp_path):
    today = sim.today
    pipeline = sync(sim, tmp_path, ("campaign_analytics",), start_date=today - dt.timedelta(days=1000), end_date=today, is_backfill=True)

    assert client_errors(sim) == []
    # 825 report days (914 back to 90 back) in reports of at most 186 days.
    assert sim.request_counts[REPORTS_CREATE] == 5 * len(account_ids(sim))
    oldest = query(pipeline, "SELECT min(date) FROM pinterest.campaign_analytics")[0][0]
    assert today - dt.timedelta(days=914) <= oldest <= today - dt.timedelta(days=900)
    lost = unavailable_days(pipeline, ["campaign_analytics"])
    assert sorted(entry["ad_account_id"] for entry in lost) == sorted(account_ids(sim))
    for entry in lost:
        assert entry["start_date"] == (today - dt.timedelta(days=1000)).isoformat()
        assert entry["end_date"] == (today - dt.timedelta(days=915)).isoformat()
        assert entry["days"] == 86
    state = pipeline.state["sources"]["pinterest"]["resources"]["campaign_analytics"]
    assert "cursors" not in state


def test_backfill_400_days_through_reports(sim, tmp_path):
    today = sim.today
    old_day = today - dt.timedelta(days=300)

    pipeline = sync(sim, tmp_path, ADS_ANALYTICS_TABLES, start_date=today - dt.timedelta(days=400), end_date=today, is_backfill=True)

    assert client_errors(sim) == []
    assert sim.request_counts[REPORTS_CREATE] > 0
    account_rows = spend_by_day(pipeline, "ad_account_analytics", f"date = '{old_day}'")
    assert account_rows
    for table in ("campaign_analytics", "ad_group_analytics", "ad_analytics"):
        assert spend_by_day(pipeline, table, f"date = '{old_day}'") == account_rows, table
    for ad_account_id in account_ids(sim):
        expected = sim.metrics.level_metrics("AD_ACCOUNT", ad_account_id, old_day, [SPEND]).get(SPEND, 0)
        assert account_rows.get((ad_account_id, old_day), 0) == expected
    for table in ("keyword_analytics", "targeting_analytics", "product_group_analytics"):
        oldest = query(pipeline, f"SELECT min(date) FROM pinterest.{table}")[0][0]
        assert oldest < today - dt.timedelta(days=89), table
    assert unavailable_days(pipeline, ADS_ANALYTICS_TABLES) == []


# ----- cursors, settings, granularity --------------------------------------------------------


def test_cursors_per_account_untouched_by_backfill(sim, tmp_path):
    pipeline = make_duckdb_pipeline(tmp_path, "analytics")
    sync(sim, tmp_path, ("campaign_analytics",), pipeline)
    state = pipeline.state["sources"]["pinterest"]["resources"]["campaign_analytics"]
    cursors = {account: dict(settings) for account, settings in state["cursors"].items()}

    assert set(cursors) == set(account_ids(sim))
    for settings in cursors.values():
        (coverage,) = settings.values()
        assert coverage == {"first_date": (sim.today - dt.timedelta(days=89)).isoformat(), "last_date": sim.today.isoformat()}

    sync(sim, tmp_path, ("campaign_analytics",), pipeline, start_date=sim.today - dt.timedelta(days=200),
         end_date=sim.today - dt.timedelta(days=150), is_backfill=True)

    state = pipeline.state["sources"]["pinterest"]["resources"]["campaign_analytics"]
    assert {account: dict(settings) for account, settings in state["cursors"].items()} == cursors


def test_rejected_windows_fail_naming_them(sim, tmp_path):
    settings = AnalyticsSettings(click_window_days=1, view_window_days=7)
    config = make_config(sim, tmp_path, resources=("ad_account_analytics",), analytics=settings)

    with pytest.raises(Exception) as error:
        run_sync(config, pipeline=make_duckdb_pipeline(tmp_path, "analytics"))

    assert "click_window_days=1, engagement_window_days=30, view_window_days=7" in str(error.value)
    analytics_calls = logged(sim, SYNC_ENDPOINTS["ad_account_analytics"])
    assert [entry[3] for entry in analytics_calls] == [400]


def test_zero_windows_recorded_on_rows(sim, tmp_path):
    settings = AnalyticsSettings(click_window_days=0, engagement_window_days=0, view_window_days=0, conversion_report_time="TIME_OF_CONVERSION")

    pipeline = sync(sim, tmp_path, ("ad_account_analytics",), analytics=settings)

    params = [entry[2] for entry in logged(sim, SYNC_ENDPOINTS["ad_account_analytics"])]
    assert {(p["click_window_days"][0], p["engagement_window_days"][0], p["view_window_days"][0]) for p in params} == {("0", "0", "0")}
    rows = query(pipeline, "SELECT DISTINCT click_window_days, engagement_window_days, view_window_days, conversion_report_time FROM pinterest.ad_account_analytics")
    assert rows == [(0, 0, 0, "TIME_OF_CONVERSION")]


def test_hourly_rows_sum_to_day(sim, tmp_path):
    settings = AnalyticsSettings(granularity="HOUR")
    today = sim.today
    day = today - dt.timedelta(days=2)

    pipeline = sync(sim, tmp_path, ("ad_account_analytics",), analytics=settings, start_date=today - dt.timedelta(days=10))

    windows = [entry[2] for entry in logged(sim, SYNC_ENDPOINTS["ad_account_analytics"])]
    for params in windows:
        start, end = dt.date.fromisoformat(params["start_date"][0]), dt.date.fromisoformat(params["end_date"][0])
        assert start >= today - dt.timedelta(days=8)
        assert (end - start).days <= 2
    assert client_errors(sim) == []
    rows, keys, lowest, highest = query(
        pipeline,
        "SELECT count(*), count(DISTINCT (ad_account_id, date, hour)), min(hour), max(hour) FROM pinterest.ad_account_analytics",
    )[0]
    assert rows == keys
    assert lowest == 0
    assert highest == 23
    for ad_account_id in account_ids(sim):
        expected = sim.metrics.level_metrics("AD_ACCOUNT", ad_account_id, day, [SPEND]).get(SPEND, 0)
        assert spend_by_day(pipeline, "ad_account_analytics", f"date = '{day}' AND ad_account_id = '{ad_account_id}'").get((ad_account_id, day), 0) == expected
    lost = unavailable_days(pipeline, ["ad_account_analytics"])
    assert {(entry["start_date"], entry["end_date"]) for entry in lost} == {((today - dt.timedelta(days=10)).isoformat(), (today - dt.timedelta(days=8)).isoformat())}


def test_targeting_types_configurable(sim, tmp_path):
    settings = dataclasses.replace(AnalyticsSettings(), targeting_types=("GENDER", "COUNTRY"))

    pipeline = sync(sim, tmp_path, ("targeting_analytics", "ad_account_analytics"), analytics=settings)

    types = {row[0] for row in query(pipeline, "SELECT DISTINCT targeting_type FROM pinterest.targeting_analytics")}
    assert types == {"GENDER", "COUNTRY"}
    per_type = spend_by_day(pipeline, "targeting_analytics", "targeting_type = 'GENDER'")
    assert per_type == spend_by_day(pipeline, "ad_account_analytics")


def test_failed_report_created_again(sim, tmp_path):
    sim.metrics.fail_next_reports = 1
    today = sim.today

    pipeline = sync(sim, tmp_path, ("ad_account_analytics",), ad_account_ids=(account_ids(sim)[0],),
                    start_date=today - dt.timedelta(days=120), end_date=today - dt.timedelta(days=100), is_backfill=True)

    assert sim.request_counts[REPORTS_CREATE] == 2
    assert query(pipeline, "SELECT count(*) FROM pinterest.ad_account_analytics")[0][0] > 0


def test_report_failing_twice_names_it(sim, tmp_path):
    sim.metrics.fail_next_reports = 2
    today = sim.today
    config = make_config(sim, tmp_path, resources=("ad_account_analytics",), ad_account_ids=(account_ids(sim)[0],),
                         start_date=today - dt.timedelta(days=120), end_date=today - dt.timedelta(days=100), is_backfill=True)

    with pytest.raises(Exception) as error:
        run_sync(config, pipeline=make_duckdb_pipeline(tmp_path, "analytics"))

    message = str(error.value)
    assert f"ADVERTISER report {today - dt.timedelta(days=120)}..{today - dt.timedelta(days=100)}" in message
    assert "ended with status FAILED twice" in message


def test_keyword_rows_match_keyword_metrics(sim, tmp_path):
    day = sim.today - dt.timedelta(days=4)

    pipeline = sync(sim, tmp_path, ("keyword_analytics",))

    rows = query(pipeline, f"SELECT keyword_id, ad_group_id, campaign_id, spend_in_micro_dollar FROM pinterest.keyword_analytics WHERE date = '{day}'")
    assert rows
    for keyword_id, ad_group_id, campaign_id, spend in rows:
        _, expected_campaign, expected_group = sim.metrics.keyword_parents(sim.data.keywords[keyword_id])
        assert (ad_group_id, campaign_id) == (expected_group, expected_campaign)
        assert spend == (sim.metrics.keyword_metrics(keyword_id, day, [SPEND]) or {}).get(SPEND)
    active = [keyword_id for keyword_id in sim.data.keywords if (sim.metrics.keyword_metrics(keyword_id, day, [SPEND]) or {}).get(SPEND)]
    assert {row[0] for row in rows} == set(active)


def test_product_group_rows_match_metrics(sim, tmp_path):
    day = sim.today - dt.timedelta(days=4)

    pipeline = sync(sim, tmp_path, ("product_group_analytics",))

    rows = query(pipeline, f"SELECT product_group_id, ad_group_id, campaign_id, spend_in_micro_dollar FROM pinterest.product_group_analytics WHERE date = '{day}'")
    assert rows
    for promotion_id, ad_group_id, campaign_id, spend in rows:
        _, expected_campaign, expected_group = sim.metrics.product_group_parents(sim.data.product_group_promotions[promotion_id])
        assert (ad_group_id, campaign_id) == (expected_group, expected_campaign)
        assert spend == (sim.metrics.product_group_metrics(promotion_id, day, [SPEND]) or {}).get(SPEND)


def test_throttled_analytics_finish(sim, tmp_path):
    sim.metrics.throttle_next_analytics = 2

    pipeline = sync(sim, tmp_path, ("ad_account_analytics",))

    assert query(pipeline, "SELECT count(DISTINCT ad_account_id) FROM pinterest.ad_account_analytics")[0][0] == len(account_ids(sim))
    statuses = [entry[3] for entry in logged(sim, SYNC_ENDPOINTS["ad_account_analytics"])]
    assert statuses.count(400) == 2
    assert statuses.count(200) == len(account_ids(sim))


def test_new_account_gets_full_window(sim, tmp_path):
    first, second = account_ids(sim)[:2]
    pipeline = make_duckdb_pipeline(tmp_path, "analytics")
    sync(sim, tmp_path, ("ad_account_analytics",), pipeline, ad_account_ids=(first,))

    sync(sim, tmp_path, ("ad_account_analytics",), pipeline, ad_account_ids=(first, second))

    days = dict(query(pipeline, "SELECT ad_account_id, count(DISTINCT date) FROM pinterest.ad_account_analytics GROUP BY 1"))
    for ad_account_id in (first, second):
        expected = sum(1 for offset in range(90) if sim.metrics.level_metrics("AD_ACCOUNT", ad_account_id, sim.today - dt.timedelta(days=offset)))
        assert days[ad_account_id] == expected
    second_run = [entry[2] for entry in logged(sim, SYNC_ENDPOINTS["ad_account_analytics"])][1:]
    starts = {entry["start_date"][0] for entry in second_run}
    # The known account re-fetches the 30-day click window; the new one loads all 90 days.
    assert starts == {(sim.today - dt.timedelta(days=30)).isoformat(), (sim.today - dt.timedelta(days=89)).isoformat()}


def test_forbidden_account_skipped(sim, tmp_path):
    forbidden, *readable = account_ids(sim)
    sim.faults.forbidden_ad_accounts.add(forbidden)

    pipeline = sync(sim, tmp_path, ("campaign_analytics",))

    loaded = {row[0] for row in query(pipeline, "SELECT DISTINCT ad_account_id FROM pinterest.campaign_analytics")}
    assert loaded == set(readable)
    lost = unavailable_days(pipeline, ["campaign_analytics"])
    assert [(entry["ad_account_id"], entry["reason"]) for entry in lost] == [(forbidden, "access denied to the ad account")]
    cursors = pipeline.state["sources"]["pinterest"]["resources"]["campaign_analytics"]["cursors"]
    assert set(cursors) == set(readable)


def test_failed_table_leaves_others_loaded(sim, tmp_path):
    """A rejected targeting request ends that table only; its cursor stays, the next run fetches it."""
    clean = sync(sim, tmp_path / "clean", ("targeting_analytics",))
    clean_rows = query(clean, "SELECT count(*) FROM pinterest.targeting_analytics")[0][0]
    rejected = {"code": 1, "message": "Invalid parameters."}
    sim.faults.fail_next.append((SYNC_ENDPOINTS["targeting_analytics"], 400, rejected))
    pipeline = make_duckdb_pipeline(tmp_path, "analytics")
    # The config is made after the clean sync because each refresh rotates the token.
    config = make_config(sim, tmp_path, resources=("campaign_analytics", "targeting_analytics"))

    first = run_sync(config, pipeline=pipeline)

    assert set(first.summary.failed_resources) == {"targeting_analytics"}
    assert "400" in first.summary.failed_resources["targeting_analytics"]
    campaign_rows = query(pipeline, "SELECT count(*) FROM pinterest.campaign_analytics")[0][0]
    assert campaign_rows > 0

    second = run_sync(config, pipeline=pipeline)

    assert second.ok, second.summary.failed_resources
    assert clean_rows > 0
    assert query(pipeline, "SELECT count(*) FROM pinterest.targeting_analytics")[0][0] == clean_rows
    assert query(pipeline, "SELECT count(*) FROM pinterest.campaign_analytics")[0][0] == campaign_rows
