"""Query parameter parsing and bookmark pagination shared by the list endpoints.

A list's ids are fixed when its first page is served (a snapshot), and the bookmark is
an opaque token naming the snapshot and the offset of the next page. Later pages read
the current objects by id, so edits show up and deleted objects drop out, but paging
never re-filters a large list. A bookmark whose snapshot has been evicted re-runs the
filter.
"""

from __future__ import annotations

import base64
import binascii
import collections
import itertools
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from starlette.datastructures import QueryParams

from .faults import Faults
from .responses import invalid_parameter

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 250
MAX_IDS = 250
ENTITY_STATUSES = ("ACTIVE", "PAUSED", "ARCHIVED", "DRAFT", "DELETED_DRAFT")
DEFAULT_ENTITY_STATUSES = ("ACTIVE", "PAUSED")
ID_PATTERN = re.compile(r"^\d+$")


def parse_page_size(query: QueryParams) -> int:
    raw = query.get("page_size")
    if raw is None or raw == "":
        return DEFAULT_PAGE_SIZE
    try:
        page_size = int(raw)
    except ValueError:
        raise invalid_parameter(f"Parameter 'page_size' was not numeric (was {raw})") from None
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise invalid_parameter(f"Parameter 'page_size' must be between 1 and {MAX_PAGE_SIZE} (was {page_size}).")
    return page_size


def parse_ids(query: QueryParams, name: str, max_items: int = MAX_IDS) -> list[str] | None:
    """Read a repeated-key id array (`name=1&name=2`); None when absent.

    A comma-joined value fails the digits pattern, as the description declares each
    array item as its own `^\\d+$` string.
    """
    values = query.getlist(name)
    if not values:
        return None
    if len(values) > max_items:
        raise invalid_parameter(f"Parameter '{name}' accepts at most {max_items} ids (was {len(values)}).")
    for value in values:
        if not ID_PATTERN.match(value):
            raise invalid_parameter(f"'{name}' value '{value}' must match the pattern: ^\\d+$")
    return values


def parse_id(query: QueryParams, name: str) -> str | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    if not ID_PATTERN.match(value):
        raise invalid_parameter(f"'{name}' value '{value}' must match the pattern: ^\\d+$")
    return value


def parse_enum_list(query: QueryParams, name: str, allowed: Sequence[str], default: Sequence[str] | None) -> set[str] | None:
    values = query.getlist(name)
    if not values:
        return set(default) if default is not None else None
    for value in values:
        if value not in allowed:
            raise invalid_parameter(f"'{name}' value '{value}' is not one of {', '.join(allowed)}.")
    return set(values)


def parse_order(query: QueryParams) -> str | None:
    order = query.get("order")
    if order in (None, ""):
        return None
    if order not in ("ASCENDING", "DESCENDING"):
        raise invalid_parameter(f"'order' value '{order}' is not one of ASCENDING, DESCENDING.")
    return order


def sort_ids(ids: Iterable[str], order: str | None) -> list[str]:
    """Return the ids in creation order, or sorted by numeric id when `order` is given."""
    if order is None:
        return list(ids)
    return sorted(ids, key=int, reverse=order == "DESCENDING")


class Pager:
    """Paginator of id lists into `{"items": [...], "bookmark": str | None}` pages, keeping the snapshots."""

    MAX_SNAPSHOTS = 512

    def __init__(self) -> None:
        self._snapshots: collections.OrderedDict[int, list[str]] = collections.OrderedDict()
        self._snapshot_ids = itertools.count(1)
        self._lock = threading.Lock()

    def page(
        self,
        faults: Faults,
        query: QueryParams,
        method: str,
        template: str,
        select: Callable[[], list[str]],
        objects: Mapping[str, dict[str, Any]],
        render: Callable[[dict[str, Any]], dict[str, Any]] = lambda item: item,
        max_offset: int | None = None,
        max_offset_message: str = "",
    ) -> dict[str, Any]:
        """Serve one page of the ids `select` returns, rendered from `objects`.

        `max_offset` caps the list, as Pinterest caps board pins. A page at or past it
        raises a 400 ApiError with `max_offset_message`.
        """
        page_size = parse_page_size(query)
        bookmark = query.get("bookmark") or None

        if bookmark is None:
            snapshot_id, ids = self._store(select())
            offset = 0
        else:
            snapshot_id, offset = self._decode(bookmark)
            ids = self._load(snapshot_id, select)

        repeat_page = bookmark is not None and faults.path_in(faults.repeat_bookmark_paths, method, template)
        if repeat_page:
            offset = 0
        if max_offset is not None and offset >= max_offset:
            raise invalid_parameter(max_offset_message)

        end = offset + page_size
        if max_offset is not None:
            end = min(end, max_offset)
        items = [render(objects[item_id]) for item_id in ids[offset:end] if item_id in objects]

        if repeat_page:
            next_bookmark = bookmark
        else:
            next_bookmark = self._encode(snapshot_id, end) if end < len(ids) else None
        if faults.path_in(faults.items_not_list_paths, method, template):
            return {"items": {item["id"]: item for item in items}, "bookmark": next_bookmark}
        return {"items": items, "bookmark": next_bookmark}

    def _store(self, ids: list[str], snapshot_id: int | None = None) -> tuple[int, list[str]]:
        with self._lock:
            if snapshot_id is None:
                snapshot_id = next(self._snapshot_ids)
            self._snapshots[snapshot_id] = ids
            while len(self._snapshots) > self.MAX_SNAPSHOTS:
                self._snapshots.popitem(last=False)
        return snapshot_id, ids

    def _load(self, snapshot_id: int, select: Callable[[], list[str]]) -> list[str]:
        with self._lock:
            ids = self._snapshots.get(snapshot_id)
        if ids is None:
            _, ids = self._store(select(), snapshot_id)
        return ids

    @staticmethod
    def _encode(snapshot_id: int, offset: int) -> str:
        return base64.urlsafe_b64encode(f"s{snapshot_id}:o{offset}".encode()).decode().rstrip("=")

    @staticmethod
    def _decode(bookmark: str) -> tuple[int, int]:
        try:
            text = base64.urlsafe_b64decode(bookmark + "=" * (-len(bookmark) % 4)).decode()
            snapshot_part, offset_part = text.split(":")
            if not (snapshot_part.startswith("s") and offset_part.startswith("o")):
                raise ValueError(text)
            snapshot_id, offset = int(snapshot_part[1:]), int(offset_part[1:])
            if snapshot_id < 1 or offset < 0:
                raise ValueError(text)
            return snapshot_id, offset
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise invalid_parameter(f"Invalid bookmark '{bookmark}': pass back the bookmark of the previous page unchanged.") from None
