"""Entity ids and parent ids the ads analytics tables need, taken from the entity lists.

Campaigns, ad groups and ads come from the run's shared `EntityLister`, which requests
archived entities too: their spend is part of the account total. Product group
promotions are listed per ad group because the API returns none without `ad_group_id`.
"""

from __future__ import annotations

import threading
from typing import Any

from .tables import AdsTable

LISTER_KINDS = {
    "campaign_analytics": "campaigns",
    "ad_group_analytics": "ad_groups",
    "ad_analytics": "ads",
}


def ad_group_id_of(item: dict[str, Any]) -> str | None:
    """Return an object's ad group id as digits; promotions may write it as `AG<digits>`."""
    value = item.get("ad_group_id")
    if value is None:
        return None
    text = str(value)
    return text[2:] if text.startswith("AG") else text


class EntityIndex:
    """Ids and parent ids per ad account for the analytics tables of one run."""

    def __init__(self, client: Any, lister: Any) -> None:
        self.client = client
        self.lister = lister
        self._promotions: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def entities(self, ad_account_id: str, table: AdsTable) -> list[dict[str, Any]]:
        """Return the entity objects whose ids a sync request of `table` sends."""
        if table.name == "product_group_analytics":
            return self.product_group_promotions(ad_account_id)
        kind = LISTER_KINDS.get(table.name)
        return self.lister.list(ad_account_id, kind) if kind else []

    def parents(self, ad_account_id: str, table: AdsTable) -> dict[str, dict[str, str | None]]:
        """Map each entity id to its parent id columns (`campaign_id`, `ad_group_id`)."""
        if not table.parents:
            return {}
        objects = self.entities(ad_account_id, table)
        if not objects:
            return {}
        campaign_of_ad_group: dict[str, Any] = {}
        if "campaign_id" in table.parents and table.name == "product_group_analytics":
            campaign_of_ad_group = {
                str(group["id"]): group.get("campaign_id") for group in self.lister.list(ad_account_id, "ad_groups")
            }

        mapping: dict[str, dict[str, str | None]] = {}
        for item in objects:
            parents: dict[str, str | None] = {}
            ad_group_id = ad_group_id_of(item)
            for parent in table.parents:
                value = ad_group_id if parent == "ad_group_id" else item.get(parent)
                if value is None and parent == "campaign_id":
                    value = campaign_of_ad_group.get(str(ad_group_id))
                parents[parent] = None if value is None else str(value)
            mapping[str(item["id"])] = parents
        return mapping

    def product_group_promotions(self, ad_account_id: str) -> list[dict[str, Any]]:
        """List the product group promotions of every ad group, archived ad groups included.

        NOTE: this assumes that `product_group_ids` of the product group analytics endpoint
        are product group promotion ids, because the API reference files the endpoint with
        the promotion endpoints. Catalog product group ids would need another list here.
        """
        with self._lock:
            if ad_account_id in self._promotions:
                return self._promotions[ad_account_id]

        by_ad_group = getattr(self.lister, "list_by_ad_group", None)
        if by_ad_group is not None:
            items = list(by_ad_group(ad_account_id, "product_group_promotions"))
        else:
            items = []
            params_base = {"entity_statuses": list(self.lister.entity_statuses)}
            for ad_group_id in self.lister.ids(ad_account_id, "ad_groups"):
                params = {**params_base, "ad_group_id": ad_group_id}
                for page in self.client.paginate(f"/ad_accounts/{ad_account_id}/product_group_promotions", params):
                    items.extend(page)

        with self._lock:
            self._promotions[ad_account_id] = items
        return items
