"""One simulator sync loaded into DuckDB, PostgreSQL and Parquet files: same rows, keys and types."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.dataset
import pytest

from pipelines.pinterest.destinations import duckdb_destination
from pipelines.pinterest.pipeline import make_pipeline, run_sync
from pipelines.pinterest.settings import ALL_TABLES, ENTITY_TABLES
from pipelines.pinterest.simulator import Simulator, SimulatorConfig

from .support import make_config

DESTINATIONS = ("duckdb", "postgres", "filesystem")
DATASET = "pinterest"
SYNC_DAYS = 7

# information_schema type names (DuckDB, PostgreSQL) and Arrow types, mapped to one name.
SQL_TYPES = {"varchar": "text", "character varying": "text", "text": "text", "bigint": "bigint", "date": "date"}
ARROW_TYPES = {pa.string(): "text", pa.large_string(): "text", pa.int64(): "bigint", pa.date32(): "date"}


@dataclass
class LoadedDataset:
    """Row counts, keys and column types that one destination returns after the sync."""

    row_counts: dict[str, int] = field(default_factory=dict)
    keys: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    column_types: dict[str, dict[str, str]] = field(default_factory=dict)
    parquet_types: dict[str, dict[str, pa.DataType]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def simulator_counts() -> dict[str, int]:
    with Simulator(SimulatorConfig(seed=7, scale="small")) as sim:
        return sim.expected_row_counts()


@pytest.fixture(scope="module")
def loaded(postgres_server, tmp_path_factory) -> Iterator[dict[str, LoadedDataset]]:
    """Run the same sync of every table into each destination and read each one back."""
    tmp_path = tmp_path_factory.mktemp("destinations")
    destinations = {
        "duckdb": duckdb_destination(tmp_path / "pinterest.duckdb", DATASET),
        "postgres": dlt.destinations.postgres(postgres_server.create_database()),
        "filesystem": dlt.destinations.filesystem(str(tmp_path / "lake")),
    }

    datasets: dict[str, LoadedDataset] = {}
    with Simulator(SimulatorConfig(seed=7, scale="small")) as sim:
        # One token store for the three runs: each run rotates the refresh token.
        config = make_config(sim, tmp_path, start_date=sim.today - dt.timedelta(days=SYNC_DAYS - 1), resources=ALL_TABLES)
        for name, destination in destinations.items():
            pipeline = make_pipeline(
                pipeline_name=f"pinterest_{name}",
                dataset_name=DATASET,
                destination=destination,
                pipelines_dir=tmp_path / "pipelines",
            )
            result = run_sync(config, pipeline=pipeline)
            assert result.ok, (name, result.summary.failed_resources)
            if name == "filesystem":
                datasets[name] = read_parquet_dataset(pipeline, tmp_path / "lake" / DATASET)
            else:
                datasets[name] = read_sql_dataset(pipeline)
    yield datasets


def key_columns(pipeline: dlt.Pipeline, table: str) -> list[str]:
    columns = pipeline.default_schema.get_table_columns(table)
    return [name for name, column in columns.items() if column.get("primary_key")]


def read_sql_dataset(pipeline: dlt.Pipeline) -> LoadedDataset:
    dataset = LoadedDataset()
    with pipeline.sql_client() as client:
        for table in ALL_TABLES:
            qualified = client.make_qualified_table_name(table)
            dataset.row_counts[table] = client.execute_sql(f"SELECT count(*) FROM {qualified}")[0][0]

            columns = ", ".join(client.escape_column_name(name) for name in key_columns(pipeline, table))
            rows = client.execute_sql(f"SELECT {columns} FROM {qualified}")
            dataset.keys[table] = sorted(tuple(str(value) for value in row) for row in rows)

        type_rows = client.execute_sql(
            f"SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = '{DATASET}'"
        )
    for table, column, data_type in type_rows:
        canonical = SQL_TYPES.get(str(data_type).lower(), str(data_type).lower())
        dataset.column_types.setdefault(table, {})[column] = canonical
    return dataset


def read_parquet_dataset(pipeline: dlt.Pipeline, folder: Path) -> LoadedDataset:
    dataset = LoadedDataset()
    for table in ALL_TABLES:
        files = sorted((folder / table).glob("*.parquet"))
        assert files, f"no Parquet files for {table} in {folder / table}"
        arrow_table = pyarrow.dataset.dataset([str(path) for path in files], format="parquet").to_table()

        dataset.row_counts[table] = arrow_table.num_rows
        names = key_columns(pipeline, table)
        key_rows = arrow_table.select(names).to_pylist()
        dataset.keys[table] = sorted(tuple(str(row[name]) for name in names) for row in key_rows)
        dataset.parquet_types[table] = {item.name: item.type for item in arrow_table.schema}
        dataset.column_types[table] = {
            item.name: ARROW_TYPES.get(item.type, str(item.type)) for item in arrow_table.schema
        }
    return dataset


def data_columns(dataset: LoadedDataset, table: str) -> dict[str, str]:
    return {name: kind for name, kind in dataset.column_types[table].items() if not name.startswith("_dlt")}


def test_entity_counts_match_simulator(loaded, simulator_counts):
    for name in DESTINATIONS:
        for table in ENTITY_TABLES:
            assert loaded[name].row_counts[table] == simulator_counts[table], (name, table)


def test_every_table_has_rows(loaded):
    empty = [table for table in ALL_TABLES if loaded["duckdb"].row_counts[table] == 0]

    assert empty == []


def test_row_counts_equal_across_destinations(loaded):
    for name in ("postgres", "filesystem"):
        assert loaded[name].row_counts == loaded["duckdb"].row_counts, name


def test_keys_equal_across_destinations(loaded):
    for table in ALL_TABLES:
        reference = loaded["duckdb"].keys[table]
        assert reference, table
        assert len(set(reference)) == len(reference), f"duplicate keys in {table}"
        for name in ("postgres", "filesystem"):
            assert loaded[name].keys[table] == reference, (name, table)


def test_id_columns_are_text(loaded):
    checked = 0
    for name in DESTINATIONS:
        for table in ALL_TABLES:
            for column, kind in data_columns(loaded[name], table).items():
                if column == "id" or column.endswith("_id"):
                    assert kind == "text", (name, table, column, kind)
                    checked += 1

    assert checked >= len(ALL_TABLES) * len(DESTINATIONS)


def test_micro_columns_are_bigint(loaded):
    for name in DESTINATIONS:
        micro_columns = [
            (table, column, kind)
            for table in ALL_TABLES
            for column, kind in data_columns(loaded[name], table).items()
            if column.endswith("_in_micro_dollar")
        ]
        assert micro_columns, name
        for table, column, kind in micro_columns:
            assert kind == "bigint", (name, table, column, kind)


def test_date_columns_are_dates(loaded):
    for name in DESTINATIONS:
        dated = [table for table in ALL_TABLES if "date" in loaded[name].column_types[table]]
        assert len(dated) >= 9, (name, dated)
        for table in dated:
            assert loaded[name].column_types[table]["date"] == "date", (name, table)


def test_parquet_physical_types(loaded):
    types: dict[str, Any] = loaded["filesystem"].parquet_types

    assert types["campaigns"]["id"] == pa.string()
    assert types["campaigns"]["ad_account_id"] == pa.string()
    assert types["ad_analytics"]["ad_id"] == pa.string()
    assert types["ad_analytics"]["spend_in_micro_dollar"] == pa.int64()
    assert types["ad_analytics"]["date"] == pa.date32()
    assert types["pin_analytics"]["date"] == pa.date32()


@pytest.mark.parametrize("stem", ["pinterest", "other"])
def test_configured_duckdb_memory_limit_applies(tmp_path, monkeypatch, stem):
    monkeypatch.setenv("DESTINATION__DUCKDB__MEMORY_LIMIT", "300MB")
    database = tmp_path / f"{stem}.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name=f"limit_{stem}", dataset_name="pinterest",
        destination=duckdb_destination(database, "pinterest"), pipelines_dir=str(tmp_path / "pipelines"),
    )
    pipeline.run([{"id": "1"}], table_name="probe")

    with pipeline.sql_client() as client:
        limit = client.execute_sql("SELECT current_setting('memory_limit')")[0][0]
        order = client.execute_sql("SELECT current_setting('preserve_insertion_order')")[0][0]
        rows = client.execute_sql(f"SELECT id FROM {client.make_qualified_table_name('probe')}")
    # DuckDB reports the limit in its own units: 300 MB is 286.1 MiB.
    assert limit == "286.1 MiB"
    assert order is False
    assert rows == [("1",)]
