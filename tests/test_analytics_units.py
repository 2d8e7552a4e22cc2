"""Pure parts of the analytics package: date planning, cursors, Arrow conversion, validation."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pyarrow as pa
import pytest

from pipelines.pinterest.analytics.arrow import metric_values, parse_report_date, table_from_rows
from pipelines.pinterest.analytics.columns import (
    CONVERSION_COLUMNS,
    DEFAULT_COLUMNS,
    SYNC_COLUMNS,
    arrow_type,
    column_name,
    derived_amount_name,
)
from pipelines.pinterest.analytics.cursor import Coverage, advance, ranges_to_fetch, read_coverage, write_coverage
from pipelines.pinterest.analytics.dates import (
    REPORT_DAILY,
    REPORT_PRODUCT_ITEM,
    SYNC_DAILY,
    SYNC_HOURLY,
    DateRange,
    merge_ranges,
    plan_fetch,
)
from pipelines.pinterest.analytics.organic import pin_has_recent_activity
from pipelines.pinterest.analytics.reports import ReportError, parse_report, targeting_groups
from pipelines.pinterest.analytics.request import report_settings, requested_columns
from pipelines.pinterest.analytics.tables import AD_ANALYTICS, CAMPAIGN_ANALYTICS, TARGETING_ANALYTICS, ads_schema, key_columns
from pipelines.pinterest.analytics.validation import validate_analytics_settings
from pipelines.pinterest.config import AnalyticsSettings
from pipelines.pinterest.errors import ConfigError

T = dt.date(2026, 3, 10)


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


# ----- dates ----------------------------------------------------------------------------


def test_chunks_cover_range_without_overlap():
    span = DateRange(T - days(400), T)

    chunks = list(span.chunks(186))

    assert [chunk.days for chunk in chunks] == [186, 186, 29]
    assert chunks[0].start == span.start
    assert chunks[-1].end == span.end
    for earlier, later in zip(chunks, chunks[1:]):
        assert later.start == earlier.end + days(1)


def test_merge_ranges_joins_adjacent_and_overlapping():
    merged = merge_ranges([DateRange(T - days(5), T), DateRange(T - days(20), T - days(6)), DateRange(T - days(40), T - days(30))])

    assert merged == [DateRange(T - days(40), T - days(30)), DateRange(T - days(20), T)]


def test_plan_default_window_is_one_sync_request():
    plan = plan_fetch([DateRange(T - days(89), T)], T, SYNC_DAILY, REPORT_DAILY)

    assert plan.sync == (DateRange(T - days(89), T),)
    assert plan.reports == ()
    assert plan.unavailable == ()


def test_plan_backfill_beyond_914_days():
    plan = plan_fetch([DateRange(T - days(1000), T)], T, SYNC_DAILY, REPORT_DAILY)

    assert plan.sync == (DateRange(T - days(89), T),)
    assert plan.reports[0].start == T - days(914)
    assert plan.reports[-1].end == T - days(90)
    assert all(chunk.days <= 186 for chunk in plan.reports)
    assert sum(chunk.days for chunk in plan.reports) == 914 - 90 + 1
    assert len(plan.reports) == 5
    assert plan.unavailable == (DateRange(T - days(1000), T - days(915)),)


def test_plan_drops_future_days_and_splits_hourly():
    plan = plan_fetch([DateRange(T - days(10), T + days(3))], T, SYNC_HOURLY, None)

    assert plan.sync == (DateRange(T - days(7), T - days(5)), DateRange(T - days(4), T - days(2)), DateRange(T - days(1), T))
    assert plan.unavailable == (DateRange(T - days(10), T - days(8)),)


def test_plan_product_item_reach():
    plan = plan_fetch([DateRange(T - days(100), T)], T, REPORT_PRODUCT_ITEM, None)

    assert plan.sync[0].start == T - days(92)
    assert max(chunk.days for chunk in plan.sync) == 31
    assert plan.unavailable == (DateRange(T - days(100), T - days(93)),)


# ----- cursors --------------------------------------------------------------------------


def test_first_run_fetches_whole_request():
    requested = DateRange(T - days(89), T)

    assert ranges_to_fetch(requested, None, 30) == [requested]


def test_daily_run_refetches_lookback():
    coverage = Coverage(T - days(90), T - days(1))

    ranges = ranges_to_fetch(DateRange(T - days(89), T), coverage, 30)

    assert ranges == [DateRange(T - days(31), T)]


def test_widened_start_fetches_older_gap():
    coverage = Coverage(T - days(1), T - days(1))

    ranges = ranges_to_fetch(DateRange(T - days(89), T), coverage, 14)

    assert merge_ranges(ranges) == [DateRange(T - days(89), T)]


def test_lookback_stays_inside_sync_reach():
    coverage = Coverage(T - days(200), T - days(1))

    ranges = ranges_to_fetch(DateRange(T - days(200), T), coverage, 89, refetch_floor=T - days(89))

    assert ranges == [DateRange(T - days(89), T)]


def test_coverage_round_trip_per_account():
    state: dict = {}
    write_coverage(state, "111", "key", Coverage(T - days(5), T))
    write_coverage(state, "222", "key", Coverage(T - days(9), T - days(2)))

    assert read_coverage(state, "111", "key") == Coverage(T - days(5), T)
    assert read_coverage(state, "222", "key") == Coverage(T - days(9), T - days(2))
    assert read_coverage(state, "333", "key") is None
    assert read_coverage(state, "111", "other settings") is None
    assert advance(Coverage(T - days(5), T - days(1)), DateRange(T - days(9), T)) == Coverage(T - days(9), T)


# ----- columns and Arrow ------------------------------------------------------------------


def test_column_names_follow_dlt_snake_case():
    assert column_name("SPEND_IN_MICRO_DOLLAR") == "spend_in_micro_dollar"
    assert column_name("VIDEO_P0_COMBINED_2") == "video_p0_combined_2"
    assert derived_amount_name("TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR") == "total_checkout_value_in_account_currency"


def test_column_types():
    assert arrow_type("SPEND_IN_MICRO_DOLLAR") == pa.int64()
    assert arrow_type("TOTAL_IMPRESSION") == pa.int64()
    assert arrow_type("CTR") == pa.float64()
    assert arrow_type("TOTAL_CONVERSIONS") == pa.float64()
    assert arrow_type("CAMPAIGN_NAME") == pa.string()
    assert arrow_type("PIN_ID") == pa.string()


def test_defaults_are_valid_sync_columns():
    assert len(SYNC_COLUMNS) == 175
    assert set(DEFAULT_COLUMNS) <= set(SYNC_COLUMNS)
    assert "TOTAL_CONVERSIONS" in CONVERSION_COLUMNS
    assert "LEADS" not in CONVERSION_COLUMNS
    assert "SPEND_IN_MICRO_DOLLAR" not in CONVERSION_COLUMNS


def test_micros_exact_and_amounts_in_account_currency():
    values = metric_values(
        {"SPEND_IN_MICRO_DOLLAR": 12_340_000, "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR": 45_990_000, "UNREQUESTED": 1},
        ("SPEND_IN_MICRO_DOLLAR", "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR", "TOTAL_IMPRESSION"),
    )

    assert values == {
        "spend_in_micro_dollar": 12_340_000,
        "spend_in_account_currency": 12.34,
        "total_checkout_value_in_micro_dollar": 45_990_000,
        "total_checkout_value_in_account_currency": 45.99,
    }


def test_sparse_rows_keep_every_column():
    schema = ads_schema(CAMPAIGN_ANALYTICS, ("SPEND_IN_MICRO_DOLLAR", "TOTAL_CONVERSIONS"), hourly=False)
    base = {"ad_account_id": "1", "campaign_id": "813744226420795884", "click_window_days": 0, "engagement_window_days": 30,
            "view_window_days": 1, "conversion_report_time": "TIME_OF_AD_ACTION", "currency": "EUR"}

    table = table_from_rows([{**base, "date": T}], schema)

    assert table.schema == schema
    assert table.column("total_conversions").to_pylist() == [None]
    assert table.column("spend_in_micro_dollar").type == pa.int64()
    assert table.column("campaign_id").to_pylist() == ["813744226420795884"]
    assert table.column("click_window_days").to_pylist() == [0]
    assert table.column("date").type == pa.date32()


def test_large_micros_and_numeric_strings_stay_exact():
    schema = ads_schema(AD_ANALYTICS, ("SPEND_IN_MICRO_DOLLAR",), hourly=False)
    row = {"ad_account_id": 549755885175, "ad_id": 813744226420795884, "date": T, "click_window_days": 30,
           "engagement_window_days": 30, "view_window_days": 1, "conversion_report_time": "TIME_OF_AD_ACTION",
           "spend_in_micro_dollar": "9007199254740993"}

    table = table_from_rows([row], schema)

    assert table.column("ad_id").to_pylist() == ["813744226420795884"]
    assert table.column("ad_account_id").to_pylist() == ["549755885175"]
    assert table.column("spend_in_micro_dollar").to_pylist() == [9_007_199_254_740_993]


def test_keys_include_date_settings_and_targeting():
    assert key_columns(CAMPAIGN_ANALYTICS, hourly=False) == [
        "ad_account_id", "campaign_id", "date", "click_window_days", "engagement_window_days", "view_window_days",
        "conversion_report_time",
    ]
    assert key_columns(TARGETING_ANALYTICS, hourly=True) == [
        "ad_account_id", "targeting_type", "targeting_value", "date", "hour", "click_window_days",
        "engagement_window_days", "view_window_days", "conversion_report_time",
    ]


def test_report_dates_with_and_without_hour():
    assert parse_report_date("2024-05-01") == (dt.date(2024, 5, 1), None)
    assert parse_report_date("2024-05-01 13:00:00") == (dt.date(2024, 5, 1), 13)
    assert parse_report_date("2024-05-01T07") == (dt.date(2024, 5, 1), 7)


# ----- reports ----------------------------------------------------------------------------


def test_parse_report_keys_rows_by_entity():
    parsed = parse_report(
        b'{"813744226420795884": [{"DATE": "2024-05-01", "SPEND_IN_MICRO_DOLLAR": 5}],'
        b' "1": [{"targeting_type": "GENDER", "targeting_value": "female", "metrics": {"DATE": "2024-05-01"}}]}',
        "test report",
    )

    assert parsed["813744226420795884"] == [{"DATE": "2024-05-01", "SPEND_IN_MICRO_DOLLAR": 5}]
    assert parsed["1"] == [{"DATE": "2024-05-01", "TARGETING_TYPE": "GENDER", "TARGETING_VALUE": "female"}]


def test_parse_report_rejects_other_shapes():
    with pytest.raises(ReportError, match="expected an object keyed by entity id"):
        parse_report(b"[]", "CAMPAIGN report")
    with pytest.raises(ReportError, match="not valid JSON"):
        parse_report(b"<html>", "CAMPAIGN report")


def test_targeting_types_grouped_by_five():
    assert targeting_groups(["A", "B", "C", "D", "E", "F", "G"]) == [("A", "B", "C", "D", "E"), ("F", "G")]


def test_pin_activity_from_list_metrics():
    assert pin_has_recent_activity({"id": "1", "pin_metrics": {"90d": {"impression": 2, "pin_click": 0}}})
    assert not pin_has_recent_activity({"id": "2", "pin_metrics": {"90d": {"impression": 0}, "lifetime_metrics": {"impression": 9}}})
    assert pin_has_recent_activity({"id": "3", "pin_metrics": None})
    assert pin_has_recent_activity({"id": "4"})


# ----- settings -----------------------------------------------------------------------------


def test_default_settings_are_valid():
    validate_analytics_settings(AnalyticsSettings())


def test_unknown_column_is_named():
    with pytest.raises(ConfigError) as error:
        validate_analytics_settings(AnalyticsSettings(columns=("SPEND_IN_MICRO_DOLLAR", "SPEND_IN_CENTS")))

    assert "'SPEND_IN_CENTS'" in str(error.value)
    assert "SYNC_COLUMNS in pipelines/pinterest/analytics/columns.py" in str(error.value)


def test_lower_case_columns_are_accepted():
    settings = AnalyticsSettings(columns=("spend_in_micro_dollar", "SPEND_IN_MICRO_DOLLAR", "total_impression"))

    validate_analytics_settings(settings)
    assert requested_columns(settings) == ("SPEND_IN_MICRO_DOLLAR", "TOTAL_IMPRESSION")


def test_hour_with_conversion_columns_rejected():
    with pytest.raises(ConfigError, match="TOTAL_CONVERSIONS"):
        validate_analytics_settings(AnalyticsSettings(granularity="HOUR", columns=("SPEND_IN_MICRO_DOLLAR", "TOTAL_CONVERSIONS")))


def test_hour_defaults_leave_out_conversions():
    settings = AnalyticsSettings(granularity="HOUR")

    validate_analytics_settings(settings)
    assert not set(requested_columns(settings)) & CONVERSION_COLUMNS
    assert "SPEND_IN_MICRO_DOLLAR" in requested_columns(settings)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"click_window_days": 2}, "click_window_days = 2"),
        ({"view_window_days": True}, "view_window_days = True"),
        ({"conversion_report_time": "TIME_OF_CLICK"}, "conversion_report_time"),
        ({"granularity": "WEEK"}, "granularity"),
        ({"targeting_types": ("GENDER", "SHOE_SIZE")}, "'SHOE_SIZE'"),
        ({"targeting_types": ()}, "targeting_types is empty"),
        ({"lookback_days": 120}, "lookback_days = 120"),
        ({"columns": ()}, "columns is empty"),
    ],
)
def test_invalid_settings_named(change, message):
    with pytest.raises(ConfigError, match=message):
        validate_analytics_settings(dataclasses.replace(AnalyticsSettings(), **change))


def test_zero_window_is_sent_as_zero():
    settings = report_settings(AnalyticsSettings(click_window_days=0, engagement_window_days=0, view_window_days=0))

    assert settings.attribution() == {
        "click_window_days": 0,
        "engagement_window_days": 0,
        "view_window_days": 0,
        "conversion_report_time": "TIME_OF_AD_ACTION",
    }
