"""Per-run cache of ads entity lists shared by the entity and analytics resources.

The campaigns, ad groups and ads of an ad account are listed once per run. The entity
tables load them, and the analytics resources take their ids from the same lists. So the
ids cover archived entities, and no list is requested twice.

Whole objects stay cached only until their entity table takes them. After that the cache
keeps each object's id and parent ids, which is all the analytics need, so memory does
not grow with the full lists of every ad account.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .settings import DEFAULT_ENTITY_STATUSES

# Paths under /ad_accounts/{id} whose list accepts `entity_statuses`.
STATUS_FILTERED = {"campaigns", "ad_groups", "ads"}

# Fields kept for the whole run after an entity table took the full objects.
REFERENCE_FIELDS = ("id", "campaign_id", "ad_group_id")


def reference_of(item: dict[str, Any]) -> dict[str, Any]:
    """Return the id and parent ids of an API object."""
    return {name: item[name] for name in REFERENCE_FIELDS if item.get(name) is not None}


@dataclass
class _Listing:
    references: list[dict[str, Any]]
    # Full objects until the entity table takes them; None afterwards.
    objects: list[dict[str, Any]] | None


class EntityLister:
    """List and memoise ad account children (campaigns, ad groups, ads, ...) for one run.

    `list` and `ids` return references (id, `campaign_id`, `ad_group_id`); `take` and
    `take_by_ad_group` hand the full objects to the one entity table that loads them.
    """

    def __init__(self, client: Any, entity_statuses: Iterable[str] = DEFAULT_ENTITY_STATUSES, max_workers: int = 4) -> None:
        self.client = client
        self.entity_statuses = tuple(entity_statuses)
        self.max_workers = max_workers
        self._cache: dict[tuple[str, str], _Listing] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def list(self, ad_account_id: str, kind: str) -> list[dict[str, Any]]:
        """Return the id and parent ids of every `kind` object of the ad account (`campaigns`, `ad_groups`, `ads`)."""
        return self._listing((ad_account_id, kind), lambda: self._read_all(ad_account_id, kind)).references

    def take(self, ad_account_id: str, kind: str) -> list[dict[str, Any]]:
        """Return the full `kind` objects of the ad account and drop them from the cache.

        A second call lists them again from the API, so only the entity table that loads
        the objects should call this.
        """
        return self._take((ad_account_id, kind), lambda: self._read_all(ad_account_id, kind))

    def pages(self, ad_account_id: str, kind: str) -> Iterable[list[dict[str, Any]]]:
        """Yield pages straight from the API, bypassing the cache."""
        params: dict[str, Any] = {}
        if kind in STATUS_FILTERED:
            params["entity_statuses"] = list(self.entity_statuses)
        return self.client.paginate(f"/ad_accounts/{ad_account_id}/{kind}", params)

    def list_by_ad_group(self, ad_account_id: str, kind: str) -> list[dict[str, Any]]:
        """Return the id and parent ids of every `kind` object of the account's ad groups.

        Product group promotions can only be listed with an `ad_group_id` filter, so this
        walks every ad group of the account, archived ones included.
        """
        key = (ad_account_id, f"{kind}@ad_groups")
        return self._listing(key, lambda: self._read_by_ad_group(ad_account_id, kind)).references

    def take_by_ad_group(self, ad_account_id: str, kind: str) -> list[dict[str, Any]]:
        """Return the full `kind` objects of every ad group of the account, as `take` does."""
        key = (ad_account_id, f"{kind}@ad_groups")
        return self._take(key, lambda: self._read_by_ad_group(ad_account_id, kind))

    def ids(self, ad_account_id: str, kind: str) -> list[str]:
        return [str(item["id"]) for item in self.list(ad_account_id, kind)]

    def _lock_for(self, key: tuple[str, str]) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _listing(self, key: tuple[str, str], read: Any) -> _Listing:
        with self._lock_for(key):
            listing = self._cache.get(key)
            if listing is None:
                objects = read()
                listing = _Listing([reference_of(item) for item in objects], objects)
                self._cache[key] = listing
            return listing

    def _take(self, key: tuple[str, str], read: Any) -> list[dict[str, Any]]:
        with self._lock_for(key):
            listing = self._cache.get(key)
            if listing is None or listing.objects is None:
                objects = read()
                self._cache[key] = _Listing([reference_of(item) for item in objects], None)
                return objects
            objects, listing.objects = listing.objects, None
            return objects

    def _read_all(self, ad_account_id: str, kind: str) -> list[dict[str, Any]]:
        return [item for page in self.pages(ad_account_id, kind) for item in page]

    def _read_by_ad_group(self, ad_account_id: str, kind: str) -> list[dict[str, Any]]:
        """List `kind` per ad group on up to `max_workers` threads, in ad group order."""
        path = f"/ad_accounts/{ad_account_id}/{kind}"
        statuses = list(self.entity_statuses)

        def read_group(ad_group_id: str) -> list[dict[str, Any]]:
            params = {"ad_group_id": ad_group_id, "entity_statuses": statuses}
            return [item for page in self.client.paginate(path, params) for item in page]

        ad_group_ids = self.ids(ad_account_id, "ad_groups")
        if self.max_workers <= 1 or len(ad_group_ids) <= 1:
            return [item for ad_group_id in ad_group_ids for item in read_group(ad_group_id)]
        pool = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="pinterest-ad-groups")
        try:
            return [item for group in pool.map(read_group, ad_group_ids) for item in group]
        finally:
            # After a failure the ad groups not yet read are not requested.
            pool.shutdown(wait=True, cancel_futures=True)
