"""A sync through the hosted execute API writes the same entity tables as the direct path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.pinterest.config import AirbyteSettings
from pipelines.pinterest.hosted import UNHOSTED_TABLES, HostedClient
from pipelines.pinterest.pipeline import run_sync
from pipelines.pinterest.settings import ENTITY_TABLES
from pipelines.pinterest.simulator import Simulator, SimulatorConfig
from pipelines.pinterest.simulator.hosted import HostedSimulator

from .conftest import make_config, make_duckdb_pipeline, query

HOSTED_TABLES = tuple(table for table in ENTITY_TABLES if table not in UNHOSTED_TABLES)
DLT_COLUMNS = ("_dlt_load_id", "_dlt_id")


@pytest.fixture
def hosted(simulator: Simulator) -> Iterator[HostedSimulator]:
    with HostedSimulator(simulator) as server:
        yield server


def hosted_client(hosted: HostedSimulator) -> HostedClient:
    settings = AirbyteSettings(base_url=hosted.base_url, client_id=hosted.client_id, client_secret=hosted.client_secret,
                               customer_name=hosted.customer_name)
    return HostedClient(settings)


def columns(pipeline: Any, table: str) -> list[tuple[str, str]]:
    rows = query(pipeline, f"SELECT column_name, data_type FROM information_schema.columns "
                           f"WHERE table_schema = 'pinterest' AND table_name = '{table}' ORDER BY column_name")
    return [(name, data_type) for name, data_type in rows if name not in DLT_COLUMNS]


def table_rows(pipeline: Any, table: str, where: str = "TRUE") -> list[tuple[Any, ...]]:
    names = ", ".join(name for name, _ in columns(pipeline, table))
    return query(pipeline, f"SELECT {names} FROM pinterest.{table} WHERE {where} ORDER BY id")


def sync_both(simulator, hosted, tmp_path):
    config = make_config(simulator, tmp_path, resources=HOSTED_TABLES)
    direct = make_duckdb_pipeline(tmp_path, "direct")
    direct_result = run_sync(config, pipeline=direct)

    through_hosted = make_duckdb_pipeline(tmp_path, "hosted")
    with hosted_client(hosted) as client:
        hosted_result = run_sync(config, pipeline=through_hosted, client=client)
        warnings = list(client.warnings)
    return direct, direct_result, through_hosted, hosted_result, warnings


def test_hosted_tables_equal_direct_row_for_row(simulator, hosted, tmp_path):
    hosted.faults.keywords_need_ad_group = False

    direct, direct_result, through_hosted, hosted_result, warnings = sync_both(simulator, hosted, tmp_path)

    assert direct_result.ok, direct_result.summary.failed_resources
    assert hosted_result.ok, hosted_result.summary.failed_resources
    assert warnings == []
    expected = simulator.expected_row_counts()
    for table in HOSTED_TABLES:
        assert columns(through_hosted, table) == columns(direct, table), table
        rows = table_rows(through_hosted, table)
        assert rows == table_rows(direct, table), table
        assert len(rows) == expected[table], table


def test_account_keywords_missing_when_hosted_rejects_them(simulator, hosted, tmp_path):
    direct, _, through_hosted, hosted_result, warnings = sync_both(simulator, hosted, tmp_path)

    assert hosted_result.ok, hosted_result.summary.failed_resources
    assert table_rows(through_hosted, "keywords") == table_rows(direct, "keywords", "parent_type = 'AD_GROUP'")
    account_keywords = query(direct, "SELECT count(*) FROM pinterest.keywords WHERE parent_type = 'ADVERTISER'")[0][0]
    assert account_keywords == 2 * len(simulator.data.ad_accounts)
    assert len(warnings) == 1
    assert warnings[0].startswith("Keywords whose parent is an ad account are not loaded")
    for table in HOSTED_TABLES:
        if table != "keywords":
            assert table_rows(through_hosted, table) == table_rows(direct, table), table


def test_hosted_sync_without_catalog_loads_no_rows(tmp_path):
    with Simulator(SimulatorConfig(seed=7, scale="small", has_catalog=False)) as simulator, HostedSimulator(simulator) as hosted:
        config = make_config(simulator, tmp_path, resources=("boards", "catalogs", "catalog_feeds"))
        pipeline = make_duckdb_pipeline(tmp_path, "hosted")
        with hosted_client(hosted) as client:
            result = run_sync(config, pipeline=pipeline, client=client)

    assert result.ok, result.summary.failed_resources
    assert result.table_rows.get("catalogs", 0) == 0
    assert result.table_rows.get("catalog_feeds", 0) == 0
    assert result.table_rows["boards"] == len(simulator.data.boards)


def test_hosted_sync_skips_forbidden_account(simulator, hosted, tmp_path):
    forbidden = list(simulator.data.ad_accounts)[0]
    simulator.faults.forbidden_ad_accounts = {forbidden}
    config = make_config(simulator, tmp_path, resources=("ad_accounts", "campaigns", "ads"))
    pipeline = make_duckdb_pipeline(tmp_path, "hosted")

    with hosted_client(hosted) as client:
        result = run_sync(config, pipeline=pipeline, client=client)

    assert result.ok, result.summary.failed_resources
    assert list(result.summary.skipped_accounts) == [forbidden]
    expected = simulator.expected_row_counts()
    for table in ("ad_accounts", "campaigns", "ads"):
        assert query(pipeline, f"SELECT count(*) FROM pinterest.{table}")[0][0] == expected[table], table


def test_cli_backend_airbyte_matches_direct(simulator, hosted, tmp_path):
    """`run --backend airbyte` configured through environment variables alone."""
    import os
    import subprocess
    import sys

    from pipelines.pinterest.destinations import duckdb_destination

    hosted.faults.keywords_need_ad_group = False
    direct = make_duckdb_pipeline(tmp_path, "direct")
    run_sync(make_config(simulator, tmp_path, resources=HOSTED_TABLES), pipeline=direct)
    workdir = tmp_path / "cli"
    workdir.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SOURCES__", "DESTINATION"))}
    env.update({
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "DLT_DATA_DIR": str(workdir / "dlt"),
        "SOURCES__PINTEREST__AIRBYTE__BASE_URL": hosted.base_url,
        "SOURCES__PINTEREST__AIRBYTE__CLIENT_ID": hosted.client_id,
        "SOURCES__PINTEREST__AIRBYTE__CLIENT_SECRET": hosted.client_secret,
        "SOURCES__PINTEREST__AIRBYTE__CUSTOMER_NAME": hosted.customer_name,
    })

    result = subprocess.run([sys.executable, "-m", "pipelines.pinterest.cli", "run", "--backend", "airbyte"],
                            cwd=workdir, env=env, capture_output=True, text=True, timeout=300)

    assert result.returncode == 0, result.stderr[-3000:]
    import dlt

    through_cli = dlt.pipeline(pipeline_name="cli_read", dataset_name="pinterest",
                               destination=duckdb_destination(workdir / "pinterest.duckdb", "pinterest"),
                               pipelines_dir=str(tmp_path / "reader"))
    for table in HOSTED_TABLES:
        assert table_rows(through_cli, table) == table_rows(direct, table), table
    assert query(through_cli, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'campaign_analytics'") == [(0,)]
