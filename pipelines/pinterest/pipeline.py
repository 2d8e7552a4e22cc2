"""Build the dlt source and pipeline for one sync, run it and summarise the result."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import dlt
import pyarrow as pa
import tenacity
from dlt.common.pipeline import LoadInfo
from dlt.sources import DltResource
from filelock import FileLock, Timeout

from .config import SyncConfig
from .destinations import duckdb_destination
from .errors import AccessDenied, ConfigError, PinterestSyncError
from .listing import EntityLister
from .resources import entity_resources
from .progress import NullProgress, ProgressListener, batch_counter
from .reporting import ReportingError, ReportingResult, build_reporting_views, supports_reporting
from .run_context import RunContext, RunSummary
from .settings import ADS_ANALYTICS_TABLES, DATASET_NAME, ENTITY_TABLES, ORGANIC_ANALYTICS_TABLES, PIPELINE_NAME

logger = logging.getLogger("pinterest_sync")


@dataclass
class SyncResult:
    """Result of one run: rows loaded, skipped and failed items, requests and time."""

    load_info: LoadInfo | None
    summary: RunSummary
    requests: int
    seconds: float
    table_rows: dict[str, int] = field(default_factory=dict)
    reporting: ReportingResult | None = None
    pipeline: dlt.Pipeline | None = None

    @property
    def ok(self) -> bool:
        return not self.summary.failed_resources


def build_client(config: SyncConfig) -> Any:
    from .client import PinterestClient
    from .ratelimit import RateLimits
    from .token_store_sql import open_token_store

    if config.credentials is None:
        raise ConfigError("Pinterest credentials are not configured: set sources.pinterest.credentials in .dlt/secrets.toml.")
    rate_limits = RateLimits.from_config(config.rate_limits) if config.rate_limits else RateLimits()
    store = open_token_store(config.token_store_url, config.token_store_path)
    return PinterestClient(config.base_url, config.credentials, store, rate_limits=rate_limits)


def build_hosted_client(config: SyncConfig) -> Any:
    from .hosted import HostedClient
    from .ratelimit import RateLimits

    rate_limits = RateLimits.from_config(config.rate_limits) if config.rate_limits else None
    return HostedClient(config.airbyte, rate_limits=rate_limits)


def readable_ad_accounts(client: Any, config: SyncConfig, summary: RunSummary) -> list[dict[str, Any]]:
    """Return the ad accounts to sync; configured ids the token cannot read are skipped."""
    if config.ad_account_ids is None:
        return [item for page in client.paginate("/ad_accounts") for item in page]
    accounts = []
    for ad_account_id in config.ad_account_ids:
        try:
            accounts.append(client.get(f"/ad_accounts/{ad_account_id}"))
        except AccessDenied as error:
            summary.skip_account(ad_account_id, str(error))
    return accounts


@dlt.source(name="pinterest", max_table_nesting=0)
def pinterest_source(context: RunContext) -> list[DltResource]:
    """Build the selected Pinterest resources of one run, sharing its client and entity caches."""
    resources = entity_resources(context)
    wanted_analytics = {name for name in context.config.resources if name in ADS_ANALYTICS_TABLES + ORGANIC_ANALYTICS_TABLES}
    if wanted_analytics:
        from .analytics import analytics_resources

        if context.direct_client is None:
            for name in sorted(wanted_analytics):
                context.summary.fail_resource(
                    name, "analytics are read from the Pinterest API only: configure sources.pinterest.credentials."
                )
            return resources
        analytics = analytics_resources(
            context.direct_client, context.config, context.active_accounts(), context.direct_lister, wanted_analytics,
            on_failure=context.summary.fail_resource,
        )
        resources += [resource.add_map(batch_counter(context.summary.count_rows, resource.name)) for resource in analytics]
    return resources


def make_pipeline(
    pipeline_name: str = PIPELINE_NAME,
    dataset_name: str = DATASET_NAME,
    destination: Any = None,
    pipelines_dir: str | os.PathLike[str] | None = None,
) -> dlt.Pipeline:
    """Create the dlt pipeline; without a destination, dlt's `DESTINATION_TYPE` or DuckDB."""
    if destination is None:
        destination = os.environ.get("DESTINATION_TYPE") or dlt.config.get("destination_type") or "duckdb"
    if destination == "duckdb":
        configured = _configured_duckdb_path()
        database = Path(configured) if configured else Path.cwd() / f"{pipeline_name}.duckdb"
        destination = duckdb_destination(database, dataset_name)
    return dlt.pipeline(
        pipeline_name=pipeline_name,
        dataset_name=dataset_name,
        destination=destination,
        pipelines_dir=str(pipelines_dir) if pipelines_dir else None,
    )


def _configured_duckdb_path() -> str | None:
    """Return dlt's configured DuckDB file path, or None when unset (dlt's default applies)."""
    value = os.environ.get("DESTINATION__DUCKDB__CREDENTIALS") or dlt.secrets.get("destination.duckdb.credentials")
    if value is None:
        return None
    text = str(value)
    return text.removeprefix("duckdb:///") if text not in (":memory:", ":pipeline:") else None


