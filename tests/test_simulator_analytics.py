"""The simulator's analytics endpoints: exact sums, API limits, async reports and organic
shapes, each response validated against Pinterest's OpenAPI description 5.23.0."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_core import Config, OpenAPI, V30ResponseValidator
from openapi_core.testing import MockRequest, MockResponse

from pipelines.pinterest.simulator import Simulator, SimulatorConfig, SimulatorData
from pipelines.pinterest.simulator import analytics_columns as columns_module
from pipelines.pinterest.simulator.metrics import (
    DEFAULT_ATTRIBUTION,
    TARGETING_VALUES,
    AttributionSettings,
    MetricsModel,
    _uniforms,
    split_exactly,
)

from .support import OPENAPI_PATH

SPEC_PATH = OPENAPI_PATH
SPEC_HOST = "https://api.pinterest.com"
TODAY = dt.date(2025, 6, 1)
ADDITIVE = ["SPEND_IN_MICRO_DOLLAR", "TOTAL_IMPRESSION", "TOTAL_CLICKTHROUGH", "TOTAL_CONVERSIONS", "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR"]


# ----- fixtures and helpers -----------------------------------------------------------------


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    return OpenAPI.from_file_path(str(SPEC_PATH), config=Config(response_validator_cls=V30ResponseValidator))


def start_simulator() -> Simulator:
    return Simulator(SimulatorConfig(seed=7, scale="small", today=TODAY)).start()


def api_client(sim: Simulator) -> httpx.Client:
    """Authenticate like a client: refresh token grant at /v5/oauth/token, then bearer calls."""
    token_response = httpx.post(
        sim.base_url + "/oauth/token",
        auth=(sim.client_id, sim.client_secret),
        data={"grant_type": "refresh_token", "refresh_token": sim.refresh_token},
        timeout=10,
    )
    token_response.raise_for_status()
    headers = {"Authorization": f"Bearer {token_response.json()['access_token']}"}
    return httpx.Client(base_url=sim.base_url, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    simulator = start_simulator()
    yield simulator
    simulator.stop()


@pytest.fixture(scope="module")
def api(sim: Simulator) -> Iterator[httpx.Client]:
    with api_client(sim) as client:
        yield client


@pytest.fixture
def fresh_sim() -> Iterator[Simulator]:
    """A simulator of its own, for tests that change metrics or knobs."""
    simulator = start_simulator()
    yield simulator
    simulator.stop()


@pytest.fixture
def fresh_api(fresh_sim: Simulator) -> Iterator[httpx.Client]:
    with api_client(fresh_sim) as client:
        yield client


def validate(openapi: OpenAPI, method: str, path: str, response: httpx.Response) -> None:
    """Raise openapi-core's error when the response breaks the description."""
    content_type = response.headers.get("content-type", "application/json").split(";")[0]
    request = MockRequest(SPEC_HOST, method.lower(), "/v5" + path)
    openapi.validate_response(request, MockResponse(response.content, status_code=response.status_code, content_type=content_type))


def account_with_archived_spend(sim: Simulator) -> str:
    for campaign in sim.data.campaigns.values():
        if campaign["status"] == "ARCHIVED":
            return campaign["ad_account_id"]
    raise AssertionError("the small scale has no archived campaign")


def children(sim: Simulator, kind: str, ad_account_id: str) -> list[str]:
    return [item_id for item_id, item in getattr(sim.data, kind).items() if item["ad_account_id"] == ad_account_id]


def day_params(start: dt.date, end: dt.date, columns: list[str], **extra: Any) -> dict[str, Any]:
    return {"start_date": start.isoformat(), "end_date": end.isoformat(), "granularity": "DAY", "columns": ",".join(columns), **extra}


def sum_by_date(rows: list[dict[str, Any]], columns: list[str]) -> dict[str, dict[str, int]]:
    sums: dict[str, dict[str, int]] = {}
    for row in rows:
        total = sums.setdefault(row["DATE"], dict.fromkeys(columns, 0))
        for column in columns:
            total[column] += row.get(column, 0)
    return sums


def report_body(start: dt.date, end: dt.date, **extra: Any) -> dict[str, Any]:
    return {
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "granularity": "DAY",
        "level": "CAMPAIGN",
        "columns": ["SPEND_IN_MICRO_DOLLAR", "TOTAL_CONVERSIONS", "CAMPAIGN_NAME"],
        **extra,
    }


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=offset) for offset in range((end - start).days + 1)]


# ----- enumerations copied from the description -------------------------------------------


def test_column_enums_match_description(spec: dict[str, Any]) -> None:
    parameters = spec["components"]["parameters"]
    schemas = spec["components"]["schemas"]
    assert columns_module.SYNC_COLUMNS == set(parameters["query_columns"]["schema"]["items"]["enum"])
    assert columns_module.ASYNC_COLUMNS == set(schemas["ReportingColumnAsync"]["enum"])


def test_other_enums_match_description(spec: dict[str, Any]) -> None:
    parameters = spec["components"]["parameters"]
    schemas = spec["components"]["schemas"]
    assert columns_module.GRANULARITIES == tuple(schemas["Granularity"]["enum"])
    assert columns_module.REPORT_LEVELS == tuple(schemas["MetricsReportingLevel"]["enum"])
    assert columns_module.SYNC_TARGETING_TYPES["AD_ACCOUNT"] == tuple(schemas["AdsAnalyticsTargetingType"]["enum"])
    assert set(columns_module.SYNC_TARGETING_TYPES["CAMPAIGN"]) == set(schemas["AdsAnalyticsCampaignTargetingType"]["enum"])
    assert set(columns_module.SYNC_TARGETING_TYPES["AD_GROUP"]) == set(schemas["AdsAnalyticsAdGroupTargetingType"]["enum"])
    assert set(columns_module.SYNC_TARGETING_TYPES["AD"]) == set(schemas["AdsAnalyticsAdTargetingType"]["enum"])
    report_targeting = schemas["TargetingTypeFilter"]["properties"]["targeting_types"]["items"]["enum"]
    assert set(columns_module.REPORT_TARGETING_TYPES) == set(report_targeting)
    assert columns_module.AD_SUMMARY_STATUSES == tuple(schemas["PinPromotionSummaryStatus"]["enum"])
    assert columns_module.CAMPAIGN_SUMMARY_STATUSES == tuple(schemas["CampaignSummaryStatus"]["enum"])
    assert columns_module.PRODUCT_GROUP_SUMMARY_STATUSES == tuple(schemas["ProductGroupSummaryStatus"]["enum"])
    assert columns_module.OBJECTIVE_TYPES == tuple(schemas["ObjectiveType"]["enum"])
    assert columns_module.USER_ACCOUNT_METRIC_TYPES == tuple(parameters["query_metric_types"]["schema"]["items"]["enum"])
    pin_types = parameters["query_pin_analytics_metric_types"]["schema"]["items"]["oneOf"]
    assert set(columns_module.PIN_METRIC_TYPES) == set(pin_types[0]["enum"]) | set(pin_types[1]["enum"])
    assert columns_module.USER_ACCOUNT_SPLIT_FIELDS == tuple(parameters["query_split_field_user_account"]["schema"]["enum"])


# ----- the model on its own -------------------------------------------------------------------


def test_model_same_seed_same_figures() -> None:
    first = MetricsModel(SimulatorData.generate(7, "small", TODAY), seed=7, today=TODAY)
    second = MetricsModel(SimulatorData.generate(7, "small", TODAY), seed=7, today=TODAY)
    other_seed = MetricsModel(first.data, seed=8, today=TODAY)
    ad_id = next(iter(first.data.ads))
    days = days_between(TODAY - dt.timedelta(days=20), TODAY)
    figures = [first.ad_metrics(ad_id, day) for day in days]
    assert figures == [second.ad_metrics(ad_id, day) for day in days]
    assert figures != [other_seed.ad_metrics(ad_id, day) for day in days]
    assert any(figures)
    assert first.ad_metrics(ad_id, TODAY + dt.timedelta(days=1)) is None


