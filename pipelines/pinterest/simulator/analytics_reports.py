"""Asynchronous ads reports: `POST /reports` validates and builds a report, `GET /reports`
polls it, and `/_downloads/{token}.json` serves the file without a bearer token.

The report is built when it is created, so overrides made later do not show in it.
Polling a new report returns IN_PROGRESS `report_polls_in_progress` times, then
FINISHED with a link that expires `download_ttl_seconds` after that poll. The report
itself expires `report_ttl_seconds` after creation (Pinterest: five minutes and an hour).
JSON files are objects keyed by entity id, each a list of rows, without zero-filled
metrics; CSV files zero-fill. Both leave out rows whose metrics are all zero.

Simulator assumptions (not documented by Pinterest):
- Rows name their entity with the sync id keys (AD_ACCOUNT_ID, CAMPAIGN_ID,
  AD_GROUP_ID, AD_ID, KEYWORD_ID, PRODUCT_GROUP_ID); targeting rows add
  TARGETING_TYPE and TARGETING_VALUE.
- Ids are strings unless `MetricsModel.report_ids_as_numbers` is set.
- A `*_TARGETING` level requires `targeting_types`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import secrets
import threading
import time
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from .analytics_columns import (
    AD_GROUP_SUMMARY_STATUSES,
    AD_SUMMARY_STATUSES,
    ASYNC_COLUMNS,
    ATTRIBUTION_TYPES,
    CAMPAIGN_SUMMARY_STATUSES,
    METRICS_FILTER_COLUMNS,
    METRICS_FILTER_OPERATORS,
    OBJECTIVE_TYPES,
    PRODUCT_GROUP_SUMMARY_STATUSES,
    REPORT_FORMATS,
    REPORT_LEVELS,
    REPORT_SORTS,
    REPORT_TARGETING_TYPES,
)
from .analytics_params import (
    MAX_REPORT_IDS,
    PRODUCT_ITEM_DAYS_BACK,
    PRODUCT_ITEM_RANGE_DAYS,
    REPORT_DAYS_BACK,
    REPORT_RANGE_DAYS,
    MetricsQuery,
    bool_value,
    enum_list,
    enum_value,
    id_values,
    int_value,
    invalid,
    metrics_query,
    require,
)
from .analytics_rows import (
    ID_KEYS,
    Source,
    ad_sources,
    keyword_sources,
    keyword_splitter,
    metric_row,
    require_ad_account,
    sorted_buckets,
    sum_metrics,
    targeting_splitter,
)
from .metrics import DERIVED_COLUMNS, MetricsModel, derive_metrics, is_additive_column

logger = logging.getLogger(__name__)

DOWNLOAD_PREFIX = "/_downloads"

# Report level (targeting suffix removed) -> metrics level of the rows.
REPORT_LEVEL_ENTITIES = {
    "ADVERTISER": "AD_ACCOUNT",
    "CAMPAIGN": "CAMPAIGN",
    "AD_GROUP": "AD_GROUP",
    "PIN_PROMOTION": "AD",
    "KEYWORD": "KEYWORD",
    "PRODUCT_GROUP": "PRODUCT_GROUP",
    "PRODUCT_ITEM": "PRODUCT_ITEM",
}
ID_FILTERS = ("campaign_ids", "ad_group_ids", "ad_ids", "product_group_ids", "product_item_ids")
STATUS_FILTERS = {
    "campaign_statuses": CAMPAIGN_SUMMARY_STATUSES,
    "ad_group_statuses": AD_GROUP_SUMMARY_STATUSES,
    "ad_statuses": AD_SUMMARY_STATUSES,
    "product_group_statuses": PRODUCT_GROUP_SUMMARY_STATUSES,
}
MAX_STATUS_VALUES = 6
MAX_OBJECTIVE_TYPES = 7
MAX_REPORT_TARGETING_TYPES = 5
# Columns about ads, which PRODUCT_ITEM reports reject.
AD_COLUMNS = frozenset(
    column for column in ASYNC_COLUMNS if column.startswith("PIN_PROMOTION") or column in ("AD_ID", "AD_NAME", "AD_STATUS", "PIN_ID")
)
# Summary status of an entity that carries only `status`.
CAMPAIGN_SUMMARY_OF_STATUS = {"ACTIVE": "RUNNING", "PAUSED": "PAUSED", "ARCHIVED": "ARCHIVED"}
AD_SUMMARY_OF_STATUS = {"ACTIVE": "APPROVED", "PAUSED": "PAUSED", "ARCHIVED": "ARCHIVED"}


@dataclasses.dataclass(frozen=True)
class ReportSpec:
    """A validated report request."""

    level: str
    query: MetricsQuery
    filters: dict[str, list[str]]
    targeting_types: tuple[str, ...]
    metrics_filters: tuple[tuple[str, str, float], ...]
    report_format: str
    primary_sort: str


@dataclasses.dataclass
class ReportJob:
    """A created report and its polling state; `created` and `link_issued` are monotonic seconds."""

    token: str
    ad_account_id: str
    created: float
    content: bytes
    report_format: str
    failed: bool
    polls: int = 0
    link_issued: float | None = None


def parse_report_spec(body: Any, today: Any) -> ReportSpec:
    """Validate a report request body like the API does, naming the offending field."""
    if not isinstance(body, Mapping):
        raise invalid("Invalid request body: send a JSON object with level, columns, start_date, end_date and granularity.")
    get = body.get
    level = enum_value("level", require(get, "level"), REPORT_LEVELS)
    columns = require(get, "columns")
    if not isinstance(columns, list) or not all(isinstance(column, str) for column in columns):
        raise invalid("Invalid columns: send a list of column names.")
    product_item = level.startswith("PRODUCT_ITEM")
    days_back, range_days = (PRODUCT_ITEM_DAYS_BACK, PRODUCT_ITEM_RANGE_DAYS) if product_item else (REPORT_DAYS_BACK, REPORT_RANGE_DAYS)
    query = metrics_query(get, columns, ASYNC_COLUMNS, today, days_back, range_days, "product item reports" if product_item else "async reports")
    query = dataclasses.replace(query, start_hour=hour_value(get, "start_hour", query), end_hour=hour_value(get, "end_hour", query))

    filters: dict[str, list[str]] = {}
    for name in ID_FILTERS:
        values = get(name)
        if values is not None:
            filters[name] = id_values(name, list_value(name, values), MAX_REPORT_IDS)
    for name, allowed in STATUS_FILTERS.items():
        values = get(name)
        if values is not None:
            filters[name] = enum_list(name, list_value(name, values, MAX_STATUS_VALUES), allowed)
    objectives = get("campaign_objective_types")
    if objectives is not None:
        filters["campaign_objective_types"] = enum_list(
            "campaign_objective_types", list_value("campaign_objective_types", objectives, MAX_OBJECTIVE_TYPES), OBJECTIVE_TYPES
        )
    if product_item:
        rejected = [name for name in ("ad_ids", "ad_statuses") if name in filters] + [c for c in query.columns if c in AD_COLUMNS]
        if rejected:
            raise invalid(f"Invalid parameters for a {level} report: {', '.join(rejected)} cannot be used at product item level.")

    targeting_types: list[str] = []
    if get("targeting_types") is not None:
        values = list_value("targeting_types", get("targeting_types"), MAX_REPORT_TARGETING_TYPES)
        targeting_types = enum_list("targeting_types", values, REPORT_TARGETING_TYPES)
        if not level.endswith("_TARGETING"):
            raise invalid(f"Invalid targeting_types: level {level} has no targeting breakdown; use a *_TARGETING level.")
    if level.endswith("_TARGETING") and not targeting_types:
        raise invalid(f"Missing required parameter: targeting_types (level {level} needs it).")
    if get("attribution_types") is not None:
        enum_list("attribution_types", list_value("attribution_types", get("attribution_types"), 2), ATTRIBUTION_TYPES)
    bool_value("combine_targeting_types", get("combine_targeting_types"))

    return ReportSpec(
        level=level,
        query=query,
        filters=filters,
        targeting_types=tuple(dict.fromkeys(targeting_types)),
        metrics_filters=metrics_filters(get("metrics_filters")),
        report_format=enum_value("report_format", get("report_format"), REPORT_FORMATS, "JSON"),
        primary_sort=enum_value("primary_sort", get("primary_sort"), REPORT_SORTS, "BY_ID"),
    )


def list_value(name: str, value: Any, max_items: int | None = None) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise invalid(f"Invalid {name}: send a non-empty list.")
    if max_items is not None and len(value) > max_items:
        raise invalid(f"Invalid {name}: {len(value)} values given, at most {max_items} are allowed.")
    return value


def hour_value(get: Any, name: str, query: MetricsQuery) -> int | None:
    hour = int_value(name, get(name))
    if hour is None:
        return None
    if query.granularity != "HOUR":
        raise invalid(f"Invalid {name}: it is only allowed for hourly reports (granularity HOUR).")
    if not 0 <= hour <= 23:
        raise invalid(f"Invalid {name} {hour}: use an hour from 0 to 23.")
    return hour


def metrics_filters(value: Any) -> tuple[tuple[str, str, float], ...]:
    if value is None:
        return ()
    result = []
    for item in list_value("metrics_filters", value):
        if not isinstance(item, Mapping):
            raise invalid("Invalid metrics_filters: each filter is an object with field, operator and values.")
        field = enum_value("metrics_filters.field", require(item.get, "field"), METRICS_FILTER_COLUMNS)
        operator = enum_value("metrics_filters.operator", require(item.get, "operator"), METRICS_FILTER_OPERATORS)
        values = list_value("metrics_filters.values", item.get("values"))
        if not all(isinstance(number, (int, float)) and not isinstance(number, bool) for number in values):
            raise invalid("Invalid metrics_filters.values: send a list of numbers.")
        result.append((field, operator, float(values[0])))
    return tuple(result)


# ----- report contents ------------------------------------------------------------------


def report_entities(model: MetricsModel, ad_account_id: str, spec: ReportSpec) -> list[tuple[str, list[Source]]]:
    """Return (entity id, sources) for every entity of the report's level, filters applied."""
    base_level = REPORT_LEVEL_ENTITIES[spec.level.removesuffix("_TARGETING")]
    filters = spec.filters
    if base_level == "PRODUCT_ITEM":
        # NOTE: the simulator has no product items, so product item reports are empty.
        return []
    if base_level == "KEYWORD":
        sources = keyword_sources(model, ad_account_id, filters.get("campaign_ids"), filters.get("ad_group_ids"))
        return [(source.entity_id, [source]) for source in sources]
    if base_level == "PRODUCT_GROUP":
        return [(promotion_id, [Source("product_group", promotion_id)]) for promotion_id in report_promotions(model, ad_account_id, filters)]
    position = ("AD_ACCOUNT", "CAMPAIGN", "AD_GROUP", "AD").index(base_level)
    groups: dict[str, list[str]] = {}
    for ad_id in report_ads(model, ad_account_id, filters):
        parents = model.ad_parents(model.data.ads[ad_id])
        key = (ad_account_id, parents[1], parents[2], ad_id)[position]
        if key is not None:
            groups.setdefault(key, []).append(ad_id)
    return [(entity_id, ad_sources(model, ad_ids)) for entity_id, ad_ids in groups.items()]


