"""GET endpoints for ads, organic and catalog entities, with the description's filters and limits."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .data import BOARD_PIN_LIMIT, SimulatorData
from .pagination import (
    DEFAULT_ENTITY_STATUSES,
    ENTITY_STATUSES,
    ID_PATTERN,
    parse_enum_list,
    parse_id,
    parse_ids,
    parse_order,
    sort_ids,
)
from .responses import (
    BOARD_NOT_FOUND,
    NO_CATALOG,
    NO_CATALOG_MESSAGE,
    PIN_NOT_FOUND,
    SECTION_NOT_FOUND,
    ApiError,
    catch_api_errors,
    invalid_parameter,
)

if TYPE_CHECKING:
    from .server import Simulator

CREATIVE_TYPES = (
    "REGULAR", "VIDEO", "SHOPPING", "CAROUSEL", "MAX_VIDEO", "SHOP_THE_PIN", "COLLECTION", "IDEA",
    "SHOWCASE", "QUIZ", "COLLAGE", "MAX_WIDTH_REGULAR_COLLECTION", "MAX_WIDTH_VIDEO_COLLECTION",
)
MATCH_TYPES = ("BROAD", "PHRASE", "EXACT", "EXACT_NEGATIVE", "PHRASE_NEGATIVE")
BOARD_PRIVACY_FILTERS = {
    "ALL": {"PUBLIC", "PROTECTED", "SECRET"},
    "PUBLIC": {"PUBLIC"},
    "PROTECTED": {"PROTECTED"},
    "SECRET": {"SECRET"},
    "PUBLIC_AND_SECRET": {"PUBLIC", "SECRET"},
}
BOARD_PIN_LIMIT_MESSAGE = "Pagination beyond 100.000 pins are not allowed."


def without_board_id(section: dict[str, Any]) -> dict[str, Any]:
    """Return the API's board section object, which lacks the data's `board_id` link."""
    return {key: value for key, value in section.items() if key != "board_id"}


class EntityEndpoints:
    """Handlers for the entity list and get endpoints, reading `sim.data` on every request."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    @property
    def data(self) -> SimulatorData:
        return self.sim.data

    def routes(self) -> list[Route]:
        endpoints: list[tuple[str, Callable[..., Any]]] = [
            ("/v5/ad_accounts", self.list_ad_accounts),
            ("/v5/ad_accounts/{ad_account_id}", self.get_ad_account),
            ("/v5/ad_accounts/{ad_account_id}/campaigns", self.list_campaigns),
            ("/v5/ad_accounts/{ad_account_id}/ad_groups", self.list_ad_groups),
            ("/v5/ad_accounts/{ad_account_id}/ads", self.list_ads),
            ("/v5/ad_accounts/{ad_account_id}/keywords", self.list_keywords),
            ("/v5/ad_accounts/{ad_account_id}/audiences", self.list_audiences),
            ("/v5/ad_accounts/{ad_account_id}/customer_lists", self.list_customer_lists),
            ("/v5/ad_accounts/{ad_account_id}/conversion_tags", self.list_conversion_tags),
            ("/v5/ad_accounts/{ad_account_id}/product_group_promotions", self.list_product_group_promotions),
            ("/v5/boards", self.list_boards),
            ("/v5/boards/{board_id}", self.get_board),
            ("/v5/boards/{board_id}/sections", self.list_board_sections),
            ("/v5/boards/{board_id}/pins", self.list_board_pins),
            ("/v5/boards/{board_id}/sections/{section_id}/pins", self.list_section_pins),
            ("/v5/pins", self.list_pins),
            ("/v5/pins/{pin_id}", self.get_pin),
            ("/v5/user_account", self.get_user_account),
            ("/v5/catalogs", self.list_catalogs),
            ("/v5/catalogs/feeds", self.list_catalog_feeds),
            ("/v5/catalogs/product_groups", self.list_catalog_product_groups),
        ]
        return [Route(path, catch_api_errors(handler), methods=["GET"]) for path, handler in endpoints]

    # Shared steps

    def page(
        self,
        request: Request,
        select: Callable[[], list[str]],
        objects: Mapping[str, dict[str, Any]],
        **options: Any,
    ) -> JSONResponse:
        template = request.scope.get("simulator.template", request.url.path)
        body = self.sim.pager.page(self.sim.faults, request.query_params, request.method, template, select, objects, **options)
        return JSONResponse(body)

    def ad_account_id(self, request: Request) -> str:
        account_id = request.path_params["ad_account_id"]
        if not ID_PATTERN.match(account_id) or len(account_id) > 18:
            raise ApiError(400, 400, f"Invalid ad account id '{account_id}': use the digits of an ad account id.")
        if account_id not in self.data.ad_accounts:
            raise ApiError(404, 404, f"Ad account {account_id} not found.")
        return account_id

    def board_id(self, request: Request) -> str:
        board_id = request.path_params["board_id"]
        if board_id not in self.data.boards:
            raise ApiError(404, BOARD_NOT_FOUND, "Board not found.")
        return board_id

    def require_catalog(self) -> None:
        # Pinterest returns 409 on catalog endpoints for a user who never created a catalog.
        if not self.data.has_catalog:
            raise ApiError(409, NO_CATALOG, NO_CATALOG_MESSAGE)

    def entity_statuses(self, request: Request) -> set[str]:
        # Archived campaigns, ad groups and ads stay hidden unless requested explicitly.
        statuses = parse_enum_list(request.query_params, "entity_statuses", ENTITY_STATUSES, DEFAULT_ENTITY_STATUSES)
        return statuses if statuses is not None else set(DEFAULT_ENTITY_STATUSES)

    # Ads entities

    async def list_ad_accounts(self, request: Request) -> JSONResponse:
        return self.page(request, lambda: list(self.data.ad_accounts), self.data.ad_accounts)

    async def get_ad_account(self, request: Request) -> JSONResponse:
        return JSONResponse(self.data.ad_accounts[self.ad_account_id(request)])

    async def list_campaigns(self, request: Request) -> JSONResponse:
        account_id = self.ad_account_id(request)
        query = request.query_params
        statuses = self.entity_statuses(request)
        campaign_ids = parse_ids(query, "campaign_ids")
        order = parse_order(query)

        def select() -> list[str]:
            matching = (
                campaign_id
                for campaign_id, campaign in self.data.campaigns.items()
                if campaign["ad_account_id"] == account_id
                and campaign["status"] in statuses
                and (campaign_ids is None or campaign_id in campaign_ids)
            )
            return sort_ids(matching, order)

        return self.page(request, select, self.data.campaigns)

    async def list_ad_groups(self, request: Request) -> JSONResponse:
        account_id = self.ad_account_id(request)
        query = request.query_params
        statuses = self.entity_statuses(request)
        campaign_ids = parse_ids(query, "campaign_ids")
        ad_group_ids = parse_ids(query, "ad_group_ids")
        order = parse_order(query)

        def select() -> list[str]:
            matching = (
                group_id
                for group_id, group in self.data.ad_groups.items()
                if group["ad_account_id"] == account_id
                and group["status"] in statuses
                and (campaign_ids is None or group["campaign_id"] in campaign_ids)
                and (ad_group_ids is None or group_id in ad_group_ids)
            )
            return sort_ids(matching, order)

        return self.page(request, select, self.data.ad_groups)

    async def list_ads(self, request: Request) -> JSONResponse:
        account_id = self.ad_account_id(request)
        query = request.query_params
        statuses = self.entity_statuses(request)
        campaign_ids = parse_ids(query, "campaign_ids")
        ad_group_ids = parse_ids(query, "ad_group_ids")
        ad_ids = parse_ids(query, "ad_ids")
        order = parse_order(query)

        def select() -> list[str]:
            matching = (
                ad_id
                for ad_id, ad in self.data.ads.items()
                if ad["ad_account_id"] == account_id
                and ad["status"] in statuses
                and (campaign_ids is None or ad["campaign_id"] in campaign_ids)
                and (ad_group_ids is None or ad["ad_group_id"] in ad_group_ids)
                and (ad_ids is None or ad_id in ad_ids)
            )
            return sort_ids(matching, order)

        return self.page(request, select, self.data.ads)

    async def list_keywords(self, request: Request) -> JSONResponse:
        """Keywords of the named ad groups or campaign; with neither, only account-level ones.

        Keywords made in Ads Manager hang off ad groups, so the unfiltered call misses them.
        """
        account_id = self.ad_account_id(request)
        query = request.query_params
        group_ids = set(parse_ids(query, "ad_group_ids") or [])
        single_group_id = parse_id(query, "ad_group_id")
        if single_group_id:
            group_ids.add(single_group_id)
        campaign_id = parse_id(query, "campaign_id")
        match_types = parse_enum_list(query, "match_types", MATCH_TYPES, None)
        if match_types is not None and len(query.getlist("match_types")) > 5:
            raise invalid_parameter("Parameter 'match_types' accepts at most 5 values.")

        if group_ids:
            parents = {("AD_GROUP", group_id) for group_id in group_ids}
        elif campaign_id:
            parents = {("CAMPAIGN", campaign_id)}
        else:
            parents = {("ADVERTISER", account_id)}
        # A cheaper first test on the parent id alone, which the parent pair test implies.
        parent_ids = {parent_id for _, parent_id in parents}

        def select() -> list[str]:
            return [
                keyword_id
                for keyword_id, keyword in self.data.keywords.items()
                if keyword.get("parent_id") in parent_ids
                and (keyword.get("parent_type"), keyword.get("parent_id")) in parents
                and self.data.ad_account_of_keyword(keyword) == account_id
                and (match_types is None or keyword.get("match_type") in match_types)
            ]

        return self.page(request, select, self.data.keywords)

    async def list_audiences(self, request: Request) -> JSONResponse:
        account_id = self.ad_account_id(request)
        query = request.query_params
        order = parse_order(query)
        ownership = query.get("ownership_type") or "OWNED"
        if ownership not in ("OWNED", "RECEIVED"):
            raise invalid_parameter(f"'ownership_type' value '{ownership}' is not one of OWNED, RECEIVED.")

        def select() -> list[str]:
            if ownership == "RECEIVED":
                return []
            owned = (audience_id for audience_id, audience in self.data.audiences.items() if audience["ad_account_id"] == account_id)
            return sort_ids(owned, order)

        return self.page(request, select, self.data.audiences)

    async def list_customer_lists(self, request: Request) -> JSONResponse:
        account_id = self.ad_account_id(request)
        order = parse_order(request.query_params)

        def select() -> list[str]:
            owned = (list_id for list_id, item in self.data.customer_lists.items() if item["ad_account_id"] == account_id)
            return sort_ids(owned, order)

        return self.page(request, select, self.data.customer_lists)

    async def list_conversion_tags(self, request: Request) -> JSONResponse:
        # Not paginated: the whole list in one `{"items": [...]}`, without a bookmark.
        account_id = self.ad_account_id(request)
        items = [tag for tag in self.data.conversion_tags.values() if tag["ad_account_id"] == account_id]
        return JSONResponse({"items": items})

    async def list_product_group_promotions(self, request: Request) -> JSONResponse:
        account_id = self.ad_account_id(request)
        query = request.query_params
        promotion_ids = parse_ids(query, "product_group_promotion_ids")
        ad_group_id = parse_id(query, "ad_group_id")
        statuses = self.entity_statuses(request)
        order = parse_order(query)
        if promotion_ids is None and ad_group_id is None:
            raise invalid_parameter("Include either ad_group_id or product_group_promotion_ids in your request.")

        def select() -> list[str]:
            # The first two tests are SimulatorData.ad_account_of_promotion inlined: they
            # run for every promotion, once per ad group of a sync.
            ad_groups = self.data.ad_groups
            matching = (
                promotion_id
                for promotion_id, promotion in self.data.product_group_promotions.items()
                if (group := ad_groups.get(promotion.get("ad_group_id") or ""))
                and group["ad_account_id"] == account_id
                and promotion["status"] in statuses
                and (
                    promotion_id in promotion_ids
                    if promotion_ids is not None
                    else promotion["ad_group_id"] == ad_group_id
                )
            )
            return sort_ids(matching, order)

        return self.page(request, select, self.data.product_group_promotions)

    # Organic entities

    async def list_boards(self, request: Request) -> JSONResponse:
        privacy = request.query_params.get("privacy") or "ALL"
        if privacy not in BOARD_PRIVACY_FILTERS:
            raise invalid_parameter(f"'privacy' value '{privacy}' is not one of {', '.join(BOARD_PRIVACY_FILTERS)}.")
        allowed = BOARD_PRIVACY_FILTERS[privacy]

        def select() -> list[str]:
            return [board_id for board_id, board in self.data.boards.items() if board.get("privacy", "PUBLIC") in allowed]

        return self.page(request, select, self.data.boards)

    async def get_board(self, request: Request) -> JSONResponse:
        return JSONResponse(self.data.boards[self.board_id(request)])

    async def list_board_sections(self, request: Request) -> JSONResponse:
        board_id = self.board_id(request)

        def select() -> list[str]:
            return [section_id for section_id, section in self.data.board_sections.items() if section.get("board_id") == board_id]

        return self.page(request, select, self.data.board_sections, render=without_board_id)

    async def list_board_pins(self, request: Request) -> JSONResponse:
        """Pins on the board, section pins included, at most the first 100,000."""
        board_id = self.board_id(request)
        creative_types = parse_enum_list(request.query_params, "creative_types", CREATIVE_TYPES, None)

        def select() -> list[str]:
            return [
                pin_id
                for pin_id, pin in self.data.pins.items()
                if pin.get("board_id") == board_id and (creative_types is None or pin.get("creative_type") in creative_types)
            ]

        return self.page(request, select, self.data.pins, max_offset=BOARD_PIN_LIMIT, max_offset_message=BOARD_PIN_LIMIT_MESSAGE)

    async def list_section_pins(self, request: Request) -> JSONResponse:
        board_id = request.path_params["board_id"]
        section_id = request.path_params["section_id"]
        section = self.data.board_sections.get(section_id)
        if board_id not in self.data.boards or section is None or section.get("board_id") != board_id:
            raise ApiError(404, SECTION_NOT_FOUND, "Board or section not found.")

        def select() -> list[str]:
            return [pin_id for pin_id, pin in self.data.pins.items() if pin.get("board_id") == board_id and pin.get("board_section_id") == section_id]

        return self.page(request, select, self.data.pins)

    async def list_pins(self, request: Request) -> JSONResponse:
        creative_types = parse_enum_list(request.query_params, "creative_types", CREATIVE_TYPES, None)

        def select() -> list[str]:
            return [pin_id for pin_id, pin in self.data.pins.items() if creative_types is None or pin.get("creative_type") in creative_types]

        return self.page(request, select, self.data.pins)

    async def get_pin(self, request: Request) -> JSONResponse:
        pin = self.data.pins.get(request.path_params["pin_id"])
        if pin is None:
            raise ApiError(404, PIN_NOT_FOUND, "Pin not found.")
        return JSONResponse(pin)

    async def get_user_account(self, request: Request) -> JSONResponse:
        return JSONResponse(self.data.user_account)

    # Catalogs

    async def list_catalogs(self, request: Request) -> JSONResponse:
        self.require_catalog()
        return self.page(request, lambda: list(self.data.catalogs), self.data.catalogs)

    async def list_catalog_feeds(self, request: Request) -> JSONResponse:
        """Feeds, each with the `credentials` (login to the feed host) Pinterest returns."""
        self.require_catalog()
        catalog_id = parse_id(request.query_params, "catalog_id")

        def select() -> list[str]:
            # NOTE: retail feeds carry no `catalog_id` in the description, so a filter by
            # catalog keeps every feed while the user has one catalog.
            matching = catalog_id is None or catalog_id in self.data.catalogs
            return list(self.data.catalog_feeds) if matching else []

        return self.page(request, select, self.data.catalog_feeds)

    async def list_catalog_product_groups(self, request: Request) -> JSONResponse:
        self.require_catalog()
        query = request.query_params
        feed_id = parse_id(query, "feed_id")
        catalog_id = parse_id(query, "catalog_id")
        group_ids = parse_ids(query, "id", max_items=1000)

        def select() -> list[str]:
            return [
                group_id
                for group_id, group in self.data.catalog_product_groups.items()
                if (feed_id is None or group.get("feed_id") == feed_id)
                and (catalog_id is None or group.get("catalog_id") == catalog_id)
                and (group_ids is None or group_id in group_ids)
            ]

        return self.page(request, select, self.data.catalog_product_groups)