def test_split_exactly_keeps_total() -> None:
    parts = split_exactly(1_000_003, [0.2, 0.5, 0.0, 0.3])
    assert sum(parts) == 1_000_003
    assert parts[2] == 0
    assert split_exactly(7, [1.0, 1.0, 1.0]) == [3, 2, 2]


def test_series_matches_entity_metrics() -> None:
    """`series` is a faster `entity_metrics` over many days: both give the same values."""
    model = MetricsModel(SimulatorData.generate(7, "small", TODAY), seed=7, today=TODAY)
    ad_id = next(iter(model.data.ads))
    keyword_id = next(iter(model.data.keywords))
    promotion_id = next(iter(model.data.product_group_promotions))
    days = [TODAY - dt.timedelta(days=offset) for offset in range(40, -1, -1)]
    model.set_ad_metric(ad_id, days[3], "SPEND_IN_MICRO_DOLLAR", 0)
    model.set_ad_metric(ad_id, days[4], "TOTAL_IMPRESSION", None)
    model.set_ad_metric(ad_id, days[5], "TOTAL_CHECKOUT", -3)
    model.set_keyword_metric(keyword_id, days[6], "TOTAL_CLICKTHROUGH", 11)
    model.restate(days=5, factor=1.5)
    columns = frozenset(MetricsModel.all_additive_columns())
    settings_cases = [DEFAULT_ATTRIBUTION, AttributionSettings(click_window_days=7, view_window_days=0, conversion_report_time="TIME_OF_CONVERSION")]
    for kind, entity_id in (("ad", ad_id), ("keyword", keyword_id), ("product_group", promotion_id)):
        for settings in settings_cases:
            for video in (False, True):
                for hourly in (False, True):
                    expected = [model.entity_metrics(kind, entity_id, day, columns, settings, video, hourly) for day in days]
                    assert model.series(kind, entity_id, days, columns, settings, video, hourly) == expected
            every_other_day = days[::2]
            expected = [model.entity_metrics(kind, entity_id, day, columns, settings, False) for day in every_other_day]
            assert model.series(kind, entity_id, every_other_day, columns, settings, False) == expected

    model.generated_metrics = False
    expected = [model.entity_metrics("ad", ad_id, day, columns, DEFAULT_ATTRIBUTION, False) for day in days]
    assert model.series("ad", ad_id, days, columns, DEFAULT_ATTRIBUTION, False) == expected
    assert expected[3] == {"SPEND_IN_MICRO_DOLLAR": 0}


def test_cached_series_follows_overrides() -> None:
    """A kept ad series gives `series` values and is dropped when an override changes them."""
    model = MetricsModel(SimulatorData.generate(7, "small", TODAY), seed=7, today=TODAY)
    ad_id = next(iter(model.data.ads))
    days = [TODAY - dt.timedelta(days=offset) for offset in range(20, -1, -1)]
    columns = frozenset(["SPEND_IN_MICRO_DOLLAR", "TOTAL_IMPRESSION", "TOTAL_CONVERSIONS", "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR"])

    def without_zeros(series: list[dict[str, int] | None]) -> list[dict[str, int] | None]:
        return [None if values is None else {column: value for column, value in values.items() if value} for values in series]

    first = model.cached_series("ad", ad_id, days, columns, DEFAULT_ATTRIBUTION, False)
    assert first == model.series("ad", ad_id, days, columns, DEFAULT_ATTRIBUTION, False)
    assert model.cached_series("ad", ad_id, days, columns, DEFAULT_ATTRIBUTION, False) == first

    model.set_ad_metric(ad_id, days[2], "SPEND_IN_MICRO_DOLLAR", 5)
    model.set_ad_metric(ad_id, days[3], "TOTAL_IMPRESSION", 0)
    changed = model.cached_series("ad", ad_id, days, columns, DEFAULT_ATTRIBUTION, False)
    assert changed[2] is not None
    assert changed[2]["SPEND_IN_MICRO_DOLLAR"] == 5
    assert changed == model.series("ad", ad_id, days, columns, DEFAULT_ATTRIBUTION, False)
    kept = model.cached_series("ad", ad_id, days, columns, DEFAULT_ATTRIBUTION, False)
    assert kept == without_zeros(model.series("ad", ad_id, days, columns, DEFAULT_ATTRIBUTION, False))

    model.restate(days=3, factor=2.0)
    assert model.cached_series("ad", ad_id, days, columns, DEFAULT_ATTRIBUTION, False) == model.series("ad", ad_id, days, columns, DEFAULT_ATTRIBUTION, False)


def test_targeting_split_matches_split_exactly() -> None:
    """Every column of a targeting split is `split_exactly` with the same weights."""
    model = MetricsModel(SimulatorData.generate(7, "small", TODAY), seed=7, today=TODAY)
    values = {"A": 1_000_003, "B": 7, "C": 1, "D": 0, "E": -5, "F": 123_456_789}
    for offset in range(30):
        day = TODAY - dt.timedelta(days=offset)
        for targeting_type, targets in (("GENDER", None), ("AGE_BUCKET", None), ("AUDIENCE_INCLUDE", ["1", "2", "3", "4", "5"])):
            split = model.targeting_split("ad", "42", day, targeting_type, values, targets)
            names = targets or list(TARGETING_VALUES[targeting_type])
            weights = targeting_weights(model, "42", day, targeting_type, len(names))
            expected: dict[str, dict[str, int]] = {}
            for column, value in values.items():
                for name, part in zip(names, split_exactly(value, weights)):
                    if part:
                        expected.setdefault(name, {})[column] = part
            assert split == {name: expected[name] for name in names if name in expected}

            table: dict[Any, dict[str, int]] = {("old", None, "A"): {"A": 1}}
            model.add_targeting_split(table, day, "ad", "42", day, targeting_type, values, names)
            assert table == {("old", None, "A"): {"A": 1}, **{(day, None, name): parts for name, parts in split.items()}}


def targeting_weights(model: MetricsModel, entity_id: str, day: dt.date, targeting_type: str, count: int) -> list[float]:
    draws = _uniforms(model.seed, "targeting", "ad", entity_id, day.isoformat(), targeting_type, 0)[:count]
    weights = [draw * draw if draw >= 0.15 or index == 0 else 0.0 for index, draw in enumerate(draws)]
    if not any(weights):
        weights[0] = 1.0
    return weights


def test_pin_series_matches_pin_day() -> None:
    """`pin_series` is a faster `pin_day` over many days: both give the same figures."""
    model = MetricsModel(SimulatorData.generate(7, "small", TODAY), seed=7, today=TODAY)
    pin_ids = list(model.data.pins)
    video_pin = next(pin_id for pin_id in pin_ids if model.is_video_pin(pin_id))
    model.set_pin_active(video_pin, True)
    model.set_pin_active(pin_ids[0], True)
    model.data.pins[pin_ids[1]]["created_at"] = (TODAY - dt.timedelta(days=10)).isoformat() + "T08:00:00"
    days = [TODAY - dt.timedelta(days=offset) for offset in range(30, -3, -1)]
    for pin_id in [video_pin, *pin_ids[:6]]:
        assert model.pin_series(pin_id, days) == [model.pin_day(pin_id, day) for day in days]


def test_model_override_rejects_rates() -> None:
    model = MetricsModel(SimulatorData.generate(7, "small", TODAY), seed=7, today=TODAY)
    with pytest.raises(ValueError, match="CTR"):
        model.set_ad_metric(next(iter(model.data.ads)), TODAY, "CTR", 1)