def report_ads(model: MetricsModel, ad_account_id: str, filters: Mapping[str, list[str]]) -> list[str]:
    """Return the account's ads (every status) that pass the report's filters."""
    selected = []
    for ad_id, ad in list(model.data.ads.items()):
        account_id, campaign_id, ad_group_id = model.ad_parents(ad)
        if account_id != ad_account_id:
            continue
        campaign = model.data.campaigns.get(campaign_id, {})
        ad_group = model.data.ad_groups.get(ad_group_id, {})
        checks = (
            ("campaign_ids", campaign_id),
            ("ad_group_ids", ad_group_id),
            ("ad_ids", ad_id),
            ("campaign_statuses", summary_status(campaign, CAMPAIGN_SUMMARY_OF_STATUS)),
            ("ad_group_statuses", summary_status(ad_group, CAMPAIGN_SUMMARY_OF_STATUS)),
            ("ad_statuses", summary_status(ad, AD_SUMMARY_OF_STATUS)),
            ("campaign_objective_types", campaign.get("objective_type")),
        )
        if all(name not in filters or value in filters[name] for name, value in checks):
            selected.append(ad_id)
    return selected


def report_promotions(model: MetricsModel, ad_account_id: str, filters: Mapping[str, list[str]]) -> list[str]:
    selected = []
    for promotion_id, promotion in list(model.data.product_group_promotions.items()):
        account_id, campaign_id, ad_group_id = model.product_group_parents(promotion)
        if account_id != ad_account_id:
            continue
        product_group_ids = filters.get("product_group_ids")
        if product_group_ids is not None and promotion_id not in product_group_ids and promotion.get("catalog_product_group_id") not in product_group_ids:
            continue
        status = "EXCLUDED" if promotion.get("included") is False else CAMPAIGN_SUMMARY_OF_STATUS.get(str(promotion.get("status")), "RUNNING")
        checks = (("campaign_ids", campaign_id), ("ad_group_ids", ad_group_id), ("product_group_statuses", status))
        if all(name not in filters or value in filters[name] for name, value in checks):
            selected.append(promotion_id)
    return selected


