"""Convert analytics rows to Arrow tables with a fixed schema.

Rows arrive as JSON objects whose numbers may be ints, floats or numeric strings, and
whose keys may be missing on days without a value. Each value is converted to the
schema's type here, so a missing key becomes NULL and an id never passes through a float.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa

from .columns import column_name, derived_amount_name, is_micro

logger = logging.getLogger(__name__)

MICROS_PER_UNIT = 1_000_000

# Rows per Arrow table handed to dlt. Small responses are combined until this many rows
# are buffered, so a table contains at most BATCH_ROWS plus the last converted piece: one
# sync response (250 entities times 90 days is 22,500 rows) or one chunk of report rows.
BATCH_ROWS = 20_000


def to_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        # The json module parses an id written as a number into an int. A float here is a
        # code such as a budget type, so it is written without the ".0".
        return str(int(value))
    return str(value)


def to_float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    number = float(value)
    return None if math.isnan(number) else number


def to_int(value: Any, column: str, warned: set[str]) -> int | None:
    """Convert to int; a fraction is rounded to the nearest whole unit and logged once per column."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
        value = float(text)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if not value.is_integer() and column not in warned:
            warned.add(column)
            if not column.endswith("_in_micro_dollar"):
                logger.warning("Column %s received fractional value %s; storing it rounded to %d.", column, value, round(value))
        return int(round(value))
    return int(value)


def parse_report_date(value: Any) -> tuple[dt.date, int | None]:
    """Parse an API `DATE`: `YYYY-MM-DD`, or with a time part for HOUR granularity."""
    text = str(value).strip()
    day = dt.date.fromisoformat(text[:10])
    rest = text[10:].lstrip("T ").strip()
    hour = int(rest[:2]) if rest[:2].isdigit() else None
    return day, hour


class TableBuffer:
    """Collect Arrow tables and hand them out concatenated in batches of about `batch_rows` rows.

    dlt writes each yielded table as one item, so a few large batches cost less than one
    per API response.
    """

    def __init__(self, batch_rows: int = BATCH_ROWS) -> None:
        self.batch_rows = batch_rows
        self.tables: list[pa.Table] = []
        self.rows = 0

    def add(self, table: pa.Table) -> Iterator[pa.Table]:
        """Add a table; yield a batch once `batch_rows` rows are buffered."""
        if table.num_rows == 0:
            return
        self.tables.append(table)
        self.rows += table.num_rows
        if self.rows >= self.batch_rows:
            yield self.flush()

    def flush(self) -> pa.Table:
        """Return the buffered rows as one table and empty the buffer."""
        batch = pa.concat_tables(self.tables)
        self.tables = []
        self.rows = 0
        return batch


def table_from_rows(rows: list[Mapping[str, Any]], schema: pa.Schema) -> pa.Table:
    """Build an Arrow table of `schema` from rows keyed by column name; absent keys are NULL."""
    warned: set[str] = set()
    arrays = []
    for field in schema:
        values = [row.get(field.name) for row in rows]
        arrays.append(_array(values, field, warned))
    return pa.Table.from_arrays(arrays, schema=schema)


def _array(values: list[Any], field: pa.Field, warned: set[str]) -> pa.Array:
    data_type = field.type
    kinds = {type(value) for value in values}
    kinds.discard(type(None))

    # Fast paths where Arrow's own conversion is exact: it would truncate 1.5 to an int64
    # and reject ints in a string column, so only uniform values take them.
    if pa.types.is_string(data_type):
        if kinds <= {str}:
            return pa.array(values, type=data_type)
        return pa.array([to_text(value) for value in values], type=data_type)
    if pa.types.is_int64(data_type):
        if kinds <= {int}:
            return pa.array(values, type=data_type)
        return pa.array([to_int(value, field.name, warned) for value in values], type=data_type)
    if pa.types.is_floating(data_type):
        if kinds <= {int, float}:
            return pa.array(values, type=data_type)
        return pa.array([to_float(value) for value in values], type=data_type)
    if pa.types.is_date32(data_type):
        return pa.array([value if isinstance(value, dt.date) or value is None else dt.date.fromisoformat(str(value)[:10]) for value in values], type=data_type)
    return pa.array(values, type=data_type)


def metric_values(api_row: Mapping[str, Any], api_columns: tuple[str, ...]) -> dict[str, Any]:
    """Map requested API metrics of one row to column names, adding account-currency amounts.

    A `*_IN_MICRO_DOLLAR` value is kept as the exact integer and also divided by one
    million into the `*_IN_ACCOUNT_CURRENCY` column. The unit is the ad account's
    currency even though the API name reads "dollar".
    """
    values: dict[str, Any] = {}
    for api_name, name, derived in column_plan(api_columns):
        if api_name not in api_row:
            continue
        value = api_row[api_name]
        values[name] = value
        if derived and value is not None and value != "":
            values[derived] = float(value) / MICROS_PER_UNIT
    return values


@functools.lru_cache(maxsize=64)
def column_plan(api_columns: tuple[str, ...]) -> tuple[tuple[str, str, str | None], ...]:
    """(API name, column name, derived amount column or None) per requested column."""
    return tuple(
        (api_name, column_name(api_name), derived_amount_name(api_name) if is_micro(api_name) else None)
        for api_name in api_columns
    )
