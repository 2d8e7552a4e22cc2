"""The resource groups that become Dagster assets, and how each one is split into partitions.

A group is one dlt run: its tables are fetched together because they share API calls
(the ad groups listed for keywords, the boards listed for pins) or a date window.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from pipelines.pinterest.settings import ADS_ANALYTICS_TABLES, ALL_TABLES, ORGANIC_ANALYTICS_TABLES


class Split(Enum):
    """The partition dimensions of a group."""

    NONE = "none"
    AD_ACCOUNT = "ad_account"
    DAY = "day"
    AD_ACCOUNT_AND_DAY = "ad_account_and_day"

    @property
    def by_ad_account(self) -> bool:
        return self in (Split.AD_ACCOUNT, Split.AD_ACCOUNT_AND_DAY)

    @property
    def by_day(self) -> bool:
        return self in (Split.DAY, Split.AD_ACCOUNT_AND_DAY)


@dataclass(frozen=True)
class ResourceGroup:
    """Tables loaded by one Dagster multi-asset, and the partitions that split its work."""

    name: str
    tables: tuple[str, ...]
    split: Split
    description: str


RESOURCE_GROUPS = (
    ResourceGroup(
        "ads_entities",
        (
            "ad_accounts",
            "campaigns",
            "ad_groups",
            "ads",
            "keywords",
            "audiences",
            "customer_lists",
            "conversion_tags",
            "product_group_promotions",
        ),
        Split.AD_ACCOUNT,
        "Ad account objects, listed in full and merged on id; one unit per ad account.",
    ),
    ResourceGroup(
        "ads_analytics",
        ADS_ANALYTICS_TABLES,
        Split.AD_ACCOUNT_AND_DAY,
        "Daily ads metrics; one unit per ad account and range of days.",
    ),
    ResourceGroup(
        "organic",
        ("user_account", "boards", "board_sections", "pins"),
        Split.NONE,
        "The user's account, boards, board sections and pins, listed in full and merged on id.",
    ),
    ResourceGroup(
        "organic_analytics",
        ORGANIC_ANALYTICS_TABLES,
        Split.DAY,
        "Daily organic metrics of the user account and its pins; one unit per range of days.",
    ),
    ResourceGroup(
        "catalogs",
        ("catalogs", "catalog_feeds", "catalog_product_groups"),
        Split.NONE,
        "Catalogs, feeds and product groups, listed in full and merged on id.",
    ),
)

_grouped = [table for group in RESOURCE_GROUPS for table in group.tables]
if sorted(_grouped) != sorted(ALL_TABLES):
    raise RuntimeError(f"RESOURCE_GROUPS must list every table exactly once; it lists {sorted(_grouped)}.")


def group_named(name: str) -> ResourceGroup:
    """Return the group called `name`; a wrong name lists the valid ones."""
    for group in RESOURCE_GROUPS:
        if group.name == name:
            return group
    raise KeyError(f"No resource group {name!r}: use one of {', '.join(group.name for group in RESOURCE_GROUPS)}.")