# ----- exact sums over the hierarchy ---------------------------------------------------------


def test_campaign_rows_sum_to_account_rows(sim: Simulator, api: httpx.Client) -> None:
    ad_account_id = account_with_archived_spend(sim)
    start, end = TODAY - dt.timedelta(days=29), TODAY
    account = api.get(f"/ad_accounts/{ad_account_id}/analytics", params=day_params(start, end, ADDITIVE))
    campaign_ids = children(sim, "campaigns", ad_account_id)
    campaigns = api.get(f"/ad_accounts/{ad_account_id}/campaigns/analytics", params=day_params(start, end, ADDITIVE, campaign_ids=campaign_ids))
    assert account.status_code == 200
    assert campaigns.status_code == 200

    account_by_date = sum_by_date(account.json(), ADDITIVE)
    assert len(account_by_date) >= 20
    assert sum_by_date(campaigns.json(), ADDITIVE) == account_by_date

    archived = {cid for cid in campaign_ids if sim.data.campaigns[cid]["status"] == "ARCHIVED"}
    archived_spend = sum(row.get("SPEND_IN_MICRO_DOLLAR", 0) for row in campaigns.json() if row["CAMPAIGN_ID"] in archived)
    assert archived_spend > 0


def test_ad_group_and_ad_rows_sum(sim: Simulator, api: httpx.Client) -> None:
    ad_account_id = account_with_archived_spend(sim)
    start, end = TODAY - dt.timedelta(days=9), TODAY
    settings = {"click_window_days": 7, "view_window_days": 1, "conversion_report_time": "TIME_OF_CONVERSION"}
    account = api.get(f"/ad_accounts/{ad_account_id}/analytics", params=day_params(start, end, ADDITIVE, **settings))
    ad_groups = api.get(
        f"/ad_accounts/{ad_account_id}/ad_groups/analytics",
        params=day_params(start, end, ADDITIVE, ad_group_ids=children(sim, "ad_groups", ad_account_id), **settings),
    )
    ads = api.get(
        f"/ad_accounts/{ad_account_id}/ads/analytics",
        params=day_params(start, end, ADDITIVE, ad_ids=children(sim, "ads", ad_account_id), **settings),
    )
    expected = sum_by_date(account.json(), ADDITIVE)
    assert sum_by_date(ad_groups.json(), ADDITIVE) == expected
    assert sum_by_date(ads.json(), ADDITIVE) == expected


def test_account_rows_equal_model_figures(sim: Simulator, api: httpx.Client) -> None:
    ad_account_id = next(iter(sim.data.ad_accounts))
    start = TODAY - dt.timedelta(days=4)
    response = api.get(f"/ad_accounts/{ad_account_id}/analytics", params=day_params(start, TODAY, ADDITIVE))
    rows = {row["DATE"]: row for row in response.json()}
    for day in days_between(start, TODAY):
        expected = sim.metrics.level_metrics("AD_ACCOUNT", ad_account_id, day, ADDITIVE)
        assert {column: rows[day.isoformat()].get(column, 0) for column in ADDITIVE} == {column: expected.get(column, 0) for column in ADDITIVE}
        assert rows[day.isoformat()]["AD_ACCOUNT_ID"] == ad_account_id


def test_account_spend_exceeds_int32(sim: Simulator, api: httpx.Client) -> None:
    spends = []
    for ad_account_id in sim.data.ad_accounts:
        response = api.get(f"/ad_accounts/{ad_account_id}/analytics", params=day_params(TODAY - dt.timedelta(days=89), TODAY, ["SPEND_IN_MICRO_DOLLAR"]))
        spends += [row.get("SPEND_IN_MICRO_DOLLAR", 0) for row in response.json()]
    assert max(spends) > 2**31
    assert all(isinstance(spend, int) for spend in spends)


def test_total_granularity_sums_days(sim: Simulator, api: httpx.Client) -> None:
    ad_account_id = next(iter(sim.data.ad_accounts))
    start = TODAY - dt.timedelta(days=13)
    daily = api.get(f"/ad_accounts/{ad_account_id}/analytics", params=day_params(start, TODAY, ADDITIVE)).json()
    total = api.get(f"/ad_accounts/{ad_account_id}/analytics", params={**day_params(start, TODAY, ADDITIVE), "granularity": "TOTAL"}).json()
    assert len(total) == 1
    assert "DATE" not in total[0]
    for column in ADDITIVE:
        assert total[0].get(column, 0) == sum(row.get(column, 0) for row in daily)


def test_targeting_breakdown_sums_to_account(sim: Simulator, api: httpx.Client) -> None:
    ad_account_id = next(iter(sim.data.ad_accounts))
    start = TODAY - dt.timedelta(days=6)
    account = sum_by_date(api.get(f"/ad_accounts/{ad_account_id}/analytics", params=day_params(start, TODAY, ADDITIVE)).json(), ADDITIVE)
    response = api.get(f"/ad_accounts/{ad_account_id}/targeting_analytics", params=day_params(start, TODAY, ADDITIVE, targeting_types="GENDER,AGE_BUCKET"))
    assert response.status_code == 200
    for targeting_type in ("GENDER", "AGE_BUCKET"):
        rows = [item["metrics"] for item in response.json()["data"] if item["targeting_type"] == targeting_type]
        assert sum_by_date(rows, ADDITIVE) == account
    values = {item["targeting_value"] for item in response.json()["data"] if item["targeting_type"] == "GENDER"}
    assert values <= {"female", "male", "unknown"}


def test_targeting_kept_sums_follow_changes(fresh_sim: Simulator, fresh_api: httpx.Client) -> None:
    """Targeting sums kept from one request serve later windows, and overrides and new ads replace them."""
    ad_account_id = next(iter(fresh_sim.data.ad_accounts))
    path = f"/ad_accounts/{ad_account_id}/targeting_analytics"
    start = TODAY - dt.timedelta(days=9)

    def fetch(first_day: dt.date, granularity: str = "DAY") -> Any:
        params = {**day_params(first_day, TODAY, ADDITIVE, targeting_types="GENDER,APPTYPE"), "granularity": granularity}
        response = fresh_api.get(path, params=params)
        assert response.status_code == 200
        return response.json()

    full = fetch(start)
    assert fetch(start) == full
    later = fetch(TODAY - dt.timedelta(days=3))
    assert later["data"] == [item for item in full["data"] if item["metrics"]["DATE"] >= (TODAY - dt.timedelta(days=3)).isoformat()]
    total = fetch(start, "TOTAL")

    ad_id = children(fresh_sim, "ads", ad_account_id)[0]
    fresh_sim.metrics.set_ad_metric(ad_id, TODAY - dt.timedelta(days=2), "SPEND_IN_MICRO_DOLLAR", 10**12)
    changed = fetch(start)
    assert changed != full
    template = fresh_sim.data.ads[ad_id]
    fresh_sim.data.ads["999000000000000001"] = {**template, "id": "999000000000000001"}
    added = fetch(start)
    assert added != changed
    assert fetch(start, "TOTAL") != total

    other = start_simulator()
    try:
        other.metrics.set_ad_metric(ad_id, TODAY - dt.timedelta(days=2), "SPEND_IN_MICRO_DOLLAR", 10**12)
        other.data.ads["999000000000000001"] = {**template, "id": "999000000000000001"}
        with api_client(other) as other_api:
            params = day_params(start, TODAY, ADDITIVE, targeting_types="GENDER,APPTYPE")
            assert other_api.get(path, params=params).json() == added
    finally:
        other.stop()


