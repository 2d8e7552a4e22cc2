"""Organic analytics: daily user account metrics and daily metrics of pins with activity.

Both endpoints serve 90 days back and at most 90 days per request, so a request of the
whole servable window costs one call, no more than a request of one day. Every run
therefore fetches the whole window again: days marked PROCESSING or ESTIMATE get their
final values, and no cursor is needed. Only period metrics are requested; lifetime
metrics cannot share a request with them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ..errors import ApiError
from .arrow import TableBuffer, table_from_rows
from .columns import column_name
from .dates import ORGANIC, DateRange, plan_fetch
from .unavailable import UnavailableLog

logger = logging.getLogger(__name__)

USER_ACCOUNT_METRICS = (
    "ENGAGEMENT", "ENGAGEMENT_RATE", "IMPRESSION", "OUTBOUND_CLICK", "OUTBOUND_CLICK_RATE",
    "PIN_CLICK", "PIN_CLICK_RATE", "SAVE", "SAVE_RATE",
)
PIN_METRICS = ("IMPRESSION", "OUTBOUND_CLICK", "PIN_CLICK", "SAVE", "SAVE_RATE")
MAX_PINS_PER_REQUEST = 100
# Statuses of the batch pin analytics endpoint (a beta) after which its pins are requested
# one by one: a pin the user cannot read, or an app without access to the beta.
BATCH_FALLBACK_STATUSES = {403, 404, 405, 501}


def _metric_fields(metrics: Sequence[str]) -> list[pa.Field]:
    return [pa.field(column_name(name), pa.float64() if name.endswith("_RATE") else pa.int64()) for name in metrics]


USER_ACCOUNT_SCHEMA = pa.schema(
    [
        pa.field("split_value", pa.string(), nullable=False),
        pa.field("date", pa.date32(), nullable=False),
        pa.field("data_status", pa.string()),
        *_metric_fields(USER_ACCOUNT_METRICS),
    ]
)
USER_ACCOUNT_KEY = ["split_value", "date"]

PIN_SCHEMA = pa.schema(
    [
        pa.field("pin_id", pa.string(), nullable=False),
        pa.field("date", pa.date32(), nullable=False),
        pa.field("data_status", pa.string()),
        *_metric_fields(PIN_METRICS),
    ]
)
PIN_KEY = ["pin_id", "date"]


@dataclass(frozen=True)
class OrganicRun:
    client: Any
    today: dt.date
    start_date: dt.date
    end_date: dt.date


def organic_windows(run: OrganicRun, table: str, unavailable: UnavailableLog) -> tuple[DateRange, ...]:
    """Windows to request; requested days older than the API serves are reported."""
    if run.start_date > run.end_date:
        return ()
    plan = plan_fetch([DateRange(run.start_date, run.end_date)], run.today, ORGANIC, None)
    for lost in plan.unavailable:
        unavailable.add(table, None, lost, f"before {ORGANIC.earliest(run.today).isoformat()}, the oldest day Pinterest serves organic analytics for")
    return plan.sync


def daily_rows(splits: Mapping[str, Any], metrics: Sequence[str], extra: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return one row per split and day of a `{split: {daily_metrics: [...]}}` response."""
    names = [(name, column_name(name)) for name in metrics]
    rows: list[dict[str, Any]] = []
    for split_value, body in splits.items():
        for day in (body or {}).get("daily_metrics", []) or []:
            values = day.get("metrics") or {}
            row = {column: values.get(name) for name, column in names}
            row.update(extra)
            row["split_value"] = split_value
            row["date"] = dt.date.fromisoformat(str(day["date"])[:10])
            row["data_status"] = day.get("data_status")
            rows.append(row)
    return rows


def user_account_batches(run: OrganicRun, unavailable: UnavailableLog) -> Iterator[pa.Table]:
    for window in organic_windows(run, "user_account_analytics", unavailable):
        response = run.client.get(
            "/user_account/analytics",
            params={
                "start_date": window.start.isoformat(),
                "end_date": window.end.isoformat(),
                "metric_types": ",".join(USER_ACCOUNT_METRICS),
            },
        )
        rows = daily_rows(response or {}, USER_ACCOUNT_METRICS, {})
        if rows:
            yield table_from_rows(rows, USER_ACCOUNT_SCHEMA)


