"""Turn Pinterest API objects into typed Arrow tables for dlt.

Entities go to dlt as `pyarrow.Table` batches rather than dicts: dlt's dict path costs
far more CPU per row, and Arrow keeps every id a string, so 18-digit ids never pass
through a float. Nested objects and lists become JSON text columns, which bounds every
entity to one table with no child tables.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pyarrow as pa

# Timestamp encodings, given per field name. Pinterest mixes Unix seconds, Unix
# milliseconds and ISO 8601 strings, some without a zone (UTC).
UNIX_SECONDS = "unix_seconds"
UNIX_MILLISECONDS = "unix_milliseconds"
ISO_STRING = "iso_string"

BATCH_ROWS = 5_000


def to_utc_timestamp(value: Any, encoding: str) -> dt.datetime | None:
    """Convert one API timestamp to an aware UTC datetime; None and '' stay None."""
    if value is None or value == "":
        return None
    if encoding == UNIX_SECONDS:
        return dt.datetime.fromtimestamp(float(value), tz=dt.timezone.utc)
    if encoding == UNIX_MILLISECONDS:
        return dt.datetime.fromtimestamp(float(value) / 1000.0, tz=dt.timezone.utc)
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def normalize_record(
    record: Mapping[str, Any],
    timestamps: Mapping[str, str],
    drop: Iterable[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return a flat copy of `record` ready for Arrow: timestamps typed, nesting as JSON text."""
    dropped = set(drop)
    row: dict[str, Any] = {}
    for key, value in record.items():
        if key in dropped:
            continue
        if key in timestamps:
            row[key] = to_utc_timestamp(value, timestamps[key])
        elif isinstance(value, (dict, list)):
            row[key] = json.dumps(value, separators=(",", ":"), sort_keys=True)
        elif key == "id" or key.endswith("_id"):
            row[key] = None if value is None else str(value)
        else:
            row[key] = value
    if extra:
        for key, value in extra.items():
            if row.get(key) is None:
                row[key] = value
    return row


def rows_to_table(rows: list[dict[str, Any]], timestamps: Iterable[str] = ()) -> pa.Table:
    """Build an Arrow table from normalized rows, unifying keys that some rows lack."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    fields = []
    columns = []
    timestamp_names = set(timestamps)
    for name in names:
        values = [row.get(name) for row in rows]
        if all(value is None for value in values):
            # dlt cannot type a column with no values and warns about it on every load.
            # The column appears with its type once some object carries a value.
            continue
        if name in timestamp_names:
            array = pa.array(values, type=pa.timestamp("us", tz="UTC"))
        elif name == "id" or name.endswith("_id"):
            array = pa.array(values, type=pa.string())
        else:
            array = _infer_array(values)
        # dlt declares merge keys NOT NULL, so `id` is declared the same way here.
        fields.append(pa.field(name, array.type, nullable=name != "id"))
        columns.append(array)
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def _infer_array(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # A field that mixes types across objects (a number in one, text in another)
        # is kept as text rather than failing the batch.
        return pa.array([None if value is None else str(value) for value in values], type=pa.string())


def batched_tables(
    records: Iterable[Mapping[str, Any]],
    timestamps: Mapping[str, str],
    drop: Iterable[str] = (),
    extra: Mapping[str, Any] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[pa.Table]:
    """Normalize a stream of API objects into Arrow tables of at most `batch_rows` rows."""
    batch: list[dict[str, Any]] = []
    for record in records:
        batch.append(normalize_record(record, timestamps, drop, extra))
        if len(batch) >= batch_rows:
            yield rows_to_table(batch, timestamps)
            batch = []
    if batch:
        yield rows_to_table(batch, timestamps)
