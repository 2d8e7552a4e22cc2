"""Turn ads analytics API rows into Arrow tables of a table's schema.

`rows_to_table` converts a list of API rows column by column: pyarrow infers one typed
array per API key, and keys, dates and amounts are computed with `pyarrow.compute`. That
path accepts only values whose Arrow type already gives the result of the row-by-row
converters in `arrow.py`. Any other chunk, such as one with numeric strings, fractional
counts or a row without `DATE`, goes through `output_row` and `table_from_rows` instead,
which define the result and raise the errors.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..errors import PinterestSyncError
from .arrow import MICROS_PER_UNIT, column_plan, metric_values, parse_report_date, table_from_rows
from .sync import PARENT_FIELDS
from .tables import AdsTable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AccountRows:
    """The schema, account columns and parent ids shared by the rows of one table and ad account.

    `values` are the columns with one value per account (`ad_account_id`, `currency`, the
    attribution settings). `parents` maps an entity id to its parent id columns.
    """

    table: AdsTable
    schema: pa.Schema
    values: Mapping[str, Any]
    parents: Mapping[str, Mapping[str, str | None]]


class _RowPathRequired(Exception):
    """Values that the column-by-column path cannot convert exactly as `table_from_rows` does."""


def rows_to_table(
    rows: Sequence[Mapping[str, Any]],
    entity_ids: Sequence[str] | None,
    columns: tuple[str, ...],
    account: AccountRows,
) -> pa.Table:
    """Convert API rows to a table of `account.schema`.

    `entity_ids` gives each row's report key; sync rows pass None and carry the id in
    `table.id_field`. `columns` are the requested API metric columns.
    """
    try:
        return _columns_table(rows, entity_ids, columns, account)
    except (_RowPathRequired, pa.ArrowException, ValueError, TypeError, OverflowError) as error:
        logger.debug("%s: converting %d rows one by one: %s", account.table.name, len(rows), error)
        return _rows_table(rows, entity_ids, columns, account)


def _rows_table(
    rows: Sequence[Mapping[str, Any]],
    entity_ids: Sequence[str] | None,
    columns: tuple[str, ...],
    account: AccountRows,
) -> pa.Table:
    table = account.table
    converted = [
        output_row(table, row, None if entity_ids is None else entity_ids[index], account.values, account.parents, columns)
        for index, row in enumerate(rows)
    ]
    return table_from_rows(converted, account.schema)


def output_row(
    table: AdsTable,
    api_row: Mapping[str, Any],
    entity_id: str | None,
    context: Mapping[str, Any],
    parents: Mapping[str, Mapping[str, str | None]],
    columns: tuple[str, ...],
) -> dict[str, Any]:
    """Build one table row: metrics under snake_case names, then keys and settings on top.

    `entity_id` is the report key; sync rows carry the id in `table.id_field` instead.
    """
    row = metric_values(api_row, columns)
    row.update(context)

    if table.id_column:
        entity = entity_id if entity_id is not None else api_row.get(table.id_field)  # type: ignore[arg-type]
        row[table.id_column] = None if entity is None else str(entity)
        for parent, value in parents.get(str(entity), {}).items():
            if row.get(parent) is None:
                row[parent] = value
    for parent in table.parents:
        value = api_row.get(PARENT_FIELDS[parent])
        if value is not None:
            row[parent] = str(value)

    if table.targeting:
        row["targeting_type"] = api_row.get("TARGETING_TYPE")
        value = api_row.get("TARGETING_VALUE")
        row["targeting_value"] = None if value is None else str(value)

    if "DATE" not in api_row:
        raise PinterestSyncError(
            f"A {table.name} row of ad account {context['ad_account_id']} has no DATE, so it cannot be stored by day: "
            f"{dict(api_row)!r}. Check that granularity is DAY or HOUR."
        )
    day, hour = parse_report_date(api_row["DATE"])
    row["date"] = day
    # NOTE: how Pinterest labels hourly rows is not documented; a time inside DATE and a
    # separate HOUR key are both read.
    if "HOUR" in api_row and hour is None:
        hour = int(api_row["HOUR"])
    row["hour"] = hour
    return row


class _InferredColumns:
    """The values of each API key of a list of rows, as pyarrow infers their type."""

    def __init__(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self.rows = rows
        self.length = len(rows)
        # Inference fails on keys whose values mix types (an int and a string, say).
        self.struct = pa.array(rows)
        if not pa.types.is_struct(self.struct.type):
            raise _RowPathRequired(f"rows of type {self.struct.type}, expected JSON objects")

    def get(self, key: str) -> pa.Array:
        """Return the values of `key`, null where a row lacks it."""
        if self.struct.type.get_field_index(key) < 0:
            return pa.nulls(self.length)
        return self.struct.field(key)

    def typed(self, key: str, data_type: pa.DataType) -> pa.Array:
        """Return the values of `key` as `data_type`, when that is what the row converters give.

        Values already of the type, all-null values and integers in a float or string
        column pass. Anything else needs the row converters: a float in an integer column
        is rounded there, where Arrow would truncate it.
        """
        values = self.get(key)
        if values.type == data_type:
            return values
        if pa.types.is_null(values.type):
            return pa.nulls(self.length, data_type)
        if pa.types.is_int64(values.type) and (pa.types.is_float64(data_type) or pa.types.is_string(data_type)):
            # A safe cast raises for integers beyond 2**53 in a float column, as
            # `pa.array(values, pa.float64())` in the row converters does.
            return pc.cast(values, data_type)
        raise _RowPathRequired(f"{key} contains {values.type} values for a {data_type} column")


def _columns_table(
    rows: Sequence[Mapping[str, Any]],
    entity_ids: Sequence[str] | None,
    columns: tuple[str, ...],
    account: AccountRows,
) -> pa.Table:
    table, schema = account.table, account.schema
    inferred = _InferredColumns(rows)
    length = inferred.length
    fields = {field.name: field for field in schema}
    arrays: dict[str, pa.Array] = {}

    # As in `output_row`, the account's values, the entity and parent ids, the targeting
    # columns and the date replace any metric of the same name.
    replaced = {*account.values, *table.parents, "date", "hour"}
    if table.id_column:
        replaced.add(table.id_column)
    if table.targeting:
        replaced |= {"targeting_type", "targeting_value"}
    for api_name, name, derived in column_plan(columns):
        if name in fields and name not in replaced:
            arrays[name] = inferred.typed(api_name, fields[name].type)
        if derived is not None and derived in fields and derived not in replaced:
            micros = inferred.typed(api_name, pa.int64())
            arrays[derived] = pc.divide(pc.cast(micros, pa.float64(), safe=False), float(MICROS_PER_UNIT))

    for name, value in account.values.items():
        if name in fields:
            arrays[name] = _repeat(value, fields[name], length)

    if table.id_column:
        entities = pa.array(entity_ids, pa.string()) if entity_ids is not None else inferred.typed(table.id_field, pa.string())  # type: ignore[arg-type]
        if entities.null_count:
            raise _RowPathRequired(f"rows without {table.id_field}")
        arrays[table.id_column] = entities
        encoded = entities.dictionary_encode()
        entity_parents = [account.parents.get(entity, {}) for entity in encoded.dictionary.to_pylist()]
        for parent in table.parents:
            known = pa.array([found.get(parent) for found in entity_parents], pa.string()).take(encoded.indices)
            arrays[parent] = pc.coalesce(inferred.typed(PARENT_FIELDS[parent], pa.string()), known)
    for parent in table.parents:
        if parent not in arrays:
            arrays[parent] = inferred.typed(PARENT_FIELDS[parent], pa.string())

    if table.targeting:
        arrays["targeting_type"] = inferred.typed("TARGETING_TYPE", pa.string())
        arrays["targeting_value"] = inferred.typed("TARGETING_VALUE", pa.string())

    arrays["date"] = _days(inferred)
    if "hour" in fields:
        arrays["hour"] = _hours(inferred)

    return pa.Table.from_arrays(
        [arrays[field.name] if field.name in arrays else pa.nulls(length, field.type) for field in schema],
        schema=schema,
    )


def _repeat(value: Any, field: pa.Field, length: int) -> pa.Array:
    """Convert one value as `table_from_rows` does and repeat it `length` times."""
    converted = table_from_rows([{field.name: value}], pa.schema([field])).column(0)[0]
    return pa.repeat(converted, length)


def _parsed_dates(inferred: _InferredColumns) -> tuple[pa.DictionaryArray, list[tuple[Any, int | None]]]:
    """Return `DATE` dictionary-encoded and the (day, hour) of each distinct value."""
    texts = inferred.get("DATE")
    if not pa.types.is_string(texts.type) or texts.null_count:
        raise _RowPathRequired("a DATE that is missing or not text")
    encoded = texts.dictionary_encode()
    return encoded, [parse_report_date(text) for text in encoded.dictionary.to_pylist()]


def _days(inferred: _InferredColumns) -> pa.Array:
    encoded, parsed = _parsed_dates(inferred)
    return pa.array([day for day, _ in parsed], pa.date32()).take(encoded.indices)


def _hours(inferred: _InferredColumns) -> pa.Array:
    """Return the hour of the time in `DATE`, or else of the row's `HOUR` key."""
    encoded, parsed = _parsed_dates(inferred)
    hours = pa.array([hour for _, hour in parsed], pa.int64()).take(encoded.indices)
    if not hours.null_count:
        return hours
    return pa.array(
        [int(row["HOUR"]) if hour is None and "HOUR" in row else hour for hour, row in zip(hours.to_pylist(), inferred.rows)],
        pa.int64(),
    )
