"""Conversion of analytics API rows to Arrow: the column path, its row-by-row fallback, report parsing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pipelines.pinterest.analytics.arrow import table_from_rows
from pipelines.pinterest.analytics.organic import PIN_SCHEMA, _pin_rows


def pin_body(*days: dict[str, Any]) -> dict[str, Any]:
    return {"all": {"daily_metrics": [{"date": f"2026-03-0{index + 1}", "data_status": "READY", "metrics": metrics} for index, metrics in enumerate(days)]}}


def test_pin_rows_only_with_positive_metric():
    assert _pin_rows("1", pin_body({"IMPRESSION": 0, "SAVE": 0}, {"IMPRESSION": 0})) == []
    assert _pin_rows("2", pin_body({"IMPRESSION": -3, "SAVE_RATE": float("nan"), "SAVE": "none"})) == []
    assert _pin_rows("3", pin_body({"UNREQUESTED": 9})) == []

    rows = _pin_rows("4", pin_body({"IMPRESSION": 0}, {"SAVE": "2"}))

    assert [row["date"] for row in rows] == [dt.date(2026, 3, 1), dt.date(2026, 3, 2)]
    assert rows[1]["save"] == "2"
    assert table_from_rows(rows, PIN_SCHEMA).column("save").to_pylist() == [None, 2]
