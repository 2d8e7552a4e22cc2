"""Progress of a sync per resource and per ad account: a live display on a terminal, log lines elsewhere.

Resources report rows as they extract them (`RunSummary.count_rows` forwards each count
here), from several threads at once. A listener only counts and displays; it never
changes what is loaded. `make_progress` picks the display: a rich live table when
standard output is a terminal, INFO lines on the `pinterest_sync.progress` logger
otherwise (cron jobs, CI, log files).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, Any, Protocol

logger = logging.getLogger("pinterest_sync.progress")

# Seconds between two "rows so far" lines of one table on the log display.
LOG_INTERVAL_SECONDS = 10.0


class ProgressListener(Protocol):
    """Callbacks the pipeline makes while a sync runs; every method must be thread-safe."""

    def start(self, resources: Sequence[str], ad_account_ids: Sequence[str]) -> None:
        """Show that the run begins extracting `resources` for `ad_account_ids` (empty when none apply)."""

    def rows(self, table: str, count: int, ad_account_id: str | None = None) -> None:
        """Count `count` more extracted rows of `table`, for one ad account or for none."""

    def resource_done(self, table: str) -> None:
        """Mark `table` as done. Optional, because `finish` closes every resource."""

    def resource_failed(self, table: str, reason: str) -> None:
        """Mark `table` as failed while the other resources go on."""

    def finish(self) -> None:
        """Close the display after extraction, normalization and loading."""


class NullProgress:
    """A listener that shows nothing, for library use and tests."""

    def start(self, resources: Sequence[str], ad_account_ids: Sequence[str]) -> None:
        pass

    def rows(self, table: str, count: int, ad_account_id: str | None = None) -> None:
        pass

    def resource_done(self, table: str) -> None:
        pass

    def resource_failed(self, table: str, reason: str) -> None:
        pass

    def finish(self) -> None:
        pass


def _rows(count: int) -> str:
    return f"{count:,} row" if count == 1 else f"{count:,} rows"


class _Tally:
    """Row counts per table and per ad account, shared by the displays."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.resources: list[str] = []
        self.ad_account_ids: list[str] = []
        self.table_rows: Counter[str] = Counter()
        self.account_rows: Counter[str] = Counter()
        self.table_accounts: dict[str, set[str]] = defaultdict(set)
        self.account_tables: dict[str, set[str]] = defaultdict(set)
        self.failed: dict[str, str] = {}

    def add(self, table: str, count: int, ad_account_id: str | None) -> tuple[bool, bool]:
        """Count rows; return (first rows of this table, first rows of this table for this account)."""
        first_table = table not in self.table_rows
        self.table_rows[table] += count
        first_account = False
        if ad_account_id is not None:
            first_account = ad_account_id not in self.table_accounts[table]
            self.table_accounts[table].add(ad_account_id)
            self.account_tables[ad_account_id].add(table)
            self.account_rows[ad_account_id] += count
        return first_table, first_account

    def accounts_text(self, table: str) -> str:
        seen = len(self.table_accounts.get(table, ()))
        if not seen:
            return ""
        total = len(self.ad_account_ids)
        return f"{seen} of {total} ad accounts" if total >= seen else f"{seen} ad accounts"