@contextmanager
def exclusive_run(pipeline: dlt.Pipeline, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold a lock per pipeline so two runs on one machine cannot interleave their state."""
    lock_path = Path(pipeline.pipelines_dir) / f"{pipeline.pipeline_name}.run.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path))
    try:
        lock.acquire(timeout=wait_seconds)
    except Timeout:
        raise PinterestSyncError(
            f"Another run of pipeline {pipeline.pipeline_name!r} holds {lock_path}: wait for it to finish, "
            "or give this run another pipeline name."
        ) from None
    try:
        yield
    finally:
        lock.release()


def run_sync(
    config: SyncConfig,
    pipeline: dlt.Pipeline | None = None,
    client: Any = None,
    progress: ProgressListener | None = None,
    pipeline_factory: Callable[[], dlt.Pipeline] | None = None,
) -> SyncResult:
    """Extract the selected resources, load them and return the run's summary.

    The first request (the ad account list, which also refreshes the access token) runs
    before the pipeline is created, so a rejected token or an unreachable API writes no
    database file and no state. An `AuthError` later in the run propagates before anything
    is loaded, so no cursor moves. A resource that fails alone (a repeated bookmark, say)
    is recorded in the summary while the other resources load.
    """
    started = time.monotonic()
    # Arrow batches get a `_dlt_load_id` column only with this setting; the reporting
    # views read each row's load time through it. A user's own setting wins.
    os.environ.setdefault("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "true")
    _use_system_allocator()
    summary = RunSummary(progress=progress or NullProgress())
    reporting: ReportingResult | None = None
    owned: list[Any] = []
    direct_client = None
    try:
        if client is None:
            client = build_hosted_client(config) if config.backend == "airbyte" else build_client(config)
            owned.append(client)
        hosted = config.backend == "airbyte"
        direct_client = client
        if hosted:
            direct_client = build_client(config) if config.credentials is not None else None
            if direct_client is not None:
                owned.append(direct_client)

        if _needs_ad_accounts(config):
            accounts = readable_ad_accounts(client, config, summary)
        else:
            accounts = []
            _check_access(direct_client or client)

        pipeline = pipeline or (pipeline_factory or make_pipeline)()
        with exclusive_run(pipeline):
            _load_interrupted_packages(pipeline)
            lister = _make_lister(client, config, hosted)
            direct_lister = lister if direct_client is client else (
                EntityLister(direct_client, config.entity_statuses, config.max_workers) if direct_client is not None else None
            )
            context = RunContext(config=config, client=client, lister=lister, ad_accounts=accounts,
                                 summary=summary, direct_client=direct_client, direct_lister=direct_lister)
            source = pinterest_source(context)
            summary.progress.start(config.resources, [str(account["id"]) for account in context.active_accounts()])
            try:
                with _worker_settings(pipeline, len(source.selected_resources)):
                    load_info = _run_with_schema_retry(pipeline, source)
            finally:
                summary.progress.finish()
            reporting = _rebuild_reporting_views(pipeline, config, summary)
            summary.warnings.extend(getattr(client, "warnings", []))
            _collect_unavailable_days(pipeline, config, summary)
    finally:
        for owned_client in owned:
            owned_client.close()
    clients = {id(each): each for each in (client, direct_client) if each is not None}
    return SyncResult(
        load_info=load_info,
        summary=summary,
        requests=sum(getattr(each, "request_count", 0) for each in clients.values()),
        seconds=time.monotonic() - started,
        table_rows=_normalized_rows(pipeline),
        reporting=reporting,
        pipeline=pipeline,
    )


def _use_system_allocator() -> None:
    """Make pyarrow allocate with malloc unless `ARROW_DEFAULT_MEMORY_POOL` chooses a pool.

    pyarrow's bundled allocators keep freed memory for reuse, so a run's peak memory grew
    with every batch it converted. With malloc the freed batches go back to the system.
    Peak memory of a large-scale sync of the ads entities (20,000 ads) dropped by about
    70 MB, measured with an in-process copy of `benchmarks/`. The pool is process-wide,
    so this also applies to the caller's own pyarrow work.
    """
    if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        pa.set_memory_pool(pa.system_memory_pool())


@contextmanager
def _worker_settings(pipeline: dlt.Pipeline, resource_count: int) -> Iterator[None]:
    """Set dlt's extract and load workers for one run, unless the user configured them.

    Every resource gets its own extract thread. The resources spend their time waiting on
    the API and on the rate limiters, so one thread each keeps every category's quota busy.
    dlt's default of 5 threads would queue most resources behind a slow one. DuckDB
    loads one file at a time: a DuckDB file has one writer anyway, and dlt's 20 parallel
    load jobs raised the peak memory of a medium-scale benchmark sync from 830 MB to 1.2 GB.
    """
    wanted: dict[str, str] = {}
    if dlt.config.get("extract.workers") is None:
        wanted["EXTRACT__WORKERS"] = str(max(5, resource_count))
        wanted["EXTRACT__MAX_PARALLEL_ITEMS"] = str(max(20, resource_count))
    destination = pipeline.destination
    if destination is not None and destination.destination_name == "duckdb" and dlt.config.get("load.workers") is None:
        wanted["LOAD__WORKERS"] = "1"
    saved = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _check_access(client: Any) -> None:
    """Send one cheap request so that bad credentials fail before any file is written."""
    from .hosted import NotHostedError

    try:
        client.get("/user_account")
    except NotHostedError:
        # The hosted API has no user account entity; its first list call checks access.
        pass


def _load_interrupted_packages(pipeline: dlt.Pipeline) -> None:
    """Load the packages a killed run left behind, so that this run still extracts afresh.

    `Pipeline.run` with pending packages only loads them and skips extraction, which would
    report success without fetching anything new.
    """
    if not pipeline.has_pending_data:
        return
    logger.warning("Pipeline %s holds load packages of an interrupted run: loading them first", pipeline.pipeline_name)
    pipeline.run()


def _rebuild_reporting_views(pipeline: dlt.Pipeline, config: SyncConfig, summary: RunSummary) -> ReportingResult | None:
    """Rebuild the reporting views after a load; a failure is a warning because the data did load."""
    if not supports_reporting(pipeline):
        return None
    try:
        return build_reporting_views(pipeline, attribution=config.analytics)
    except ReportingError as error:
        logger.warning("Reporting views were not rebuilt: %s", error)
        summary.warnings.append(f"Reporting views were not rebuilt: {error}")
        return None


def _run_with_schema_retry(pipeline: dlt.Pipeline, source: Any) -> LoadInfo:
    """Run the pipeline; retry only the load step when a parallel writer raced a table change.

    Workers loading one warehouse dataset can both try to create or alter a table. dlt
    marks that failure as safe to retry, and retrying the load alone keeps the extracted
    package, so the API is not read again.
    """
    from dlt.pipeline.exceptions import PipelineStepFailed
    from dlt.pipeline.helpers import retry_schema_update

    is_schema_race = retry_schema_update()
    try:
        return pipeline.run(source, loader_file_format=_file_format(pipeline))
    except PipelineStepFailed as error:
        if error.step != "load" or not is_schema_race(error):
            raise
        logger.warning("Schema update raced another writer; retrying the load step: %s", error.exception)
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(4),
        wait=tenacity.wait_random_exponential(max=10),
        retry=tenacity.retry_if_exception(is_schema_race),
        reraise=True,
    )
    for attempt in retrying:
        with attempt:
            return pipeline.load()
    raise AssertionError("unreachable: tenacity reraises the last error")


def _normalized_rows(pipeline: dlt.Pipeline) -> dict[str, int]:
    """Return rows per table written by the last run, from dlt's normalize step."""
    trace = pipeline.last_trace
    info = trace.last_normalize_info if trace is not None else None
    if info is None:
        return {}
    return {table: count for table, count in info.row_counts.items() if not table.startswith("_dlt")}


def _collect_unavailable_days(pipeline: dlt.Pipeline, config: SyncConfig, summary: RunSummary) -> None:
    """Copy the analytics resources' unavailable date ranges of this run into the summary."""
    analytics_tables = [name for name in config.resources if name in ADS_ANALYTICS_TABLES + ORGANIC_ANALYTICS_TABLES]
    if not analytics_tables:
        return
    from .analytics import unavailable_days

    for entry in unavailable_days(pipeline, analytics_tables):
        account = f"ad account {entry['ad_account_id']}, " if entry.get("ad_account_id") else ""
        summary.add_unavailable(
            f"{entry['table']}: {account}{entry['start_date']} to {entry['end_date']} ({entry['days']} days): {entry['reason']}"
        )


def _make_lister(client: Any, config: SyncConfig, hosted: bool) -> EntityLister:
    if hosted:
        from .hosted import HostedLister

        return HostedLister(client, config.entity_statuses, config.max_workers)
    return EntityLister(client, config.entity_statuses, config.max_workers)


def _needs_ad_accounts(config: SyncConfig) -> bool:
    independent = {"user_account", "boards", "board_sections", "pins", "catalogs", "catalog_feeds", "catalog_product_groups",
                   "user_account_analytics", "pin_analytics"}
    return any(name not in independent for name in config.resources)


def _file_format(pipeline: dlt.Pipeline) -> str | None:
    """Parquet for the filesystem destination (lakehouse users); dlt's default elsewhere."""
    destination = pipeline.destination
    if destination is not None and destination.destination_name == "filesystem":
        return "parquet"
    return None


__all__ = ["ENTITY_TABLES", "SyncResult", "make_pipeline", "pinterest_source", "run_sync"]
