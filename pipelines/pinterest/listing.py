"""Per-run cache of ads entity lists shared by the entity and analytics resources.

The campaigns, ad groups and ads of an ad account are listed once per run. The entity
tables load them, and the analytics resources take their ids from the same lists. So the
ids cover archived entities, and no list is requested twice.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from .settings import DEFAULT_ENTITY_STATUSES

# Paths under /ad_accounts/{id} whose list accepts `entity_statuses`.
STATUS_FILTERED = {"campaigns", "ad_groups", "ads"}


class EntityLister:
    """List and memoise ad account children (campaigns, ad groups, ads, ...) for one run."""

    def __init__(self, client: Any, entity_statuses: Iterable[str] = DEFAULT_ENTITY_STATUSES) -> None:
        self.client = client
        self.entity_statuses = tuple(entity_statuses)
        self._cache: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def list(self, ad_account_id: str, kind: str) -> list[dict[str, Any]]:
        """Return every `kind` object of the ad account (`campaigns`, `ad_groups`, `ads`)."""
        key = (ad_account_id, kind)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._cache:
                self._cache[key] = [item for page in self.pages(ad_account_id, kind) for item in page]
            return self._cache[key]

    def pages(self, ad_account_id: str, kind: str) -> Iterable[list[dict[str, Any]]]:
        """Yield pages straight from the API, bypassing the cache."""
        params: dict[str, Any] = {}
        if kind in STATUS_FILTERED:
            params["entity_statuses"] = list(self.entity_statuses)
        return self.client.paginate(f"/ad_accounts/{ad_account_id}/{kind}", params)

    def list_by_ad_group(self, ad_account_id: str, kind: str) -> list[dict[str, Any]]:
        """Return every `kind` object of the account's ad groups, one listing per ad group.

        Product group promotions can only be listed with an `ad_group_id` filter, so this
        walks every ad group of the account, archived ones included.
        """
        key = (ad_account_id, f"{kind}@ad_groups")
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._cache:
                path = f"/ad_accounts/{ad_account_id}/{kind}"
                records: list[dict[str, Any]] = []
                for ad_group_id in self.ids(ad_account_id, "ad_groups"):
                    params = {"ad_group_id": ad_group_id, "entity_statuses": list(self.entity_statuses)}
                    records.extend(item for page in self.client.paginate(path, params) for item in page)
                self._cache[key] = records
            return self._cache[key]

    def ids(self, ad_account_id: str, kind: str) -> list[str]:
        return [str(item["id"]) for item in self.list(ad_account_id, kind)]
