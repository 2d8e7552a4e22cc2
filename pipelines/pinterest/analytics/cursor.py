"""Per ad account cursors of the daily ads analytics runs, kept in dlt resource state.

There is one cursor per ad account and report settings, because a cursor shared across
accounts would let the first account's progress hide the others' missing days. Each
cursor records the first and the last date a daily run covered (loaded, or reported
unavailable). A later run then re-fetches the recent days whose conversions still change,
and loads the older days when the configured start date moves back.

State layout under the resource: `{"cursors": {ad_account_id: {settings_key: {"first_date",
"last_date"}}}}` with ISO dates. Backfills never read or write it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from .dates import ONE_DAY, DateRange

CURSORS_KEY = "cursors"


@dataclass(frozen=True)
class Coverage:
    """Dates a daily run already covered for one ad account and settings key."""

    first_date: dt.date
    last_date: dt.date


def read_coverage(state: MutableMapping[str, Any], ad_account_id: str, settings_key: str) -> Coverage | None:
    entry = state.get(CURSORS_KEY, {}).get(ad_account_id, {}).get(settings_key)
    if not entry:
        return None
    return Coverage(dt.date.fromisoformat(entry["first_date"]), dt.date.fromisoformat(entry["last_date"]))


def write_coverage(state: MutableMapping[str, Any], ad_account_id: str, settings_key: str, coverage: Coverage) -> None:
    accounts = state.setdefault(CURSORS_KEY, {})
    accounts.setdefault(ad_account_id, {})[settings_key] = {
        "first_date": coverage.first_date.isoformat(),
        "last_date": coverage.last_date.isoformat(),
    }


def ranges_to_fetch(
    requested: DateRange,
    coverage: Coverage | None,
    lookback_days: int,
    refetch_floor: dt.date | None = None,
) -> list[DateRange]:
    """Return the days a daily run must fetch for one account.

    Without coverage, that is the whole requested range. With coverage, it is the days
    from `lookback_days` before the last covered date up to the requested end (late
    conversions restate those days), plus any requested days older than the first
    covered date (the start date was moved back). `refetch_floor` (the oldest day of the
    sync endpoints) keeps the re-fetched days off async reports unless the last run is so
    old that days after it lie beyond the floor.
    """
    if coverage is None:
        return [requested]

    ranges: list[DateRange] = []
    if requested.start < coverage.first_date:
        older = requested.clip(end=coverage.first_date - ONE_DAY)
        if older:
            ranges.append(older)

    recent_start = coverage.last_date - dt.timedelta(days=lookback_days)
    if refetch_floor is not None and recent_start < refetch_floor <= coverage.last_date + ONE_DAY:
        recent_start = refetch_floor
    recent = requested.clip(start=recent_start)
    if recent:
        ranges.append(recent)
    return ranges


def advance(coverage: Coverage | None, requested: DateRange) -> Coverage:
    """Return the coverage after a daily run that fetched everything `ranges_to_fetch` asked."""
    if coverage is None:
        return Coverage(requested.start, requested.end)
    return Coverage(min(coverage.first_date, requested.start), max(coverage.last_date, requested.end))
