"""Reporting views over the loaded tables, and read access for the analyst notebooks.

`build_reporting_views` runs after each load (and from `pinterest-sync report`). It reads
the destination's columns and creates, in one schema:

- daily Ads-Manager-style reports: `ad_account_daily_report`, `campaign_daily_report`,
  `ad_group_daily_report`, `ad_daily_report`, `keyword_daily_report`;
- the source tables of Fivetran's Pinterest Ads dbt package: `advertiser_report`,
  `campaign_report`, `ad_group_report`, `pin_promotion_report`, `keyword_report`,
  `advertiser_history`, `campaign_history`, `ad_group_history`, `pin_promotion_history`,
  `keyword_history`.

They are views, so they cost nothing to keep and always show the latest load. Supported
destinations are DuckDB and PostgreSQL (MotherDuck is accepted but untested).
docs/reporting.md lists every column and where it comes from.
"""

from __future__ import annotations

import html
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import PinterestSyncError
from .reporting_sql import ADS_MANAGER_VIEWS, DBT_HISTORY_VIEWS, DBT_REPORT_VIEWS, Attribution, Catalog, Dialect, TableColumns, column_kind, plan_views
from .reporting_sql.catalog import quote

logger = logging.getLogger("pinterest_sync")

REPORTING_VIEWS = ADS_MANAGER_VIEWS + DBT_REPORT_VIEWS + DBT_HISTORY_VIEWS
# NOTE: MotherDuck runs the DuckDB SQL of the views, but no test covers it.
SQL_DESTINATIONS = {"duckdb": "duckdb", "motherduck": "duckdb", "postgres": "postgres"}

__all__ = [
    "REPORTING_VIEWS",
    "Attribution",
    "QueryResult",
    "ReportDatabase",
    "ReportingError",
    "ReportingResult",
    "build_reporting_views",
    "drop_reporting_views",
    "open_report_database",
    "save_figure",
    "supports_reporting",
]


class ReportingError(PinterestSyncError):
    """The reporting views could not be built or the report database could not be opened."""


@dataclass
class ReportingResult:
    """Views a build created, and the views it skipped with the reason for each."""

    schema: str
    built: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """Human-readable summary lines, for the CLI."""
        lines = [f"Reporting views in schema {self.schema}: {len(self.built)} built."]
        for view, reason in sorted(self.skipped.items()):
            lines.append(f"  skipped {view}: {reason}")
        return lines


# ----- building the views ---------------------------------------------------------------


def build_reporting_views(
    target: Any,
    dataset_name: str | None = None,
    schema_name: str | None = None,
    attribution: Attribution | Any | None = None,
) -> ReportingResult:
    """Create or replace the reporting views and return what was built.

    `target` is a dlt pipeline or an open dlt SQL client of a DuckDB or PostgreSQL
    destination. `dataset_name` defaults to the pipeline's dataset and `schema_name`, the
    schema receiving the views, to the dataset itself. `attribution` picks which analytics
    rows the reports show. It is an `Attribution` or any object with the four settings,
    such as `AnalyticsSettings`, and defaults to Pinterest's 30/30/1 days at
    TIME_OF_AD_ACTION. A view whose source table is not loaded yet is skipped and named in
    the result.
    """
    if attribution is None:
        attribution = Attribution()
    elif not isinstance(attribution, Attribution):
        attribution = Attribution.from_settings(attribution)

    from dlt.destinations.exceptions import DatabaseException

    with _sql_client(target) as client:
        dialect = _dialect_of(client)
        dataset = dataset_name or client.dataset_name
        schema = schema_name or dataset
        try:
            result = _build(client, dialect, dataset, schema, attribution)
        except DatabaseException as error:
            raise ReportingError(f"Building the reporting views in schema {schema!r} failed: {error}") from error

    logger.info("Built %d reporting views in schema %s; skipped %d.", len(result.built), schema, len(result.skipped))
    for view, reason in result.skipped.items():
        logger.info("Reporting view %s.%s skipped: %s.", schema, view, reason)
    return result


def supports_reporting(pipeline: Any) -> bool:
    """Return True when the pipeline loads into DuckDB, MotherDuck or PostgreSQL, which can hold the views."""
    destination = getattr(pipeline, "destination", None)
    return destination is not None and destination.destination_type.rsplit(".", 1)[-1] in SQL_DESTINATIONS


