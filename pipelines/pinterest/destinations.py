"""Destination helpers: DuckDB files whose name equals the dataset name."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dlt
import duckdb
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from .errors import PinterestSyncError

# DuckDB names a file's catalog after the file, so in `pinterest.duckdb` the schema
# `pinterest` and the catalog `pinterest` clash and dlt's DDL fails with "Ambiguous
# reference to catalog or schema" (seen with dlt 1.31 on DuckDB 1.4 and 2.0). Attaching
# the file under another alias keeps both names as they are.
ATTACH_ALIAS = "pinterest_file"


def duckdb_settings(database: Path) -> dict[str, Any]:
    """Return the DuckDB settings of a load into `database`.

    `destination.duckdb.memory_limit` caps DuckDB's memory; DuckDB's own default is 80%
    of the machine's memory. Limits of 256 MB and below made loads of the medium
    benchmark scale fail with "Out of Memory Error" (dlt loads up to 20 files at once),
    so no limit is set unless configured.
    """
    # Rows carry their own keys, so their order in a table does not matter, and without
    # it DuckDB's inserts need less memory.
    settings: dict[str, Any] = {"preserve_insertion_order": False}
    configured = dlt.config.get("destination.duckdb.memory_limit")
    if configured:
        settings["memory_limit"] = str(configured)
        settings["temp_directory"] = str(database.with_name(database.name + ".tmp"))
    return settings


def duckdb_destination(path: str | os.PathLike[str], dataset_name: str) -> Any:
    """Return a DuckDB destination writing `path`, safe when the file stem equals the dataset."""
    database = Path(path).resolve()
    settings = duckdb_settings(database)
    if database.stem != dataset_name:
        return dlt.destinations.duckdb(DuckDbCredentials(str(database), global_config=settings))
    connection = duckdb.connect(config=settings)
    quoted = str(database).replace("'", "''")
    try:
        connection.execute(f"ATTACH '{quoted}' AS {ATTACH_ALIAS}")
    except duckdb.IOException as error:
        connection.close()
        raise PinterestSyncError(
            f"{database} is in use by another process ({error}): wait for the other run to finish, "
            "or close the notebook or client that has the file open."
        ) from None
    connection.execute(f"USE {ATTACH_ALIAS}")
    # dlt hands each thread a cursor of this connection; `schema` makes each cursor
    # resolve unqualified names in the attached file instead of the in-memory catalog.
    credentials = DuckDbCredentials(connection, local_config={"schema": ATTACH_ALIAS})
    return dlt.destinations.duckdb(credentials)
