"""Deterministic ads and organic metrics behind the simulator's analytics endpoints.

Every value is a pure function of the simulator seed, an entity id and a day, so two
simulators built with the same seed return the same figures, whatever was requested before. Ads are the
only source of ads metrics: an ad group, campaign or ad account figure is the exact sum
of its ads' figures (every status, archived included), and a targeting breakdown splits
each ad's figures exactly. Keywords and product group promotions have metrics of their
own. Organic metrics cover the user account and the pins, most of which have no activity.

Tests change single values with `set_ad_metric` (None removes the key for that day) and
simulate late conversions with `restate`.

Model assumptions (the real API documents none of these):
- Conversions scale with the attribution windows (`CLICK_WINDOW_FACTORS`,
  `VIEW_WINDOW_FACTORS`), so each window setting gives different figures.
- `TIME_OF_CONVERSION` books the conversions of ad actions on day D-1 on day D.
- A metric whose value is zero is left out of a row, as the API may leave out a column
  that has no value.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
from array import array
import datetime as dt
import hashlib
import operator
import re
import struct
import threading
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

ATTRIBUTION_WINDOW_DAYS = (0, 1, 7, 14, 30, 60)
CONVERSION_REPORT_TIMES = ("TIME_OF_AD_ACTION", "TIME_OF_CONVERSION")

# Share of the 30-day attributed conversions that each window counts.
CLICK_WINDOW_FACTORS = {0: 0.0, 1: 0.45, 7: 0.75, 14: 0.88, 30: 1.0, 60: 1.08}
ENGAGEMENT_WINDOW_FACTORS = CLICK_WINDOW_FACTORS
VIEW_WINDOW_FACTORS = {0: 0.0, 1: 1.0, 7: 1.9, 14: 2.3, 30: 2.7, 60: 3.0}

CONVERSION_SOURCES = ("CLICK", "ENGAGEMENT", "VIEW")
# Conversion event: (count relative to the source's base, order value relative to the
# entity's average order value).
CONVERSION_EVENTS: dict[str, tuple[float, float]] = {
    "CHECKOUT": (1.0, 1.0),
    "ADD_TO_CART": (2.4, 0.9),
    "PAGE_VISIT": (6.0, 0.0),
    "SIGNUP": (0.4, 0.1),
    "LEAD": (0.3, 0.2),
    "CUSTOM": (0.2, 0.5),
}
_CONVERSION_COLUMN = re.compile(
    r"TOTAL_(?:WEB_)?(?:(CLICK|ENGAGEMENT|VIEW)_)?"
    r"(CHECKOUT|ADD_TO_CART|PAGE_VISIT|SIGNUP|LEAD|CUSTOM)(_VALUE_IN_MICRO_DOLLAR)?"
)

PAID_DELIVERY_COLUMNS = (
    "IMPRESSION_1",
    "IMPRESSION_1_GROSS",
    "CLICKTHROUGH_1",
    "CLICKTHROUGH_1_GROSS",
    "OUTBOUND_CLICK_1",
    "REPIN_1",
    "ENGAGEMENT_1",
    "WEB_SESSIONS_1",
)
EARNED_DELIVERY_COLUMNS = (
    "IMPRESSION_2",
    "CLICKTHROUGH_2",
    "OUTBOUND_CLICK_2",
    "REPIN_2",
    "ENGAGEMENT_2",
    "WEB_SESSIONS_2",
)
TOTAL_DELIVERY_COLUMNS = ("TOTAL_IMPRESSION", "TOTAL_CLICKTHROUGH", "TOTAL_ENGAGEMENT", "TOTAL_WEB_SESSIONS")
_VIDEO_STAGES = (
    "VIDEO_P0_COMBINED",
    "VIDEO_3SEC_VIEWS",
    "VIDEO_P25_COMBINED",
    "VIDEO_MRC_VIEWS",
    "VIDEO_P50_COMBINED",
    "VIDEO_15SEC_UNIQUE_VIEWS",
    "VIDEO_P75_COMBINED",
    "VIDEO_P95_COMBINED",
    "VIDEO_P100_COMPLETE",
)
VIDEO_COLUMNS = tuple(
    [f"{stage}_1" for stage in _VIDEO_STAGES]
    + [f"{stage}_2" for stage in _VIDEO_STAGES]
    + [f"TOTAL_{stage}" for stage in _VIDEO_STAGES]
)
DELIVERY_COLUMNS = frozenset(
    PAID_DELIVERY_COLUMNS
    + EARNED_DELIVERY_COLUMNS
    + TOTAL_DELIVERY_COLUMNS
    + ("SPEND_IN_MICRO_DOLLAR",)
    + VIDEO_COLUMNS
)


MICRO = 1_000_000

# Cells (days times columns) of ad series that `MetricsModel.cached_series` keeps, as
# 8-byte integers: about 190 MB, the ads of two ad accounts of the large scale over 90
# days with the 34 columns the product requests.
SERIES_CACHE_CELLS = 24_000_000


def _ratio(numerator: str, denominator: str, multiplier: int = 1, divisor: int = 1) -> tuple[Any, tuple[str, ...]]:
    def compute(values: Mapping[str, int]) -> float | None:
        bottom = values.get(denominator, 0)
        if not bottom:
            return None
        return values.get(numerator, 0) * multiplier / (bottom * divisor)

    return compute, (numerator, denominator)


def _scaled(column: str, divisor: int = 1) -> tuple[Any, tuple[str, ...]]:
    def compute(values: Mapping[str, int]) -> float | int | None:
        value = values.get(column)
        if not value:
            return None
        return value / divisor if divisor != 1 else value

    return compute, (column,)


def _outbound_cost(values: Mapping[str, int]) -> float | None:
    clicks = values.get("OUTBOUND_CLICK_1", 0) + values.get("OUTBOUND_CLICK_2", 0)
    if not clicks:
        return None
    return values.get("SPEND_IN_MICRO_DOLLAR", 0) / (clicks * MICRO)


def _total_repin_rate(values: Mapping[str, int]) -> float | None:
    impressions = values.get("TOTAL_IMPRESSION", 0)
    if not impressions:
        return None
    return (values.get("REPIN_1", 0) + values.get("REPIN_2", 0)) / impressions


# Columns computed from summed additive columns: rates and costs are never summed.
DERIVED_COLUMNS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "PAID_IMPRESSION": _scaled("IMPRESSION_1"),
    "SPEND_IN_DOLLAR": _scaled("SPEND_IN_MICRO_DOLLAR", MICRO),
    "CPC_IN_MICRO_DOLLAR": _ratio("SPEND_IN_MICRO_DOLLAR", "CLICKTHROUGH_1"),
    "ECPC_IN_MICRO_DOLLAR": _ratio("SPEND_IN_MICRO_DOLLAR", "TOTAL_CLICKTHROUGH"),
    "ECPC_IN_DOLLAR": _ratio("SPEND_IN_MICRO_DOLLAR", "TOTAL_CLICKTHROUGH", divisor=MICRO),
    "CPM_IN_MICRO_DOLLAR": _ratio("SPEND_IN_MICRO_DOLLAR", "IMPRESSION_1", multiplier=1000),
    "CPM_IN_DOLLAR": _ratio("SPEND_IN_MICRO_DOLLAR", "IMPRESSION_1", divisor=1000),
    "ECPM_IN_MICRO_DOLLAR": _ratio("SPEND_IN_MICRO_DOLLAR", "TOTAL_IMPRESSION", multiplier=1000),
    "ECPE_IN_DOLLAR": _ratio("SPEND_IN_MICRO_DOLLAR", "TOTAL_ENGAGEMENT", divisor=MICRO),
    "CTR": _ratio("CLICKTHROUGH_1", "IMPRESSION_1"),
    "CTR_2": _ratio("CLICKTHROUGH_2", "IMPRESSION_2"),
    "ECTR": _ratio("TOTAL_CLICKTHROUGH", "TOTAL_IMPRESSION"),
    "OUTBOUND_CTR_1": _ratio("OUTBOUND_CLICK_1", "IMPRESSION_1"),
    "ENGAGEMENT_RATE": _ratio("ENGAGEMENT_1", "IMPRESSION_1"),
    "EENGAGEMENT_RATE": _ratio("TOTAL_ENGAGEMENT", "TOTAL_IMPRESSION"),
    "REPIN_RATE": _ratio("REPIN_1", "IMPRESSION_1"),
    "TOTAL_REPIN_RATE": (_total_repin_rate, ("REPIN_1", "REPIN_2", "TOTAL_IMPRESSION")),
    "COST_PER_OUTBOUND_CLICK_IN_DOLLAR": (
        _outbound_cost,
        ("SPEND_IN_MICRO_DOLLAR", "OUTBOUND_CLICK_1", "OUTBOUND_CLICK_2"),
    ),
    "CHECKOUT_ROAS": _ratio("TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR", "SPEND_IN_MICRO_DOLLAR"),
    "WEB_CHECKOUT_ROAS": _ratio("TOTAL_WEB_CHECKOUT_VALUE_IN_MICRO_DOLLAR", "SPEND_IN_MICRO_DOLLAR"),
    "CUSTOM_ROAS": _ratio("TOTAL_CUSTOM_VALUE_IN_MICRO_DOLLAR", "SPEND_IN_MICRO_DOLLAR"),
    "PAGE_VISIT_COST_PER_ACTION": _ratio("SPEND_IN_MICRO_DOLLAR", "TOTAL_PAGE_VISIT", divisor=MICRO),
    "WEB_CHECKOUT_COST_PER_ACTION": _ratio("SPEND_IN_MICRO_DOLLAR", "TOTAL_WEB_CHECKOUT", divisor=MICRO),
    "TOTAL_CHECKOUT_CONVERSION_RATE": _ratio("TOTAL_CHECKOUT", "TOTAL_CLICKTHROUGH"),
    "TOTAL_SIGNUP_CONVERSION_RATE": _ratio("TOTAL_SIGNUP", "TOTAL_CLICKTHROUGH"),
    "TOTAL_LEAD_CONVERSION_RATE": _ratio("TOTAL_LEAD", "TOTAL_CLICKTHROUGH"),
    "TOTAL_PAGE_VISIT_CONVERSION_RATE": _ratio("TOTAL_PAGE_VISIT", "TOTAL_CLICKTHROUGH"),
    "TOTAL_ADD_TO_CART_CONVERSION_RATE": _ratio("TOTAL_ADD_TO_CART", "TOTAL_CLICKTHROUGH"),
    "TOTAL_CUSTOM_CONVERSION_RATE": _ratio("TOTAL_CUSTOM", "TOTAL_CLICKTHROUGH"),
}

# Entity columns: the value is the attribute of the entity the row belongs to, or of
# its parents, so it is returned only at that level or below it.
ENTITY_COLUMNS: dict[str, tuple[str, str]] = {
    "AD_ACCOUNT_ID": ("ad_account", "id"),
    "ADVERTISER_ID": ("ad_account", "id"),
    "CAMPAIGN_ID": ("campaign", "id"),
    "CAMPAIGN_NAME": ("campaign", "name"),
    "CAMPAIGN_ENTITY_STATUS": ("campaign", "status"),
    "CAMPAIGN_STATUS": ("campaign", "summary_status"),
    "CAMPAIGN_OBJECTIVE_TYPE": ("campaign", "objective_type"),
    "CAMPAIGN_DAILY_SPEND_CAP": ("campaign", "daily_spend_cap"),
    "CAMPAIGN_LIFETIME_SPEND_CAP": ("campaign", "lifetime_spend_cap"),
    "AD_GROUP_ID": ("ad_group", "id"),
    "AD_GROUP_NAME": ("ad_group", "name"),
    "AD_GROUP_ENTITY_STATUS": ("ad_group", "status"),
    "AD_GROUP_STATUS": ("ad_group", "summary_status"),
    "AD_GROUP_BUDGET_TYPE": ("ad_group", "budget_type"),
    "AD_ID": ("ad", "id"),
    "AD_NAME": ("ad", "name"),
    "AD_STATUS": ("ad", "summary_status"),
    "PIN_PROMOTION_ID": ("ad", "id"),
    "PIN_PROMOTION_NAME": ("ad", "name"),
    "PIN_PROMOTION_STATUS": ("ad", "summary_status"),
    "PIN_ID": ("ad", "pin_id"),
    "PRODUCT_GROUP_ID": ("product_group", "id"),
    "PRODUCT_GROUP_STATUS": ("product_group", "status"),
}

# Ads metrics levels, from the widest to the narrowest.
LEVELS = ("AD_ACCOUNT", "CAMPAIGN", "AD_GROUP", "AD")

TARGETING_VALUES: dict[str, tuple[str, ...]] = {
    "APPTYPE": ("iphone", "ipad", "web", "web_mobile", "android_mobile", "android_tablet"),
    "GENDER": ("female", "male", "unknown"),
    "AGE_BUCKET": ("18-24", "25-34", "35-44", "45-49", "50-54", "55-64", "65+"),
    "AGE_BUCKET_AND_GENDER": tuple(
        f"{age}&{gender}"
        for age in ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
        for gender in ("female", "male")
    ),
    "COUNTRY": ("US", "CA", "GB", "DE", "FR"),
    "REGION": ("US-CA", "US-NY", "US-TX", "CA-ON", "GB-ENG"),
    "LOCATION": ("500", "501", "803", "807"),
    "GEO": ("US:94102", "US:10001", "US:73301", "CA:M5V"),
    "PLACEMENT": ("SEARCH", "BROWSE", "OTHER"),
    "TARGETED_INTEREST": ("Food and Drinks", "Home Decor", "Travel", "DIY and Crafts"),
    "PINNER_INTEREST": ("Chocolate Cookies", "Kitchen Design", "Hiking", "Quilting"),
}
# Organic rates: (numerator, denominator) of summed counts.
ORGANIC_RATES = {
    "ENGAGEMENT_RATE": ("ENGAGEMENT", "IMPRESSION"),
    "OUTBOUND_CLICK_RATE": ("OUTBOUND_CLICK", "IMPRESSION"),
    "PIN_CLICK_RATE": ("PIN_CLICK", "IMPRESSION"),
    "SAVE_RATE": ("SAVE", "IMPRESSION"),
}
PIN_COUNTS = ("IMPRESSION", "OUTBOUND_CLICK", "PIN_CLICK", "SAVE", "USER_FOLLOW", "PROFILE_VISIT")
PIN_VIDEO_COUNTS = (
    "VIDEO_START",
    "VIDEO_MRC_VIEW",
    "VIDEO_10S_VIEW",
    "QUARTILE_95_PERCENT_VIEW",
    "VIDEO_V50_WATCH_TIME",
)
PIN_RATES = {"SAVE_RATE": ("SAVE", "IMPRESSION"), "VIDEO_AVG_WATCH_TIME": ("VIDEO_V50_WATCH_TIME", "VIDEO_START")}
PIN_LIFETIME_METRICS = ("TOTAL_COMMENTS", "TOTAL_REACTIONS")

# Organic split fields and the keys their groups are returned under.
SPLIT_VALUES: dict[str, tuple[str, ...]] = {
    "APP_TYPE": ("MOBILE", "TABLET", "WEB"),
    "OWNED_CONTENT": ("CLAIMED", "OTHER"),
    "SOURCE": ("YOUR_PINS", "OTHER_PINS"),
    "PIN_FORMAT": ("ORGANIC_IMAGE", "ORGANIC_PRODUCT", "ORGANIC_VIDEO", "ADS_STANDARD", "ADS_PRODUCT", "ADS_VIDEO", "ADS_IDEA"),
}

# Days, counted back from today, whose organic metrics are still PROCESSING, and the
# share of the final figure they show meanwhile (today first).
PROCESSING_SHARES = (0.55, 0.85)


@dataclasses.dataclass(frozen=True)
class AttributionSettings:
    """Conversion attribution settings of one analytics request (API defaults)."""

    click_window_days: int = 30
    engagement_window_days: int = 30
    view_window_days: int = 1
    conversion_report_time: str = "TIME_OF_AD_ACTION"

    def source_factor(self, source: str) -> float:
        if source == "CLICK":
            return CLICK_WINDOW_FACTORS[self.click_window_days]
        if source == "ENGAGEMENT":
            return ENGAGEMENT_WINDOW_FACTORS[self.engagement_window_days]
        return VIEW_WINDOW_FACTORS[self.view_window_days]


DEFAULT_ATTRIBUTION = AttributionSettings()


@dataclasses.dataclass(frozen=True)
class _DeliveryProfile:
    """Per-entity traits that every day of the entity shares."""

    active_share: float
    impressions: float
    cpm_micro: float
    click_rate: float
    save_rate: float
    conversion_rate: float
    order_value_micro: float


@dataclasses.dataclass(frozen=True)
class _DayFigures:
    """Additive delivery figures of one active entity-day and its conversion inputs.

    Video figures and order values are derived on demand from `draws`, because most
    requests need neither.
    """

    delivery: dict[str, int]
    conversion_base: dict[str, float]
    draws: tuple[float, ...]
    order_value_micro: float

    def video(self, column: str) -> int:
        if column.startswith("TOTAL_"):
            stage = column.removeprefix("TOTAL_")
            return self.video(stage + "_1") + self.video(stage + "_2")
        stage, _, suffix = column.rpartition("_")
        impressions = self.delivery["IMPRESSION_1" if suffix == "1" else "IMPRESSION_2"]
        viewers = impressions * (0.3 + 0.3 * self.draws[9])
        retention = 0.6 + 0.3 * self.draws[10]
        return int(viewers * retention ** _VIDEO_STAGES.index(stage))

    def unit_value(self, event: str) -> int:
        """Value of one conversion of `event` in micro-currency, a whole number of cents."""
        multiplier = CONVERSION_EVENTS[event][1]
        return _round(self.order_value_micro * multiplier * (0.8 + 0.4 * self.draws[14]) / 10_000) * 10_000

    def unit_values(self) -> list[int]:
        """Return `unit_value` of every event, in CONVERSION_EVENTS order."""
        spread = 0.8 + 0.4 * self.draws[14]
        order_value = self.order_value_micro
        # int(x + 0.5) is _round, inlined.
        return [int(order_value * multiplier * spread / 10_000 + 0.5) * 10_000 for multiplier in _EVENT_MULTIPLIERS]


_UNIFORM_SCALE = 1 / 4_294_967_296
_UNPACK_DRAWS = struct.Struct("<16I").unpack


def _uniforms(*parts: object) -> tuple[float, ...]:
    """Return 16 numbers in [0, 1) derived from the parts alone (no global RNG state)."""
    key = "|".join(map(str, parts)).encode()
    digest = hashlib.blake2b(key, digest_size=64).digest()
    return tuple(map(_UNIFORM_SCALE.__mul__, struct.unpack("<16I", digest)))


def _round(value: float) -> int:
    return int(value + 0.5)


def split_exactly(value: int, weights: Iterable[float]) -> list[int]:
    """Split an integer by weights into integers that add up to it (largest remainder)."""
    weights = list(weights)
    total = sum(weights)
    if total <= 0:
        return [0] * len(weights)
    shares = [value * weight / total for weight in weights]
    parts = [int(share) for share in shares]
    remainder = value - sum(parts)
    order = sorted(range(len(weights)), key=lambda index: (parts[index] - shares[index], index))
    for index in order[:remainder]:
        parts[index] += 1
    return parts


def _split_columns(values: Mapping[str, int], targets: Sequence[str], weights: list[float]) -> dict[str, dict[str, int]]:
    """Split every value with `split_exactly(value, weights)`; return {target: {column: part}}.

    Targets and columns whose part is zero are left out.
    """
    columns = list(values)
    result: dict[str, dict[str, int]] = {}
    for target, target_parts in zip(targets, _split_parts(list(values.values()), weights)):
        split = {column: part for column, part in zip(columns, target_parts) if part}
        if split:
            result[target] = split
    return result


def _split_parts(amounts: list[int], weights: list[float]) -> list[list[int]]:
    """Return `split_exactly(amount, weights)` of every amount, as one list of parts per weight.

    All amounts share the weights, so the shares are computed a weight at a time over
    every amount, and the remainder step runs only for the amounts that have one.
    """
    total = sum(weights)
    if total <= 0:
        return [[0] * len(amounts) for _ in weights]
    shares = [[amount * weight / total for amount in amounts] for weight in weights]
    parts = [[*map(int, weight_shares)] for weight_shares in shares]
    remainders = [*map(operator.sub, amounts, map(sum, zip(*parts)))]
    if any(remainders):
        # split_exactly hands each remainder out in the order of (part - share, index).
        # The stable sort keeps equal gaps in index order, and list.index finds the
        # first of equal minimums, so both follow that order.
        indexes = range(len(weights))
        gaps_by_amount = zip(*[[*map(operator.sub, weight_parts, weight_shares)] for weight_parts, weight_shares in zip(parts, shares)])
        for amount_index, remainder, gaps in zip(range(len(amounts)), remainders, gaps_by_amount):
            if not remainder:
                continue
            if remainder == 1:
                parts[gaps.index(min(gaps))][amount_index] += 1
                continue
            for index in sorted(indexes, key=gaps.__getitem__)[:remainder]:
                parts[index][amount_index] += 1
    return parts


def _encode_series(series: Sequence[dict[str, int] | None], columns: tuple[str, ...]) -> tuple[tuple[str, ...], array[int], bytearray] | None:
    """Pack a series as (columns, every day's values in column order, days with values).

    Returns None when a value does not fit in 64 bits (only an override can be that large).
    """
    zeros = (0,) * len(columns)
    present = bytearray(len(series))
    cells = array("q")
    try:
        for index, values in enumerate(series):
            if values is None:
                cells.extend(zeros)
                continue
            present[index] = 1
            cells.extend(map(values.get, columns, zeros))
    except OverflowError:
        return None
    return columns, cells, present


def _series_rows(cells: array[int], present: bytearray, width: int) -> list[Sequence[int] | None]:
    return [cells[index * width:(index + 1) * width] if has_values else None for index, has_values in enumerate(present)]


def _decode_series(columns: tuple[str, ...], cells: array[int], present: bytearray) -> list[dict[str, int] | None]:
    width = len(columns)
    result: list[dict[str, int] | None] = []
    for index, has_values in enumerate(present):
        if not has_values:
            result.append(None)
            continue
        row = cells[index * width:(index + 1) * width]
        result.append(dict(itertools.compress(zip(columns, row), row)))
    return result


def parse_day(value: dt.date | str) -> dt.date:
    """Accept a date or an ISO `YYYY-MM-DD` string."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value)


@lru_cache(maxsize=1024)
def conversion_column_parts(column: str) -> tuple[tuple[str, ...], tuple[str, ...], bool] | None:
    """Return (sources, events, is_value) a conversion column sums, or None for other columns."""
    if column == "TOTAL_CONVERSIONS":
        return CONVERSION_SOURCES, tuple(CONVERSION_EVENTS), False
    if column == "TOTAL_CONVERSIONS_VALUE_IN_MICRO_DOLLAR":
        return CONVERSION_SOURCES, tuple(CONVERSION_EVENTS), True
    match = _CONVERSION_COLUMN.fullmatch(column)
    if match is None:
        return None
    source, event, value_suffix = match.groups()
    return ((source,) if source else CONVERSION_SOURCES), (event,), value_suffix is not None


def is_additive_column(column: str) -> bool:
    """Tell whether the model sums this column over entities and days."""
    return column in DELIVERY_COLUMNS or conversion_column_parts(column) is not None


def is_conversion_column(column: str) -> bool:
    return conversion_column_parts(column) is not None


def additive_columns_for(columns: Iterable[str]) -> frozenset[str]:
    """Return the additive columns needed to compute the requested ones."""
    needed: set[str] = set()
    for column in columns:
        if is_additive_column(column):
            needed.add(column)
        elif column in DERIVED_COLUMNS:
            needed.update(DERIVED_COLUMNS[column][1])
    return frozenset(needed)


# (source, event) pairs in the order `MetricsModel.conversion_figures` lists them.
CONVERSION_PAIRS = tuple((source, event) for source in CONVERSION_SOURCES for event in CONVERSION_EVENTS)
_EVENT_SHARES = tuple(share for share, _ in CONVERSION_EVENTS.values())
_EVENT_MULTIPLIERS = tuple(multiplier for _, multiplier in CONVERSION_EVENTS.values())


@dataclasses.dataclass(frozen=True)
class ColumnPlan:
    """The additive columns of a request, grouped by how one entity-day computes them.

    A conversion column is (column, indexes into CONVERSION_PAIRS it sums, whether it
    sums values rather than counts).
    """

    delivery: tuple[str, ...]
    video: tuple[str, ...]
    conversions: tuple[tuple[str, tuple[int, ...], bool], ...]


@lru_cache(maxsize=256)
def column_plan(columns: frozenset[str]) -> ColumnPlan:
    """Group `columns` for `MetricsModel.series`; columns the model does not compute are left out."""
    delivery: list[str] = []
    video: list[str] = []
    conversions: list[tuple[str, tuple[int, ...], bool]] = []
    for column in columns:
        if column in VIDEO_COLUMNS:
            video.append(column)
        elif column in DELIVERY_COLUMNS:
            delivery.append(column)
        else:
            parts = conversion_column_parts(column)
            if parts is None:
                continue
            sources, events, as_value = parts
            indexes = tuple(CONVERSION_PAIRS.index((source, event)) for source in sources for event in events)
            conversions.append((column, indexes, as_value))
    return ColumnPlan(tuple(delivery), tuple(video), tuple(conversions))


def derive_metrics(columns: Iterable[str], values: Mapping[str, int]) -> dict[str, int | float]:
    """Return the requested metric columns from summed additive values, zeros left out."""
    additive, derived = _derive_plan(tuple(columns))
    additive_values = [*map(values.get, additive)]
    row: dict[str, int | float] = dict(itertools.compress(zip(additive, additive_values), additive_values))
    for column, compute in derived:
        value = compute(values)
        if value:
            row[column] = value
    return row


@lru_cache(maxsize=256)
def _derive_plan(columns: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[tuple[str, Any], ...]]:
    """Return the additive columns, and the derived ones with the function computing each."""
    additive = tuple(column for column in columns if is_additive_column(column))
    derived = tuple((column, DERIVED_COLUMNS[column][0]) for column in columns if not is_additive_column(column) and column in DERIVED_COLUMNS)
    return additive, derived


def add_into(total: dict[str, int], values: Mapping[str, int]) -> None:
    for column, value in values.items():
        total[column] = total.get(column, 0) + value


def _strip_ad_group_prefix(ad_group_id: str | None) -> str | None:
    # Product group promotions may name their ad group as "AG<digits>".
    if ad_group_id and ad_group_id.startswith("AG"):
        return ad_group_id[2:]
    return ad_group_id


def _build_day_figures(profile: _DeliveryProfile, u: tuple[float, ...]) -> _DayFigures:
    """Derive the figures of an active entity-day from its profile and the day's draws."""
    paid_impressions = int(profile.impressions * (0.4 + 1.2 * u[1])) + 1
    earned_impressions = int(paid_impressions * 0.08 * u[2])
    click_rate = profile.click_rate * (0.7 + 0.6 * u[3])
    paid_clicks = int(paid_impressions * click_rate)
    earned_clicks = int(earned_impressions * click_rate)
    outbound_share = 0.5 + 0.4 * u[4]
    save_rate = profile.save_rate * (0.5 + u[5])
    paid_saves = int(paid_impressions * save_rate)
    earned_saves = int(earned_impressions * save_rate)
    paid_engagements = paid_clicks + paid_saves + int(paid_impressions * 0.004 * u[6])
    earned_engagements = earned_clicks + earned_saves + int(earned_impressions * 0.004 * u[6])

    delivery = {
        "IMPRESSION_1": paid_impressions,
        "IMPRESSION_1_GROSS": paid_impressions + int(paid_impressions * 0.01 * u[7]),
        "IMPRESSION_2": earned_impressions,
        "TOTAL_IMPRESSION": paid_impressions + earned_impressions,
        "CLICKTHROUGH_1": paid_clicks,
        "CLICKTHROUGH_1_GROSS": paid_clicks + int(paid_clicks * 0.02 * u[7]),
        "CLICKTHROUGH_2": earned_clicks,
        "TOTAL_CLICKTHROUGH": paid_clicks + earned_clicks,
        "OUTBOUND_CLICK_1": int(paid_clicks * outbound_share),
        "OUTBOUND_CLICK_2": int(earned_clicks * outbound_share),
        "REPIN_1": paid_saves,
        "REPIN_2": earned_saves,
        "ENGAGEMENT_1": paid_engagements,
        "ENGAGEMENT_2": earned_engagements,
        "TOTAL_ENGAGEMENT": paid_engagements + earned_engagements,
        "WEB_SESSIONS_1": int(paid_clicks * outbound_share * 0.9),
        "WEB_SESSIONS_2": int(earned_clicks * outbound_share * 0.9),
        "SPEND_IN_MICRO_DOLLAR": int(paid_impressions * profile.cpm_micro / 1000 * (0.85 + 0.3 * u[8])),
    }
    delivery["TOTAL_WEB_SESSIONS"] = delivery["WEB_SESSIONS_1"] + delivery["WEB_SESSIONS_2"]

    conversion_base = {
        "CLICK": paid_clicks * profile.conversion_rate * (0.5 + u[11]),
        "ENGAGEMENT": (paid_engagements - paid_clicks) * profile.conversion_rate * 0.5 * (0.5 + u[12]),
        "VIEW": paid_impressions * profile.conversion_rate * 0.004 * (0.5 + u[13]),
    }
    return _DayFigures(delivery, conversion_base, u, profile.order_value_micro)


# Entries of daily targeting sums `MetricsModel.targeting_days` keeps: one per account
# window of the product's sync, whose 90 days of 4 types take about 3 MB.
TARGETING_DAYS_ENTRIES = 16


class TargetingDays:
    """Daily targeting sums of one request shape: {day: [{target: {column: sum}} per splitter]}.

    `lock` is held while days are computed and read, so one request computes them.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.days: dict[dt.date, list[dict[str, dict[str, int]]]] = {}


class MetricsModel:
    """Deterministic metrics over the simulator's data, plus the analytics knobs.

    Knobs tests set at run time:
    - `throttle_next_analytics`: the next N analytics requests get HTTP 400,
      alternately "Retry after 2 seconds" and code 12.
    - `report_polls_in_progress`: polls of a new async report that return IN_PROGRESS
      before it is FINISHED.
    - `fail_next_reports`: the next N async reports end FAILED.
    - `report_ttl_seconds`, `download_ttl_seconds`: how long a report, and a download
      link from the latest poll, stay valid (Pinterest: an hour and five minutes).
    - `report_ids_as_numbers`: write id columns of report files as JSON numbers.
    - `active_pin_share`: share of pins with organic activity.
    - `generated_metrics`: False leaves only the values set with `set_*_metric`, so a
      test can state every figure of a bug case.
    """

    def __init__(self, data: Any, seed: int = 7, today: dt.date | None = None) -> None:
        self.data = data
        self.seed = seed
        self.today = today or dt.datetime.now(dt.timezone.utc).date()
        self.throttle_next_analytics = 0
        self.report_polls_in_progress = 1
        self.fail_next_reports = 0
        self.report_ttl_seconds = 3600.0
        self.download_ttl_seconds = 300.0
        self.report_ids_as_numbers = False
        self.active_pin_share = 0.02
        self.reports: dict[str, Any] = {}
        self._throttle_count = 0
        self._overrides: dict[tuple[str, str, dt.date], dict[str, int | None]] = {}
        self._restatement: dict[dt.date, float] = {}
        self._pin_activity: dict[str, bool] = {}
        self._lock = threading.Lock()
        self._generated_metrics = True
        self._day_figures = lru_cache(maxsize=200_000)(self._compute_day_figures)
        # Ad series by request shape, each stored with the `_version` it was computed at.
        self._series_cache: collections.OrderedDict[tuple[Any, ...], tuple[int, tuple[str, ...], array[int], bytearray]] = collections.OrderedDict()
        self._series_cache_cells = 0
        self._series_lock = threading.Lock()
        # Bumped by every change that alters computed figures: overrides, restatements and
        # the generated_metrics switch.
        self._version = 0
        self._targeting_days: collections.OrderedDict[tuple[Any, ...], TargetingDays] = collections.OrderedDict()
        self._profiles = lru_cache(maxsize=100_000)(self._compute_profile)

    @property
    def generated_metrics(self) -> bool:
        return self._generated_metrics

    @generated_metrics.setter
    def generated_metrics(self, enabled: bool) -> None:
        self._generated_metrics = enabled
        self._day_figures.cache_clear()
        self._version += 1

    # ----- test hooks -------------------------------------------------------------

    def set_ad_metric(self, ad_id: str, day: dt.date | str, column: str, value: int | None) -> None:
        """Override one additive metric of an ad on a day; None removes the key that day.

        The value is returned for every attribution setting, ignores `restate`, and
        counts in the ad group, campaign and ad account sums.
        """
        self._set_metric("ad", ad_id, day, column, value)

    def set_keyword_metric(self, keyword_id: str, day: dt.date | str, column: str, value: int | None) -> None:
        """Override one additive metric of a keyword on a day, like `set_ad_metric`."""
        self._set_metric("keyword", keyword_id, day, column, value)

    def set_product_group_metric(
        self, product_group_promotion_id: str, day: dt.date | str, column: str, value: int | None
    ) -> None:
        """Override one additive metric of a product group promotion on a day."""
        self._set_metric("product_group", product_group_promotion_id, day, column, value)

    def restate(self, days: int = 7, factor: float = 1.5) -> None:
        """Multiply the conversions reported for the last `days` days (today included).

        This is how late conversions look: figures for recent days change between two
        runs. Overridden values stay as set.
        """
        if days < 1 or factor < 0:
            raise ValueError(f"restate(days={days}, factor={factor}) is invalid: use days >= 1 and factor >= 0.")
        with self._lock:
            for offset in range(days):
                day = self.today - dt.timedelta(days=offset)
                self._restatement[day] = self._restatement.get(day, 1.0) * factor
            self._version += 1

    def set_pin_active(self, pin_id: str, active: bool) -> None:
        """Force a pin to have organic activity, or none, whatever the seed draws."""
        self._pin_activity[pin_id] = active

    def take_throttle_error(self) -> tuple[int, dict[str, Any]] | None:
        """Return one throttled response (status, JSON body) and count it down, or None when the knob is 0."""
        with self._lock:
            if self.throttle_next_analytics <= 0:
                return None
            self.throttle_next_analytics -= 1
            self._throttle_count += 1
            if self._throttle_count % 2 == 1:
                # NOTE: the code that comes with Pinterest's "Retry after" message is not
                # documented; clients should read the wait from the message.
                return 400, {"code": 1, "message": "Too many analytics requests. Retry after 2 seconds"}
            return 400, {"code": 12, "message": "Something went wrong on our end. Sorry about that."}

    def take_report_failure(self) -> bool:
        with self._lock:
            if self.fail_next_reports <= 0:
                return False
            self.fail_next_reports -= 1
            return True

    def _set_metric(self, kind: str, entity_id: str, day: dt.date | str, column: str, value: int | None) -> None:
        if not is_additive_column(column):
            raise ValueError(
                f"column {column!r} cannot be overridden: only additive metrics can "
                "(counts and *_IN_MICRO_DOLLAR amounts); rates follow from them."
            )
        if value is not None and not isinstance(value, int):
            raise ValueError(f"value {value!r} for {column} is invalid: use an int or None.")
        with self._lock:
            self._overrides.setdefault((kind, str(entity_id), parse_day(day)), {})[column] = value
            self._version += 1

    # ----- entity hierarchy -------------------------------------------------------

    def ad_parents(self, ad: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
        """Return (ad_account_id, campaign_id, ad_group_id) of an ad from its own fields or its parents."""
        ad_group_id = ad.get("ad_group_id")
        ad_group = self.data.ad_groups.get(ad_group_id, {}) if ad_group_id else {}
        campaign_id = ad.get("campaign_id") or ad_group.get("campaign_id")
        campaign = self.data.campaigns.get(campaign_id, {}) if campaign_id else {}
        account_id = ad.get("ad_account_id") or ad_group.get("ad_account_id") or campaign.get("ad_account_id")
        return account_id, campaign_id, ad_group_id

    def ads_by(self, level: str, ad_account_id: str) -> dict[str, list[str]]:
        """Group the ad account's ads (every status) by their entity at `level`."""
        position = LEVELS.index(level)
        groups: dict[str, list[str]] = {}
        for ad_id, ad in list(self.data.ads.items()):
            account_id, campaign_id, ad_group_id = self.ad_parents(ad)
            if account_id != ad_account_id:
                continue
            key = (account_id, campaign_id, ad_group_id, ad_id)[position]
            if key is not None:
                groups.setdefault(key, []).append(ad_id)
        return groups

    def keyword_parents(self, keyword: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
        """Return (ad_account_id, campaign_id, ad_group_id) of a keyword; unknown levels are None."""
        parent_type = re.sub(r"[^a-z]", "", str(keyword.get("parent_type") or "").lower())
        parent_id = keyword.get("parent_id")
        ad_group_id = keyword.get("ad_group_id") or (parent_id if parent_type == "adgroup" else None)
        campaign_id = keyword.get("campaign_id") or (parent_id if parent_type == "campaign" else None)
        account_id = keyword.get("ad_account_id") or (
            parent_id if parent_type in ("advertiser", "adaccount") else None
        )
        if ad_group_id and not campaign_id:
            campaign_id = self.data.ad_groups.get(ad_group_id, {}).get("campaign_id")
        if ad_group_id and not account_id:
            account_id = self.data.ad_groups.get(ad_group_id, {}).get("ad_account_id")
        if campaign_id and not account_id:
            account_id = self.data.campaigns.get(campaign_id, {}).get("ad_account_id")
        return account_id, campaign_id, ad_group_id

    def product_group_parents(self, promotion: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
        """Return (ad_account_id, campaign_id, ad_group_id) of a product group promotion."""
        ad_group_id = _strip_ad_group_prefix(promotion.get("ad_group_id"))
        ad_group = self.data.ad_groups.get(ad_group_id, {}) if ad_group_id else {}
        campaign_id = promotion.get("campaign_id") or ad_group.get("campaign_id")
        account_id = promotion.get("ad_account_id") or ad_group.get("ad_account_id")
        if not account_id and campaign_id:
            account_id = self.data.campaigns.get(campaign_id, {}).get("ad_account_id")
        return account_id, campaign_id, ad_group_id

    def is_video_ad(self, ad_id: str) -> bool:
        creative_type = str(self.data.ads.get(ad_id, {}).get("creative_type") or "")
        return "VIDEO" in creative_type

    def entity_attributes(self, level: str, entity_id: str) -> dict[str, Any]:
        """Return the entity columns known for a row at `level`, such as CAMPAIGN_NAME."""
        objects: dict[str, Mapping[str, Any]] = {}
        if level == "AD":
            ad = self.data.ads.get(entity_id, {})
            objects["ad"] = {**ad, "id": entity_id}
            account_id, campaign_id, ad_group_id = self.ad_parents(ad)
        elif level == "PRODUCT_GROUP":
            promotion = self.data.product_group_promotions.get(entity_id, {})
            objects["product_group"] = {**promotion, "id": entity_id}
            account_id, campaign_id, ad_group_id = self.product_group_parents(promotion)
        elif level == "KEYWORD":
            account_id, campaign_id, ad_group_id = self.keyword_parents(self.data.keywords.get(entity_id, {}))
        else:
            account_id = entity_id if level == "AD_ACCOUNT" else None
            campaign_id = entity_id if level == "CAMPAIGN" else None
            ad_group_id = entity_id if level == "AD_GROUP" else None
            if ad_group_id:
                ad_group = self.data.ad_groups.get(ad_group_id, {})
                campaign_id = ad_group.get("campaign_id")
                account_id = ad_group.get("ad_account_id")
            if campaign_id and not account_id:
                account_id = self.data.campaigns.get(campaign_id, {}).get("ad_account_id")
        if ad_group_id:
            objects["ad_group"] = {**self.data.ad_groups.get(ad_group_id, {}), "id": ad_group_id}
        if campaign_id:
            objects["campaign"] = {**self.data.campaigns.get(campaign_id, {}), "id": campaign_id}
        if account_id:
            objects["ad_account"] = {**self.data.ad_accounts.get(account_id, {}), "id": account_id}
        attributes: dict[str, Any] = {}
        for column, (kind, field) in ENTITY_COLUMNS.items():
            value = objects.get(kind, {}).get(field)
            if value is not None:
                attributes[column] = value
        return attributes

    # ----- ads metrics --------------------------------------------------------------

    def ad_metrics(
        self,
        ad_id: str,
        day: dt.date | str,
        columns: Iterable[str] | None = None,
        settings: AttributionSettings = DEFAULT_ATTRIBUTION,
    ) -> dict[str, int] | None:
        """Return an ad's additive metrics for a day, or None when it had no activity.

        `columns` defaults to every additive column the model computes. Zeros are left out.
        """
        requested = frozenset(columns) if columns is not None else self.all_additive_columns()
        return self.entity_metrics("ad", ad_id, parse_day(day), requested, settings, video=self.is_video_ad(ad_id))

    def keyword_metrics(
        self,
        keyword_id: str,
        day: dt.date | str,
        columns: Iterable[str] | None = None,
        settings: AttributionSettings = DEFAULT_ATTRIBUTION,
    ) -> dict[str, int] | None:
        """Return a keyword's additive metrics for a day, or None when it had no activity."""
        requested = frozenset(columns) if columns is not None else self.all_additive_columns()
        return self.entity_metrics("keyword", keyword_id, parse_day(day), requested, settings, video=False)

    def product_group_metrics(
        self,
        product_group_promotion_id: str,
        day: dt.date | str,
        columns: Iterable[str] | None = None,
        settings: AttributionSettings = DEFAULT_ATTRIBUTION,
    ) -> dict[str, int] | None:
        """Return a product group promotion's additive metrics for a day, or None."""
        requested = frozenset(columns) if columns is not None else self.all_additive_columns()
        return self.entity_metrics("product_group", product_group_promotion_id, parse_day(day), requested, settings, video=False)

    def level_metrics(
        self,
        level: str,
        entity_id: str,
        day: dt.date | str,
        columns: Iterable[str] | None = None,
        settings: AttributionSettings = DEFAULT_ATTRIBUTION,
    ) -> dict[str, int]:
        """Return the exact sum of the ads' additive metrics under an entity for a day."""
        day = parse_day(day)
        requested = frozenset(columns) if columns is not None else self.all_additive_columns()
        if level == "AD":
            return self.ad_metrics(entity_id, day, requested, settings) or {}
        account_id = entity_id if level == "AD_ACCOUNT" else self.entity_attributes(level, entity_id).get("AD_ACCOUNT_ID")
        total: dict[str, int] = {}
        for ad_id in self.ads_by(level, account_id).get(entity_id, []) if account_id else []:
            add_into(total, self.ad_metrics(ad_id, day, requested, settings) or {})
        return total

    @staticmethod
    def all_additive_columns() -> frozenset[str]:
        conversion = {
            f"TOTAL_{source + '_' if source else ''}{event}{suffix}"
            for source in (None, *CONVERSION_SOURCES)
            for event in CONVERSION_EVENTS
            for suffix in ("", "_VALUE_IN_MICRO_DOLLAR")
        }
        return frozenset(DELIVERY_COLUMNS | conversion | {"TOTAL_CONVERSIONS", "TOTAL_CONVERSIONS_VALUE_IN_MICRO_DOLLAR"})

    def entity_metrics(
        self,
        kind: str,
        entity_id: str,
        day: dt.date,
        columns: frozenset[str],
        settings: AttributionSettings,
        video: bool,
        hourly: bool = False,
    ) -> dict[str, int] | None:
        """Return the additive `columns` of one entity-day (overrides applied), or None.

        `kind` is "ad", "keyword" or "product_group". With `hourly`, conversion columns
        are left out, as Pinterest reports no conversions by the hour.
        """
        figures = self._day_figures(kind, entity_id, day)
        values: dict[str, int] = {}
        conversions: dict[tuple[str, str], tuple[int, int]] | None = None
        for column in columns:
            if column in DELIVERY_COLUMNS:
                if figures is None:
                    continue
                if column in VIDEO_COLUMNS:
                    value = figures.video(column) if video else 0
                else:
                    value = figures.delivery[column]
            elif hourly:
                continue
            else:
                parts = conversion_column_parts(column)
                if parts is None:
                    continue
                if conversions is None:
                    conversions = self._conversions(kind, entity_id, day, settings)
                sources, events, as_value = parts
                value = sum(conversions[source, event][as_value] for source in sources for event in events) if conversions else 0
            if value:
                values[column] = value
        overrides = self._overrides.get((kind, entity_id, day))
        if overrides:
            for column, value in overrides.items():
                if column not in columns or (hourly and is_conversion_column(column)):
                    continue
                if value is None:
                    values.pop(column, None)
                else:
                    values[column] = value
        if figures is None and not values and not overrides:
            return None
        return values

    def series(
        self,
        kind: str,
        entity_id: str,
        days: Sequence[dt.date],
        columns: frozenset[str],
        settings: AttributionSettings,
        video: bool,
        hourly: bool = False,
    ) -> list[dict[str, int] | None]:
        """Return `entity_metrics` of one entity for each of `days`, in that order.

        It gives the same values as calling `entity_metrics` per day, but sorts the
        columns out once for all the days.
        """
        plan = column_plan(columns)
        video_columns = plan.video if video else ()
        conversion_columns = () if hourly else plan.conversions
        figures_on = self._series_figures(kind, entity_id)
        time_of_conversion = settings.conversion_report_time == "TIME_OF_CONVERSION"
        all_overrides = self._overrides
        result: list[dict[str, int] | None] = []
        previous_day: dt.date | None = None
        previous_figures: _DayFigures | None = None
        for day in days:
            figures = figures_on(day)
            values: dict[str, int] = {}
            if figures is not None:
                delivery = figures.delivery
                for column in plan.delivery:
                    value = delivery[column]
                    if value:
                        values[column] = value
                for column in video_columns:
                    value = figures.video(column)
                    if value:
                        values[column] = value
            if conversion_columns:
                # conversion_figures, with the figures of the day the report time points to
                # taken from this loop where it has them.
                action_figures = figures
                if time_of_conversion:
                    action_day = day - dt.timedelta(days=1)
                    action_figures = previous_figures if action_day == previous_day else figures_on(action_day)
                if action_figures is not None and day <= self.today:
                    conversions = self._conversion_lists(action_figures, day, settings)
                    for column, indexes, as_value in conversion_columns:
                        table = conversions[as_value]
                        value = sum(map(table.__getitem__, indexes))
                        if value:
                            values[column] = value
            overrides = all_overrides.get((kind, entity_id, day)) if all_overrides else None
            if overrides:
                for column, value in overrides.items():
                    if column not in columns or (hourly and is_conversion_column(column)):
                        continue
                    if value is None:
                        values.pop(column, None)
                    else:
                        values[column] = value
            result.append(None if figures is None and not values and not overrides else values)
            previous_day, previous_figures = day, figures
        return result

    def cached_series(
        self,
        kind: str,
        entity_id: str,
        days: Sequence[dt.date],
        columns: frozenset[str],
        settings: AttributionSettings,
        video: bool,
        hourly: bool = False,
    ) -> list[dict[str, int] | None]:
        """Return `series(...)`, keeping ads' series for later requests over the same days.

        The account, campaign, ad group, ad and targeting analytics of one window all sum
        the same ad-days, so each ad's series is computed once for all of them. A day's
        values come back without zero entries, which sums and splits ignore anyway. Only
        ads are kept, over consecutive days, and at most SERIES_CACHE_CELLS cells, the
        oldest series dropped first. A series stays valid while `_version` is unchanged,
        because figures depend only on the seed, the ids, the days, `today` and the
        overrides, restatements and switch that bump it.
        """
        if kind != "ad" or not days or (days[-1] - days[0]).days != len(days) - 1:
            return self.series(kind, entity_id, days, columns, settings, video, hourly)
        key = (entity_id, days[0], len(days), columns, settings, video, hourly, self.today)
        version = self._version
        with self._series_lock:
            entry = self._series_cache.get(key)
        if entry is not None and entry[0] == version:
            return _decode_series(entry[1], entry[2], entry[3])
        result = self.series(kind, entity_id, days, columns, settings, video, hourly)
        encoded = _encode_series(result, tuple(sorted(columns)))
        if encoded is not None:
            self._store_series(key, (version, *encoded))
        return result

    def dense_series(
        self,
        kind: str,
        entity_id: str,
        days: Sequence[dt.date],
        columns: frozenset[str],
        settings: AttributionSettings,
        video: bool,
        hourly: bool = False,
    ) -> list[Sequence[int] | None]:
        """Return `cached_series(...)` with each day's values in `sorted(columns)` order, zeros included."""
        order = tuple(sorted(columns))
        if kind == "ad" and days and (days[-1] - days[0]).days == len(days) - 1:
            key = (entity_id, days[0], len(days), columns, settings, video, hourly, self.today)
            version = self._version
            with self._series_lock:
                entry = self._series_cache.get(key)
            if entry is None or entry[0] != version:
                encoded = _encode_series(self.series(kind, entity_id, days, columns, settings, video, hourly), order)
                if encoded is not None:
                    entry = (version, *encoded)
                    self._store_series(key, entry)
            if entry is not None and entry[0] == version:
                return _series_rows(entry[2], entry[3], len(order))
        zeros = (0,) * len(order)
        return [
            None if values is None else [*map(values.get, order, zeros)]
            for values in self.series(kind, entity_id, days, columns, settings, video, hourly)
        ]

    def targeting_days(self, key: tuple[Any, ...]) -> TargetingDays:
        """Return the kept daily targeting sums for `key`, a new empty entry when there are none.

        The caller's key names the sources, targeting values, columns and settings. The
        entry also depends on `today` and `_version`, which are added here. At most
        TARGETING_DAYS_ENTRIES entries are kept, the least recently used dropped first.
        """
        full_key = (*key, self.today, self._version)
        with self._series_lock:
            entry = self._targeting_days.get(full_key)
            if entry is None:
                entry = self._targeting_days[full_key] = TargetingDays()
                while len(self._targeting_days) > TARGETING_DAYS_ENTRIES:
                    self._targeting_days.popitem(last=False)
            else:
                self._targeting_days.move_to_end(full_key)
            return entry

    def _store_series(self, key: tuple[Any, ...], entry: tuple[int, tuple[str, ...], array[int], bytearray]) -> None:
        with self._series_lock:
            old = self._series_cache.pop(key, None)
            if old is not None:
                self._series_cache_cells -= len(old[2])
            self._series_cache[key] = entry
            self._series_cache_cells += len(entry[2])
            while self._series_cache_cells > SERIES_CACHE_CELLS:
                _, dropped = self._series_cache.popitem(last=False)
                self._series_cache_cells -= len(dropped[2])

    def hourly_split(self, kind: str, entity_id: str, day: dt.date, values: Mapping[str, int]) -> list[dict[str, int]]:
        """Split a day's additive values over its 24 hours exactly."""
        draws = _uniforms(self.seed, "hours", kind, entity_id, day.isoformat())
        weights = [0.2 + draws[hour % 16] * (1.5 if 8 <= hour <= 22 else 0.3) for hour in range(24)]
        hours: list[dict[str, int]] = [{} for _ in range(24)]
        for column, value in values.items():
            for hour, part in enumerate(split_exactly(value, weights)):
                if part:
                    hours[hour][column] = part
        return hours

    def targeting_split(
        self,
        kind: str,
        entity_id: str,
        day: dt.date,
        targeting_type: str,
        values: Mapping[str, int],
        targets: Sequence[str] | None = None,
    ) -> dict[str, dict[str, int]]:
        """Split an entity-day's additive values exactly over targeting values.

        `targets` defaults to the fixed list of the targeting type; values that get no
        share of any column are left out.
        """
        if targets is None:
            targets = TARGETING_VALUES.get(targeting_type, ())
        if not targets:
            return {}
        return _split_columns(values, targets, self.targeting_weights(kind, entity_id, day, targeting_type, len(targets)))

    def add_targeting_split(
        self,
        table: dict[Any, dict[str, int]],
        label: dt.date | None,
        kind: str,
        entity_id: str,
        day: dt.date,
        targeting_type: str,
        values: Mapping[str, int],
        targets: Sequence[str],
    ) -> None:
        """Add `targeting_split(...)` into `table` under (label, None, target) keys.

        It gives the table `add_into` would, without building the split's dicts: a
        target's key is created when the target gets a part that is not zero.
        """
        if not targets:
            return
        weights = self.targeting_weights(kind, entity_id, day, targeting_type, len(targets))
        columns = list(values)
        for target, target_parts in zip(targets, _split_parts(list(values.values()), weights)):
            bucket = None
            for column, part in zip(columns, target_parts):
                if part:
                    if bucket is None:
                        bucket = table.setdefault((label, None, target), {})
                    bucket[column] = bucket.get(column, 0) + part

    def targeting_weights(self, kind: str, entity_id: str, day: dt.date, targeting_type: str, count: int) -> list[float]:
        """Return the weights an entity-day's figures are split by over `count` targeting values."""
        draws: list[float] = []
        for block in range((count + 15) // 16):
            draws.extend(_uniforms(self.seed, "targeting", kind, entity_id, day.isoformat(), targeting_type, block))
        weights = [draw * draw if draw >= 0.15 or index == 0 else 0.0 for index, draw in enumerate(draws[:count])]
        if not any(weights):
            weights[0] = 1.0
        return weights

    def _conversions(
        self, kind: str, entity_id: str, day: dt.date, settings: AttributionSettings
    ) -> dict[tuple[str, str], tuple[int, int]]:
        """Return {(source, event): (count, value in micro-currency)} reported on `day`."""
        figures = self.conversion_figures(kind, entity_id, day, settings)
        if figures is None:
            return {}
        counts, values = figures
        return {pair: (count, value) for pair, count, value in zip(CONVERSION_PAIRS, counts, values)}

    def conversion_figures(
        self, kind: str, entity_id: str, day: dt.date, settings: AttributionSettings
    ) -> tuple[list[int], list[int]] | None:
        """Return (counts, values in micro-currency) reported on `day`, in CONVERSION_PAIRS order.

        None means no conversions: the entity had no activity on the day the report
        time points to, or `day` is after today.
        """
        action_day = day
        if settings.conversion_report_time == "TIME_OF_CONVERSION":
            action_day = day - dt.timedelta(days=1)
        figures = self._day_figures(kind, entity_id, action_day)
        if figures is None or day > self.today:
            return None
        return self._conversion_lists(figures, day, settings)

    def _conversion_lists(self, figures: _DayFigures, day: dt.date, settings: AttributionSettings) -> tuple[list[int], list[int]]:
        """Return `conversion_figures` given the figures of the day the report time points to."""
        restatement = self._restatement.get(day, 1.0)
        bases = [figures.conversion_base[source] * settings.source_factor(source) * restatement for source in CONVERSION_SOURCES]
        counts = [int(base * share + 0.5) for base in bases for share in _EVENT_SHARES]
        values = [*map(operator.mul, counts, figures.unit_values() * len(CONVERSION_SOURCES))]
        return counts, values

    def _compute_profile(self, kind: str, entity_id: str) -> _DeliveryProfile:
        draws = _uniforms(self.seed, "profile", kind, entity_id)
        scale = {"ad": 1.0, "keyword": 0.25, "product_group": 0.5}.get(kind, 1.0)
        if draws[1] < 0.6:
            impressions = 150 + 1_350 * draws[2]
        elif draws[1] < 0.9:
            impressions = 1_500 + 13_500 * draws[2]
        else:
            impressions = 40_000 + 360_000 * draws[2]
        return _DeliveryProfile(
            active_share=0.6 + 0.4 * draws[0],
            impressions=impressions * scale,
            cpm_micro=2_000_000 + 12_000_000 * draws[3],
            click_rate=0.003 + 0.017 * draws[4],
            save_rate=0.001 + 0.004 * draws[5],
            conversion_rate=0.01 + 0.05 * draws[6],
            order_value_micro=15_000_000 + 135_000_000 * draws[7],
        )

    def _compute_day_figures(self, kind: str, entity_id: str, day: dt.date) -> _DayFigures | None:
        if day > self.today or not self._generated_metrics:
            return None
        profile = self._profiles(kind, entity_id)
        u = _uniforms(self.seed, "day", kind, entity_id, day)
        if u[0] >= profile.active_share:
            return None
        return _build_day_figures(profile, u)

    def _series_figures(self, kind: str, entity_id: str) -> Any:
        """Return `_compute_day_figures` of one entity as a function of the day, for `series`.

        It builds the draw's key from a prefix made once, and leaves out the LRU cache,
        because a series visits each of its days once.
        """
        profile = self._profiles(kind, entity_id)
        prefix = f"{self.seed}|day|{kind}|{entity_id}|"
        today = self.today
        generated = self._generated_metrics

        def figures_on(day: dt.date) -> _DayFigures | None:
            if day > today or not generated:
                return None
            # The same key _uniforms builds: str() of a date is its isoformat().
            digest = hashlib.blake2b((prefix + day.isoformat()).encode(), digest_size=64).digest()
            u = tuple(map(_UNIFORM_SCALE.__mul__, _UNPACK_DRAWS(digest)))
            if u[0] >= profile.active_share:
                return None
            return _build_day_figures(profile, u)

        return figures_on

    # ----- organic metrics ------------------------------------------------------------

    def data_status(self, day: dt.date) -> str:
        """READY, or PROCESSING for the last two days (today and yesterday, UTC)."""
        return "PROCESSING" if (self.today - day).days < len(PROCESSING_SHARES) else "READY"

    def user_account_day(self, day: dt.date | str) -> dict[str, int] | None:
        """Return the user account's organic counts for a day (None after today).

        PROCESSING days show part of the final figure, so they change on a later run.
        """
        day = parse_day(day)
        if day > self.today:
            return None
        username = str(self.data.user_account.get("username") or "user")
        u = _uniforms(self.seed, "user", username, day.isoformat())
        impressions = int(4_000 + 40_000 * u[0])
        counts = {
            "IMPRESSION": impressions,
            "SAVE": int(impressions * (0.002 + 0.01 * u[1])),
            "PIN_CLICK": int(impressions * (0.005 + 0.02 * u[2])),
            "OUTBOUND_CLICK": int(impressions * (0.002 + 0.01 * u[3])),
        }
        counts["ENGAGEMENT"] = counts["SAVE"] + counts["PIN_CLICK"] + counts["OUTBOUND_CLICK"] + int(impressions * 0.003 * u[4])
        return self._processing_view(day, counts)

    def split_counts(self, split_field: str, counts: Mapping[str, int], *key: object) -> dict[str, dict[str, int]]:
        """Split organic counts exactly over the groups of a split field.

        `key` names what is split (for example "pin", pin id, date) so that each entity-day
        gets its own shares.
        """
        groups = SPLIT_VALUES[split_field]
        draws = _uniforms(self.seed, "split", split_field, *key)
        weights = [0.1 + draw for draw in draws[: len(groups)]]
        result: dict[str, dict[str, int]] = {group: {} for group in groups}
        for metric, value in counts.items():
            for group, part in zip(groups, split_exactly(value, weights)):
                result[group][metric] = part
        return result

    def is_pin_active(self, pin_id: str) -> bool:
        """Tell whether a pin has any organic activity (most pins have none)."""
        forced = self._pin_activity.get(pin_id)
        if forced is not None:
            return forced
        return _uniforms(self.seed, "pin-active", pin_id)[0] < self.active_pin_share

    def active_pin_ids(self) -> list[str]:
        """Return the ids of the pins with organic activity, in data order."""
        return [pin_id for pin_id in list(self.data.pins) if self.is_pin_active(pin_id)]

    def is_video_pin(self, pin_id: str) -> bool:
        pin = self.data.pins.get(pin_id, {})
        media = pin.get("media") or {}
        media_type = str(media.get("media_type") or "") if isinstance(media, Mapping) else ""
        return media_type.lower() == "video" or "VIDEO" in str(pin.get("creative_type") or "")

    def pin_created_day(self, pin_id: str) -> dt.date | None:
        created_at = self.data.pins.get(pin_id, {}).get("created_at")
        if not created_at:
            return None
        try:
            return dt.datetime.fromisoformat(str(created_at).replace("Z", "+00:00")).date()
        except ValueError:
            return None

    def pin_day(self, pin_id: str, day: dt.date | str) -> tuple[str, dict[str, int]] | None:
        """Return (data_status, counts) of a pin for a day, or None after today.

        Days before the pin was created are BEFORE_PIN_CREATED with no metrics. An
        inactive pin, or an active pin on a quiet day, has all counts zero.
        """
        day = parse_day(day)
        if day > self.today:
            return None
        created = self.pin_created_day(pin_id)
        if created is not None and day < created:
            return "BEFORE_PIN_CREATED", {}
        metrics = list(PIN_COUNTS) + (list(PIN_VIDEO_COUNTS) if self.is_video_pin(pin_id) else [])
        counts = dict.fromkeys(metrics, 0)
        u = _uniforms(self.seed, "pin-day", pin_id, day.isoformat())
        if self.is_pin_active(pin_id) and u[0] < 0.7:
            self._add_pin_activity(counts, u, self.is_video_pin(pin_id))
        return self.data_status(day), self._processing_view(day, counts)

    def pin_series(self, pin_id: str, days: Sequence[dt.date]) -> list[tuple[str, dict[str, int]] | None]:
        """Return `pin_day` of one pin for each of `days`, in that order.

        The pin's creation day, media type and activity are read once for all the days,
        and an inactive pin's days need no draws because their counts are all zero.
        """
        created = self.pin_created_day(pin_id)
        is_video = self.is_video_pin(pin_id)
        is_active = self.is_pin_active(pin_id)
        metrics = list(PIN_COUNTS) + (list(PIN_VIDEO_COUNTS) if is_video else [])
        result: list[tuple[str, dict[str, int]] | None] = []
        for day in days:
            if day > self.today:
                result.append(None)
                continue
            if created is not None and day < created:
                result.append(("BEFORE_PIN_CREATED", {}))
                continue
            counts = dict.fromkeys(metrics, 0)
            if is_active:
                u = _uniforms(self.seed, "pin-day", pin_id, day.isoformat())
                if u[0] < 0.7:
                    self._add_pin_activity(counts, u, is_video)
            result.append((self.data_status(day), self._processing_view(day, counts)))
        return result

    @staticmethod
    def _add_pin_activity(counts: dict[str, int], u: Sequence[float], is_video: bool) -> None:
        impressions = int(20 + 3_000 * u[1] * u[1])
        counts.update(
            IMPRESSION=impressions,
            SAVE=int(impressions * 0.02 * u[2]),
            PIN_CLICK=int(impressions * 0.04 * u[3]),
            OUTBOUND_CLICK=int(impressions * 0.015 * u[4]),
            USER_FOLLOW=int(impressions * 0.002 * u[5]),
            PROFILE_VISIT=int(impressions * 0.006 * u[6]),
        )
        if is_video:
            starts = int(impressions * (0.2 + 0.3 * u[7]))
            counts.update(
                VIDEO_START=starts,
                VIDEO_MRC_VIEW=int(starts * 0.7),
                VIDEO_10S_VIEW=int(starts * 0.4),
                QUARTILE_95_PERCENT_VIEW=int(starts * 0.15),
                VIDEO_V50_WATCH_TIME=int(starts * (800 + 4_000 * u[8])),
            )

    def pin_lifetime(self, pin_id: str) -> dict[str, int]:
        """Return a pin's lifetime comment and reaction counts."""
        if not self.is_pin_active(pin_id):
            return dict.fromkeys(PIN_LIFETIME_METRICS, 0)
        u = _uniforms(self.seed, "pin-lifetime", pin_id)
        return {"TOTAL_COMMENTS": int(40 * u[0]), "TOTAL_REACTIONS": int(200 * u[1])}

    def _processing_view(self, day: dt.date, counts: dict[str, int]) -> dict[str, int]:
        age = (self.today - day).days
        if age >= len(PROCESSING_SHARES):
            return counts
        share = PROCESSING_SHARES[age]
        return {metric: int(value * share) for metric, value in counts.items()}
