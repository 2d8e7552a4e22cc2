"""Days a user asked for that Pinterest cannot serve, logged and kept for the run summary.

Each analytics resource replaces the `unavailable_days` list in its own resource state
at the end of every run in which it is extracted, so after a run
`unavailable_days(pipeline, tables)` returns what that run could not load. Entries are
plain dicts: `table`, `ad_account_id` (None for organic tables), `start_date`,
`end_date` (ISO dates, inclusive), `days` and `reason`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, MutableMapping
from typing import Any

from .dates import DateRange

logger = logging.getLogger(__name__)

STATE_KEY = "unavailable_days"


class UnavailableLog:
    """Unavailable date ranges found while extracting one table."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def add(self, table: str, ad_account_id: str | None, dates: DateRange, reason: str) -> None:
        entry = {
            "table": table,
            "ad_account_id": ad_account_id,
            "start_date": dates.start.isoformat(),
            "end_date": dates.end.isoformat(),
            "days": dates.days,
            "reason": reason,
        }
        self.entries.append(entry)
        account = f" of ad account {ad_account_id}" if ad_account_id else ""
        logger.warning("%s%s: %d requested day(s) %s not loaded: %s.", table, account, dates.days, dates, reason)

    def save(self, state: MutableMapping[str, Any]) -> None:
        state[STATE_KEY] = list(self.entries)


def unavailable_days(pipeline: Any, tables: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Return the unavailable days recorded by the last run of each analytics table.

    Pass the tables the run extracted as `tables`, because a table that was not extracted
    keeps the list of its own last run.
    """
    selected = set(tables) if tables is not None else None
    found: list[dict[str, Any]] = []
    for source_state in pipeline.state.get("sources", {}).values():
        for name, resource_state in source_state.get("resources", {}).items():
            if selected is not None and name not in selected:
                continue
            found.extend(resource_state.get(STATE_KEY, []))
    return found
