"""The fewest requests Pinterest's documented limits allow for the data a full sync loads.

The count is derived from the simulator's objects, never from the product's code, so a
request the product wastes shows up as a difference. The limits applied, from the
Pinterest API v5 reference (OpenAPI description 5.23.0):

- List endpoints return at most 250 items a page, and every list costs at least one
  request even when it is empty. Conversion tags come in one unpaginated response.
- Campaigns, ad groups and ads are listed with ACTIVE, PAUSED and ARCHIVED statuses.
- Keywords: one listing for the ad account's own keywords, plus one listing per 250 ad
  groups (the `ad_group_ids` filter), because keywords created in Ads Manager hang off
  ad groups.
- Product group promotions can only be listed with `ad_group_id`, so every ad group
  costs at least one request: the API offers no other way to learn which ad groups
  have promotions.
- Board pins: every board's list, capped at 100,000 pins. That list already includes
  the pins in sections, and it supplies the pin ids for pin analytics, so the separate
  `/pins` list costs nothing in the minimum.
- Ads analytics: one request per 250 entity ids and per 90-day window. The ad account
  and targeting endpoints take no ids: one request per window, all targeting types in
  it. Keyword metrics exist only in async reports: one report per 186 days, each a
  create, the status polls until FINISHED and one download.
- Organic analytics: the user account once per 90-day window, pins 100 ids a request.
  The simulator's pin lists carry no `pin_metrics` block, so no pin can be ruled
  inactive before its analytics are requested.
- One token refresh per run, because the product keeps access tokens in memory only.

Endpoint keys are `"METHOD /path/{template}"` as the simulator counts them, with the
`/v5` prefix removed; report downloads are `"GET (report download)"`.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

PAGE_SIZE = 250
MAX_ANALYTICS_IDS = 250
MAX_PIN_ANALYTICS_IDS = 100
MAX_BOARD_PINS = 100_000
LISTED_STATUSES = frozenset({"ACTIVE", "PAUSED", "ARCHIVED"})
DOWNLOAD_ENDPOINT = "GET (report download)"


def pages(items: int) -> int:
    """Requests to list `items` objects: at least one, then one per 250."""
    return max(1, math.ceil(items / PAGE_SIZE))


def id_batches(ids: int, size: int = MAX_ANALYTICS_IDS) -> int:
    """Requests for `ids` entity ids, `size` a request; no ids need no request."""
    return math.ceil(ids / size)


def endpoint_key(simulator_key: str) -> str:
    """Turn a simulator counter key (`"GET /v5/boards"`) into a benchmark endpoint key."""
    method, _, path = simulator_key.partition(" ")
    if path.startswith("/_downloads/"):
        return DOWNLOAD_ENDPOINT
    if path.startswith("/v5/"):
        path = path[3:]
    return f"{method} {path}"


ANALYTICS_ENDPOINTS = {
    "ad_account_analytics": ("GET /ad_accounts/{ad_account_id}/analytics",),
    "campaign_analytics": ("GET /ad_accounts/{ad_account_id}/campaigns/analytics",),
    "ad_group_analytics": ("GET /ad_accounts/{ad_account_id}/ad_groups/analytics",),
    "ad_analytics": ("GET /ad_accounts/{ad_account_id}/ads/analytics",),
    "product_group_analytics": ("GET /ad_accounts/{ad_account_id}/product_groups/analytics",),
    "targeting_analytics": ("GET /ad_accounts/{ad_account_id}/targeting_analytics",),
    "keyword_analytics": (
        "POST /ad_accounts/{ad_account_id}/reports", "GET /ad_accounts/{ad_account_id}/reports", DOWNLOAD_ENDPOINT,
    ),
    "user_account_analytics": ("GET /user_account/analytics",),
    "pin_analytics": ("GET /pins/analytics",),
}


def minimum_requests(
    data: Any,
    report_status_polls: int,
    sync_windows: int = 1,
    report_windows: int = 1,
    skipped_tables: Iterable[str] = (),
) -> dict[str, int]:
    """Return the minimum requests per endpoint for a full sync of every table.

    `data` is a `SimulatorData`. `report_status_polls` is how many status checks a report
    needs before it is FINISHED (the simulator returns IN_PROGRESS a set number of
    times first). `sync_windows` counts the 90-day windows of the requested dates, and
    `report_windows` the 186-day windows of keyword reports. `skipped_tables` names
    analytics tables left out of the sync; their endpoints then cost nothing.
    """
    skipped = set(skipped_tables)
    unknown = skipped - set(ANALYTICS_ENDPOINTS)
    if unknown:
        raise ValueError(f"Only analytics tables can be skipped, not {', '.join(sorted(unknown))}: use names from {', '.join(ANALYTICS_ENDPOINTS)}.")

    minimum: Counter[str] = Counter()
    minimum["POST /oauth/token"] = 1
    minimum["GET /ad_accounts"] = pages(len(data.ad_accounts))
    _add_ads_entities(minimum, data)
    _add_ads_analytics(minimum, data, report_status_polls, sync_windows, report_windows)
    _add_organic(minimum, data, sync_windows)
    _add_catalogs(minimum, data)
    for table in skipped:
        for endpoint in ANALYTICS_ENDPOINTS[table]:
            minimum.pop(endpoint, None)
    return {endpoint: count for endpoint, count in minimum.items() if count}


def _by_account(objects: Iterable[Mapping[str, Any]], account_of: Any = None) -> dict[str, list[Mapping[str, Any]]]:
    grouped: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for item in objects:
        account = account_of(item) if account_of else item.get("ad_account_id")
        if account is not None:
            grouped[str(account)].append(item)
    return grouped


def _listed(objects: Mapping[str, Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [item for item in objects.values() if item.get("status") in LISTED_STATUSES]


def _add_ads_entities(minimum: Counter[str], data: Any) -> None:
    campaigns = _by_account(_listed(data.campaigns))
    ad_groups = _by_account(_listed(data.ad_groups))
    ads = _by_account(_listed(data.ads))
    audiences = _by_account(data.audiences.values())
    customer_lists = _by_account(data.customer_lists.values())
    promotions_by_group: Counter[str] = Counter(
        str(item.get("ad_group_id")) for item in _listed(data.product_group_promotions)
    )
    keywords_by_parent: Counter[tuple[str, str]] = Counter(
        (str(item.get("parent_type")), str(item.get("parent_id"))) for item in data.keywords.values()
    )
    all_ad_groups = _by_account(data.ad_groups.values())

    prefix = "GET /ad_accounts/{ad_account_id}"
    for account_id in data.ad_accounts:
        minimum[f"{prefix}/campaigns"] += pages(len(campaigns[account_id]))
        minimum[f"{prefix}/ad_groups"] += pages(len(ad_groups[account_id]))
        minimum[f"{prefix}/ads"] += pages(len(ads[account_id]))
        minimum[f"{prefix}/audiences"] += pages(len(audiences[account_id]))
        minimum[f"{prefix}/customer_lists"] += pages(len(customer_lists[account_id]))
        minimum[f"{prefix}/conversion_tags"] += 1

        group_ids = [str(group["id"]) for group in ad_groups[account_id]]
        minimum[f"{prefix}/keywords"] += pages(keywords_by_parent[("ADVERTISER", account_id)])
        for start in range(0, len(group_ids), MAX_ANALYTICS_IDS):
            batch = group_ids[start : start + MAX_ANALYTICS_IDS]
            minimum[f"{prefix}/keywords"] += pages(sum(keywords_by_parent[("AD_GROUP", group_id)] for group_id in batch))

        for group in all_ad_groups[account_id]:
            if group.get("status") in LISTED_STATUSES:
                minimum[f"{prefix}/product_group_promotions"] += pages(promotions_by_group[str(group["id"])])


def _add_ads_analytics(minimum: Counter[str], data: Any, report_status_polls: int, sync_windows: int, report_windows: int) -> None:
    campaigns = _by_account(_listed(data.campaigns))
    ad_groups = _by_account(_listed(data.ad_groups))
    ads = _by_account(_listed(data.ads))
    promotions = _by_account(_listed(data.product_group_promotions), data.ad_account_of_promotion)
    keywords = _by_account(data.keywords.values(), data.ad_account_of_keyword)

    prefix = "/ad_accounts/{ad_account_id}"
    for account_id in data.ad_accounts:
        minimum[f"GET {prefix}/analytics"] += sync_windows
        minimum[f"GET {prefix}/targeting_analytics"] += sync_windows
        minimum[f"GET {prefix}/campaigns/analytics"] += sync_windows * id_batches(len(campaigns[account_id]))
        minimum[f"GET {prefix}/ad_groups/analytics"] += sync_windows * id_batches(len(ad_groups[account_id]))
        minimum[f"GET {prefix}/ads/analytics"] += sync_windows * id_batches(len(ads[account_id]))
        minimum[f"GET {prefix}/product_groups/analytics"] += sync_windows * id_batches(len(promotions[account_id]))
        if keywords[account_id]:
            minimum[f"POST {prefix}/reports"] += report_windows
            minimum[f"GET {prefix}/reports"] += report_windows * report_status_polls
            minimum[DOWNLOAD_ENDPOINT] += report_windows


def _add_organic(minimum: Counter[str], data: Any, sync_windows: int) -> None:
    minimum["GET /user_account"] = 1
    minimum["GET /user_account/analytics"] = sync_windows
    minimum["GET /boards"] = pages(len(data.boards))

    sections_by_board: Counter[str] = Counter(str(section.get("board_id")) for section in data.board_sections.values())
    pins_by_board: Counter[str] = Counter(str(pin.get("board_id")) for pin in data.pins.values())
    listed_pins = 0
    for board_id in data.boards:
        minimum["GET /boards/{board_id}/sections"] += pages(sections_by_board[board_id])
        board_pins = min(pins_by_board[board_id], MAX_BOARD_PINS)
        minimum["GET /boards/{board_id}/pins"] += pages(board_pins)
        listed_pins += board_pins
    minimum["GET /pins/analytics"] = sync_windows * id_batches(listed_pins, MAX_PIN_ANALYTICS_IDS)


def _add_catalogs(minimum: Counter[str], data: Any) -> None:
    if not data.has_catalog:
        # Each catalog endpoint returns 409 once for a user without a catalog.
        for path in ("/catalogs", "/catalogs/feeds", "/catalogs/product_groups"):
            minimum[f"GET {path}"] = 1
        return
    minimum["GET /catalogs"] = pages(len(data.catalogs))
    minimum["GET /catalogs/feeds"] = pages(len(data.catalog_feeds))
    minimum["GET /catalogs/product_groups"] = pages(len(data.catalog_product_groups))
