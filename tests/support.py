"""Helpers for tests: configs aimed at the simulator, isolated pipelines, SQL reads."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import dlt

from pipelines.pinterest.config import Credentials, SyncConfig, parse_resources
from pipelines.pinterest.destinations import duckdb_destination
from pipelines.pinterest.simulator import Simulator

# Pinterest's official OpenAPI description, which the contract tests check the simulator
# and the client against. It is not part of this repository: it sits in the workspace's
# shared fixtures next to the checkout, or wherever PINTEREST_OPENAPI_PATH points.
OPENAPI_PATH = Path(
    os.environ.get("PINTEREST_OPENAPI_PATH")
    or Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "pinterest-openapi" / "openapi.json"
)


def make_config(sim: Simulator, tmp_path: Path, **overrides: Any) -> SyncConfig:
    """A SyncConfig pointing at the simulator, with a token store inside tmp_path."""
    today = sim.today
    values: dict[str, Any] = dict(
        base_url=sim.base_url,
        credentials=Credentials(sim.client_id, sim.client_secret, sim.refresh_token),
        start_date=today - dt.timedelta(days=89),
        end_date=None,
        ad_account_ids=None,
        resources=parse_resources(None),
        token_store_path=tmp_path / "state" / "tokens.json",
    )
    values.update(overrides)
    return SyncConfig(**values)


def make_duckdb_pipeline(tmp_path: Path, name: str = "pinterest") -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=name,
        dataset_name="pinterest",
        destination=duckdb_destination(tmp_path / f"{name}.duckdb", "pinterest"),
        pipelines_dir=str(tmp_path / "pipelines"),
    )


def query(pipeline: dlt.Pipeline, sql: str) -> list[tuple[Any, ...]]:
    """Run SQL against the pipeline's destination; tables are in `pinterest.<name>`."""
    with pipeline.sql_client() as client:
        return [tuple(row) for row in client.execute_sql(sql)]
