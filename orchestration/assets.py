"""Dagster multi-assets, one per resource group, each materializing its tables with one dlt run.

dagster-dlt's `@dlt_assets` is not used. It needs the dlt source object when the code
location loads, but this source is built per run around a live API client and the ad
accounts that client can read. Its `DagsterDltResource.run` also calls `pipeline.run`
directly, bypassing `run_sync` (account checks, per-resource failure summary, the run
lock, Parquet for the filesystem destination). Each asset below calls `run_sync` with a
pipeline named after its partition instead.
"""


from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines.pinterest.errors import AuthError, ConfigError

from .groups import ResourceGroup, Split
from .resource import PinterestSync
from .units import AD_ACCOUNT_DIMENSION, DATE_DIMENSION, unit_from_partitions

ASSET_KEY_PREFIX = "pinterest"
AD_ACCOUNT_PARTITIONS_NAME = "pinterest_ad_accounts"

# Dagster's concurrency pool shared by every asset here. Give it a limit in the Dagster
# instance to cap how many units call the Pinterest API at once: each worker has its
# own client-side rate limiter, so the API's per-app limits are shared by all of them.
API_POOL = "pinterest_api"

# A backfill over days runs up to 90 days of one ad account per run: the synchronous
# analytics endpoints serve at most 90 days per request.
MAX_DAYS_PER_RUN = 90

RETRY_POLICY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


def asset_key(table: str) -> dg.AssetKey:
    return dg.AssetKey([ASSET_KEY_PREFIX, table])


def group_name(group: ResourceGroup) -> str:
    return f"pinterest_{group.name}"


def build_group_assets(group: ResourceGroup, partitions_def: dg.PartitionsDefinition | None) -> dg.AssetsDefinition:
    """Build the multi-asset of one resource group: one asset per table, one dlt run per unit."""
    specs = [
        dg.AssetSpec(
            key=asset_key(table),
            group_name=group_name(group),
            description=f"Table `{table}` of the Pinterest dataset. {group.description}",
            kinds={"dlt", "pinterest"},
            skippable=True,
        )
        for table in group.tables
    ]
    backfill_policy = dg.BackfillPolicy.multi_run(MAX_DAYS_PER_RUN) if group.split.by_day else None

    @dg.multi_asset(
        name=group_name(group),
        specs=specs,
        partitions_def=partitions_def,
        backfill_policy=backfill_policy,
        can_subset=True,
        retry_policy=RETRY_POLICY,
        pool=API_POOL,
        description=group.description,
    )
    def sync_group(context: dg.AssetExecutionContext, pinterest: PinterestSync) -> Iterator[dg.MaterializeResult]:
        selected = {key.path[-1] for key in context.selected_asset_keys}
        tables = tuple(table for table in group.tables if table in selected)
        unit = unit_from_partitions(group, tables, partitions_of(context, partitions_def))

        try:
            result, pipeline = pinterest.run_unit(unit)
        except Exception as error:
            cause = root_cause(error)
            if isinstance(cause, (AuthError, ConfigError)):
                # A retry sends the same rejected token or invalid setting again.
                raise dg.Failure(description=str(cause), allow_retries=False) from None
            raise

        for ad_account_id, reason in result.summary.skipped_accounts.items():
            context.log.warning(f"Ad account {ad_account_id} was skipped: {reason}")
        for message in result.summary.unavailable:
            context.log.warning(message)

        row_counts = _normalized_row_counts(pipeline)
        load_ids = list(result.load_info.loads_ids) if result.load_info else []
        failed = result.summary.failed_resources
        for table in tables:
            if table in failed:
                continue
            yield dg.MaterializeResult(
                asset_key=asset_key(table),
                metadata={
                    "rows_loaded": row_counts.get(table, 0),
                    "dlt_pipeline": pipeline.pipeline_name,
                    "dataset": pipeline.dataset_name,
                    "load_ids": ", ".join(load_ids),
                },
            )

        if failed:
            details = "; ".join(f"{table}: {reason}" for table, reason in failed.items())
            raise dg.Failure(description=f"{len(failed)} table(s) of unit {pipeline.pipeline_name} failed: {details}")

    return sync_group


def partitions_of(context: dg.AssetExecutionContext, partitions_def: dg.PartitionsDefinition | None) -> list[Mapping[str, str]]:
    """Return the run's partitions as dimension-to-value mappings; a ranged run has several."""
    if partitions_def is None:
        return []

    partitions: list[Mapping[str, str]] = []
    for key in context.partition_keys:
        if isinstance(partitions_def, dg.MultiPartitionsDefinition):
            multi_key = key if isinstance(key, dg.MultiPartitionKey) else partitions_def.get_partition_key_from_str(key)
            partitions.append(dict(multi_key.keys_by_dimension))
        elif isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
            partitions.append({DATE_DIMENSION: str(key)})
        else:
            partitions.append({AD_ACCOUNT_DIMENSION: str(key)})
    return partitions


def root_cause(error: BaseException) -> BaseException:
    """Return the error a dlt step failure wraps, or the error itself."""
    if isinstance(error, PipelineStepFailed):
        return error.__cause__ or error.exception
    return error


def _normalized_row_counts(pipeline: Any) -> dict[str, int]:
    trace = pipeline.last_trace
    if trace is None or trace.last_normalize_info is None:
        return {}
    return dict(trace.last_normalize_info.row_counts)


def split_partitions(
    split: Split,
    ad_accounts: dg.PartitionsDefinition,
    days: dg.TimeWindowPartitionsDefinition,
) -> dg.PartitionsDefinition | None:
    """Return the partitions definition of a group's split."""
    if split is Split.AD_ACCOUNT:
        return ad_accounts
    if split is Split.DAY:
        return days
    if split is Split.AD_ACCOUNT_AND_DAY:
        return dg.MultiPartitionsDefinition({AD_ACCOUNT_DIMENSION: ad_accounts, DATE_DIMENSION: days})
    return None