def summary_status(entity: Mapping[str, Any], of_status: Mapping[str, str]) -> str | None:
    return entity.get("summary_status") or of_status.get(str(entity.get("status")))


def passes_metrics_filters(values: Mapping[str, int], spec: ReportSpec) -> bool:
    for field, operator, threshold in spec.metrics_filters:
        if field == "SPEND_IN_DOLLAR":
            value = values.get("SPEND_IN_MICRO_DOLLAR", 0) / 1_000_000
        else:
            value = values.get("TOTAL_IMPRESSION", 0)
        if operator == "LESS_THAN" and not value < threshold:
            return False
        if operator == "GREATER_THAN" and not value > threshold:
            return False
    return True


def report_rows(model: MetricsModel, ad_account_id: str, spec: ReportSpec) -> dict[str, list[dict[str, Any]]]:
    """Return the report's rows keyed by entity id, all-zero rows left out."""
    base_level = REPORT_LEVEL_ENTITIES[spec.level.removesuffix("_TARGETING")]
    id_key = ID_KEYS.get(base_level, "PRODUCT_ITEM_ID")
    filter_columns = ("SPEND_IN_MICRO_DOLLAR", "TOTAL_IMPRESSION") if spec.metrics_filters else ()
    result: dict[str, list[dict[str, Any]]] = {}
    for entity_id, sources in report_entities(model, ad_account_id, spec):
        attributes = model.entity_attributes(base_level, entity_id)
        breakdowns: list[tuple[str | None, dict[Any, dict[str, int]]]] = []
        if not spec.targeting_types:
            breakdowns.append((None, sum_metrics(model, sources, spec.query, extra_columns=filter_columns)))
        for targeting_type in spec.targeting_types:
            breakdowns.append((targeting_type, targeting_table(model, ad_account_id, base_level, sources, targeting_type, spec, filter_columns)))
        rows = []
        for targeting_type, table in breakdowns:
            for key, values in sorted_buckets(table):
                metrics = derive_metrics(spec.query.columns, values)
                if not metrics or not passes_metrics_filters(values, spec):
                    continue
                row = metric_row(key, id_key, entity_id, attributes, spec.query.columns, values, metrics)
                if targeting_type is not None:
                    row = {"TARGETING_TYPE": targeting_type, "TARGETING_VALUE": key[2], **row}
                rows.append(row)
        if rows:
            result[entity_id] = rows
    return result


