"""Date ranges, API reach limits and the split of a request into sync, async and unavailable days.

Every date here is a UTC calendar date. Pinterest counts its "days back from today" limits
in UTC, so the caller passes today's UTC date and nothing in this module reads a clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True, order=True)
class DateRange:
    """Inclusive range of UTC dates."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"date range ends before it starts: {self.start} > {self.end}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def chunks(self, max_days: int) -> Iterator[DateRange]:
        """Split into consecutive ranges of at most `max_days` days, oldest first."""
        start = self.start
        while start <= self.end:
            end = min(self.end, start + dt.timedelta(days=max_days - 1))
            yield DateRange(start, end)
            start = end + ONE_DAY

    def clip(self, start: dt.date | None = None, end: dt.date | None = None) -> DateRange | None:
        """Return the part inside [start, end], or None when nothing is left."""
        low = max(self.start, start) if start else self.start
        high = min(self.end, end) if end else self.end
        return DateRange(low, high) if low <= high else None

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


@dataclass(frozen=True)
class Reach:
    """How far back one kind of request reaches and how many days one request may span."""

    days_back: int
    max_days: int

    def earliest(self, today: dt.date) -> dt.date:
        return today - dt.timedelta(days=self.days_back)


# Sync endpoints serve 90 days back from today in UTC with at most 90 days past the start
# date. Stopping at 89 days back keeps the first day inside the API's window even right
# after the UTC date changes; 90 dates per request (end - start = 89) stays under the span.
SYNC_DAILY = Reach(days_back=89, max_days=90)
# HOUR granularity: 8 days back and 3 days per request, with the same one-day margin.
SYNC_HOURLY = Reach(days_back=7, max_days=3)
# Async reports: 914 days back, at most 186 days per report.
REPORT_DAILY = Reach(days_back=914, max_days=186)
REPORT_HOURLY = Reach(days_back=7, max_days=3)
# PRODUCT_ITEM level reports: 92 days back, 31 days per report.
REPORT_PRODUCT_ITEM = Reach(days_back=92, max_days=31)
# Organic (user account and pin) analytics: 90 days back, one-day margin as above.
ORGANIC = Reach(days_back=89, max_days=90)


def merge_ranges(ranges: Iterable[DateRange]) -> list[DateRange]:
    """Merge overlapping or adjacent ranges, sorted oldest first."""
    merged: list[DateRange] = []
    for current in sorted(ranges):
        if merged and current.start <= merged[-1].end + ONE_DAY:
            last = merged[-1]
            merged[-1] = DateRange(last.start, max(last.end, current.end))
        else:
            merged.append(current)
    return merged


@dataclass(frozen=True)
class FetchPlan:
    """Requested days split into sync windows, report windows and days no endpoint serves."""

    sync: tuple[DateRange, ...]
    reports: tuple[DateRange, ...]
    unavailable: tuple[DateRange, ...]


def plan_fetch(
    ranges: Iterable[DateRange],
    today: dt.date,
    sync_reach: Reach | None,
    report_reach: Reach | None,
) -> FetchPlan:
    """Split requested days by the endpoint family that can serve them, chunked to its span.

    Days after `today` are dropped because they have no data yet. The most recent days go
    to the sync endpoints (None: the table has none), older days to async reports when
    `report_reach` is given, and days older than every reach are returned as unavailable
    so the caller can report them.
    """
    sync: list[DateRange] = []
    reports: list[DateRange] = []
    unavailable: list[DateRange] = []
    sync_start = sync_reach.earliest(today) if sync_reach else today + ONE_DAY
    report_start = report_reach.earliest(today) if report_reach else sync_start

    for requested in merge_ranges(ranges):
        current = requested.clip(end=today)
        if current is None:
            continue

        recent = current.clip(start=sync_start)
        if recent and sync_reach:
            sync.extend(recent.chunks(sync_reach.max_days))

        if report_reach:
            older = current.clip(start=report_start, end=sync_start - ONE_DAY)
            if older:
                reports.extend(older.chunks(report_reach.max_days))

        lost = current.clip(end=min(report_start, sync_start) - ONE_DAY)
        if lost:
            unavailable.append(lost)

    return FetchPlan(tuple(sync), tuple(reports), tuple(unavailable))
