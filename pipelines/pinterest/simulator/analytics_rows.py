"""Sums of entity-day metrics into the rows of Pinterest's ads analytics responses.

Synchronous endpoints and async reports share this: both pick the ads (or keywords, or
product group promotions) under each requested entity, sum their day figures into date
buckets, and turn the sums into flat rows with upper-case keys.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from starlette.requests import Request

from .analytics_params import MetricsQuery
from .metrics import TARGETING_VALUES, MetricsModel, add_into, additive_columns_for, derive_metrics
from .responses import ApiError

# Row keys naming the entity of each level. Ids are strings, and DATE is YYYY-MM-DD.
ID_KEYS = {
    "AD_ACCOUNT": "AD_ACCOUNT_ID",
    "CAMPAIGN": "CAMPAIGN_ID",
    "AD_GROUP": "AD_GROUP_ID",
    "AD": "AD_ID",
    "PRODUCT_GROUP": "PRODUCT_GROUP_ID",
    "KEYWORD": "KEYWORD_ID",
    "PIN": "PIN_ID",
}


@dataclasses.dataclass(frozen=True)
class Source:
    """One entity with metrics of its own: an ad, a keyword or a product group promotion."""

    kind: str
    entity_id: str
    video: bool = False


# Splits one source-day's values into targeting values: {targeting value: values}.
Splitter = Callable[[Source, dt.date, dict[str, int]], Mapping[str, dict[str, int]]]

# (bucket date or None for TOTAL, hour or None, targeting value or None)
BucketKey = tuple[dt.date | None, int | None, str | None]


def bucket_date(day: dt.date, query: MetricsQuery) -> dt.date | None:
    """Return the date a day's figures are reported under for the query's granularity.

    NOTE: for WEEK and MONTH the simulator labels a bucket with its first day (weeks
    start on Monday), moved up to start_date when the range starts inside the bucket;
    Pinterest's own labelling is not documented.
    """
    if query.granularity == "TOTAL":
        return None
    if query.granularity == "WEEK":
        return max(day - dt.timedelta(days=day.weekday()), query.start)
    if query.granularity == "MONTH":
        return max(day.replace(day=1), query.start)
    return day


def query_days(query: MetricsQuery, today: dt.date) -> list[dt.date]:
    last = min(query.end, today)
    return [query.start + dt.timedelta(days=offset) for offset in range((last - query.start).days + 1)]


def _hour_in_range(day: dt.date, hour: int, query: MetricsQuery) -> bool:
    if query.start_hour is not None and day == query.start and hour < query.start_hour:
        return False
    if query.end_hour is not None and day == query.end and hour >= query.end_hour:
        return False
    return True


def sum_metrics(
    model: MetricsModel,
    sources: Sequence[Source],
    query: MetricsQuery,
    splitter: Splitter | None = None,
    extra_columns: Iterable[str] = (),
) -> dict[BucketKey, dict[str, int]]:
    """Sum the sources' additive figures per bucket (and targeting value).

    A bucket is present when at least one source had activity in it, even if every
    requested column is zero there.

    Ads' day figures and daily targeting sums are kept across requests (see
    `MetricsModel.cached_series` and `sum_targeting_days`). Other sums are not, so their
    cost still grows with sources times days.
    """
    return sum_metrics_split(model, sources, query, [splitter], extra_columns)[0]


def sum_metrics_split(
    model: MetricsModel,
    sources: Sequence[Source],
    query: MetricsQuery,
    splitters: Sequence[Splitter | None],
    extra_columns: Iterable[str] = (),
) -> list[dict[BucketKey, dict[str, int]]]:
    """Return `sum_metrics` for each splitter, computing each source-day's figures once."""
    needed = additive_columns_for((*query.columns, *extra_columns))
    hourly = query.granularity == "HOUR"
    days = query_days(query, model.today)
    labels = [bucket_date(day, query) for day in days]
    if not hourly and all(splitter is None for splitter in splitters):
        table = sum_dense(model, sources, query, needed, days, labels)
        return [table if index == 0 else {key: dict(values) for key, values in table.items()} for index in range(len(splitters))]
    if not hourly and splitters and all(isinstance(splitter, TargetingSplitter) for splitter in splitters):
        return sum_targeting_days(model, sources, query, splitters, needed, days, labels)
    return _sum_tables(model, sources, query, splitters, needed, days, labels)