def targeting_table(
    model: MetricsModel,
    ad_account_id: str,
    base_level: str,
    sources: list[Source],
    targeting_type: str,
    spec: ReportSpec,
    extra_columns: tuple[str, ...],
) -> dict[Any, dict[str, int]]:
    if targeting_type == "KEYWORD":
        if base_level == "KEYWORD":
            return sum_metrics(model, sources, spec.query, keyword_splitter(model), extra_columns)
        if base_level not in ("AD_ACCOUNT", "CAMPAIGN", "AD_GROUP"):
            return {}
        parents = [model.ad_parents(model.data.ads[source.entity_id]) for source in sources if source.kind == "ad"]
        campaign_ids = sorted({parent[1] for parent in parents if parent[1]}) if base_level == "CAMPAIGN" else None
        ad_group_ids = sorted({parent[2] for parent in parents if parent[2]}) if base_level == "AD_GROUP" else None
        keywords = keyword_sources(model, ad_account_id, campaign_ids, ad_group_ids)
        return sum_metrics(model, keywords, spec.query, keyword_splitter(model), extra_columns)
    splitter = targeting_splitter(model, targeting_type, ad_account_id)
    if splitter is None:
        return {}
    return sum_metrics(model, sources, spec.query, splitter, extra_columns)


def numeric_ids(rows: dict[str, list[dict[str, Any]]]) -> None:
    for entity_rows in rows.values():
        for row in entity_rows:
            for key, value in row.items():
                if key.endswith("_ID") and isinstance(value, str) and value.isdigit():
                    row[key] = int(value)


def render_json(rows: dict[str, list[dict[str, Any]]], spec: ReportSpec) -> bytes:
    if spec.primary_sort == "BY_DATE" and spec.query.granularity != "TOTAL":
        by_date: dict[str, list[dict[str, Any]]] = {}
        for entity_rows in rows.values():
            for row in entity_rows:
                by_date.setdefault(row["DATE"], []).append(row)
        return json.dumps(dict(sorted(by_date.items()))).encode()
    return json.dumps(rows).encode()