def pin_has_recent_activity(pin: Mapping[str, Any]) -> bool:
    """Tell whether the pin list shows activity of the pin in the last 90 days.

    Pins listed with `pin_metrics=true` carry `pin_metrics["90d"]`. A pin without that
    block counts as active because the list cannot tell, so its analytics are requested.
    """
    metrics = pin.get("pin_metrics")
    if not isinstance(metrics, Mapping) or not isinstance(metrics.get("90d"), Mapping):
        return True
    return any(_positive(value) for value in metrics["90d"].values())


def _positive(value: Any) -> bool:
    try:
        return float(value) > 0
    except (TypeError, ValueError):
        return False


def active_pin_ids(client: Any) -> list[str]:
    """Ids of the user's pins with activity in the last 90 days, from the pin list pages."""
    total = 0
    active: list[str] = []
    for page in client.paginate("/pins", {"pin_metrics": "true"}):
        for pin in page:
            total += 1
            if pin_has_recent_activity(pin):
                active.append(str(pin["id"]))
    logger.info("pin_analytics: %d of %d pins had activity in the last 90 days.", len(active), total)
    return list(dict.fromkeys(active))


def _pin_splits(body: Any) -> Mapping[str, Any]:
    """Normalize the response for one pin to `{split: {daily_metrics}}`."""
    if isinstance(body, Mapping) and "daily_metrics" in body:
        return {"all": body}
    return body if isinstance(body, Mapping) else {}


def _pin_rows(pin_id: str, body: Any) -> list[dict[str, Any]]:
    # A pin whose every returned metric is zero or missing had no activity in the window:
    # it gets no rows rather than a run of zero rows.
    splits = _pin_splits(body)
    if not _has_activity(splits, PIN_METRICS):
        return []
    return daily_rows(splits, PIN_METRICS, {"pin_id": pin_id})


def _has_activity(splits: Mapping[str, Any], metrics: Sequence[str]) -> bool:
    """Tell whether any day of a `{split: {daily_metrics: [...]}}` response has a positive metric."""
    for body in splits.values():
        for day in (body or {}).get("daily_metrics", []) or []:
            values = day.get("metrics") or {}
            # Zero, None and "" are falsy and never positive. Days of an inactive pin have
            # no truthy value, so they skip the exact check below.
            if not any(values.values()):
                continue
            if any(_positive(values.get(name)) for name in metrics):
                return True
    return False


def pin_batches(run: OrganicRun, unavailable: UnavailableLog) -> Iterator[pa.Table]:
    windows = organic_windows(run, "pin_analytics", unavailable)
    if not windows:
        return
    pin_ids = active_pin_ids(run.client)
    batch_available = True
    buffer = TableBuffer()

    for window in windows:
        base = {
            "start_date": window.start.isoformat(),
            "end_date": window.end.isoformat(),
            "metric_types": ",".join(PIN_METRICS),
        }
        for start in range(0, len(pin_ids), MAX_PINS_PER_REQUEST):
            chunk = pin_ids[start : start + MAX_PINS_PER_REQUEST]
            if batch_available:
                try:
                    answers = dict(run.client.get("/pins/analytics", params={**base, "pin_ids": chunk}) or {})
                except ApiError as error:
                    if error.status not in BATCH_FALLBACK_STATUSES:
                        raise
                    logger.warning(
                        "Batch pin analytics failed with HTTP %s (%s, request id %s); requesting these %d pins one by one.",
                        error.status, error.api_message, error.request_id, len(chunk),
                    )
                    answers, skipped = _single_pin_answers(run.client, chunk, base)
                    # When every pin of the chunk was readable alone, the batch endpoint
                    # itself failed (an app without the beta), so it is not tried again.
                    batch_available = skipped > 0
            else:
                answers, _ = _single_pin_answers(run.client, chunk, base)

            rows = [row for pin_id, body in answers.items() for row in _pin_rows(str(pin_id), body)]
            # Free the responses before the next request is sent.
            del answers
            if rows:
                yield from buffer.add(table_from_rows(rows, PIN_SCHEMA))
    if buffer.rows:
        yield buffer.flush()


def _single_pin_answers(client: Any, pin_ids: Sequence[str], params: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """Request pins one by one and return the responses and the number of unreadable pins skipped."""
    answers: dict[str, Any] = {}
    skipped = 0
    for pin_id in pin_ids:
        try:
            answers[pin_id] = client.get(f"/pins/{pin_id}/analytics", params=dict(params))
        except ApiError as error:
            if error.status not in (403, 404):
                raise
            skipped += 1
            logger.warning("pin_analytics: skipping pin %s: HTTP %s, %s (request id %s).", pin_id, error.status, error.api_message, error.request_id)
    return answers, skipped
