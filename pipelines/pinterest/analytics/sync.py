"""Synchronous ads analytics requests: up to 250 entity ids and 90 days per call."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..errors import ApiError
from .dates import DateRange
from .request import ReportSettings, reject_attribution
from .tables import AdsTable

MAX_IDS_PER_REQUEST = 250

# Parent id columns copied from rows when the API returns them.
PARENT_FIELDS = {"campaign_id": "CAMPAIGN_ID", "ad_group_id": "AD_GROUP_ID"}


def request_columns(table: AdsTable, settings: ReportSettings) -> tuple[str, ...]:
    """Requested metric columns plus the parent id columns the table stores."""
    parents = tuple(PARENT_FIELDS[parent] for parent in table.parents)
    return tuple(dict.fromkeys(settings.columns + parents))


def id_batches(ids: Sequence[str], size: int = MAX_IDS_PER_REQUEST) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def flatten_targeting_row(item: Mapping[str, Any]) -> dict[str, Any]:
    """Turn `{targeting_type, targeting_value, metrics: {...}}` into one flat row."""
    row = dict(item.get("metrics") or {})
    row["TARGETING_TYPE"] = item.get("targeting_type")
    row["TARGETING_VALUE"] = item.get("targeting_value")
    return row


def fetch_sync_rows(
    client: Any,
    ad_account_id: str,
    table: AdsTable,
    window: DateRange,
    settings: ReportSettings,
    ids: Sequence[str] | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Yield the raw rows of each sync request for one window, one list per request.

    `ids` are the entity ids for tables whose endpoint takes them; an empty list sends no
    request. Targeting rows are flattened so they look like the other endpoints' rows.
    """
    path = f"/ad_accounts/{ad_account_id}/{table.sync_path}"
    params: dict[str, Any] = {
        "start_date": window.start.isoformat(),
        "end_date": window.end.isoformat(),
        "columns": ",".join(request_columns(table, settings)),
        "granularity": settings.granularity,
        **settings.attribution(),
    }
    if table.targeting:
        params["targeting_types"] = ",".join(settings.targeting_types)

    batches: Iterator[list[str] | None] = id_batches(ids or []) if table.id_param else iter([None])
    for batch in batches:
        if batch is not None:
            params[table.id_param] = batch  # type: ignore[index]
        try:
            response = client.get(path, params=dict(params))
        except ApiError as error:
            reject_attribution(error, settings)
            raise

        rows = _response_rows(table, response)
        # Hold no response while the next request runs, so one is in memory at a time.
        del response
        yield rows
        del rows


def _response_rows(table: AdsTable, response: Any) -> list[dict[str, Any]]:
    if table.targeting:
        items = response.get("data", []) if isinstance(response, Mapping) else []
        return [flatten_targeting_row(item) for item in items]
    return list(response or [])