def test_keyword_targeting_uses_keyword_values(sim: Simulator, api: httpx.Client) -> None:
    ad_account_id = next(iter(sim.data.ad_accounts))
    response = api.get(f"/ad_accounts/{ad_account_id}/targeting_analytics", params=day_params(TODAY - dt.timedelta(days=6), TODAY, ["TOTAL_IMPRESSION"], targeting_types="KEYWORD"))
    keyword_values = {keyword["value"] for keyword in sim.data.keywords.values()}
    values = {item["targeting_value"] for item in response.json()["data"]}
    assert values
    assert values <= keyword_values


def test_product_group_rows_by_promotion_and_catalog_group(sim: Simulator, api: httpx.Client) -> None:
    promotion_id, promotion = next(iter(sim.data.product_group_promotions.items()))
    ad_account_id = sim.data.ad_groups[promotion["ad_group_id"]]["ad_account_id"]
    start = TODAY - dt.timedelta(days=6)
    response = api.get(f"/ad_accounts/{ad_account_id}/product_groups/analytics", params=day_params(start, TODAY, ADDITIVE, product_group_ids=[promotion_id]))
    assert response.status_code == 200
    for row in response.json():
        expected = sim.metrics.product_group_metrics(promotion_id, row["DATE"], ADDITIVE) or {}
        assert row["PRODUCT_GROUP_ID"] == promotion_id
        assert {column: row.get(column, 0) for column in ADDITIVE} == {column: expected.get(column, 0) for column in ADDITIVE}

    catalog_group_id = promotion["catalog_product_group_id"]
    same_group = [
        pid for pid, item in sim.data.product_group_promotions.items()
        if item["catalog_product_group_id"] == catalog_group_id and sim.data.ad_groups[item["ad_group_id"]]["ad_account_id"] == ad_account_id
    ]
    by_group = api.get(f"/ad_accounts/{ad_account_id}/product_groups/analytics", params=day_params(start, TODAY, ["TOTAL_IMPRESSION"], product_group_ids=[catalog_group_id]))
    expected_total = sum((sim.metrics.product_group_metrics(pid, day, ["TOTAL_IMPRESSION"]) or {}).get("TOTAL_IMPRESSION", 0) for pid in same_group for day in days_between(start, TODAY))
    assert sum(row.get("TOTAL_IMPRESSION", 0) for row in by_group.json()) == expected_total
    assert len(same_group) >= 1


# ----- attribution settings, overrides, restatements -----------------------------------------


def conversions_total(api: httpx.Client, ad_account_id: str, **settings: Any) -> int:
    params = day_params(TODAY - dt.timedelta(days=29), TODAY, ["TOTAL_CONVERSIONS", "SPEND_IN_MICRO_DOLLAR"], **settings)
    response = api.get(f"/ad_accounts/{ad_account_id}/analytics", params=params)
    assert response.status_code == 200, response.text
    return sum(row.get("TOTAL_CONVERSIONS", 0) for row in response.json())


def test_conversions_depend_on_attribution_settings(sim: Simulator, api: httpx.Client) -> None:
    ad_account_id = next(iter(sim.data.ad_accounts))
    default = conversions_total(api, ad_account_id)
    settings = [
        {"click_window_days": 7},
        {"click_window_days": 60, "view_window_days": 7},
        {"engagement_window_days": 1},
        {"conversion_report_time": "TIME_OF_CONVERSION"},
        {"click_window_days": 0, "view_window_days": 0, "engagement_window_days": 0},
    ]
    totals = [conversions_total(api, ad_account_id, **setting) for setting in settings]
    assert default == conversions_total(api, ad_account_id, click_window_days=30, engagement_window_days=30, view_window_days=1)
    assert len({default, *totals}) == len(settings) + 1
    assert totals[0] < default < totals[1]
    assert totals[4] == 0


def test_ad_override_moves_every_level(fresh_sim: Simulator, fresh_api: httpx.Client) -> None:
    ad_id, ad = next((ad_id, ad) for ad_id, ad in fresh_sim.data.ads.items() if ad["status"] == "ARCHIVED")
    ad_account_id, campaign_id = ad["ad_account_id"], ad["campaign_id"]
    day = TODAY - dt.timedelta(days=3)
    columns = ["SPEND_IN_MICRO_DOLLAR", "SPEND_IN_DOLLAR"]
    before = fresh_sim.metrics.level_metrics("CAMPAIGN", campaign_id, day, ["SPEND_IN_MICRO_DOLLAR"]).get("SPEND_IN_MICRO_DOLLAR", 0)
    old_ad_spend = (fresh_sim.metrics.ad_metrics(ad_id, day, ["SPEND_IN_MICRO_DOLLAR"]) or {}).get("SPEND_IN_MICRO_DOLLAR", 0)
    fresh_sim.metrics.set_ad_metric(ad_id, day, "SPEND_IN_MICRO_DOLLAR", 12_340_000)

    ad_rows = fresh_api.get(f"/ad_accounts/{ad_account_id}/ads/analytics", params=day_params(day, day, columns, ad_ids=[ad_id])).json()
    assert ad_rows == [{"DATE": day.isoformat(), "AD_ID": ad_id, "SPEND_IN_MICRO_DOLLAR": 12_340_000, "SPEND_IN_DOLLAR": 12.34}]
    campaign_rows = fresh_api.get(f"/ad_accounts/{ad_account_id}/campaigns/analytics", params=day_params(day, day, columns, campaign_ids=[campaign_id])).json()
    assert campaign_rows[0]["SPEND_IN_MICRO_DOLLAR"] == before - old_ad_spend + 12_340_000


def test_overrides_alone_state_bug_case(fresh_sim: Simulator, fresh_api: httpx.Client) -> None:
    ad_account_id = account_with_archived_spend(fresh_sim)
    day = TODAY - dt.timedelta(days=2)
    fresh_sim.metrics.generated_metrics = False
    spends = {"ACTIVE": 10_000_000, "PAUSED": 5_000_000, "ARCHIVED": 2_500_000}
    campaign_ids = []
    for status, spend in spends.items():
        campaign_id = next(cid for cid in children(fresh_sim, "campaigns", ad_account_id) if fresh_sim.data.campaigns[cid]["status"] == status)
        ad_id = next(aid for aid, ad in fresh_sim.data.ads.items() if ad["campaign_id"] == campaign_id)
        fresh_sim.metrics.set_ad_metric(ad_id, day, "SPEND_IN_MICRO_DOLLAR", spend)
        campaign_ids.append(campaign_id)
    params = day_params(day - dt.timedelta(days=1), day, ["SPEND_IN_MICRO_DOLLAR"])
    account = fresh_api.get(f"/ad_accounts/{ad_account_id}/analytics", params=params).json()
    campaigns = fresh_api.get(f"/ad_accounts/{ad_account_id}/campaigns/analytics", params={**params, "campaign_ids": campaign_ids}).json()
    assert account == [{"DATE": day.isoformat(), "AD_ACCOUNT_ID": ad_account_id, "SPEND_IN_MICRO_DOLLAR": 17_500_000}]
    assert {row["CAMPAIGN_ID"]: row["SPEND_IN_MICRO_DOLLAR"] for row in campaigns} == dict(zip(campaign_ids, spends.values()))


