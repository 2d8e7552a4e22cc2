"""dlt resources for the 16 Pinterest entity tables.

No Pinterest list endpoint filters by update time, so every run lists each entity in full
and merges on `id`: edits that do not move a timestamp (a board's `pin_count`) are seen,
and a row never appears twice. Per-account failures (403 or 404) skip that account and
keep the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dlt
import pyarrow as pa
from dlt.sources import DltResource

from .convert import ISO_STRING, UNIX_MILLISECONDS, UNIX_SECONDS, batched_tables
from .errors import AccessDenied, ApiError, PaginationError
from .progress import rows_by_account
from .run_context import RunContext, fan_out
from .settings import HOSTED_MISSING_TABLES

logger = logging.getLogger("pinterest_sync")

ADS_TIMES = {"created_time": UNIX_SECONDS, "updated_time": UNIX_SECONDS, "start_time": UNIX_SECONDS, "end_time": UNIX_SECONDS}
AUDIENCE_TIMES = {"created_timestamp": UNIX_SECONDS, "updated_timestamp": UNIX_SECONDS}
CUSTOMER_LIST_TIMES = {"created_time": UNIX_SECONDS, "updated_time": UNIX_SECONDS}
CONVERSION_TAG_TIMES = {"last_fired_time_ms": UNIX_MILLISECONDS}
ORGANIC_TIMES = {"created_at": ISO_STRING, "board_pins_modified_at": ISO_STRING}
CATALOG_TIMES = {"created_at": ISO_STRING, "updated_at": ISO_STRING}
PRODUCT_GROUP_TIMES = {"created_at": UNIX_SECONDS, "updated_at": UNIX_SECONDS}

# Catalog endpoints return HTTP 409 with this code when the user has no catalog.
NO_CATALOG_CODE = 4182
BOARD_PIN_CAP_MESSAGE = "Pagination beyond"
AD_GROUP_BATCH = 250


@dataclass(frozen=True)
class AccountChild:
    """A list endpoint under `/ad_accounts/{id}/`, loaded once per ad account."""

    table: str
    kind: str
    timestamps: dict[str, str] = field(default_factory=dict)


ACCOUNT_CHILDREN = (
    AccountChild("campaigns", "campaigns", ADS_TIMES),
    AccountChild("ad_groups", "ad_groups", ADS_TIMES),
    AccountChild("ads", "ads", ADS_TIMES),
    AccountChild("audiences", "audiences", AUDIENCE_TIMES),
    AccountChild("customer_lists", "customer_lists", CUSTOMER_LIST_TIMES),
    AccountChild("conversion_tags", "conversion_tags", CONVERSION_TAG_TIMES),
)


def entity_resources(context: RunContext) -> list[DltResource]:
    """Build the entity resources selected in the run's configuration."""
    producers: dict[str, Callable[[], Iterable[pa.Table]]] = {
        "ad_accounts": lambda: _ad_accounts(context),
        "user_account": lambda: _user_account(context),
        "boards": lambda: _boards(context),
        "board_sections": lambda: _board_sections(context),
        "pins": lambda: _pins(context),
        "keywords": lambda: _keywords(context),
        "product_group_promotions": lambda: _product_group_promotions(context),
        "catalogs": lambda: _catalog_list(context, "/catalogs", CATALOG_TIMES),
        "catalog_feeds": lambda: _catalog_list(context, "/catalogs/feeds", CATALOG_TIMES, drop=("credentials",)),
        "catalog_product_groups": lambda: _catalog_list(context, "/catalogs/product_groups", PRODUCT_GROUP_TIMES),
    }
    for child in ACCOUNT_CHILDREN:
        producers[child.table] = lambda child=child: _account_children(context, child)

    resources = []
    for table, produce in producers.items():
        if table not in context.config.resources:
            continue
        if table in HOSTED_MISSING_TABLES and context.direct_client is None:
            context.summary.fail_resource(
                table,
                f"the hosted Airbyte API does not serve {table}: configure sources.pinterest.credentials "
                f"to read it from Pinterest, or leave {table} out of --resources.",
            )
            continue
        resources.append(_table_resource(context, table, produce))
    return resources


def _table_resource(context: RunContext, table: str, produce: Callable[[], Iterable[pa.Table]]) -> DltResource:
    """Wrap a producer in a merge-on-id resource that stops alone on a pagination fault."""

    def rows() -> Iterator[pa.Table]:
        try:
            for batch in produce():
                for ad_account_id, count in rows_by_account(batch).items():
                    context.summary.count_rows(table, count, ad_account_id)
                yield batch
            context.summary.progress.resource_done(table)
        except PaginationError as error:
            context.summary.fail_resource(table, str(error))
        except ApiError as error:
            if error.status == 401:
                raise
            context.summary.fail_resource(table, str(error))

    return dlt.resource(
        rows,
        name=table,
        table_name=table,
        primary_key="id",
        write_disposition="merge",
        parallelized=True,
    )


def _ad_accounts(context: RunContext) -> Iterator[pa.Table]:
    yield from batched_tables(context.active_accounts(), ADS_TIMES)


def _user_account(context: RunContext) -> Iterator[pa.Table]:
    account = context.direct_client.get("/user_account")
    # The user account object names its id `id` in the API description, but fall back to
    # the username so the merge key is never empty.
    record = dict(account)
    if not record.get("id"):
        record["id"] = record.get("username")
    yield from batched_tables([record], {})


def _boards(context: RunContext) -> Iterator[pa.Table]:
    yield from batched_tables(context.boards(), ORGANIC_TIMES)