def _sum_tables(
    model: MetricsModel,
    sources: Sequence[Source],
    query: MetricsQuery,
    splitters: Sequence[Splitter | None],
    needed: frozenset[str],
    days: list[dt.date],
    labels: list[dt.date | None],
) -> list[dict[BucketKey, dict[str, int]]]:
    hourly = query.granularity == "HOUR"
    tables: list[dict[BucketKey, dict[str, int]]] = [{} for _ in splitters]
    for source in sources:
        series = model.cached_series(source.kind, source.entity_id, days, needed, query.settings, source.video, hourly)
        for day, label, values in zip(days, labels, series):
            if values is None:
                continue
            for table, splitter in zip(tables, splitters):
                if not hourly and isinstance(splitter, TargetingSplitter):
                    splitter.add_into_table(table, label, source, day, values)
                    continue
                parts: Mapping[str | None, dict[str, int]] = {None: values} if splitter is None else splitter(source, day, values)
                for split_key, split_values in parts.items():
                    if not hourly:
                        bucket = table.get((label, None, split_key))
                        if bucket is None:
                            table[label, None, split_key] = dict(split_values)
                        else:
                            add_into(bucket, split_values)
                        continue
                    for hour, hour_values in enumerate(model.hourly_split(source.kind, source.entity_id, day, split_values)):
                        if hour_values and _hour_in_range(day, hour, query):
                            add_into(table.setdefault((label, hour, split_key), {}), hour_values)
    return tables


def sum_targeting_days(
    model: MetricsModel,
    sources: Sequence[Source],
    query: MetricsQuery,
    splitters: Sequence[Splitter | None],
    needed: frozenset[str],
    days: list[dt.date],
    labels: list[dt.date | None],
) -> list[dict[BucketKey, dict[str, int]]]:
    """Return the daily-or-coarser tables of TargetingSplitters, from daily sums kept across requests.

    Each day's split sums are computed once per set of sources, targeting values,
    columns and settings (see `MetricsModel.targeting_days`), then added into the
    query's buckets. A request for the same sums waits for one already computing them.
    So a client that timed out and retried gets the finished sums instead of starting
    over, and a later window reuses the days it shares with an earlier one.
    """
    key = (
        tuple(sources),
        tuple((splitter.targeting_type, tuple(splitter.targets)) for splitter in splitters if isinstance(splitter, TargetingSplitter)),
        needed,
        query.settings,
    )
    entry = model.targeting_days(key)
    with entry.lock:
        missing = [day for day in days if day not in entry.days]
        if missing:
            computed = _sum_tables(model, sources, query, splitters, needed, missing, list(missing))
            for day in missing:
                entry.days[day] = [{} for _ in splitters]
            for index, table in enumerate(computed):
                for (day, _, target), sums in table.items():
                    entry.days[day][index][target] = sums
        day_tables = [entry.days[day] for day in days]
    tables: list[dict[BucketKey, dict[str, int]]] = [{} for _ in splitters]
    for label, per_splitter in zip(labels, day_tables):
        for table, targets in zip(tables, per_splitter):
            for target, sums in targets.items():
                bucket = table.get((label, None, target))
                if bucket is None:
                    table[label, None, target] = dict(sums)
                else:
                    add_into(bucket, sums)
    return tables


def sum_dense(
    model: MetricsModel,
    sources: Sequence[Source],
    query: MetricsQuery,
    needed: frozenset[str],
    days: list[dt.date],
    labels: list[dt.date | None],
) -> dict[BucketKey, dict[str, int]]:
    """Return the unsplit daily-or-coarser `sum_metrics` table, adding whole rows of values at a time.

    Its buckets list every needed column, zeros included, which derive_metrics and the
    report filters read the same as a missing column.
    """
    order = tuple(sorted(needed))
    sums: dict[dt.date | None, list[int]] = {}
    for source in sources:
        rows = model.dense_series(source.kind, source.entity_id, days, needed, query.settings, source.video)
        for label, row in zip(labels, rows):
            if row is None:
                continue
            total = sums.get(label)
            sums[label] = list(row) if total is None else [*map(operator.add, total, row)]
    return {(label, None, None): dict(zip(order, total)) for label, total in sums.items()}


def sorted_buckets(table: Mapping[BucketKey, dict[str, int]]) -> list[tuple[BucketKey, dict[str, int]]]:
    return sorted(table.items(), key=lambda item: (item[0][0] or dt.date.min, item[0][1] or 0, item[0][2] or ""))