def test_override_none_removes_key_for_that_day(fresh_sim: Simulator, fresh_api: httpx.Client) -> None:
    ad_id, ad = next(iter(fresh_sim.data.ads.items()))
    first, second = TODAY - dt.timedelta(days=5), TODAY - dt.timedelta(days=4)
    fresh_sim.metrics.set_ad_metric(ad_id, first, "TOTAL_CONVERSIONS", None)
    fresh_sim.metrics.set_ad_metric(ad_id, first, "SPEND_IN_MICRO_DOLLAR", 1_000_000)
    fresh_sim.metrics.set_ad_metric(ad_id, second, "TOTAL_CONVERSIONS", 7)
    rows = fresh_api.get(
        f"/ad_accounts/{ad['ad_account_id']}/ads/analytics",
        params=day_params(first, second, ["TOTAL_CONVERSIONS", "SPEND_IN_MICRO_DOLLAR"], ad_ids=[ad_id]),
    ).json()
    by_date = {row["DATE"]: row for row in rows}
    assert "TOTAL_CONVERSIONS" not in by_date[first.isoformat()]
    assert by_date[first.isoformat()]["SPEND_IN_MICRO_DOLLAR"] == 1_000_000
    assert by_date[second.isoformat()]["TOTAL_CONVERSIONS"] == 7


def test_restate_changes_recent_conversions_only(fresh_sim: Simulator, fresh_api: httpx.Client) -> None:
    ad_account_id = next(iter(fresh_sim.data.ad_accounts))
    params = day_params(TODAY - dt.timedelta(days=13), TODAY, ["TOTAL_CONVERSIONS", "SPEND_IN_MICRO_DOLLAR"])
    before = {row["DATE"]: row for row in fresh_api.get(f"/ad_accounts/{ad_account_id}/analytics", params=params).json()}
    fresh_sim.metrics.restate(days=7, factor=2.0)
    after = {row["DATE"]: row for row in fresh_api.get(f"/ad_accounts/{ad_account_id}/analytics", params=params).json()}
    recent = {(TODAY - dt.timedelta(days=offset)).isoformat() for offset in range(7)}
    assert before.keys() == after.keys()
    for date, row in before.items():
        assert after[date]["SPEND_IN_MICRO_DOLLAR"] == row["SPEND_IN_MICRO_DOLLAR"]
        if date in recent:
            assert after[date].get("TOTAL_CONVERSIONS", 0) > row.get("TOTAL_CONVERSIONS", 0)
        else:
            assert after[date].get("TOTAL_CONVERSIONS", 0) == row.get("TOTAL_CONVERSIONS", 0)


def test_model_time_of_conversion_shifts_a_day() -> None:
    model = MetricsModel(SimulatorData.generate(7, "small", TODAY), seed=7, today=TODAY)
    ad_id = next(iter(model.data.ads))
    by_conversion = AttributionSettings(conversion_report_time="TIME_OF_CONVERSION")
    for offset in range(1, 10):
        day = TODAY - dt.timedelta(days=offset)
        action = model.ad_metrics(ad_id, day - dt.timedelta(days=1), ["TOTAL_CHECKOUT"], DEFAULT_ATTRIBUTION) or {}
        conversion = model.ad_metrics(ad_id, day, ["TOTAL_CHECKOUT"], by_conversion) or {}
        assert conversion.get("TOTAL_CHECKOUT", 0) == action.get("TOTAL_CHECKOUT", 0)


# ----- validation like the API ---------------------------------------------------------------


def error_of(response: httpx.Response) -> tuple[int, int, str]:
    body = response.json()
    return response.status_code, body["code"], body["message"]


def test_sync_rejects_start_older_than_90_days(sim: Simulator, api: httpx.Client, openapi: OpenAPI) -> None:
    ad_account_id = next(iter(sim.data.ad_accounts))
    path = f"/ad_accounts/{ad_account_id}/analytics"
    oldest = api.get(path, params=day_params(TODAY - dt.timedelta(days=90), TODAY - dt.timedelta(days=80), ["SPEND_IN_MICRO_DOLLAR"]))
    assert oldest.status_code == 200
    too_old = api.get(path, params=day_params(TODAY - dt.timedelta(days=91), TODAY - dt.timedelta(days=80), ["SPEND_IN_MICRO_DOLLAR"]))
    status, code, message = error_of(too_old)
    assert (status, code) == (400, 1)
    assert "only the last 90 days" in message
    validate(openapi, "GET", path, too_old)


def test_sync_rejects_range_over_90_days(sim: Simulator, api: httpx.Client) -> None:
    ad_account_id = next(iter(sim.data.ad_accounts))
    response = api.get(f"/ad_accounts/{ad_account_id}/analytics", params=day_params(TODAY - dt.timedelta(days=5), TODAY + dt.timedelta(days=86), ["SPEND_IN_MICRO_DOLLAR"]))
    status, _, message = error_of(response)
    assert status == 400
    assert "at most 90 days" in message
    reversed_range = api.get(f"/ad_accounts/{ad_account_id}/analytics", params=day_params(TODAY, TODAY - dt.timedelta(days=1), ["SPEND_IN_MICRO_DOLLAR"]))
    assert reversed_range.status_code == 400


def test_sync_rejects_more_than_250_ids(sim: Simulator, api: httpx.Client) -> None:
    ad_account_id = next(iter(sim.data.ad_accounts))
    ids = [str(10**17 + number) for number in range(251)]
    response = api.get(f"/ad_accounts/{ad_account_id}/campaigns/analytics", params=day_params(TODAY, TODAY, ["SPEND_IN_MICRO_DOLLAR"], campaign_ids=ids))
    status, _, message = error_of(response)
    assert status == 400
    assert "at most 250" in message
    assert api.get(f"/ad_accounts/{ad_account_id}/campaigns/analytics", params=day_params(TODAY, TODAY, ["SPEND_IN_MICRO_DOLLAR"], campaign_ids=ids[:250])).status_code == 200
    missing = api.get(f"/ad_accounts/{ad_account_id}/campaigns/analytics", params=day_params(TODAY, TODAY, ["SPEND_IN_MICRO_DOLLAR"]))
    assert "campaign_ids" in error_of(missing)[2]


def test_sync_rejects_unknown_column(sim: Simulator, api: httpx.Client) -> None:
    ad_account_id = next(iter(sim.data.ad_accounts))
    response = api.get(f"/ad_accounts/{ad_account_id}/analytics", params=day_params(TODAY, TODAY, ["SPEND_IN_MICRO_DOLLAR", "TOTAL_NONSENSE"]))
    status, _, message = error_of(response)
    assert status == 400
    assert "TOTAL_NONSENSE" in message
    async_only = api.get(f"/ad_accounts/{ad_account_id}/analytics", params=day_params(TODAY, TODAY, ["TOTAL_ADD_TO_CART"]))
    assert async_only.status_code == 400


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"click_window_days": 3}, "click_window_days"),
        ({"view_window_days": 90}, "view_window_days"),
        ({"engagement_window_days": "week"}, "engagement_window_days"),
        ({"click_window_days": 1, "view_window_days": 7}, "cannot be longer"),
        ({"conversion_report_time": "TIME_OF_CLICK"}, "conversion_report_time"),
        ({"granularity": "YEAR"}, "granularity"),
    ],
)
def test_sync_rejects_invalid_attribution(sim: Simulator, api: httpx.Client, settings: dict[str, Any], fragment: str) -> None:
    ad_account_id = next(iter(sim.data.ad_accounts))
    response = api.get(f"/ad_accounts/{ad_account_id}/analytics", params=day_params(TODAY, TODAY, ["TOTAL_CONVERSIONS"], **settings))
    status, _, message = error_of(response)
    assert status == 400
    assert fragment in message


