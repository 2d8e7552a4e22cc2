"""Conversion of analytics API rows to Arrow: the column path, its row-by-row fallback, report parsing."""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
from typing import Any

import pyarrow as pa
import pytest

from pipelines.pinterest.analytics import ads_rows, reports
from pipelines.pinterest.analytics.ads_rows import AccountRows, output_row, rows_to_table
from pipelines.pinterest.analytics.arrow import TableBuffer, table_from_rows
from pipelines.pinterest.analytics.columns import column_name
from pipelines.pinterest.analytics.organic import PIN_SCHEMA, _pin_rows
from pipelines.pinterest.analytics.reports import ReportError, parse_report, report_entities
from pipelines.pinterest.analytics.sync import PARENT_FIELDS
from pipelines.pinterest.analytics.tables import AD_ANALYTICS, KEYWORD_ANALYTICS, TARGETING_ANALYTICS, AdsTable, ads_schema
from pipelines.pinterest.errors import PinterestSyncError

COLUMNS = ("SPEND_IN_MICRO_DOLLAR", "TOTAL_IMPRESSION", "TOTAL_CONVERSIONS", "CTR", "CAMPAIGN_NAME", "PIN_ID")
VALUES = {
    "ad_account_id": "549755885175",
    "currency": "EUR",
    "click_window_days": 30,
    "engagement_window_days": 30,
    "view_window_days": 1,
    "conversion_report_time": "TIME_OF_AD_ACTION",
}
PARENTS = {
    "813744226420795884": {"ad_group_id": "2680059592705", "campaign_id": "626736533506"},
    "813744226420795885": {"ad_group_id": "2680059592706", "campaign_id": None},
}
AD_ONE, AD_TWO = PARENTS


def account_rows(table: AdsTable = AD_ANALYTICS, hourly: bool = False) -> tuple[AccountRows, tuple[str, ...]]:
    columns = tuple(dict.fromkeys(COLUMNS + tuple(PARENT_FIELDS[parent] for parent in table.parents)))
    schema = ads_schema(table, columns, hourly)
    parents = PARENTS if table.parents else {}
    return AccountRows(table, schema, VALUES, parents), columns


def row_by_row(rows: list[dict[str, Any]], entity_ids: list[str] | None, columns: tuple[str, ...], account: AccountRows) -> pa.Table:
    """The reference result: each row built by `output_row`, then `table_from_rows`."""
    converted = [
        output_row(account.table, row, None if entity_ids is None else entity_ids[index], account.values, account.parents, columns)
        for index, row in enumerate(rows)
    ]
    return table_from_rows(converted, account.schema)


def sync_row(ad_id: str = AD_ONE, day: str = "2026-03-01", **metrics: Any) -> dict[str, Any]:
    return {"AD_ID": ad_id, "DATE": day, **metrics}


