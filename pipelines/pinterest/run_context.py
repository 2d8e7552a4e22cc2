"""State shared by the resources of one sync: the client, entity caches and the run summary."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .config import SyncConfig
from .listing import EntityLister
from .progress import NullProgress, ProgressListener

logger = logging.getLogger("pinterest_sync")

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class RunSummary:
    """Record of skipped, truncated and failed items of a run, printed at the end and used for the exit status."""

    skipped_accounts: dict[str, str] = field(default_factory=dict)
    truncated_boards: dict[str, str] = field(default_factory=dict)
    failed_resources: dict[str, str] = field(default_factory=dict)
    unavailable: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    progress: ProgressListener = field(default_factory=NullProgress, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def skip_account(self, ad_account_id: str, reason: str) -> None:
        with self._lock:
            if ad_account_id not in self.skipped_accounts:
                logger.warning("Skipping ad account %s: %s", ad_account_id, reason)
                self.skipped_accounts[ad_account_id] = reason

    def truncate_board(self, board_id: str, reason: str) -> None:
        with self._lock:
            logger.warning("Board %s is truncated: %s", board_id, reason)
            self.truncated_boards[board_id] = reason

    def fail_resource(self, resource: str, reason: str) -> None:
        with self._lock:
            logger.error("Resource %s failed: %s", resource, reason)
            previous = self.failed_resources.get(resource)
            self.failed_resources[resource] = f"{previous}; {reason}" if previous else reason
        self.progress.resource_failed(resource, reason)

    def count_rows(self, table: str, count: int, ad_account_id: str | None = None) -> None:
        with self._lock:
            self.rows[table] += count
        self.progress.rows(table, count, ad_account_id)

    def add_unavailable(self, message: str) -> None:
        """Record days or tables the API cannot serve; the resource that found them logged them."""
        with self._lock:
            self.unavailable.append(message)


@dataclass
class RunContext:
    """Objects the resources of one run share; built once per run by the pipeline."""

    config: SyncConfig
    client: Any
    lister: EntityLister
    ad_accounts: list[dict[str, Any]]
    summary: RunSummary = field(default_factory=RunSummary)
    # Pinterest API client for what the hosted backend does not serve: analytics, the user
    # account and product group promotions. It is `client` itself on the direct path, and
    # None when the hosted backend runs without Pinterest credentials.
    direct_client: Any = None
    # Entity lister on `direct_client`: `lister` itself on the direct path.
    direct_lister: Any = None
    _boards: list[dict[str, Any]] | None = None
    _boards_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def boards(self) -> list[dict[str, Any]]:
        """Return the user's boards, listed once per run for boards, sections and pins."""
        with self._boards_lock:
            if self._boards is None:
                self._boards = [item for page in self.client.paginate("/boards") for item in page]
            return self._boards

    def active_accounts(self) -> list[dict[str, Any]]:
        return [account for account in self.ad_accounts if str(account["id"]) not in self.summary.skipped_accounts]


def fan_out(items: Iterable[T], fetch: Callable[[T], Iterable[R]], max_workers: int) -> Iterator[R]:
    """Run `fetch` for each item on a thread pool and yield results in item order.

    Each item's results are collected in its worker, so at most `max_workers` items' worth
    of results are held at once. One worker runs inline with no pool.
    """
    item_list = list(items)
    if max_workers <= 1 or len(item_list) <= 1:
        for item in item_list:
            yield from fetch(item)
        return
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="pinterest-fetch") as pool:
        pending = []
        for item in item_list:
            pending.append(pool.submit(lambda value=item: list(fetch(value))))
            if len(pending) >= max_workers:
                yield from pending.pop(0).result()
        for future in pending:
            yield from future.result()