def test_hour_granularity_limits_and_rows(sim: Simulator, api: httpx.Client) -> None:
    ad_account_id = next(iter(sim.data.ad_accounts))
    path = f"/ad_accounts/{ad_account_id}/analytics"
    hourly = {"granularity": "HOUR"}
    too_old = api.get(path, params={**day_params(TODAY - dt.timedelta(days=9), TODAY - dt.timedelta(days=8), ["SPEND_IN_MICRO_DOLLAR"]), **hourly})
    assert too_old.status_code == 400
    too_long = api.get(path, params={**day_params(TODAY - dt.timedelta(days=4), TODAY, ["SPEND_IN_MICRO_DOLLAR"]), **hourly})
    assert too_long.status_code == 400

    day = TODAY - dt.timedelta(days=2)
    hours = api.get(path, params={**day_params(day, day, ["SPEND_IN_MICRO_DOLLAR", "TOTAL_CONVERSIONS"]), **hourly})
    daily = api.get(path, params=day_params(day, day, ["SPEND_IN_MICRO_DOLLAR", "TOTAL_CONVERSIONS"]))
    assert hours.status_code == 200
    assert len(hours.json()) > 1
    assert all("TOTAL_CONVERSIONS" not in row for row in hours.json())
    assert {row["HOUR"] for row in hours.json()} <= set(range(24))
    assert sum(row.get("SPEND_IN_MICRO_DOLLAR", 0) for row in hours.json()) == daily.json()[0]["SPEND_IN_MICRO_DOLLAR"]
    assert daily.json()[0]["TOTAL_CONVERSIONS"] > 0


def test_unknown_ad_account_is_not_found(api: httpx.Client) -> None:
    response = api.get("/ad_accounts/123/analytics", params=day_params(TODAY, TODAY, ["SPEND_IN_MICRO_DOLLAR"]))
    assert response.status_code == 404


def test_throttle_knob_alternates_answers(fresh_sim: Simulator, fresh_api: httpx.Client) -> None:
    ad_account_id = next(iter(fresh_sim.data.ad_accounts))
    path = f"/ad_accounts/{ad_account_id}/analytics"
    params = day_params(TODAY, TODAY, ["SPEND_IN_MICRO_DOLLAR"])
    fresh_sim.metrics.throttle_next_analytics = 3
    answers = [fresh_api.get(path, params=params) for _ in range(4)]
    assert [response.status_code for response in answers] == [400, 400, 400, 200]
    assert "Retry after 2 seconds" in answers[0].json()["message"]
    assert answers[1].json()["code"] == 12
    assert "Retry after 2 seconds" in answers[2].json()["message"]


# ----- async reports -------------------------------------------------------------------------


def finished_report(api: httpx.Client, ad_account_id: str, body: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    created = api.post(f"/ad_accounts/{ad_account_id}/reports", json=body)
    assert created.status_code == 200, created.text
    token = created.json()["token"]
    statuses = []
    for _ in range(5):
        poll = api.get(f"/ad_accounts/{ad_account_id}/reports", params={"token": token})
        statuses.append(poll.json()["report_status"])
        if statuses[-1] == "FINISHED":
            return statuses, poll.json()
    return statuses, {}


def test_report_lifecycle_and_download_without_auth(sim: Simulator, api: httpx.Client, openapi: OpenAPI) -> None:
    ad_account_id = account_with_archived_spend(sim)
    start, end = TODAY - dt.timedelta(days=400), TODAY - dt.timedelta(days=301)
    statuses, finished = finished_report(api, ad_account_id, report_body(start, end))
    assert statuses == ["IN_PROGRESS", "FINISHED"]
    assert finished["url"].startswith(sim.origin + "/_downloads/")

    download = httpx.get(finished["url"], timeout=10)
    assert download.status_code == 200
    assert finished["size"] == len(download.content)
    report = download.json()

    expected: dict[str, list[dict[str, Any]]] = {}
    for campaign_id in children(sim, "campaigns", ad_account_id):
        for day in days_between(start, end):
            values = sim.metrics.level_metrics("CAMPAIGN", campaign_id, day, ["SPEND_IN_MICRO_DOLLAR", "TOTAL_CONVERSIONS"])
            if values:
                row = {"DATE": day.isoformat(), "CAMPAIGN_ID": campaign_id, **values, "CAMPAIGN_NAME": sim.data.campaigns[campaign_id]["name"]}
                expected.setdefault(campaign_id, []).append(row)
    assert report == expected
    assert any(sim.data.campaigns[campaign_id]["status"] == "ARCHIVED" for campaign_id in report)


def test_report_answers_match_description(sim: Simulator, api: httpx.Client, openapi: OpenAPI) -> None:
    ad_account_id = next(iter(sim.data.ad_accounts))
    path = f"/ad_accounts/{ad_account_id}/reports"
    created = api.post(path, json=report_body(TODAY - dt.timedelta(days=10), TODAY))
    validate(openapi, "POST", path, created)
    token = created.json()["token"]
    for _ in range(2):
        validate(openapi, "GET", path, api.get(path, params={"token": token}))
    unknown = api.get(path, params={"token": "no-such-token"})
    assert unknown.json() == {"report_status": "DOES_NOT_EXIST", "url": None, "size": None}
    validate(openapi, "GET", path, unknown)
    rejected = api.post(path, json=report_body(TODAY - dt.timedelta(days=915), TODAY - dt.timedelta(days=900)))
    validate(openapi, "POST", path, rejected)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"start_date": (TODAY - dt.timedelta(days=915)).isoformat()}, "914 days"),
        ({"start_date": (TODAY - dt.timedelta(days=200)).isoformat()}, "186 days"),
        ({"level": "PRODUCT_ITEM", "columns": ["SPEND_IN_MICRO_DOLLAR"], "start_date": (TODAY - dt.timedelta(days=93)).isoformat(), "end_date": (TODAY - dt.timedelta(days=80)).isoformat()}, "92 days"),
        ({"level": "PRODUCT_ITEM", "columns": ["SPEND_IN_MICRO_DOLLAR"], "start_date": (TODAY - dt.timedelta(days=42)).isoformat()}, "31 days"),
        ({"level": "PRODUCT_ITEM", "columns": ["SPEND_IN_MICRO_DOLLAR", "AD_ID"]}, "AD_ID"),
        ({"level": "PRODUCT_ITEM", "columns": ["SPEND_IN_MICRO_DOLLAR"], "ad_ids": ["1"]}, "ad_ids"),
        ({"campaign_ids": [str(number) for number in range(1, 502)]}, "at most 500"),
        ({"campaign_statuses": ["RUNNING", "PAUSED", "ARCHIVED", "DRAFT", "COMPLETED", "NOT_STARTED", "DELETED_DRAFT"]}, "at most 6"),
        ({"campaign_statuses": ["ACTIVE"]}, "campaign_statuses"),
        ({"level": "CAMPAIGN_TARGETING"}, "targeting_types"),
        ({"targeting_types": ["GENDER"]}, "targeting_types"),
        ({"columns": ["SPEND_IN_MICRO_DOLLAR", "NOT_A_COLUMN"]}, "NOT_A_COLUMN"),
        ({"view_window_days": 30, "click_window_days": 7}, "cannot be longer"),
        ({"start_hour": 5}, "start_hour"),
        ({"report_format": "XML"}, "report_format"),
        ({"granularity": None}, "granularity"),
    ],
)
def test_report_rejects_invalid_request(sim: Simulator, api: httpx.Client, changes: dict[str, Any], fragment: str) -> None:
    ad_account_id = next(iter(sim.data.ad_accounts))
    body = {**report_body(TODAY - dt.timedelta(days=20), TODAY - dt.timedelta(days=10)), **changes}
    response = api.post(f"/ad_accounts/{ad_account_id}/reports", json=body)
    status, _, message = error_of(response)
    assert status == 400
    assert fragment in message


def test_report_limits_accept_edges(sim: Simulator, api: httpx.Client) -> None:
    ad_account_id = next(iter(sim.data.ad_accounts))
    widest = report_body(TODAY - dt.timedelta(days=914), TODAY - dt.timedelta(days=728), granularity="TOTAL")
    assert api.post(f"/ad_accounts/{ad_account_id}/reports", json=widest).status_code == 200
    product_item = {**report_body(TODAY - dt.timedelta(days=92), TODAY - dt.timedelta(days=61)), "level": "PRODUCT_ITEM", "columns": ["SPEND_IN_MICRO_DOLLAR"]}
    assert api.post(f"/ad_accounts/{ad_account_id}/reports", json=product_item).status_code == 200


