"""Rows of one ads analytics table for every ad account: sync for recent days, reports before.

For each ad account the days to load are planned first: the requested range, narrowed by
the account's cursor on daily runs. The last 90 UTC days then go to the sync endpoints and
older days down to 914 days back to async reports. Anything older is reported as
unavailable. Both paths produce rows of the same Arrow schema.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ..errors import AccessDenied
from .ads_rows import AccountRows, rows_to_table
from .arrow import TableBuffer
from .columns import NOT_IN_REPORTS
from .cursor import advance, ranges_to_fetch, read_coverage, write_coverage
from .dates import REPORT_DAILY, REPORT_HOURLY, SYNC_DAILY, SYNC_HOURLY, DateRange, FetchPlan, Reach, plan_fetch
from .entities import EntityIndex
from .reports import PollPolicy, ReportJob, run_reports, targeting_groups
from .request import ReportSettings
from .sync import fetch_sync_rows, request_columns
from .tables import AdsTable, ads_schema
from .unavailable import UnavailableLog

logger = logging.getLogger(__name__)

# Report rows converted to Arrow at a time, from consecutive entities of one report. As
# parsed JSON, a row of the default columns takes about 2 KB, so a chunk about 10 MB.
REPORT_CHUNK_ROWS = 5_000


@dataclass(frozen=True)
class AdsRun:
    """Everything the ads analytics tables share within one run."""

    client: Any
    ad_accounts: tuple[Mapping[str, Any], ...]
    entities: EntityIndex
    settings: ReportSettings
    today: dt.date
    start_date: dt.date
    end_date: dt.date
    is_backfill: bool
    lookback_days: int
    poll_policy: PollPolicy | None = None


def reaches(table: AdsTable, settings: ReportSettings) -> tuple[Reach | None, Reach | None]:
    """(sync reach, report reach) of a table; None where that path does not serve it."""
    sync_reach = SYNC_HOURLY if settings.hourly else SYNC_DAILY
    report_reach = REPORT_HOURLY if settings.hourly else REPORT_DAILY
    if table.sync_path is None:
        return None, report_reach
    if settings.hourly:
        # Hourly reports reach no further back than the hourly sync endpoints.
        return sync_reach, None
    return sync_reach, report_reach


def ads_table_batches(table: AdsTable, run: AdsRun, state: MutableMapping[str, Any], unavailable: UnavailableLog) -> Iterator[pa.Table]:
    """Yield Arrow batches of `table` for every ad account of the run, updating the cursors."""
    settings = run.settings
    schema = ads_schema(table, request_columns(table, settings), settings.hourly)
    cursor_key = settings.cursor_key(settings.targeting_types if table.targeting else ())
    requested = DateRange(run.start_date, run.end_date) if run.start_date <= run.end_date else None
    if requested is None:
        return

    for account in run.ad_accounts:
        ad_account_id = str(account["id"])
        coverage = None if run.is_backfill else read_coverage(state, ad_account_id, cursor_key)
        sync_reach, report_reach = reaches(table, settings)
        floor = sync_reach.earliest(run.today) if sync_reach else None
        ranges = ranges_to_fetch(requested, coverage, run.lookback_days, floor)
        plan = plan_fetch(ranges, run.today, sync_reach, report_reach)

        buffer = TableBuffer()
        try:
            yield from _account_batches(table, run, account, plan, schema, buffer)
        except AccessDenied as error:
            logger.warning(
                "Skipping %s of ad account %s: access denied (HTTP %s, request id %s). Grant the "
                "token's user the Admin, Analyst or Campaign Manager role on that account.",
                table.name, ad_account_id, error.status, error.request_id,
            )
            unavailable.add(table.name, ad_account_id, requested, "access denied to the ad account")
            continue
        if buffer.rows:
            yield buffer.flush()

        oldest = (report_reach or sync_reach).earliest(run.today)  # type: ignore[union-attr]
        for lost in plan.unavailable:
            unavailable.add(table.name, ad_account_id, lost, f"before {oldest.isoformat()}, the oldest day Pinterest serves for {settings.granularity} reports")
        if not run.is_backfill:
            write_coverage(state, ad_account_id, cursor_key, advance(coverage, requested))


def _account_batches(
    table: AdsTable, run: AdsRun, account: Mapping[str, Any], plan: FetchPlan, schema: pa.Schema, buffer: TableBuffer
) -> Iterator[pa.Table]:
    ad_account_id = str(account["id"])
    values = {
        "ad_account_id": ad_account_id,
        "currency": account.get("currency"),
        **run.settings.attribution(),
    }
    parents = run.entities.parents(ad_account_id, table) if (plan.sync or plan.reports) and table.parents else {}
    account_rows = AccountRows(table, schema, values, parents)
    columns = request_columns(table, run.settings)

    if plan.sync:
        ids = None
        if table.id_param:
            ids = [str(item["id"]) for item in run.entities.entities(ad_account_id, table)]
        for window in plan.sync:
            for response_rows in fetch_sync_rows(run.client, ad_account_id, table, window, run.settings, ids):
                converted = rows_to_table(response_rows, None, columns, account_rows) if response_rows else None
                # Free the response before the next request is sent.
                del response_rows
                if converted is not None:
                    yield from buffer.add(converted)

    if plan.reports:
        report_columns = tuple(column for column in columns if column not in NOT_IN_REPORTS)
        jobs = _report_jobs(table, plan.reports, report_columns, run.settings)
        for _job, entities in run_reports(run.client, ad_account_id, jobs, run.settings, run.poll_policy):
            for rows, entity_ids in _report_chunks(entities):
                yield from buffer.add(rows_to_table(rows, entity_ids, report_columns, account_rows))


def _report_chunks(entities: Iterable[tuple[str, list[dict[str, Any]]]]) -> Iterator[tuple[list[dict[str, Any]], list[str]]]:
    """Group report rows of consecutive entities into lists of about REPORT_CHUNK_ROWS rows, with each row's entity id."""
    rows: list[dict[str, Any]] = []
    entity_ids: list[str] = []
    for entity_id, entity_rows in entities:
        rows.extend(entity_rows)
        entity_ids.extend([entity_id] * len(entity_rows))
        if len(rows) >= REPORT_CHUNK_ROWS:
            yield rows, entity_ids
            rows, entity_ids = [], []
    if rows:
        yield rows, entity_ids


def _report_jobs(table: AdsTable, windows: tuple[DateRange, ...], columns: tuple[str, ...], settings: ReportSettings) -> list[ReportJob]:
    groups = targeting_groups(settings.targeting_types) if table.targeting else [()]
    return [ReportJob(table.report_level, window, columns, group) for window in windows for group in groups]