@pytest.fixture
def no_row_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if `rows_to_table` falls back to row-by-row conversion."""

    def fail(*args: Any) -> pa.Table:
        raise AssertionError("rows_to_table fell back to row-by-row conversion")

    monkeypatch.setattr(ads_rows, "_rows_table", fail)


# ----- the column path ------------------------------------------------------------------------


def test_clean_sync_rows_skip_row_path(no_row_path):
    account, columns = account_rows()
    rows = [
        sync_row(SPEND_IN_MICRO_DOLLAR=12_340_000, TOTAL_IMPRESSION=7, TOTAL_CONVERSIONS=1.5, CTR=0.25, CAMPAIGN_NAME="Spring"),
        sync_row(AD_TWO, "2026-03-02", SPEND_IN_MICRO_DOLLAR=None, TOTAL_IMPRESSION=0, TOTAL_CONVERSIONS=2, AD_GROUP_ID="999"),
        sync_row(AD_TWO, "2026-03-01", SPEND_IN_MICRO_DOLLAR=9_007_199_254_740_993),
    ]

    table = rows_to_table(rows, None, columns, account)

    assert table.schema == account.schema
    assert table.column("ad_id").to_pylist() == [AD_ONE, AD_TWO, AD_TWO]
    assert table.column("date").to_pylist() == [dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 1)]
    assert table.column("spend_in_micro_dollar").to_pylist() == [12_340_000, None, 9_007_199_254_740_993]
    assert table.column("spend_in_account_currency").to_pylist() == [12.34, None, float(9_007_199_254_740_993) / 1_000_000]
    assert table.column("total_conversions").to_pylist() == [1.5, 2.0, None]
    assert table.column("ad_group_id").to_pylist() == ["2680059592705", "999", "2680059592706"]
    assert table.column("campaign_id").to_pylist() == ["626736533506", None, None]
    assert table.column("currency").to_pylist() == ["EUR"] * 3
    assert table.column("click_window_days").to_pylist() == [30] * 3
    assert table.column("pin_id").to_pylist() == [None] * 3
    assert table.equals(row_by_row(rows, None, columns, account))


def test_integer_ids_become_text_on_column_path(no_row_path):
    account, columns = account_rows()
    rows = [{"AD_ID": 813744226420795884, "DATE": "2026-03-01", "PIN_ID": 5, "CAMPAIGN_ID": 626736533506}]

    table = rows_to_table(rows, None, columns, account)

    assert table.column("ad_id").to_pylist() == [AD_ONE]
    assert table.column("pin_id").to_pylist() == ["5"]
    assert table.column("campaign_id").to_pylist() == ["626736533506"]
    assert table.equals(row_by_row(rows, None, columns, account))


def test_report_rows_take_entity_keys(no_row_path):
    account, columns = account_rows()
    rows = [{"DATE": "2026-03-01", "TOTAL_IMPRESSION": 3}, {"DATE": "2026-03-01", "TOTAL_IMPRESSION": 4, "AD_ID": "1"}]

    table = rows_to_table(rows, [AD_ONE, AD_TWO], columns, account)

    assert table.column("ad_id").to_pylist() == [AD_ONE, AD_TWO]
    assert table.equals(row_by_row(rows, [AD_ONE, AD_TWO], columns, account))


def test_keyword_report_parents_from_rows(no_row_path):
    account, columns = account_rows(KEYWORD_ANALYTICS)
    rows = [{"DATE": "2026-03-01", "AD_GROUP_ID": "7", "CAMPAIGN_ID": "8", "SPEND_IN_MICRO_DOLLAR": 5}]

    table = rows_to_table(rows, ["4711"], columns, account)

    assert table.column("keyword_id").to_pylist() == ["4711"]
    assert table.column("ad_group_id").to_pylist() == ["7"]
    assert table.column("campaign_id").to_pylist() == ["8"]
    assert table.equals(row_by_row(rows, ["4711"], columns, account))


def test_targeting_rows_keep_type_and_value(no_row_path):
    account, columns = account_rows(TARGETING_ANALYTICS)
    rows = [
        {"DATE": "2026-03-01", "TARGETING_TYPE": "AGE_BUCKET", "TARGETING_VALUE": 25, "TOTAL_IMPRESSION": 3},
        {"DATE": "2026-03-01", "TARGETING_TYPE": "AGE_BUCKET", "TARGETING_VALUE": 35, "TOTAL_IMPRESSION": 1},
    ]

    table = rows_to_table(rows, None, columns, account)

    assert table.column("targeting_type").to_pylist() == ["AGE_BUCKET", "AGE_BUCKET"]
    assert table.column("targeting_value").to_pylist() == ["25", "35"]
    assert table.equals(row_by_row(rows, None, columns, account))


def test_hourly_rows_read_time_or_hour_key():
    account, columns = account_rows(hourly=True)
    rows = [sync_row(day="2026-03-01 13:00:00"), sync_row(day="2026-03-01T07"), {**sync_row(), "HOUR": "21"}]

    table = rows_to_table(rows, None, columns, account)

    assert table.column("hour").to_pylist() == [13, 7, 21]
    assert table.column("date").to_pylist() == [dt.date(2026, 3, 1)] * 3
    assert table.equals(row_by_row(rows, None, columns, account))


# ----- the row-by-row fallback ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("metrics", "column", "expected"),
    [
        ({"TOTAL_IMPRESSION": 1.5}, "total_impression", 2),
        ({"TOTAL_IMPRESSION": "12"}, "total_impression", 12),
        ({"TOTAL_IMPRESSION": True}, "total_impression", None),
        ({"SPEND_IN_MICRO_DOLLAR": 2.5}, "spend_in_account_currency", 2.5e-06),
        ({"SPEND_IN_MICRO_DOLLAR": "9007199254740993"}, "spend_in_micro_dollar", 9_007_199_254_740_993),
        ({"CTR": "0.5"}, "ctr", 0.5),
        ({"CTR": ""}, "ctr", None),
        ({"CAMPAIGN_NAME": 1.0}, "campaign_name", "1"),
    ],
)
def test_unclean_values_use_row_path(caplog, metrics, column, expected):
    account, columns = account_rows()
    rows = [sync_row(TOTAL_IMPRESSION=1), sync_row(day="2026-03-02", **metrics)]

    with caplog.at_level(logging.DEBUG, logger=ads_rows.__name__):
        table = rows_to_table(rows, None, columns, account)

    assert "converting 2 rows one by one" in caplog.text
    assert table.column(column).to_pylist()[1] == expected
    assert table.equals(row_by_row(rows, None, columns, account))


def test_row_without_date_names_it():
    account, columns = account_rows()

    with pytest.raises(PinterestSyncError, match="has no DATE"):
        rows_to_table([sync_row(), {"AD_ID": AD_ONE, "TOTAL_IMPRESSION": 3}], None, columns, account)


def test_invalid_date_raises_as_row_path():
    account, columns = account_rows()

    with pytest.raises(ValueError, match="Invalid isoformat"):
        rows_to_table([sync_row(day="yesterday")], None, columns, account)


def test_random_rows_match_row_path(monkeypatch):
    """Chunks of clean and mixed values convert exactly as the row-by-row path converts them."""
    generator = random.Random(20261204)
    account, columns = account_rows()
    clean = {
        pa.int64(): [None, 0, 7, 10**15, 9_007_199_254_740_993],
        pa.float64(): [None, 0, 2, 1.25, 0.1],
        pa.string(): [None, "Spring", "813744226420795884"],
    }
    mixed = [None, 0, 7, 2.0, 1.25, "3", "", True, "x"]
    row_path_chunks = []
    row_path = ads_rows._rows_table
    monkeypatch.setattr(ads_rows, "_rows_table", lambda *args: row_path_chunks.append(args[0]) or row_path(*args))

    for _ in range(400):
        pools = {column: mixed if generator.random() < 0.15 else clean[account.schema.field(column_name(column)).type] for column in columns}
        rows = []
        for _ in range(generator.randint(1, 6)):
            row: dict[str, Any] = {"AD_ID": generator.choice([AD_ONE, AD_TWO, "813744226420795886"]), "DATE": generator.choice(["2026-03-01", "2026-03-02"])}
            for column in columns:
                if generator.random() < 0.7:
                    row[column] = generator.choice(pools[column])
            rows.append(row)
        try:
            expected: Any = row_by_row(rows, None, columns, account)
        except (ValueError, TypeError) as error:
            with pytest.raises(type(error)):
                rows_to_table(rows, None, columns, account)
            continue
        assert rows_to_table(rows, None, columns, account).equals(expected), rows

    assert 50 < len(row_path_chunks) < 350


# ----- batches, organic rows ------------------------------------------------------------------


def test_table_buffer_yields_bounded_batches():
    buffer = TableBuffer(batch_rows=5)
    batches = []
    for size in (2, 2, 3, 4):
        batches += list(buffer.add(pa.table({"n": list(range(size))})))
    batches += list(buffer.add(pa.table({"n": pa.array([], pa.int64())})))

    assert [batch.num_rows for batch in batches] == [7]
    assert buffer.rows == 4
    assert buffer.flush().column("n").to_pylist() == [0, 1, 2, 3]
    assert buffer.rows == 0


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


# ----- report parsing -------------------------------------------------------------------------


def test_report_entities_in_document_order():
    payload = (
        b' {"813744226420795884": [{"DATE": "2024-05-01", "SPEND_IN_MICRO_DOLLAR": 5}] ,\n'
        b'"1":[{"targeting_type": "GENDER", "targeting_value": "female", "metrics": {"DATE": "2024-05-01"}}], "2": []} \n'
    )

    entities = list(report_entities(payload, "test report"))

    assert entities == [
        ("813744226420795884", [{"DATE": "2024-05-01", "SPEND_IN_MICRO_DOLLAR": 5}]),
        ("1", [{"DATE": "2024-05-01", "TARGETING_TYPE": "GENDER", "TARGETING_VALUE": "female"}]),
        ("2", []),
    ]
    assert list(report_entities(b"", "test report")) == []
    assert list(report_entities(b"{ }", "test report")) == []
    assert list(report_entities('{"3": []}'.encode("utf-8-sig"), "test report")) == [("3", [])]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b'{"1": [], "2": [{"DATE": }]}', r"not valid JSON \(Expecting value: line 1 column 26 \(char 25\)\)"),
        (b'{"1": [] "2": []}', r"not valid JSON \(Expecting ',' delimiter: line 1 column 10 \(char 9\)\)"),
        (b'{"1" []}', r"not valid JSON \(Expecting ':' delimiter"),
        (b'{1: []}', r"not valid JSON \(Expecting property name enclosed in double quotes"),
        (b'{"1": []} []', r"not valid JSON \(Extra data: line 1 column 11"),
        (b'{"1": [], "2": {"DATE": "2024-05-01"}}', "id 2 maps to a dict, expected a list of rows"),
        (b'"text"', "is a JSON str, expected an object keyed by entity id"),
        (b"\xff\xfe{", "not valid JSON"),
    ],
)
def test_report_errors_named(payload, message):
    with pytest.raises(ReportError, match=message):
        list(report_entities(payload, "CAMPAIGN report"))


def test_report_entities_before_error_are_yielded():
    entities = report_entities(b'{"1": [{"DATE": "2024-05-01"}], "2": [', "CAMPAIGN report")

    assert next(entities) == ("1", [{"DATE": "2024-05-01"}])
    with pytest.raises(ReportError, match="not valid JSON"):
        next(entities)


def test_parse_report_keeps_last_of_repeated_key():
    assert parse_report(b'{"1": [{"DATE": "a"}], "2": [], "1": [{"DATE": "b"}]}', "test report") == {"1": [{"DATE": "b"}], "2": []}


@pytest.mark.parametrize("piece_bytes", [1, 2, 7, 64, 4096])
def test_report_pieces_parse_alike(monkeypatch, piece_bytes):
    monkeypatch.setattr(reports, "DECODE_PIECE_BYTES", piece_bytes)
    document = {
        str(813744226420795884 + entity): [
            {"DATE": f"2024-05-{day + 1:02d}", "SPEND_IN_MICRO_DOLLAR": entity * day, "CAMPAIGN_NAME": "Frühling 🌷", "CTR": 0.5}
            for day in range(entity % 4)
        ]
        for entity in range(12)
    }
    payload = json.dumps(document, ensure_ascii=False, indent=1).encode()

    assert list(report_entities(payload, "test report")) == list(document.items())


@pytest.mark.parametrize("piece_bytes", [3, 4096])
def test_report_error_positions_from_start(monkeypatch, piece_bytes):
    monkeypatch.setattr(reports, "DECODE_PIECE_BYTES", piece_bytes)
    payload = b'{"1": [{"DATE": "2024-05-01"}],\n "2": [{"DATE": "2024-05-01",}]}'
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(payload)

    with pytest.raises(ReportError) as error:
        list(report_entities(payload, "CAMPAIGN report"))

    assert f"not valid JSON ({expected.value})" in str(error.value)
    assert "line 2" in str(error.value)