def test_report_download_link_expires(fresh_sim: Simulator, fresh_api: httpx.Client) -> None:
    ad_account_id = next(iter(fresh_sim.data.ad_accounts))
    fresh_sim.metrics.download_ttl_seconds = 0.2
    fresh_sim.metrics.report_polls_in_progress = 0
    statuses, finished = finished_report(fresh_api, ad_account_id, report_body(TODAY - dt.timedelta(days=3), TODAY))
    assert statuses == ["FINISHED"]
    time.sleep(0.3)
    assert httpx.get(finished["url"], timeout=10).status_code == 403
    token = finished["url"].rsplit("/", 1)[-1].removesuffix(".json")
    renewed = fresh_api.get(f"/ad_accounts/{ad_account_id}/reports", params={"token": token}).json()
    assert httpx.get(renewed["url"], timeout=10).status_code == 200

    fresh_sim.metrics.report_ttl_seconds = 0.0
    assert fresh_api.get(f"/ad_accounts/{ad_account_id}/reports", params={"token": token}).json()["report_status"] == "EXPIRED"
    fresh_sim.metrics.report_ttl_seconds = 3600.0

    fresh_sim.metrics.fail_next_reports = 1
    failed = fresh_api.post(f"/ad_accounts/{ad_account_id}/reports", json=report_body(TODAY - dt.timedelta(days=3), TODAY)).json()["token"]
    assert fresh_api.get(f"/ad_accounts/{ad_account_id}/reports", params={"token": failed}).json()["report_status"] == "FAILED"


def test_keyword_report_matches_keyword_metrics(sim: Simulator, api: httpx.Client) -> None:
    ad_account_id = next(iter(sim.data.ad_accounts))
    start, end = TODAY - dt.timedelta(days=120), TODAY - dt.timedelta(days=100)
    body = {**report_body(start, end), "level": "KEYWORD", "columns": ["TOTAL_IMPRESSION", "SPEND_IN_MICRO_DOLLAR"]}
    _, finished = finished_report(api, ad_account_id, body)
    report = httpx.get(finished["url"], timeout=10).json()
    account_keywords = [kid for kid, keyword in sim.data.keywords.items() if sim.data.ad_account_of_keyword(keyword) == ad_account_id]
    assert set(report) == set(account_keywords)
    keyword_id = account_keywords[0]
    for row in report[keyword_id]:
        expected = sim.metrics.keyword_metrics(keyword_id, row["DATE"], ["TOTAL_IMPRESSION", "SPEND_IN_MICRO_DOLLAR"])
        assert row == {"DATE": row["DATE"], "KEYWORD_ID": keyword_id, **expected}


def test_targeting_report_splits_campaign_rows(sim: Simulator, api: httpx.Client) -> None:
    ad_account_id = next(iter(sim.data.ad_accounts))
    start, end = TODAY - dt.timedelta(days=300), TODAY - dt.timedelta(days=290)
    plain_body = {**report_body(start, end), "columns": ["SPEND_IN_MICRO_DOLLAR"]}
    targeting_body = {**plain_body, "level": "CAMPAIGN_TARGETING", "targeting_types": ["APPTYPE"]}
    plain = httpx.get(finished_report(api, ad_account_id, plain_body)[1]["url"], timeout=10).json()
    split = httpx.get(finished_report(api, ad_account_id, targeting_body)[1]["url"], timeout=10).json()
    assert split.keys() == plain.keys()
    for campaign_id, rows in plain.items():
        split_rows = split[campaign_id]
        assert {row["TARGETING_TYPE"] for row in split_rows} == {"APPTYPE"}
        assert sum_by_date(split_rows, ["SPEND_IN_MICRO_DOLLAR"]) == sum_by_date(rows, ["SPEND_IN_MICRO_DOLLAR"])


def test_csv_report_zero_fills(sim: Simulator, api: httpx.Client) -> None:
    ad_account_id = next(iter(sim.data.ad_accounts))
    body = {**report_body(TODAY - dt.timedelta(days=5), TODAY), "report_format": "CSV", "columns": ["SPEND_IN_MICRO_DOLLAR", "TOTAL_LEAD"]}
    _, finished = finished_report(api, ad_account_id, body)
    assert finished["url"].endswith(".csv")
    lines = httpx.get(finished["url"], timeout=10).text.splitlines()
    assert lines[0] == "DATE,CAMPAIGN_ID,SPEND_IN_MICRO_DOLLAR,TOTAL_LEAD"
    assert all(len(line.split(",")) == 4 and line.split(",")[3] != "" for line in lines[1:])


def test_report_ids_as_numbers_knob(fresh_sim: Simulator, fresh_api: httpx.Client) -> None:
    ad_account_id = next(iter(fresh_sim.data.ad_accounts))
    fresh_sim.metrics.report_ids_as_numbers = True
    _, finished = finished_report(fresh_api, ad_account_id, report_body(TODAY - dt.timedelta(days=3), TODAY))
    report = httpx.get(finished["url"], timeout=10).json()
    row = next(iter(report.values()))[0]
    assert isinstance(row["CAMPAIGN_ID"], int)
    assert str(row["CAMPAIGN_ID"]) in report


# ----- organic analytics ---------------------------------------------------------------------


def organic_params(start: dt.date, end: dt.date, **extra: Any) -> dict[str, Any]:
    return {"start_date": start.isoformat(), "end_date": end.isoformat(), **extra}


def test_user_account_daily_status_and_summary(api: httpx.Client, openapi: OpenAPI) -> None:
    start = TODAY - dt.timedelta(days=6)
    response = api.get("/user_account/analytics", params=organic_params(start, TODAY, metric_types="IMPRESSION,SAVE,SAVE_RATE"))
    assert response.status_code == 200
    validate(openapi, "GET", "/user_account/analytics", response)
    answer = response.json()["all"]
    statuses = [day["data_status"] for day in answer["daily_metrics"]]
    assert statuses == ["READY"] * 5 + ["PROCESSING"] * 2
    assert [day["date"] for day in answer["daily_metrics"]] == [day.isoformat() for day in days_between(start, TODAY)]
    impressions = sum(day["metrics"]["IMPRESSION"] for day in answer["daily_metrics"])
    saves = sum(day["metrics"]["SAVE"] for day in answer["daily_metrics"])
    assert answer["summary_metrics"]["IMPRESSION"] == impressions
    assert answer["summary_metrics"]["SAVE_RATE"] == pytest.approx(saves / impressions)
    assert set(answer["daily_metrics"][0]["metrics"]) == {"IMPRESSION", "SAVE", "SAVE_RATE"}


def test_user_account_processing_days_change_later() -> None:
    day = TODAY - dt.timedelta(days=1)
    data = SimulatorData.generate(7, "small", TODAY)
    now = MetricsModel(data, seed=7, today=TODAY)
    later = MetricsModel(data, seed=7, today=TODAY + dt.timedelta(days=3))
    assert now.data_status(day) == "PROCESSING"
    assert later.data_status(day) == "READY"
    assert now.user_account_day(day)["IMPRESSION"] < later.user_account_day(day)["IMPRESSION"]


def test_user_account_split_sums_to_all(api: httpx.Client) -> None:
    params = organic_params(TODAY - dt.timedelta(days=3), TODAY, metric_types="IMPRESSION")
    whole = api.get("/user_account/analytics", params=params).json()["all"]["summary_metrics"]["IMPRESSION"]
    split = api.get("/user_account/analytics", params={**params, "split_field": "APP_TYPE"}).json()
    assert set(split) == {"MOBILE", "TABLET", "WEB"}
    assert sum(group["summary_metrics"]["IMPRESSION"] for group in split.values()) == whole


