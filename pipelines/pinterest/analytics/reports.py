"""Asynchronous ads reports: create, poll with backoff, download at once, parse.

A report serves up to 914 days back and 186 days per report. Its download link lives
five minutes and the report one hour, so each report is downloaded as soon as it is
`FINISHED`, before the next one is polled again. The download goes through
`client.download`, which sends no bearer token to the storage host.
"""

from __future__ import annotations

import codecs
import json
import logging
import re
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
    """Parse a whole JSON report into `{entity id: rows}`; see `report_entities`."""
    return dict(report_entities(payload, description))


def report_entities(payload: bytes, description: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Parse a JSON report one entity at a time: an object keyed by entity id, each with a list of rows.

    The text is decoded piece by piece, so besides the payload only one piece of text and
    one entity's rows are in memory, never the whole report as Python objects. Pinterest
    omits rows whose metrics are all zero. Targeting rows in the nested
    `{targeting_type, targeting_value, metrics}` form are flattened. ReportError is raised
    where the text stops being a valid report, after the entities before that point.
    """
    if not payload:
        return
    for entity_id, rows in _report_members(payload, description):
        if not isinstance(rows, list):
            raise ReportError(f"The {description} is invalid: id {entity_id} maps to a {type(rows).__name__}, expected a list of rows.")
        yield entity_id, [flatten_targeting_row(row) if "metrics" in row else _as_dict(row) for row in rows]


def _report_members(payload: bytes, description: str) -> Iterator[tuple[str, Any]]:
    """Yield the members of the report's top-level object, raising ReportError where the text is no valid object."""
    try:
        window = _TextWindow(payload)
        if window.skip_whitespace() != "{":
            document = json.loads(payload)
            raise ReportError(f"The {description} is a JSON {type(document).__name__}, expected an object keyed by entity id.")
        yield from _object_members(window)
    except ValueError as error:
        raise ReportError(f"The {description} is not valid JSON ({_document_error(payload, error)}); run the sync again to request a new report.") from None


# Bytes of report text decoded at a time. Where a piece ends inside an entity, that entity
# is parsed again with more text, so larger pieces repeat less work.
DECODE_PIECE_BYTES = 4 * 1024 * 1024

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class _TextWindow:
    """The decoded text of a report from `index` on, decoded from the payload piece by piece."""

    def __init__(self, payload: bytes) -> None:
        self._payload = memoryview(payload)
        self._decoded_bytes = 0
        self._decoder = codecs.getincrementaldecoder(json.detect_encoding(payload))("surrogatepass")
        self.text = ""
        self.index = 0

    def extend(self, minimum_bytes: int = 0) -> bool:
        """Decode DECODE_PIECE_BYTES, or `minimum_bytes` if more, onto the text; False when none are left."""
        if self._decoded_bytes >= len(self._payload):
            return False
        end = min(len(self._payload), self._decoded_bytes + max(minimum_bytes, DECODE_PIECE_BYTES))
        piece = self._decoder.decode(self._payload[self._decoded_bytes : end], final=end == len(self._payload))
        self.text = self.text[self.index :] + piece
        self.index = 0
        self._decoded_bytes = end
        return True

    def skip_whitespace(self) -> str | None:
        """Move past whitespace and return the next character, or None at the end of the text."""
        while True:
            self.index = _skip_whitespace(self.text, self.index)
            if self.index < len(self.text):
                return self.text[self.index]
            if not self.extend():
                return None

    def parse(self, parser: Callable[[str, int], tuple[Any, int]]) -> Any:
        """Run `parser` from `index`, with more text while it fails, and move past what it read.

        `parser` returns (result, index after it) or raises json.JSONDecodeError. Each retry
        at least doubles the text, so a large entity is parsed a few times at most.
        """
        while True:
            try:
                result, self.index = parser(self.text, self.index)
            except json.JSONDecodeError:
                if not self.extend(len(self.text) - self.index):
                    raise
                continue
            return result


def _object_members(window: _TextWindow) -> Iterator[tuple[str, Any]]:
    """Yield the (key, value) pairs of the JSON object whose `{` is at the window's index.

    Raises json.JSONDecodeError where the text is no valid object, or has more than
    whitespace after it.
    """
    # NOTE: a key repeated in the object yields each of its values, where json.loads keeps
    # only the last one.
    window.index += 1
    if window.skip_whitespace() == "}":
        window.index += 1
    else:
        last = False
        while not last:
            key, value, last = window.parse(_member)
            yield key, value
    if window.skip_whitespace() is not None:
        raise json.JSONDecodeError("Extra data", window.text, window.index)


def _member(text: str, index: int) -> tuple[tuple[str, Any, bool], int]:
    """Parse `"key": value` and the `,` or `}` after it into ((key, value, whether `}` came), index after)."""
    index = _skip_whitespace(text, index)
    if not text.startswith('"', index):
        raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, index)
    key, index = json.decoder.scanstring(text, index + 1)  # type: ignore[attr-defined]
    index = _skip_whitespace(text, index)
    if not text.startswith(":", index):
        raise json.JSONDecodeError("Expecting ':' delimiter", text, index)
    value, index = _DECODER.raw_decode(text, _skip_whitespace(text, index + 1))
    index = _skip_whitespace(text, index)
    if text.startswith(",", index):
        return (key, value, False), index + 1
    if text.startswith("}", index):
        return (key, value, True), index + 1
    raise json.JSONDecodeError("Expecting ',' delimiter", text, index)


def _skip_whitespace(text: str, index: int) -> int:
    return _WHITESPACE.match(text, index).end()  # type: ignore[union-attr]


def _document_error(payload: bytes, error: ValueError) -> ValueError:
    """Return the error json.loads gives for the whole payload, with positions from its start.

    The error of the piece-by-piece parser is returned only if json.loads accepts the
    payload.
    """
    try:
        json.loads(payload)
    except ValueError as document_error:
        return document_error
    return error


def _as_dict(row: Any) -> dict[str, Any]:
    # Rows are fresh from the parser, so a dict needs no copy.
    return row if type(row) is dict else dict(row)


def run_reports(
    client: Any,
    ad_account_id: str,
    jobs: Sequence[ReportJob],
    settings: ReportSettings,
    policy: PollPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[tuple[ReportJob, Iterator[tuple[str, list[dict[str, Any]]]]]]:
    """Create every report of `jobs`, then yield each one's `(entity id, rows)` iterator as it finishes.

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
                # Only the entity iterator refers to the payload from here, so this
                # function keeps no report in memory after it has been read.
                entities = report_entities(payload, description)
                del payload
                yield entry.job, entities
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
