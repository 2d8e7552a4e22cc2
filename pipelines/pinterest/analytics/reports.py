"""Asynchronous ads reports: create, poll with backoff, download at once, parse.

A report serves up to 914 days back and 186 days per report. Its download link lives
five minutes and the report one hour, so each report is downloaded as soon as it is
`FINISHED`, before the next one is polled again. The download goes through
`client.download`, which sends no bearer token to the storage host.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ApiError, PinterestSyncError
from .dates import DateRange
from .request import ReportSettings, reject_attribution
from .sync import flatten_targeting_row

logger = logging.getLogger(__name__)

# Reports accept at most 5 targeting types each.
MAX_TARGETING_TYPES_PER_REPORT = 5
FAILED_STATUSES = {"FAILED", "EXPIRED", "CANCELLED", "DOES_NOT_EXIST"}
MAX_REPORT_ATTEMPTS = 2


class ReportError(PinterestSyncError):
    """An async report failed, expired, timed out or could not be parsed."""


@dataclass(frozen=True)
class PollPolicy:
    """Waits between status checks: `first_delay` seconds, doubled up to `max_delay`.

    `timeout` bounds the wait for all reports of one batch, in seconds.
    """

    first_delay: float = 1.0
    max_delay: float = 30.0
    timeout: float = 1800.0


DEFAULT_POLL_POLICY = PollPolicy()


@dataclass(frozen=True)
class ReportJob:
    """One report to create: a level, a date range and, for targeting levels, its types."""

    level: str
    dates: DateRange
    columns: tuple[str, ...]
    targeting_types: tuple[str, ...] = ()

    def describe(self, ad_account_id: str) -> str:
        types = f" targeting {','.join(self.targeting_types)}" if self.targeting_types else ""
        return f"{self.level} report {self.dates}{types} of ad account {ad_account_id}"


@dataclass
class _Pending:
    job: ReportJob
    token: str
    polls: int = field(default=0)
    attempts: int = field(default=1)


def report_body(job: ReportJob, settings: ReportSettings) -> dict[str, Any]:
    body: dict[str, Any] = {
        "start_date": job.dates.start.isoformat(),
        "end_date": job.dates.end.isoformat(),
        "granularity": settings.granularity,
        "level": job.level,
        "columns": list(job.columns),
        "report_format": "JSON",
        "primary_sort": "BY_ID",
        **settings.attribution(),
    }
    if job.targeting_types:
        body["targeting_types"] = list(job.targeting_types)
    return body


def targeting_groups(types: Sequence[str]) -> list[tuple[str, ...]]:
    return [tuple(types[start : start + MAX_TARGETING_TYPES_PER_REPORT]) for start in range(0, len(types), MAX_TARGETING_TYPES_PER_REPORT)]


def parse_report(payload: bytes, description: str) -> dict[str, list[dict[str, Any]]]:
    """Parse a JSON report: an object keyed by entity id, each holding a list of rows.

    Pinterest omits rows whose metrics are all zero. Targeting rows in the nested
    `{targeting_type, targeting_value, metrics}` form are flattened.
    """
    try:
        document = json.loads(payload) if payload else {}
    except ValueError as error:
        raise ReportError(f"The {description} is not valid JSON ({error}); run the sync again to request a new report.") from None
    if not isinstance(document, Mapping):
        raise ReportError(f"The {description} is a JSON {type(document).__name__}, expected an object keyed by entity id.")

    parsed: dict[str, list[dict[str, Any]]] = {}
    for entity_id, rows in document.items():
        if not isinstance(rows, list):
            raise ReportError(f"The {description} is invalid: id {entity_id} maps to a {type(rows).__name__}, expected a list of rows.")
        parsed[str(entity_id)] = [flatten_targeting_row(row) if "metrics" in row else dict(row) for row in rows]
    return parsed


def run_reports(
    client: Any,
    ad_account_id: str,
    jobs: Sequence[ReportJob],
    settings: ReportSettings,
    policy: PollPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[tuple[ReportJob, dict[str, list[dict[str, Any]]]]]:
    """Create every report of `jobs`, then yield each one's parsed rows as it finishes.

    Creating all reports first lets Pinterest build them in parallel. A report that ends
    FAILED, EXPIRED, CANCELLED or DOES_NOT_EXIST is created once more. ReportError is
    raised when it ends so again, or when a report is unfinished after `policy.timeout`
    seconds.
    """
    policy = policy or DEFAULT_POLL_POLICY
    path = f"/ad_accounts/{ad_account_id}/reports"
    pending = [_create(client, path, ad_account_id, job, settings) for job in jobs]

    deadline = time.monotonic() + policy.timeout
    delay = policy.first_delay
    while pending:
        for entry in list(pending):
            status = client.get(path, params={"token": entry.token})
            entry.polls += 1
            state = str(status.get("report_status", "")) if isinstance(status, Mapping) else ""
            description = entry.job.describe(ad_account_id)

            if state == "FINISHED":
                pending.remove(entry)
                url = status.get("url")
                payload = client.download(url) if url else b""
                logger.info("Downloaded %s after %d status checks.", description, entry.polls)
                yield entry.job, parse_report(payload, description)
            elif state in FAILED_STATUSES:
                if entry.attempts >= MAX_REPORT_ATTEMPTS:
                    raise ReportError(f"The {description} ended with status {state} twice; run the sync again later to request it anew.")
                logger.warning("The %s ended with status %s; creating it again.", description, state)
                pending[pending.index(entry)] = _create(client, path, ad_account_id, entry.job, settings, entry.attempts + 1)

        if not pending:
            break
        if time.monotonic() + delay > deadline:
            waiting = ", ".join(entry.job.describe(ad_account_id) for entry in pending)
            raise ReportError(f"Timed out after {policy.timeout:.0f} s waiting for: {waiting}. Run the sync again later.")
        sleep(delay)
        delay = min(delay * 2, policy.max_delay)


def _create(client: Any, path: str, ad_account_id: str, job: ReportJob, settings: ReportSettings, attempts: int = 1) -> _Pending:
    try:
        created = client.post(path, json=report_body(job, settings))
    except ApiError as error:
        reject_attribution(error, settings)
        raise
    token = created.get("token") if isinstance(created, Mapping) else None
    if not token:
        raise ReportError(f"Creating the {job.describe(ad_account_id)} returned no token: {created!r}.")
    logger.info("Created %s.", job.describe(ad_account_id))
    return _Pending(job, str(token), attempts=attempts)
