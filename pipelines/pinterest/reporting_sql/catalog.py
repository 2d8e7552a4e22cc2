"""Inputs of the view builders: the dialect, the dataset's tables and columns, the attribution settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CONVERSION_REPORT_TIMES = ("TIME_OF_AD_ACTION", "TIME_OF_CONVERSION")
ATTRIBUTION_WINDOWS = (0, 1, 7, 14, 30, 60)

TEXT = "TEXT"
BIGINT = "BIGINT"
DOUBLE = "DOUBLE PRECISION"
BOOLEAN = "BOOLEAN"
DATE = "DATE"
TIMESTAMP = "TIMESTAMP WITH TIME ZONE"
# Amounts in account currency: exact, six decimals as the micros have.
AMOUNT = "DECIMAL(38,6)"


def quote(identifier: str) -> str:
    """Quote an identifier for DuckDB and PostgreSQL, which both use double quotes."""
    return '"' + identifier.replace('"', '""') + '"'


def column_kind(data_type: str) -> str:
    """Reduce an `information_schema` data type to integer, number, boolean, date, timestamp, json or text."""
    name = data_type.strip().lower()
    if name in ("bigint", "integer", "int", "smallint", "tinyint", "hugeint", "ubigint", "uinteger", "int8", "int4", "int2"):
        return "integer"
    if name.startswith(("double", "real", "float", "numeric", "decimal")):
        return "number"
    if name in ("boolean", "bool"):
        return "boolean"
    if name == "date":
        return "date"
    if name.startswith("timestamp"):
        return "timestamp"
    if name in ("json", "jsonb"):
        return "json"
    return "text"


@dataclass(frozen=True)
class Attribution:
    """The attribution settings whose analytics rows the reports show.

    Rows requested with other settings stay in the analytics tables. Summing rows of
    several settings would count the same spend twice, so every report filters to one.
    """

    click_window_days: int = 30
    engagement_window_days: int = 30
    view_window_days: int = 1
    conversion_report_time: str = "TIME_OF_AD_ACTION"

    def __post_init__(self) -> None:
        for name in ("click_window_days", "engagement_window_days", "view_window_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value not in ATTRIBUTION_WINDOWS:
                allowed = ", ".join(map(str, ATTRIBUTION_WINDOWS))
                raise ValueError(f"{name} = {value!r} is not an attribution window: use one of {allowed} (days).")
        if self.conversion_report_time not in CONVERSION_REPORT_TIMES:
            raise ValueError(
                f"conversion_report_time = {self.conversion_report_time!r} is invalid: use one of {', '.join(CONVERSION_REPORT_TIMES)}."
            )

    @classmethod
    def from_settings(cls, settings: Any) -> Attribution:
        """Take the four settings from any object that has them, such as `AnalyticsSettings`."""
        return cls(
            click_window_days=int(settings.click_window_days),
            engagement_window_days=int(settings.engagement_window_days),
            view_window_days=int(settings.view_window_days),
            conversion_report_time=str(settings.conversion_report_time),
        )

    def literals(self) -> dict[str, str]:
        """SQL literals of the settings; the values are validated, so inlining them is safe."""
        return {
            "click_window_days": str(self.click_window_days),
            "engagement_window_days": str(self.engagement_window_days),
            "view_window_days": str(self.view_window_days),
            "conversion_report_time": f"'{self.conversion_report_time}'",
        }


@dataclass(frozen=True)
class Dialect:
    """The few expressions DuckDB and PostgreSQL spell differently."""

    name: str

    def json_text(self, expression: str, key: str) -> str:
        """Text of one top-level key of a JSON value stored as JSON, JSONB or text."""
        if self.name == "postgres":
            return f"(CAST({expression} AS JSONB) ->> '{key}')"
        return f"json_extract_string({expression}, '$.{key}')"


@dataclass(frozen=True)
class TableColumns:
    """One base table of the dataset: column name to kind, in table order."""

    name: str
    columns: Mapping[str, str]

    def has(self, column: str) -> bool:
        return column in self.columns


@dataclass(frozen=True)
class Catalog:
    """The dataset's base tables and where the views go.

    `dataset` is the schema of the loaded tables and `schema` the one receiving the
    views. On DuckDB, a view in the dataset's own schema names tables without a schema,
    because DuckDB binds such names in the view's schema. The view then works under any
    catalog name. A two-part name would not: `pinterest.duckdb` opens as catalog
    `pinterest`, which makes `pinterest.<table>` ambiguous.
    """

    dialect: Dialect
    dataset: str
    schema: str
    tables: Mapping[str, TableColumns]
    attribution: Attribution = field(default_factory=Attribution)

    def has_table(self, name: str) -> bool:
        return name in self.tables

    def ref(self, table: str) -> str:
        """Reference to a dataset table from inside a view body."""
        if self.dialect.name == "duckdb" and self.schema == self.dataset:
            return quote(table)
        return f"{quote(self.dataset)}.{quote(table)}"

    def source(self, alias: str, table: str) -> Source:
        return Source(alias, self.tables.get(table))


@dataclass(frozen=True)
class Source:
    """A table under an alias in a query; absent tables and columns read as typed NULLs."""

    alias: str
    table: TableColumns | None

    @property
    def present(self) -> bool:
        return self.table is not None

    def has(self, column: str) -> bool:
        return self.table is not None and self.table.has(column)

    def column(self, column: str) -> str:
        return f"{self.alias}.{quote(column)}"

    def value(self, column: str, sql_type: str) -> str:
        """Return the column cast to `sql_type`, or a NULL of that type when it is absent."""
        if not self.has(column):
            return f"CAST(NULL AS {sql_type})"
        return f"CAST({self.column(column)} AS {sql_type})"

    def timestamp(self, column: str) -> str:
        """Return the column as a timestamp with time zone, converting Unix seconds (integers)."""
        if not self.has(column):
            return f"CAST(NULL AS {TIMESTAMP})"
        kind = self.table.columns[column]  # type: ignore[union-attr]
        if kind in ("integer", "number"):
            return f"to_timestamp({self.column(column)})"
        if kind == "timestamp":
            return self.column(column)
        return f"CAST({self.column(column)} AS {TIMESTAMP})"