def metric_row(
    key: BucketKey,
    id_key: str | None,
    entity_id: str | None,
    attributes: Mapping[str, Any],
    columns: Sequence[str],
    values: Mapping[str, int],
    metrics: Mapping[str, int | float] | None = None,
) -> dict[str, Any]:
    """Build one flat row: DATE (and HOUR), the entity id, then the requested columns.

    `metrics` is `derive_metrics(columns, values)` when the caller has it already.
    NOTE: hourly rows carry an HOUR key (0 to 23) beside DATE; how Pinterest labels
    hourly rows is not documented.
    """
    label, hour, _ = key
    row: dict[str, Any] = {}
    if label is not None:
        row["DATE"] = label.isoformat()
    if hour is not None:
        row["HOUR"] = hour
    if id_key is not None and entity_id is not None:
        row[id_key] = entity_id
    if metrics is None:
        metrics = derive_metrics(columns, values)
    for column in columns:
        if column in metrics:
            row[column] = metrics[column]
        elif column in attributes and column not in row:
            value = attributes[column]
            row[column] = str(value) if column.endswith("_ID") else value
    return row


# ----- entity selection ----------------------------------------------------------------


def require_ad_account(sim: Any, request: Request) -> str:
    """Return the path's ad account id, or raise 404 for an account the data lacks."""
    ad_account_id = request.path_params["ad_account_id"]
    if ad_account_id not in sim.data.ad_accounts:
        raise ApiError(404, 404, f"Ad account {ad_account_id} not found.")
    return ad_account_id



def ad_sources(model: MetricsModel, ad_ids: Iterable[str]) -> list[Source]:
    return [Source("ad", ad_id, model.is_video_ad(ad_id)) for ad_id in ad_ids]


def keyword_sources(
    model: MetricsModel,
    ad_account_id: str,
    campaign_ids: Iterable[str] | None = None,
    ad_group_ids: Iterable[str] | None = None,
) -> list[Source]:
    """Return the account's keywords (archived included), narrowed to campaigns or ad groups."""
    campaigns = set(campaign_ids) if campaign_ids is not None else None
    ad_groups = set(ad_group_ids) if ad_group_ids is not None else None
    sources = []
    for keyword_id, keyword in list(model.data.keywords.items()):
        account_id, campaign_id, ad_group_id = model.keyword_parents(keyword)
        if account_id != ad_account_id:
            continue
        if campaigns is not None and campaign_id not in campaigns:
            continue
        if ad_groups is not None and ad_group_id not in ad_groups:
            continue
        sources.append(Source("keyword", keyword_id))
    return sources


def keyword_splitter(model: MetricsModel) -> Splitter:
    def split(source: Source, day: dt.date, values: dict[str, int]) -> dict[str, dict[str, int]]:
        keyword = model.data.keywords.get(source.entity_id, {})
        return {str(keyword.get("value") or source.entity_id): values}

    return split


@dataclasses.dataclass(frozen=True)
class TargetingSplitter:
    """A splitter over fixed targeting values, which `sum_metrics_split` adds into tables directly."""

    model: MetricsModel
    targeting_type: str
    targets: Sequence[str]

    def __call__(self, source: Source, day: dt.date, values: dict[str, int]) -> dict[str, dict[str, int]]:
        return self.model.targeting_split(source.kind, source.entity_id, day, self.targeting_type, values, self.targets)

    def add_into_table(self, table: dict[BucketKey, dict[str, int]], label: dt.date | None, source: Source, day: dt.date, values: dict[str, int]) -> None:
        self.model.add_targeting_split(table, label, source.kind, source.entity_id, day, self.targeting_type, values, self.targets)


def targeting_splitter(model: MetricsModel, targeting_type: str, ad_account_id: str) -> Splitter | None:
    """Return how to split ad figures by a targeting type, or None when it is not modelled.

    KEYWORD is not split from ads: its rows come from the keywords' own metrics.
    NOTE: AUDIENCE_MULTIPLIER, CREATIVE_ENHANCEMENTS, QUIZ_RESULT, MEDIA_TYPE and
    LOCAL_ADS_STORE_CODE are accepted but return no rows.
    """
    if targeting_type in TARGETING_VALUES:
        return TargetingSplitter(model, targeting_type, TARGETING_VALUES[targeting_type])
    if targeting_type == "AUDIENCE_INCLUDE":
        audience_ids = [
            audience_id
            for audience_id, audience in list(model.data.audiences.items())
            if audience.get("ad_account_id") == ad_account_id
        ]
        return TargetingSplitter(model, targeting_type, audience_ids)
    if targeting_type == "CREATIVE_TYPE":
        def split(source: Source, day: dt.date, values: dict[str, int]) -> dict[str, dict[str, int]]:
            objects = model.data.ads if source.kind == "ad" else model.data.product_group_promotions
            return {str(objects.get(source.entity_id, {}).get("creative_type") or "REGULAR"): values}

        return split
    return None