def render_csv(rows: dict[str, list[dict[str, Any]]], spec: ReportSpec) -> bytes:
    """Write the rows as CSV, zero-filling metrics.

    NOTE: the header layout (DATE, HOUR, targeting keys, id key, then the requested
    columns) is the simulator's; Pinterest's CSV layout is not documented.
    """
    base_level = REPORT_LEVEL_ENTITIES[spec.level.removesuffix("_TARGETING")]
    header: list[str] = []
    if spec.query.granularity != "TOTAL":
        header.append("DATE")
    if spec.query.granularity == "HOUR":
        header.append("HOUR")
    if spec.targeting_types:
        header += ["TARGETING_TYPE", "TARGETING_VALUE"]
    header.append(ID_KEYS.get(base_level, "PRODUCT_ITEM_ID"))
    header += [column for column in spec.query.columns if column not in header]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    metric_columns = [column for column in header if is_additive_column(column) or column in DERIVED_COLUMNS]
    for entity_rows in rows.values():
        for row in entity_rows:
            writer.writerow({**dict.fromkeys(metric_columns, 0), **row})
    return buffer.getvalue().encode()


# ----- routes ---------------------------------------------------------------------------


class Reports:
    """Create, poll and download handlers sharing `sim.metrics.reports`."""

    def __init__(self, sim: Any) -> None:
        self.sim = sim
        self.lock = threading.Lock()

    @property
    def model(self) -> MetricsModel:
        return self.sim.metrics

    def create(self, request: Request, body: bytes) -> dict[str, Any]:
        ad_account_id = require_ad_account(self.sim, request)
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            raise invalid("Invalid request body: it is not JSON. Send the report parameters as a JSON object.") from None
        spec = parse_report_spec(payload, self.model.today)
        rows = report_rows(self.model, ad_account_id, spec)
        if self.model.report_ids_as_numbers:
            numeric_ids(rows)
        content = render_csv(rows, spec) if spec.report_format == "CSV" else render_json(rows, spec)
        token = secrets.token_hex(16)
        job = ReportJob(token, ad_account_id, time.monotonic(), content, spec.report_format, self.model.take_report_failure())
        with self.lock:
            self.model.reports[token] = job
        logger.info("created %s report %s for ad account %s (%d bytes)", spec.level, token, ad_account_id, len(content))
        return {"report_status": "IN_PROGRESS", "token": token, "message": None}

    def poll(self, request: Request, body: bytes) -> dict[str, Any]:
        ad_account_id = require_ad_account(self.sim, request)
        token = require(request.query_params.get, "token")
        now = time.monotonic()
        with self.lock:
            job = self.model.reports.get(token)
            if job is None or job.ad_account_id != ad_account_id:
                return {"report_status": "DOES_NOT_EXIST", "url": None, "size": None}
            if now - job.created > self.model.report_ttl_seconds:
                return {"report_status": "EXPIRED", "url": None, "size": None}
            if job.failed:
                return {"report_status": "FAILED", "url": None, "size": None}
            job.polls += 1
            if job.polls <= self.model.report_polls_in_progress:
                return {"report_status": "IN_PROGRESS", "url": None, "size": None}
            job.link_issued = now
        extension = job.report_format.lower()
        url = f"{str(request.base_url).rstrip('/')}{DOWNLOAD_PREFIX}/{token}.{extension}"
        return {"report_status": "FINISHED", "url": url, "size": len(job.content)}

    async def download(self, request: Request) -> Response:
        """Serve a finished report; the link needs no Authorization header."""
        token, _, extension = request.path_params["filename"].partition(".")
        job = self.model.reports.get(token)
        now = time.monotonic()
        if job is None or extension != job.report_format.lower() or job.link_issued is None:
            logger.info("report download %s not found", token)
            return PlainTextResponse("NoSuchKey: the report file does not exist.", status_code=404)
        if now - job.created > self.model.report_ttl_seconds:
            logger.info("report download %s rejected: the report expired", token)
            return PlainTextResponse("NoSuchKey: the report has expired.", status_code=404)
        if now - job.link_issued > self.model.download_ttl_seconds:
            logger.info("report download %s rejected: the link expired", token)
            return PlainTextResponse("AccessDenied: Request has expired.", status_code=403)
        media_type = "text/csv" if job.report_format == "CSV" else "application/json"
        return Response(job.content, media_type=media_type)