def _build(client: Any, dialect: Dialect, dataset: str, schema: str, attribution: Attribution) -> ReportingResult:
    database = _current_database(client)
    tables = read_tables(client, dataset)
    if not tables:
        raise ReportingError(
            f"Dataset {dataset!r} has no tables in database {database!r}: run a sync first, or pass the "
            "dataset name the pipeline loads into."
        )
    _check_schema(client, dialect, database, dataset, schema)

    catalog = Catalog(dialect=dialect, dataset=dataset, schema=schema, tables=tables, attribution=attribution)
    if schema != dataset:
        client.execute_sql(f"CREATE SCHEMA IF NOT EXISTS {_qualified(dialect, database, schema)}")

    result = ReportingResult(schema=schema)
    for plan in plan_views(catalog):
        if plan.select is None:
            result.skipped[plan.name] = plan.missing or "source table missing"
            continue
        _create_view(client, dialect, _qualified(dialect, database, schema, plan.name), plan.select)
        result.built.append(plan.name)
    return result


def drop_reporting_views(target: Any, schema_name: str | None = None) -> list[str]:
    """Drop the reporting views that exist in `schema_name` (default: the dataset) and return their names.

    PostgreSQL refuses to drop or retype a table that a view reads, so drop the views
    before dropping or recreating loaded tables there (for example with a dlt refresh).
    """
    with _sql_client(target) as client:
        dialect = _dialect_of(client)
        schema = schema_name or client.dataset_name
        database = _current_database(client)
        existing = _objects(client, schema)
        dropped = [view for view in REPORTING_VIEWS if existing.get(view) == "VIEW"]
        for view in dropped:
            client.execute_sql(f"DROP VIEW IF EXISTS {_qualified(dialect, database, schema, view)}")
    return dropped


def read_tables(client: Any, dataset: str) -> dict[str, TableColumns]:
    """Base tables of `dataset` in the current database, with their columns in table order."""
    rows = client.execute_sql(
        "SELECT c.table_name, c.column_name, c.data_type "
        "FROM information_schema.columns AS c "
        "JOIN information_schema.tables AS t "
        "  ON t.table_catalog = c.table_catalog AND t.table_schema = c.table_schema AND t.table_name = c.table_name "
        "WHERE c.table_schema = %s AND c.table_catalog = current_database() AND t.table_type = 'BASE TABLE' "
        "ORDER BY c.table_name, c.ordinal_position",
        dataset,
    ) or []
    columns: dict[str, dict[str, str]] = {}
    for table_name, column_name, data_type in rows:
        columns.setdefault(str(table_name), {})[str(column_name)] = column_kind(str(data_type))
    return {name: TableColumns(name, table_columns) for name, table_columns in columns.items()}


@contextmanager
def _sql_client(target: Any) -> Iterator[Any]:
    """Yield an open dlt SQL client for a pipeline or an existing client."""
    import dlt
    from dlt.destinations.sql_client import SqlClientBase

    if isinstance(target, dlt.Pipeline):
        if not supports_reporting(target):
            destination = target.destination.destination_type if target.destination is not None else "no destination"
            raise ReportingError(
                f"Pipeline {target.pipeline_name!r} loads into {destination}: reporting views need DuckDB or "
                "PostgreSQL. Query the loaded files directly, or load into one of those."
            )
        with target.sql_client() as client:
            yield client
        return
    if isinstance(target, SqlClientBase):
        if target.native_connection is None:
            with target as client:
                yield client
        else:
            yield target
        return
    raise TypeError(f"build_reporting_views needs a dlt pipeline or a dlt SQL client, got {type(target).__name__}.")


def _dialect_of(client: Any) -> Dialect:
    module = type(client).__module__
    for name, dialect in SQL_DESTINATIONS.items():
        if f".impl.{name}." in module:
            return Dialect(dialect)
    raise ReportingError(
        f"Reporting views need a DuckDB or PostgreSQL destination; this SQL client is {type(client).__name__} ({module})."
    )


def _current_database(client: Any) -> str:
    rows = client.execute_sql("SELECT current_database()")
    return str(rows[0][0])


def _objects(client: Any, schema: str) -> dict[str, str]:
    """Tables and views in `schema` of the current database: name to 'BASE TABLE' or 'VIEW'."""
    rows = client.execute_sql(
        "SELECT table_name, table_type FROM information_schema.tables "
        "WHERE table_schema = %s AND table_catalog = current_database()",
        schema,
    ) or []
    return {str(name): str(kind) for name, kind in rows}