def _board_sections(context: RunContext) -> Iterator[pa.Table]:
    def fetch(board: dict[str, Any]) -> Iterator[pa.Table]:
        board_id = str(board["id"])
        records = (item for page in context.client.paginate(f"/boards/{board_id}/sections") for item in page)
        yield from batched_tables(records, {}, extra={"board_id": board_id})

    yield from fan_out(context.boards(), fetch, context.config.max_workers)


def _pins(context: RunContext) -> Iterator[pa.Table]:
    """Load every board's pins once; `/boards/{id}/pins` already includes section pins."""

    def fetch(board: dict[str, Any]) -> Iterator[pa.Table]:
        board_id = str(board["id"])
        yield from batched_tables(_board_pins(context, board_id), ORGANIC_TIMES, extra={"board_id": board_id})

    yield from fan_out(context.boards(), fetch, context.config.max_workers)


def _board_pins(context: RunContext, board_id: str) -> Iterator[dict[str, Any]]:
    path = f"/boards/{board_id}/pins"
    try:
        for page in context.client.paginate(path):
            yield from page
    except ApiError as error:
        # Pinterest refuses to page past 100,000 pins of one board. The pins read so far
        # are kept and the board is reported as truncated.
        if error.status == 400 and BOARD_PIN_CAP_MESSAGE in (error.api_message or ""):
            context.summary.truncate_board(board_id, error.api_message)
            return
        raise


def _account_children(context: RunContext, child: AccountChild) -> Iterator[pa.Table]:
    def fetch(account: dict[str, Any]) -> Iterator[pa.Table]:
        ad_account_id = str(account["id"])
        records = _read_account(context, child.table, ad_account_id, lambda: context.lister.take(ad_account_id, child.kind))
        yield from batched_tables(records, child.timestamps, extra={"ad_account_id": ad_account_id})

    yield from fan_out(context.active_accounts(), fetch, context.config.max_workers)


def _keywords(context: RunContext) -> Iterator[pa.Table]:
    """Load account-level keywords and the keywords of every ad group, archived groups included.

    Without an ad group filter the API returns only keywords whose parent is the ad
    account; keywords created in Ads Manager hang off ad groups.
    """

    def read(ad_account_id: str) -> list[dict[str, Any]]:
        records = context.lister.take(ad_account_id, "keywords")
        records.extend(_ad_group_keywords(context, ad_account_id, context.lister.ids(ad_account_id, "ad_groups")))
        return records

    def fetch(account: dict[str, Any]) -> Iterator[pa.Table]:
        ad_account_id = str(account["id"])
        records = _read_account(context, "keywords", ad_account_id, lambda: read(ad_account_id))
        yield from batched_tables(records, {}, extra={"ad_account_id": ad_account_id})

    yield from fan_out(context.active_accounts(), fetch, context.config.max_workers)


def _ad_group_keywords(context: RunContext, ad_account_id: str, ad_group_ids: list[str]) -> list[dict[str, Any]]:
    """List keywords of many ad groups, 250 groups a request where the API allows it.

    `ad_group_ids` is a beta filter that not every app may use. On a 400 or 403 the
    listing falls back to one `ad_group_id` request per ad group.
    """
    path = f"/ad_accounts/{ad_account_id}/keywords"
    records: list[dict[str, Any]] = []
    batched = True
    for start in range(0, len(ad_group_ids), AD_GROUP_BATCH):
        batch = ad_group_ids[start : start + AD_GROUP_BATCH]
        if batched:
            try:
                records.extend(item for page in context.client.paginate(path, {"ad_group_ids": batch}) for item in page)
                continue
            except ApiError as error:
                if error.status not in (400, 403) or isinstance(error, PaginationError):
                    raise
                logger.info("Ad account %s: ad_group_ids filter rejected (%s), listing keywords per ad group", ad_account_id, error.status)
                batched = False
        for ad_group_id in batch:
            records.extend(item for page in context.client.paginate(path, {"ad_group_id": ad_group_id}) for item in page)
    for record in records:
        if record.get("ad_group_id") is None and record.get("parent_type") == "AD_GROUP":
            record["ad_group_id"] = record.get("parent_id")
    return records


def _product_group_promotions(context: RunContext) -> Iterator[pa.Table]:
    """Load product group promotions per ad group: the endpoint requires `ad_group_id`."""

    def read(ad_account_id: str) -> list[dict[str, Any]]:
        return context.direct_lister.take_by_ad_group(ad_account_id, "product_group_promotions")

    def fetch(account: dict[str, Any]) -> Iterator[pa.Table]:
        ad_account_id = str(account["id"])
        records = _read_account(context, "product_group_promotions", ad_account_id, lambda: read(ad_account_id))
        yield from batched_tables(records, ADS_TIMES, extra={"ad_account_id": ad_account_id})

    yield from fan_out(context.active_accounts(), fetch, context.config.max_workers)


def _read_account(context: RunContext, table: str, ad_account_id: str, read: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Run `read` for one ad account and return its rows.

    A 403 or 404 skips the account. A pagination fault fails `table` for the run but
    leaves the other ad accounts' rows to load.
    """
    try:
        return read()
    except AccessDenied as error:
        context.summary.skip_account(ad_account_id, str(error))
    except PaginationError as error:
        context.summary.fail_resource(table, f"ad account {ad_account_id}: {error}")
    return []


def _catalog_list(context: RunContext, path: str, timestamps: dict[str, str], drop: tuple[str, ...] = ()) -> Iterator[pa.Table]:
    try:
        records = [item for page in context.client.paginate(path) for item in page]
    except ApiError as error:
        if error.status == 409 and error.code == NO_CATALOG_CODE:
            logger.info("No catalog for this user (%s returned HTTP 409): loading no rows", path)
            return
        raise
    yield from batched_tables(records, timestamps, drop=drop)
