"""Analytics routes of the simulator: ads analytics, targeting analytics, async reports,
report downloads and organic analytics, as the OpenAPI description 5.23.0 declares them.

`analytics_routes(sim)` returns starlette routes for the server to mount ahead of its
entity routes: `/v5/pins/analytics` and `/v5/ad_accounts/{id}/campaigns/analytics` would
otherwise match `/v5/pins/{pin_id}` and `/v5/ad_accounts/{id}/campaigns/{campaign_id}`.
The server's middleware authenticates, counts, delays, rate-limits and injects faults;
these handlers only validate and compute. Report downloads live under `/_downloads/`,
outside /v5, because Pinterest's report links work without the bearer token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import analytics_organic, analytics_reports
from .analytics_columns import ATTRIBUTION_TYPES, SYNC_COLUMNS, SYNC_TARGETING_TYPES
from .analytics_params import (
    MAX_SYNC_IDS,
    SYNC_DAYS_BACK,
    SYNC_RANGE_DAYS,
    MetricsQuery,
    bool_value,
    enum_list,
    id_values,
    invalid,
    metrics_query,
    query_list,
    require,
)
from .analytics_rows import (
    ID_KEYS,
    Source,
    Splitter,
    ad_sources,
    keyword_sources,
    keyword_splitter,
    metric_row,
    require_ad_account,
    sorted_buckets,
    sum_metrics,
    sum_metrics_split,
    targeting_splitter,
)
from .metrics import MetricsModel
from .responses import ApiError

logger = logging.getLogger(__name__)

DOWNLOAD_PREFIX = "/_downloads"
MAX_AD_PIN_IDS = 100
MAX_TARGETING_TYPES = {"AD_ACCOUNT": 15, "CAMPAIGN": 14, "AD_GROUP": 14, "AD": 14}

Handler = Callable[[Request, bytes], Any]


def analytics_routes(sim: Any) -> list[Route]:
    """Return the analytics routes of a simulator exposing `.data`, `.metrics` and `.today`."""
    ads = AdsAnalytics(sim)
    reports = analytics_reports.Reports(sim)
    organic = analytics_organic.OrganicAnalytics(sim)
    account = "/v5/ad_accounts/{ad_account_id}"
    routes = [
        (f"{account}/analytics", ads.ad_account_analytics, "GET"),
        (f"{account}/campaigns/analytics", ads.campaign_analytics, "GET"),
        (f"{account}/ad_groups/analytics", ads.ad_group_analytics, "GET"),
        (f"{account}/ads/analytics", ads.ad_analytics, "GET"),
        (f"{account}/product_groups/analytics", ads.product_group_analytics, "GET"),
        (f"{account}/pins/analytics", ads.ad_pin_analytics, "GET"),
        (f"{account}/targeting_analytics", ads.ad_account_targeting, "GET"),
        (f"{account}/campaigns/targeting_analytics", ads.campaign_targeting, "GET"),
        (f"{account}/ad_groups/targeting_analytics", ads.ad_group_targeting, "GET"),
        (f"{account}/ads/targeting_analytics", ads.ad_targeting, "GET"),
        (f"{account}/reports", reports.create, "POST"),
        (f"{account}/reports", reports.poll, "GET"),
        ("/v5/user_account/analytics", organic.user_account_analytics, "GET"),
        ("/v5/user_account/analytics/top_pins", organic.top_pins, "GET"),
        ("/v5/pins/analytics", organic.multi_pin_analytics, "GET"),
        ("/v5/pins/{pin_id}/analytics", organic.pin_analytics, "GET"),
    ]
    result = [Route(path, json_endpoint(sim.metrics, handler), methods=[method]) for path, handler, method in routes]
    result.append(Route(DOWNLOAD_PREFIX + "/{filename}", reports.download, methods=["GET"]))
    return result


def json_endpoint(model: MetricsModel, handler: Handler) -> Callable[[Request], Any]:
    """Wrap a handler: apply the throttle knob, run it off the event loop, respond with JSON.

    Handlers return a JSON-serialisable value or raise ApiError.
    """

    async def endpoint(request: Request) -> Response:
        throttled = model.take_throttle_error()
        if throttled is not None:
            status, body = throttled
            logger.info("analytics throttle knob rejected %s %s with code %s", request.method, request.url.path, body["code"])
            return JSONResponse(body, status_code=status)
        body = await request.body() if request.method == "POST" else b""
        try:
            result = await run_in_threadpool(handler, request, body)
        except ApiError as error:
            logger.info("rejected %s %s with %s code %s: %s", request.method, request.url.path, error.status, error.code, error.message)
            return JSONResponse({"code": error.code, "message": error.message}, status_code=error.status, headers=error.headers)
        return JSONResponse(result)

    return endpoint


class AdsAnalytics:
    """Synchronous ads analytics: flat daily rows and targeting breakdowns."""

    def __init__(self, sim: Any) -> None:
        self.sim = sim

    @property
    def model(self) -> MetricsModel:
        return self.sim.metrics

    def query(self, request: Request) -> MetricsQuery:
        params = request.query_params
        return metrics_query(
            params.get,
            query_list(params, "columns"),
            SYNC_COLUMNS,
            self.model.today,
            SYNC_DAYS_BACK,
            SYNC_RANGE_DAYS,
            "synchronous analytics",
        )

    def ids(self, request: Request, name: str, required: bool, max_items: int = MAX_SYNC_IDS) -> list[str] | None:
        values = query_list(request.query_params, name)
        if not values:
            if required:
                raise invalid(f"Missing required parameter: {name}.")
            return None
        return id_values(name, values, max_items)

    # ----- flat rows -------------------------------------------------------------------

    def ad_account_analytics(self, request: Request, body: bytes) -> list[dict[str, Any]]:
        ad_account_id = require_ad_account(self.sim, request)
        query = self.query(request)
        ad_ids = [ad_id for ids in self.model.ads_by("AD_ACCOUNT", ad_account_id).values() for ad_id in ids]
        return self.rows("AD_ACCOUNT", [(ad_account_id, ad_sources(self.model, ad_ids))], query)

    def campaign_analytics(self, request: Request, body: bytes) -> list[dict[str, Any]]:
        return self.level_rows(request, "CAMPAIGN", "campaign_ids")

    def ad_group_analytics(self, request: Request, body: bytes) -> list[dict[str, Any]]:
        return self.level_rows(request, "AD_GROUP", "ad_group_ids")

    def level_rows(self, request: Request, level: str, ids_name: str) -> list[dict[str, Any]]:
        ad_account_id = require_ad_account(self.sim, request)
        entity_ids = self.ids(request, ids_name, required=True) or []
        query = self.query(request)
        aggregate = bool_value("aggregate_report_rows", request.query_params.get("aggregate_report_rows"))
        by_entity = self.model.ads_by(level, ad_account_id)
        groups = [(entity_id, ad_sources(self.model, by_entity[entity_id])) for entity_id in entity_ids if entity_id in by_entity]
        if aggregate:
            merged = [source for _, sources in groups for source in sources]
            return self.rows(level, [(None, merged)], query)
        return self.rows(level, groups, query)

    def ad_analytics(self, request: Request, body: bytes) -> list[dict[str, Any]]:
        """Rows per ad, narrowed by ad_ids, campaign_ids and pin_ids when given.

        NOTE: without any of the three filters the simulator returns every ad of the
        account; whether Pinterest requires one of them is not documented.
        """
        ad_account_id = require_ad_account(self.sim, request)
        ad_ids = self.ids(request, "ad_ids", required=False)
        campaign_ids = self.ids(request, "campaign_ids", required=False)
        pin_ids = self.ids(request, "pin_ids", required=False, max_items=MAX_AD_PIN_IDS)
        query = self.query(request)
        account_ads = self.model.ads_by("AD", ad_account_id)
        selected = []
        for ad_id in ad_ids if ad_ids is not None else list(account_ads):
            ad = self.sim.data.ads.get(ad_id)
            if ad_id not in account_ads or ad is None:
                continue
            if campaign_ids is not None and self.model.ad_parents(ad)[1] not in campaign_ids:
                continue
            if pin_ids is not None and ad.get("pin_id") not in pin_ids:
                continue
            selected.append(ad_id)
        groups = [(ad_id, ad_sources(self.model, [ad_id])) for ad_id in selected]
        return self.rows("AD", groups, query)

    def product_group_analytics(self, request: Request, body: bytes) -> list[dict[str, Any]]:
        """Rows per requested product group id.

        An id may name a product group promotion or a catalog product group; the latter
        sums every promotion of that product group in the account.
        """
        ad_account_id = require_ad_account(self.sim, request)
        requested = self.ids(request, "product_group_ids", required=True) or []
        query = self.query(request)
        groups = []
        promotions_by_id = product_group_promotions_by_id(self.model, ad_account_id, requested)
        for product_group_id in requested:
            promotion_ids = promotions_by_id.get(product_group_id)
            if promotion_ids:
                groups.append((product_group_id, [Source("product_group", promotion_id) for promotion_id in promotion_ids]))
        return self.rows("PRODUCT_GROUP", groups, query)

    def ad_pin_analytics(self, request: Request, body: bytes) -> list[dict[str, Any]]:
        """Rows per promoted pin of one campaign: the sum of the campaign's ads of that pin."""
        ad_account_id = require_ad_account(self.sim, request)
        campaign_id = require(request.query_params.get, "campaign_id")
        id_values("campaign_id", [campaign_id], 1)
        pin_ids = self.ids(request, "pin_ids", required=True, max_items=MAX_AD_PIN_IDS) or []
        query = self.query(request)
        campaign_ads = self.model.ads_by("CAMPAIGN", ad_account_id).get(campaign_id, [])
        groups = []
        for pin_id in pin_ids:
            ad_ids = [ad_id for ad_id in campaign_ads if self.sim.data.ads[ad_id].get("pin_id") == pin_id]
            if ad_ids:
                groups.append((pin_id, ad_sources(self.model, ad_ids)))
        attributes = self.model.entity_attributes("CAMPAIGN", campaign_id)
        return self.rows("PIN", groups, query, attributes=lambda pin_id: {**attributes, "PIN_ID": pin_id})

    def rows(
        self,
        level: str,
        groups: list[tuple[str | None, list[Source]]],
        query: MetricsQuery,
        attributes: Callable[[str], dict[str, Any]] | None = None,
    ) -> list[dict[str, Any]]:
        id_key = ID_KEYS[level]
        rows: list[dict[str, Any]] = []
        for entity_id, sources in groups:
            if entity_id is None:
                entity_attributes: dict[str, Any] = {}
            elif attributes is not None:
                entity_attributes = attributes(entity_id)
            else:
                entity_attributes = self.model.entity_attributes(level, entity_id)
            table = sum_metrics(self.model, sources, query)
            for key, values in sorted_buckets(table):
                rows.append(metric_row(key, id_key if entity_id else None, entity_id, entity_attributes, query.columns, values))
        return rows

    # ----- targeting breakdowns -----------------------------------------------------------

    def ad_account_targeting(self, request: Request, body: bytes) -> dict[str, Any]:
        ad_account_id = require_ad_account(self.sim, request)
        return self.targeting(request, "AD_ACCOUNT", ad_account_id, [ad_account_id])

    def campaign_targeting(self, request: Request, body: bytes) -> dict[str, Any]:
        ad_account_id = require_ad_account(self.sim, request)
        return self.targeting(request, "CAMPAIGN", ad_account_id, self.ids(request, "campaign_ids", required=True) or [])

    def ad_group_targeting(self, request: Request, body: bytes) -> dict[str, Any]:
        ad_account_id = require_ad_account(self.sim, request)
        return self.targeting(request, "AD_GROUP", ad_account_id, self.ids(request, "ad_group_ids", required=True) or [])

    def ad_targeting(self, request: Request, body: bytes) -> dict[str, Any]:
        ad_account_id = require_ad_account(self.sim, request)
        return self.targeting(request, "AD", ad_account_id, self.ids(request, "ad_ids", required=True) or [])

    def targeting(self, request: Request, level: str, ad_account_id: str, entity_ids: list[str]) -> dict[str, Any]:
        """Return `{"data": [{targeting_type, targeting_value, metrics}]}` per entity, type, date and value."""
        allowed_types = SYNC_TARGETING_TYPES[level]
        targeting_types = enum_list("targeting_types", query_list(request.query_params, "targeting_types"), allowed_types)
        if not targeting_types:
            raise invalid("Missing required parameter: targeting_types.")
        if len(targeting_types) > MAX_TARGETING_TYPES[level]:
            raise invalid(f"Invalid targeting_types: at most {MAX_TARGETING_TYPES[level]} values are allowed.")
        enum_list("attribution_types", query_list(request.query_params, "attribution_types"), ATTRIBUTION_TYPES)
        query = self.query(request)
        by_entity = self.model.ads_by(level, ad_account_id)
        id_key = ID_KEYS[level]
        data: list[dict[str, Any]] = []
        unique_types = list(dict.fromkeys(targeting_types))
        for entity_id in entity_ids:
            if entity_id not in by_entity:
                continue
            attributes = self.model.entity_attributes(level, entity_id)
            tables = self.targeting_tables(level, ad_account_id, entity_id, by_entity[entity_id], unique_types, query)
            for targeting_type in unique_types:
                for key, values in sorted_buckets(tables[targeting_type]):
                    metrics = metric_row(key, id_key, entity_id, attributes, query.columns, values)
                    data.append({"targeting_type": targeting_type, "targeting_value": key[2], "metrics": metrics})
        return {"data": data}

    def targeting_tables(
        self, level: str, ad_account_id: str, entity_id: str, ad_ids: list[str], targeting_types: list[str], query: MetricsQuery
    ) -> dict[str, dict[Any, dict[str, int]]]:
        """Return the summed figures of one entity per targeting type.

        The ad-based types share one pass over the ads, so each ad-day is computed once
        however many types the request names.
        """
        tables: dict[str, dict[Any, dict[str, int]]] = {}
        split_types: list[str] = []
        splitters: list[Splitter | None] = []
        for targeting_type in targeting_types:
            if targeting_type == "KEYWORD":
                tables[targeting_type] = self.keyword_table(level, ad_account_id, entity_id, query)
                continue
            splitter = targeting_splitter(self.model, targeting_type, ad_account_id)
            if splitter is None:
                tables[targeting_type] = {}
                continue
            split_types.append(targeting_type)
            splitters.append(splitter)
        if splitters:
            split_tables = sum_metrics_split(self.model, ad_sources(self.model, ad_ids), query, splitters)
            tables.update(zip(split_types, split_tables))
        return tables

    def keyword_table(self, level: str, ad_account_id: str, entity_id: str, query: MetricsQuery) -> dict[Any, dict[str, int]]:
        if level == "AD":
            return {}
        campaign_ids = [entity_id] if level == "CAMPAIGN" else None
        ad_group_ids = [entity_id] if level == "AD_GROUP" else None
        sources = keyword_sources(self.model, ad_account_id, campaign_ids, ad_group_ids)
        return sum_metrics(self.model, sources, query, keyword_splitter(self.model))


def product_group_promotions_by_id(model: MetricsModel, ad_account_id: str, product_group_ids: list[str]) -> dict[str, list[str]]:
    """Return `product_group_promotions(model, ad_account_id, [id])` for every id, in one scan."""
    wanted = set(product_group_ids)
    result: dict[str, list[str]] = {}
    for promotion_id, promotion in list(model.data.product_group_promotions.items()):
        catalog_group_id = promotion.get("catalog_product_group_id")
        if promotion_id not in wanted and catalog_group_id not in wanted:
            continue
        if model.product_group_parents(promotion)[0] != ad_account_id:
            continue
        for key in dict.fromkeys((promotion_id, catalog_group_id)):
            if key in wanted:
                result.setdefault(key, []).append(promotion_id)
    return result


def product_group_promotions(model: MetricsModel, ad_account_id: str, product_group_ids: list[str]) -> list[str]:
    """Return the account's product group promotions named by id or by catalog product group id."""
    wanted = set(product_group_ids)
    return [
        promotion_id
        for promotion_id, promotion in list(model.data.product_group_promotions.items())
        if (promotion_id in wanted or promotion.get("catalog_product_group_id") in wanted)
        and model.product_group_parents(promotion)[0] == ad_account_id
    ]