def test_user_account_rejects_old_start(api: httpx.Client) -> None:
    response = api.get("/user_account/analytics", params=organic_params(TODAY - dt.timedelta(days=91), TODAY))
    assert response.status_code == 400
    assert "90 days" in response.json()["message"]


def test_few_pins_are_active(sim: Simulator) -> None:
    data = SimulatorData.generate(7, "medium", TODAY)
    model = MetricsModel(data, seed=7, today=TODAY)
    active = model.active_pin_ids()
    assert 0 < len(active) < len(data.pins) * 0.05
    assert sim.metrics.active_pin_ids() == [pin_id for pin_id in sim.data.pins if sim.metrics.is_pin_active(pin_id)]


def test_pin_analytics_active_and_inactive(fresh_sim: Simulator, fresh_api: httpx.Client, openapi: OpenAPI) -> None:
    pin_ids = list(fresh_sim.data.pins)
    active_id, inactive_id = pin_ids[0], pin_ids[1]
    fresh_sim.metrics.set_pin_active(active_id, True)
    fresh_sim.metrics.set_pin_active(inactive_id, False)
    fresh_sim.data.pins[active_id]["created_at"] = "2020-01-01T00:00:00"
    created = TODAY - dt.timedelta(days=3)
    fresh_sim.data.pins[inactive_id]["created_at"] = created.isoformat() + "T10:00:00"
    params = organic_params(TODAY - dt.timedelta(days=29), TODAY, metric_types="IMPRESSION,SAVE,SAVE_RATE")

    active = fresh_api.get(f"/pins/{active_id}/analytics", params=params)
    validate(openapi, "GET", f"/pins/{active_id}/analytics", active)
    assert active.json()["all"]["summary_metrics"]["IMPRESSION"] > 0

    inactive = fresh_api.get(f"/pins/{inactive_id}/analytics", params=params).json()["all"]
    before = [day for day in inactive["daily_metrics"] if day["date"] < created.isoformat()]
    after = [day for day in inactive["daily_metrics"] if day["date"] >= created.isoformat()]
    assert {day["data_status"] for day in before} == {"BEFORE_PIN_CREATED"}
    assert all(day["metrics"] == {} for day in before)
    assert all(day["metrics"]["IMPRESSION"] == 0 for day in after)
    assert inactive["summary_metrics"]["IMPRESSION"] == 0


def test_pin_lifetime_metrics_cannot_mix(sim: Simulator, api: httpx.Client, openapi: OpenAPI) -> None:
    pin_id = next(iter(sim.data.pins))
    path = f"/pins/{pin_id}/analytics"
    mixed = api.get(path, params=organic_params(TODAY - dt.timedelta(days=3), TODAY, metric_types="IMPRESSION,TOTAL_COMMENTS"))
    status, _, message = error_of(mixed)
    assert status == 400
    assert "TOTAL_COMMENTS" in message
    validate(openapi, "GET", path, mixed)
    lifetime = api.get(path, params=organic_params(TODAY - dt.timedelta(days=3), TODAY, metric_types="TOTAL_COMMENTS,TOTAL_REACTIONS"))
    assert lifetime.json() == {"all": {"lifetime_metrics": sim.metrics.pin_lifetime(pin_id)}}
    validate(openapi, "GET", path, lifetime)


def test_multi_pin_analytics_limits(sim: Simulator, api: httpx.Client, openapi: OpenAPI) -> None:
    pin_ids = list(sim.data.pins)[:3]
    params = organic_params(TODAY - dt.timedelta(days=3), TODAY, metric_types="IMPRESSION", pin_ids=pin_ids)
    response = api.get("/pins/analytics", params=params)
    assert response.status_code == 200
    validate(openapi, "GET", "/pins/analytics", response)
    assert list(response.json()) == pin_ids
    assert set(response.json()[pin_ids[0]]) == {"all"}

    too_many = api.get("/pins/analytics", params={**params, "pin_ids": [str(10**17 + n) for n in range(101)]})
    assert too_many.status_code == 400
    unknown = api.get("/pins/analytics", params={**params, "pin_ids": ["123"]})
    assert (unknown.status_code, unknown.json()["code"]) == (404, 50)
    assert api.get("/pins/123/analytics", params=params).status_code == 404


def test_top_pins_lists_active_pins(fresh_sim: Simulator, fresh_api: httpx.Client, openapi: OpenAPI) -> None:
    forced = list(fresh_sim.data.pins)[:3]
    for pin_id in forced:
        fresh_sim.metrics.set_pin_active(pin_id, True)
    response = fresh_api.get("/user_account/analytics/top_pins", params=organic_params(TODAY - dt.timedelta(days=29), TODAY, sort_by="IMPRESSION", num_of_pins=50))
    assert response.status_code == 200
    validate(openapi, "GET", "/user_account/analytics/top_pins", response)
    listed = [pin["pin_id"] for pin in response.json()["pins"]]
    assert set(forced) <= set(listed)
    assert set(listed) <= set(fresh_sim.metrics.active_pin_ids())
    impressions = [pin["metrics"]["IMPRESSION"] for pin in response.json()["pins"]]
    assert impressions == sorted(impressions, reverse=True)


# ----- every response against the description --------------------------------------------------


def test_sync_answers_match_description(sim: Simulator, api: httpx.Client, openapi: OpenAPI) -> None:
    ad_account_id = account_with_archived_spend(sim)
    start = TODAY - dt.timedelta(days=6)
    columns = ["SPEND_IN_MICRO_DOLLAR", "TOTAL_CONVERSIONS", "CTR", "CAMPAIGN_NAME", "TOTAL_VIDEO_MRC_VIEWS"]
    campaign_ids = children(sim, "campaigns", ad_account_id)
    ad_ids = children(sim, "ads", ad_account_id)
    promotion_ids = [pid for pid, item in sim.data.product_group_promotions.items() if sim.data.ad_groups[item["ad_group_id"]]["ad_account_id"] == ad_account_id]
    ad = sim.data.ads[ad_ids[0]]
    calls = [
        ("/analytics", {}),
        ("/campaigns/analytics", {"campaign_ids": campaign_ids}),
        ("/campaigns/analytics", {"campaign_ids": campaign_ids, "aggregate_report_rows": "true"}),
        ("/ad_groups/analytics", {"ad_group_ids": children(sim, "ad_groups", ad_account_id)}),
        ("/ads/analytics", {"ad_ids": ad_ids}),
        ("/product_groups/analytics", {"product_group_ids": promotion_ids or ["1"]}),
        ("/pins/analytics", {"campaign_id": ad["campaign_id"], "pin_ids": [ad["pin_id"]]}),
        ("/targeting_analytics", {"targeting_types": "APPTYPE,KEYWORD,AUDIENCE_INCLUDE"}),
        ("/campaigns/targeting_analytics", {"campaign_ids": campaign_ids, "targeting_types": "CREATIVE_TYPE,COUNTRY"}),
        ("/ad_groups/targeting_analytics", {"ad_group_ids": children(sim, "ad_groups", ad_account_id), "targeting_types": "KEYWORD"}),
        ("/ads/targeting_analytics", {"ad_ids": ad_ids, "targeting_types": "PLACEMENT"}),
    ]
    for suffix, extra in calls:
        path = f"/ad_accounts/{ad_account_id}{suffix}"
        response = api.get(path, params=day_params(start, TODAY, columns, **extra))
        assert response.status_code == 200, (path, response.text)
        body = response.json()
        assert body["data"] if isinstance(body, dict) else body, path
        validate(openapi, "GET", path, response)