def _check_schema(client: Any, dialect: Dialect, database: str, dataset: str, schema: str) -> None:
    """Reject a target schema where a view would replace a table or could never be queried."""
    clashes = sorted(name for name, kind in _objects(client, schema).items() if name in REPORTING_VIEWS and kind != "VIEW")
    if clashes:
        raise ReportingError(
            f"Schema {schema!r} already has tables named {', '.join(clashes)}: build the reporting views in "
            "another schema (schema_name, or --schema on the command line)."
        )
    if dialect.name == "duckdb" and schema != dataset:
        if database == dataset:
            raise ReportingError(
                f"The DuckDB catalog and the dataset are both named {dataset!r}, so views in schema {schema!r} cannot "
                f"name the dataset's tables unambiguously. Build them in schema {dataset!r}, or attach the file under "
                "another name first."
            )
        logger.warning(
            "Reporting views in DuckDB schema %s read tables as %s.<table>; a DuckDB file opened under the catalog "
            "name %s (a file named %s.duckdb) cannot query them. Views in schema %s work under any name.",
            schema, dataset, dataset, dataset, dataset,
        )


def _qualified(dialect: Dialect, database: str, schema: str, name: str | None = None) -> str:
    """Name for DDL: DuckDB gets the catalog too, since a catalog may share the schema's name."""
    parts = [schema]
    if dialect.name == "duckdb":
        parts.insert(0, database)
    if name:
        parts.append(name)
    return ".".join(quote(part) for part in parts)


def _create_view(client: Any, dialect: Dialect, name: str, select: str) -> None:
    """Create or replace one view.

    PostgreSQL replaces a view in place only when the old columns keep their names and
    types, so after such a change the view is dropped and created in one transaction.
    The drop fails while other views (dbt models built as views, say) read this one.
    """
    from dlt.destinations.exceptions import DatabaseException

    try:
        client.execute_sql(f"CREATE OR REPLACE VIEW {name} AS\n{select}")
        return
    except DatabaseException as error:
        if dialect.name != "postgres":
            raise ReportingError(f"Creating view {name} failed: {error}") from error
        logger.info("View %s changed its columns; dropping and creating it again.", name)
    try:
        with client.begin_transaction():
            client.execute_sql(f"DROP VIEW IF EXISTS {name}")
            client.execute_sql(f"CREATE VIEW {name} AS\n{select}")
    except DatabaseException as error:
        raise ReportingError(
            f"Replacing view {name} failed: {error}. If other views depend on it, drop them, run "
            "`pinterest-sync report`, then create them again."
        ) from error


# ----- reading from notebooks -----------------------------------------------------------

ENV_LOCATION = "PINTEREST_DUCKDB"
ENV_DATASET = "PINTEREST_DATASET"
ENV_SCHEMA = "PINTEREST_REPORTING_SCHEMA"
ENV_PLOTS = "PINTEREST_PLOTS_DIR"
DEFAULT_LOCATION = "../pinterest.duckdb"
DEFAULT_DATASET = "pinterest"
# The file is attached under this name so that a file called pinterest.duckdb does not
# clash with the schema pinterest inside it.
READ_ALIAS = "pinterest_report"


