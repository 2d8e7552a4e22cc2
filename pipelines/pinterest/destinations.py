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


def duckdb_destination(path: str | os.PathLike[str], dataset_name: str) -> Any:
    """Return a DuckDB destination writing `path`, safe when the file stem equals the dataset."""
    database = Path(path).resolve()
    if database.stem != dataset_name:
        return dlt.destinations.duckdb(str(database))
    connection = duckdb.connect()
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
