"""dlt resources of the analytics tables, one per table, merged on each table's full key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import dlt
import pyarrow as pa
from dlt.sources import DltResource

from ..config import SyncConfig
from ..errors import ApiError, PaginationError
from .ads import AdsRun, ads_table_batches
from .dates import SYNC_DAILY
from .entities import EntityIndex
from .organic import PIN_KEY, PIN_SCHEMA, USER_ACCOUNT_KEY, USER_ACCOUNT_SCHEMA, OrganicRun, pin_batches, user_account_batches
from .reports import PollPolicy
from .request import report_settings
from .sync import request_columns
from .tables import ADS_TABLES, AdsTable, ads_schema, key_columns
from .unavailable import UnavailableLog

ARROW_TO_DLT = {
    pa.string(): "text",
    pa.int64(): "bigint",
    pa.float64(): "double",
    pa.date32(): "date",
}


def column_hints(schema: pa.Schema) -> dict[str, dict[str, Any]]:
    """dlt column hints matching an Arrow schema, so types hold even before the first row."""
    return {field.name: {"data_type": ARROW_TO_DLT[field.type], "nullable": field.nullable} for field in schema}


def analytics_resources(
    client: Any,
    config: SyncConfig,
    ad_accounts: list[dict[str, Any]],
    lister: Any,
    selected: set[str],
    *,
    poll_policy: PollPolicy | None = None,
    on_failure: Callable[[str, str], None] | None = None,
) -> list[DltResource]:
    """Build the selected ads and organic analytics resources for one run.

    `ad_accounts` are the readable ad account objects (their `currency` goes on every
    row). Dates are UTC: the run's today is `config.today`. On a backfill
    (`config.is_backfill`) the daily cursors are neither read nor written.

    With `on_failure`, an API error other than 401 ends only its table: `on_failure`
    gets the table name and the error, and the other tables load. The failed ad account's
    cursor does not move, so the next run fetches its days again. Without it, the
    error ends the run.
    """
    today = config.today
    end_date = min(config.end_date or today, today)
    settings = report_settings(config.analytics)
    lookback = min(config.analytics.effective_lookback_days, SYNC_DAILY.days_back)

    ads_run = AdsRun(
        client=client,
        ad_accounts=tuple(ad_accounts),
        entities=EntityIndex(client, lister),
        settings=settings,
        today=today,
        start_date=config.start_date,
        end_date=end_date,
        is_backfill=config.is_backfill,
        lookback_days=lookback,
        poll_policy=poll_policy,
    )
    organic_run = OrganicRun(client=client, today=today, start_date=config.start_date, end_date=end_date)

    resources: list[DltResource] = []
    for table in ADS_TABLES.values():
        if table.name in selected:
            resources.append(_ads_resource(table, ads_run, on_failure))
    if "user_account_analytics" in selected:
        resources.append(_organic_resource(
            "user_account_analytics", USER_ACCOUNT_SCHEMA, USER_ACCOUNT_KEY, lambda log: user_account_batches(organic_run, log), on_failure,
        ))
    if "pin_analytics" in selected:
        resources.append(_organic_resource("pin_analytics", PIN_SCHEMA, PIN_KEY, lambda log: pin_batches(organic_run, log), on_failure))
    return resources


def _guarded(name: str, batches: Iterator[pa.Table], on_failure: Callable[[str, str], None] | None) -> Iterator[pa.Table]:
    """Yield `batches`, handing an API error other than 401 to `on_failure` when it is set."""
    try:
        yield from batches
    except PaginationError as error:
        if on_failure is None:
            raise
        on_failure(name, str(error))
    except ApiError as error:
        if on_failure is None or error.status == 401:
            raise
        on_failure(name, str(error))


def _ads_resource(table: AdsTable, run: AdsRun, on_failure: Callable[[str, str], None] | None) -> DltResource:
    schema = ads_schema(table, request_columns(table, run.settings), run.settings.hourly)

    def extract() -> Iterator[pa.Table]:
        # The name is explicit because dlt cannot find it from a worker thread.
        state = dlt.current.resource_state(table.name)
        log = UnavailableLog()
        yield from _guarded(table.name, ads_table_batches(table, run, state, log), on_failure)
        log.save(state)

    return dlt.resource(
        extract,
        name=table.name,
        table_name=table.name,
        write_disposition="merge",
        primary_key=key_columns(table, run.settings.hourly),
        columns=column_hints(schema),
        parallelized=True,
    )


def _organic_resource(
    name: str,
    schema: pa.Schema,
    key: list[str],
    batches: Callable[[UnavailableLog], Iterator[pa.Table]],
    on_failure: Callable[[str, str], None] | None,
) -> DltResource:
    def extract() -> Iterator[pa.Table]:
        state = dlt.current.resource_state(name)
        log = UnavailableLog()
        yield from _guarded(name, batches(log), on_failure)
        log.save(state)

    return dlt.resource(
        extract,
        name=name,
        table_name=name,
        write_disposition="merge",
        primary_key=key,
        columns=column_hints(schema),
        parallelized=True,
    )

