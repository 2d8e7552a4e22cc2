"""The simulator's in-memory API objects, and what a correct full sync must load from them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from .generator import Generator

ENTITY_TABLES = (
    "ad_accounts", "campaigns", "ad_groups", "ads", "keywords", "audiences", "customer_lists",
    "conversion_tags", "product_group_promotions", "boards", "board_sections", "pins",
    "user_account", "catalogs", "catalog_feeds", "catalog_product_groups",
)

# Board pin lists stop here: Pinterest returns 400 for the page after the 100,000th pin.
BOARD_PIN_LIMIT = 100_000


class SimulatorData:
    """Mutable API objects, keyed by id in insertion order, exactly as the API returns them.

    Tests edit these dicts directly between requests. Parent links use the API's own
    fields (`ad_account_id`, `campaign_id`, `ad_group_id`, `board_id`,
    `board_section_id`); keywords link with `parent_type` ("ADVERTISER" or "AD_GROUP")
    and `parent_id`. One field is not the API's: a board section carries `board_id`,
    which the server strips, because the API's section object is only `{id, name}`.
    """

    def __init__(self) -> None:
        self.ad_accounts: dict[str, dict[str, Any]] = {}
        self.campaigns: dict[str, dict[str, Any]] = {}
        self.ad_groups: dict[str, dict[str, Any]] = {}
        self.ads: dict[str, dict[str, Any]] = {}
        self.keywords: dict[str, dict[str, Any]] = {}
        self.audiences: dict[str, dict[str, Any]] = {}
        self.customer_lists: dict[str, dict[str, Any]] = {}
        self.conversion_tags: dict[str, dict[str, Any]] = {}
        self.product_group_promotions: dict[str, dict[str, Any]] = {}
        self.boards: dict[str, dict[str, Any]] = {}
        self.board_sections: dict[str, dict[str, Any]] = {}
        self.pins: dict[str, dict[str, Any]] = {}
        self.user_account: dict[str, Any] = {}
        self.catalogs: dict[str, dict[str, Any]] = {}
        self.catalog_feeds: dict[str, dict[str, Any]] = {}
        self.catalog_product_groups: dict[str, dict[str, Any]] = {}
        self.has_catalog = True
        self.metrics: Any = None

    @classmethod
    def generate(cls, seed: int, scale: str, today: dt.date, has_catalog: bool = True) -> SimulatorData:
        """Build the objects of `scale` from `seed`; the same inputs give the same objects."""
        data = cls()
        Generator(data, seed, scale, today).build(has_catalog)
        data.has_catalog = has_catalog
        return data

    def set_ad_metric(self, ad_id: str, day: dt.date | str, column: str, value: int | None) -> None:
        """Override one metric of an ad on a day (None removes the key); see MetricsModel.set_ad_metric."""
        if self.metrics is None:
            raise RuntimeError("No metrics model is attached: build the data through Simulator to set metrics.")
        self.metrics.set_ad_metric(ad_id, day, column, value)

    def ad_account_of_keyword(self, keyword: dict[str, Any]) -> str | None:
        """Return the ad account a keyword belongs to, through its parent."""
        parent_id = keyword.get("parent_id")
        if keyword.get("parent_type") == "ADVERTISER":
            return parent_id
        if keyword.get("parent_type") == "CAMPAIGN":
            campaign = self.campaigns.get(parent_id or "")
            return campaign["ad_account_id"] if campaign else None
        group = self.ad_groups.get(parent_id or "")
        return group["ad_account_id"] if group else None

    def ad_account_of_promotion(self, promotion: dict[str, Any]) -> str | None:
        group = self.ad_groups.get(promotion.get("ad_group_id") or "")
        return group["ad_account_id"] if group else None

    def board_pin_ids(self, board_id: str) -> list[str]:
        """Ids of the pins `/boards/{board_id}/pins` lists, section pins included."""
        return [pin_id for pin_id, pin in self.pins.items() if pin.get("board_id") == board_id]


def expected_row_counts(data: SimulatorData, forbidden_ad_accounts: Iterable[str] = ()) -> dict[str, int]:
    """Rows per entity table that a correct full sync of `data` loads.

    Ads entities of every status count (a sync must request ARCHIVED), keywords at
    account level and under ad groups, and product group promotions of every ad group.
    Objects under a forbidden ad account do not count, but the account itself does,
    because `/ad_accounts` still lists it. Pins count once each, at most the first
    100,000 of each board's listing, and only when their board exists. Catalog tables
    are empty for a user without a catalog.
    """
    forbidden = set(forbidden_ad_accounts)

    def readable(account_id: str | None) -> bool:
        return account_id in data.ad_accounts and account_id not in forbidden

    pin_ids: set[str] = set()
    listed_per_board = dict.fromkeys(data.boards, 0)
    for pin_id, pin in data.pins.items():
        board_id = pin.get("board_id")
        if board_id in listed_per_board and listed_per_board[board_id] < BOARD_PIN_LIMIT:
            listed_per_board[board_id] += 1
            pin_ids.add(pin_id)

    counts = {
        "ad_accounts": len(data.ad_accounts),
        "campaigns": sum(readable(item["ad_account_id"]) for item in data.campaigns.values()),
        "ad_groups": sum(readable(item["ad_account_id"]) for item in data.ad_groups.values()),
        "ads": sum(readable(item["ad_account_id"]) for item in data.ads.values()),
        "keywords": sum(
            readable(data.ad_account_of_keyword(item)) for item in data.keywords.values() if item.get("parent_type") in ("ADVERTISER", "AD_GROUP")
        ),
        "audiences": sum(readable(item["ad_account_id"]) for item in data.audiences.values()),
        "customer_lists": sum(readable(item["ad_account_id"]) for item in data.customer_lists.values()),
        "conversion_tags": sum(readable(item["ad_account_id"]) for item in data.conversion_tags.values()),
        "product_group_promotions": sum(readable(data.ad_account_of_promotion(item)) for item in data.product_group_promotions.values()),
        "boards": len(data.boards),
        "board_sections": sum(section.get("board_id") in data.boards for section in data.board_sections.values()),
        "pins": len(pin_ids),
        "user_account": 1 if data.user_account else 0,
        "catalogs": len(data.catalogs) if data.has_catalog else 0,
        "catalog_feeds": len(data.catalog_feeds) if data.has_catalog else 0,
        "catalog_product_groups": len(data.catalog_product_groups) if data.has_catalog else 0,
    }
    return {table: counts[table] for table in ENTITY_TABLES}
