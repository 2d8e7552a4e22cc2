"""The Dagster resource that runs one unit of work through the product's own `run_sync`.

Everything about the source (credentials, base URL, analytics settings) and the
destination (credentials, bucket) comes from dlt's configuration in the worker process:
environment variables or `.dlt/*.toml`, as for the `pinterest-sync run` command. The
resource only chooses what differs per unit and per deployment.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import dagster as dg
import dlt
from dlt.common.destination import Destination

from pipelines.pinterest.config import SyncConfig, load_config
from pipelines.pinterest.destinations import duckdb_destination
from pipelines.pinterest.pipeline import SyncResult, make_pipeline, run_sync
from pipelines.pinterest.settings import ADS_ANALYTICS_TABLES, DATASET_NAME, PIPELINE_NAME
from pipelines.pinterest.token_store_sql import open_token_store

from .units import SyncUnit

logger = logging.getLogger("pinterest_sync.orchestration")

TOKEN_STORE_URL_KEY = "sources.pinterest.token_store_url"


class PinterestSync(dg.ConfigurableResource):
    """Runs units of work into one destination dataset.

    `destination` is a dlt destination name (`postgres`, `bigquery`, `snowflake`,
    `motherduck`, `filesystem`, `duckdb`); empty means dlt's `DESTINATION_TYPE`, else
    DuckDB. `pipelines_dir` is the folder for dlt's local state of every unit; empty
    means dlt's default folder.
    """

    destination: str = ""
    dataset_name: str = DATASET_NAME
    pipeline_name_prefix: str = PIPELINE_NAME
    pipelines_dir: str = ""

    def run_unit(self, unit: SyncUnit) -> tuple[SyncResult, dlt.Pipeline]:
        """Sync one unit and drop its staging dataset afterwards, also after a failure."""
        config = self.sync_config(unit)
        pipeline = self.make_unit_pipeline(unit)
        logger.info(
            "Running unit %s (ad accounts %s, days %s to %s)",
            pipeline.pipeline_name,
            ",".join(unit.ad_account_ids) if unit.ad_account_ids else "not split",
            unit.start_date or "default",
            unit.end_date or "default",
        )
        client = self.open_client(config)
        try:
            result = run_sync(config, pipeline=pipeline, client=client)
        finally:
            client.close()
            drop_staging_dataset(pipeline)
        return result, pipeline

    def sync_config(self, unit: SyncUnit) -> SyncConfig:
        """Read the configuration and narrow it to the unit's tables, ad accounts and days.

        A unit with days is a backfill of exactly those days: the daily cursors of the
        `pinterest-sync run` command are neither read nor moved.
        """
        config = load_config(
            start_date=unit.start_date.isoformat() if unit.start_date else None,
            end_date=unit.end_date.isoformat() if unit.end_date else None,
            resources=",".join(unit.tables),
            ad_account_ids=",".join(unit.ad_account_ids) if unit.ad_account_ids else None,
        )
        if any(table in ADS_ANALYTICS_TABLES for table in config.resources):
            from pipelines.pinterest.analytics import validate_analytics_settings

            validate_analytics_settings(config.analytics)
        return config

    def make_unit_pipeline(self, unit: SyncUnit) -> dlt.Pipeline:
        """Create the unit's pipeline: its own name and, on SQL destinations, its own staging dataset.

        Without configured DuckDB credentials every unit writes `<prefix>.duckdb` in the
        working folder, as the command line does. A DuckDB file takes one writer at a
        time, so units writing to DuckDB must not run in parallel.
        """
        name = self.destination_name()
        if name == "duckdb" and not dlt.secrets.get("destination.duckdb.credentials"):
            destination = duckdb_destination(Path.cwd() / f"{self.pipeline_name_prefix}.duckdb", self.dataset_name)
        else:
            destination = Destination.from_reference(
                name,
                staging_dataset_name_layout=unit.staging_dataset_name_layout(self.pipeline_name_prefix),
            )
        return make_pipeline(
            pipeline_name=unit.pipeline_name(self.pipeline_name_prefix),
            dataset_name=self.dataset_name,
            destination=destination,
            pipelines_dir=self.pipelines_dir or None,
        )

    def destination_name(self) -> str:
        return self.destination or os.environ.get("DESTINATION_TYPE") or dlt.config.get("destination_type") or "duckdb"

    def open_client(self, config: SyncConfig) -> Any:
        """Build a client whose refresh token rotates through the configured token store.

        `sources.pinterest.token_store_url`, a secret, selects the PostgreSQL store that
        workers on several machines share; unset, the token file at
        `sources.pinterest.token_store_path` is used.
        """
        from pipelines.pinterest.client import PinterestClient
        from pipelines.pinterest.ratelimit import RateLimits

        store = open_token_store(dlt.secrets.get(TOKEN_STORE_URL_KEY), config.token_store_path)
        rate_limits = RateLimits.from_config(config.rate_limits) if config.rate_limits else RateLimits()
        return PinterestClient(config.base_url, config.credentials, store, rate_limits=rate_limits)

    def list_ad_accounts(self) -> list[str]:
        """Return the ids of every ad account the configured token can read."""
        config = load_config(resources="ad_accounts")
        client = self.open_client(config)
        try:
            return [str(item["id"]) for page in client.paginate("/ad_accounts") for item in page]
        finally:
            client.close()


def drop_staging_dataset(pipeline: dlt.Pipeline) -> None:
    """Drop the unit's staging dataset so that units do not leave one schema each behind.

    Only SQL destinations have staging datasets; the filesystem destination has none.
    A failed drop is logged and left for the next run of the unit, which reuses it.
    """
    if pipeline.destination is None or pipeline.destination.destination_name == "filesystem":
        return
    if not pipeline.default_schema_name:
        return

    try:
        with pipeline.sql_client() as client:
            with client.with_staging_dataset():
                if client.has_dataset():
                    client.drop_dataset()
                    logger.info("Dropped staging dataset %s of pipeline %s", client.dataset_name, pipeline.pipeline_name)
    except Exception as error:  # the unit's data is loaded; a leftover staging dataset is harmless
        logger.warning("Could not drop the staging dataset of pipeline %s: %s", pipeline.pipeline_name, error)