@dataclass
class QueryResult:
    """Rows of one query with their column names; renders as a table in a notebook."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)

    def column(self, name: str) -> list[Any]:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]

    def _repr_html_(self, max_rows: int = 50) -> str:
        head = "".join(f"<th>{html.escape(name)}</th>" for name in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_format_cell(value))}</td>" for value in row) + "</tr>"
            for row in self.rows[:max_rows]
        )
        more = f"<p>{len(self.rows) - max_rows:,} more rows</p>" if len(self.rows) > max_rows else ""
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"

    def __repr__(self) -> str:
        shown = [self.columns] + [[_format_cell(value) for value in row] for row in self.rows[:20]]
        widths = [max(len(str(line[index])) for line in shown) for index in range(len(self.columns))]
        lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)) for line in shown]
        if len(self.rows) > 20:
            lines.append(f"... {len(self.rows) - 20:,} more rows")
        return "\n".join(lines)


def _format_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.4f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return str(value)


class ReportDatabase:
    """A read connection to the loaded data, from DuckDB or PostgreSQL, for notebooks.

    `table()` names a loaded table and `view()` a reporting view, qualified so that the
    same SQL runs on both databases.
    """

    def __init__(self, connection: Any, kind: str, dataset: str, schema: str, location: str) -> None:
        self.connection = connection
        self.kind = kind
        self.dataset = dataset
        self.schema = schema
        self.location = location

    def table(self, name: str) -> str:
        return f"{quote(self.dataset)}.{quote(name)}"

    def view(self, name: str) -> str:
        return f"{quote(self.schema)}.{quote(name)}"

    def relations(self, schema: str | None = None) -> dict[str, str]:
        """Tables and views of a schema (default: the dataset): name to 'BASE TABLE' or 'VIEW'."""
        result = self.query(
            "SELECT table_name, table_type FROM information_schema.tables "
            "WHERE table_schema = %s AND table_catalog = current_database() ORDER BY table_name",
            [schema or self.dataset],
        )
        return {str(name): str(kind) for name, kind in result}

    def columns(self, name: str, schema: str | None = None) -> list[str]:
        result = self.query(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s AND table_catalog = current_database() ORDER BY ordinal_position",
            [schema or self.dataset, name],
        )
        return [str(row[0]) for row in result]

    def query(self, sql: str, params: Sequence[Any] | None = None) -> QueryResult:
        """Run one query; parameters are written `%s` for both databases."""
        if self.kind == "duckdb":
            cursor = self.connection.execute(sql.replace("%s", "?") if params else sql, list(params or []))
        else:
            cursor = self.connection.cursor()
            cursor.execute(sql, list(params) if params else None)
        columns = [description[0] for description in cursor.description or []]
        rows = [tuple(row) for row in cursor.fetchall()] if columns else []
        return QueryResult(columns, rows)

    def require_views(self, *names: str) -> None:
        """Raise with the fix when reporting views are missing (a database loaded before they existed)."""
        existing = self.relations(self.schema)
        missing = [name for name in names if existing.get(name) != "VIEW"]
        if missing:
            raise ReportingError(
                f"{self.location} has no reporting views {', '.join(missing)} in schema {self.schema!r}: run "
                "`uv run pinterest-sync report` (or a sync) to build them, or set "
                f"{ENV_SCHEMA} to the schema that holds them."
            )

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> ReportDatabase:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def open_report_database(location: str | os.PathLike[str] | None = None, dataset: str | None = None, schema: str | None = None) -> ReportDatabase:
    """Open the loaded data read-only.

    `location` is a DuckDB file path (relative to the working folder, which is the
    notebook's folder in Jupyter) or a `postgresql://` connection string. It defaults to
    the environment variable PINTEREST_DUCKDB, then to ../pinterest.duckdb, where
    `pinterest-sync demo` writes. `dataset` (PINTEREST_DATASET) names the schema of the
    loaded tables, `schema` (PINTEREST_REPORTING_SCHEMA) the schema of the views.
    """
    location = str(location or os.environ.get(ENV_LOCATION) or DEFAULT_LOCATION)
    dataset = dataset or os.environ.get(ENV_DATASET) or DEFAULT_DATASET
    schema = schema or os.environ.get(ENV_SCHEMA) or dataset

    if location.startswith(("postgresql://", "postgres://")):
        import psycopg2

        connection = psycopg2.connect(location)
        connection.set_session(readonly=True, autocommit=True)
        return ReportDatabase(connection, "postgres", dataset, schema, _redact(location))

    import duckdb

    path = Path(location.removeprefix("duckdb:///")).expanduser().resolve()
    if not path.is_file():
        raise ReportingError(
            f"DuckDB file {path} not found: run `uv run pinterest-sync demo` in the project folder, or set "
            f"{ENV_LOCATION} to your database file or a postgresql:// connection string."
        )
    connection = duckdb.connect()
    quoted_path = str(path).replace("'", "''")
    connection.execute(f"ATTACH '{quoted_path}' AS {READ_ALIAS} (READ_ONLY)")
    connection.execute(f"USE {READ_ALIAS}")
    return ReportDatabase(connection, "duckdb", dataset, schema, str(path))


def _redact(location: str) -> str:
    """Return the connection string without its password, for messages."""
    scheme, _, rest = location.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return location
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"


def save_figure(figure: Any, name: str) -> Path:
    """Save a matplotlib figure as PNG under PINTEREST_PLOTS_DIR (default: ./plots) and return the path."""
    folder = Path(os.environ.get(ENV_PLOTS) or "plots")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    figure.savefig(path, dpi=110, bbox_inches="tight")
    return path