class LogProgress:
    """Plain INFO lines: each table's first rows, each new ad account per table, rows so far
    at most every `interval` seconds per table, and the totals per ad account at the end."""

    def __init__(self, log: logging.Logger = logger, interval: float = LOG_INTERVAL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.log = log
        self.interval = interval
        self.clock = clock
        self.tally = _Tally()
        self.last_line: dict[str, float] = {}

    def start(self, resources: Sequence[str], ad_account_ids: Sequence[str]) -> None:
        with self.tally.lock:
            self.tally.resources = list(resources)
            self.tally.ad_account_ids = [str(ad_account_id) for ad_account_id in ad_account_ids]
        self.log.info("Sync started: %s, %s.", _count(len(resources), "resource"), _count(len(ad_account_ids), "ad account"))

    def rows(self, table: str, count: int, ad_account_id: str | None = None) -> None:
        with self.tally.lock:
            first_table, first_account = self.tally.add(table, count, ad_account_id)
            total = self.tally.table_rows[table]
            accounts = self.tally.accounts_text(table)
            now = self.clock()
            due = first_table or first_account or now - self.last_line.get(table, now) >= self.interval
            if due:
                self.last_line[table] = now
        if not due:
            return
        if first_account:
            self.log.info("%s: ad account %s (%s), %s so far.", table, ad_account_id, accounts, _rows(total))
        else:
            self.log.info("%s: %s so far%s.", table, _rows(total), f" ({accounts})" if accounts else "")

    def resource_done(self, table: str) -> None:
        with self.tally.lock:
            total = self.tally.table_rows[table]
        self.log.info("%s: done, %s.", table, _rows(total))

    def resource_failed(self, table: str, reason: str) -> None:
        with self.tally.lock:
            self.tally.failed[table] = reason
        self.log.info("%s: failed, the other resources go on.", table)

    def finish(self) -> None:
        with self.tally.lock:
            rows = sum(self.tally.table_rows.values())
            tables = len(self.tally.table_rows)
            accounts = dict(self.tally.account_rows)
        self.log.info("Sync finished: %s in %s.", _rows(rows), _count(tables, "table"))
        for ad_account_id in sorted(accounts):
            self.log.info("Ad account %s: %s.", ad_account_id, _rows(accounts[ad_account_id]))


class RichProgress:
    """A live display with one line per resource and one per ad account, on a terminal."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = console or Console()
        # No bar: the total rows of a resource are unknown until it ends. The columns fit
        # an 80-column terminal with 19-digit ad account ids.
        self.progress = Progress(
            SpinnerColumn(finished_text="[green]done[/green]"),
            TextColumn("{task.description}"),
            TextColumn("{task.fields[rows]:>10,} rows"),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.tally = _Tally()
        self.resource_tasks: dict[str, Any] = {}
        self.account_tasks: dict[str, Any] = {}

    def start(self, resources: Sequence[str], ad_account_ids: Sequence[str]) -> None:
        with self.tally.lock:
            self.tally.resources = list(resources)
            self.tally.ad_account_ids = [str(ad_account_id) for ad_account_id in ad_account_ids]
            for table in resources:
                self._resource_task(table)
            for ad_account_id in self.tally.ad_account_ids:
                self._account_task(ad_account_id)
        self.progress.start()

    def rows(self, table: str, count: int, ad_account_id: str | None = None) -> None:
        with self.tally.lock:
            self.tally.add(table, count, ad_account_id)
            task = self._resource_task(table)
            self.progress.update(task, rows=self.tally.table_rows[table], detail=self.tally.accounts_text(table))
            if ad_account_id is not None:
                tables = len(self.tally.account_tables[ad_account_id])
                self.progress.update(
                    self._account_task(ad_account_id),
                    rows=self.tally.account_rows[ad_account_id],
                    detail=f"{tables} table{'s' if tables != 1 else ''}",
                )

    def resource_done(self, table: str) -> None:
        with self.tally.lock:
            self.progress.update(self._resource_task(table), total=1, completed=1)

    def resource_failed(self, table: str, reason: str) -> None:
        with self.tally.lock:
            self.tally.failed[table] = reason
            self.progress.update(self._resource_task(table), description=f"[red]{table} FAILED[/red]", total=1, completed=1)

    def finish(self) -> None:
        with self.tally.lock:
            for task in [*self.resource_tasks.values(), *self.account_tasks.values()]:
                self.progress.update(task, total=1, completed=1)
        self.progress.stop()

    def _resource_task(self, table: str) -> Any:
        if table not in self.resource_tasks:
            self.resource_tasks[table] = self.progress.add_task(table, total=None, rows=0, detail="")
        return self.resource_tasks[table]

    def _account_task(self, ad_account_id: str) -> Any:
        if ad_account_id not in self.account_tasks:
            self.account_tasks[ad_account_id] = self.progress.add_task(f"ad account {ad_account_id}", total=None, rows=0, detail="")
        return self.account_tasks[ad_account_id]


def make_progress(stream: IO[str] | None = None, enabled: bool = True) -> ProgressListener:
    """Pick the display: live on a terminal, log lines otherwise, nothing when disabled.

    The log display sets the `pinterest_sync.progress` logger to INFO unless a level was
    set for it, so its lines show under the CLI's default WARNING level.
    """
    if not enabled:
        return NullProgress()
    stream = stream or sys.stdout
    if stream.isatty():
        from rich.console import Console

        return RichProgress(Console(file=stream))
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    return LogProgress()


def rows_by_account(batch: Any) -> dict[str | None, int]:
    """Rows of one extracted item per ad account: Arrow tables, record batches, dicts or lists of dicts.

    Rows without an `ad_account_id` column or value count under None.
    """
    column_names = getattr(batch, "column_names", None)
    if column_names is not None:
        if "ad_account_id" not in column_names:
            return {None: batch.num_rows}
        import pyarrow.compute as pc

        counts: dict[str | None, int] = {}
        for entry in pc.value_counts(batch.column("ad_account_id")).to_pylist():
            value = entry["values"]
            counts[None if value is None else str(value)] = int(entry["counts"])
        return counts
    rows: Iterable[Any] = batch if isinstance(batch, list) else [batch]
    tally: Counter[str | None] = Counter()
    for row in rows:
        value = row.get("ad_account_id") if isinstance(row, Mapping) else None
        tally[None if value is None else str(value)] += 1
    return dict(tally)


def batch_counter(count_rows: Callable[[str, int, str | None], None], table: str) -> Callable[[Any], Any]:
    """A function for `DltResource.add_map` that reports each item's rows per ad account and passes it on."""

    def count(batch: Any) -> Any:
        for ad_account_id, rows in rows_by_account(batch).items():
            if rows:
                count_rows(table, rows, ad_account_id)
        return batch

    return count


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")
