"""Organic analytics tables (user account, pins) loaded from the simulator into DuckDB."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.pinterest import config as config_module
from pipelines.pinterest.analytics import unavailable_days
from pipelines.pinterest.pipeline import run_sync
from pipelines.pinterest.simulator import Simulator, SimulatorConfig

from .conftest import make_config, make_duckdb_pipeline, query

USER_COUNTS = ("IMPRESSION", "SAVE", "PIN_CLICK", "OUTBOUND_CLICK", "ENGAGEMENT")
PIN_COUNTS = ("IMPRESSION", "SAVE", "PIN_CLICK", "OUTBOUND_CLICK")


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorConfig(seed=7, scale="small")) as simulator:
        yield simulator


def sync(sim: Simulator, tmp_path: Path, resources: tuple[str, ...], pipeline: Any = None, **overrides: Any) -> Any:
    pipeline = pipeline or make_duckdb_pipeline(tmp_path, "analytics")
    result = run_sync(make_config(sim, tmp_path, resources=resources, **overrides), pipeline=pipeline)
    assert result.ok, result.summary.failed_resources
    return pipeline


def user_rows(pipeline: Any) -> dict[dt.date, tuple[Any, ...]]:
    rows = query(
        pipeline,
        "SELECT date, split_value, data_status, impression, save, pin_click, outbound_click, engagement, save_rate "
        "FROM pinterest.user_account_analytics",
    )
    return {row[0]: row[1:] for row in rows}


def test_user_account_days_with_status(sim, tmp_path):
    today = sim.today

    rows = user_rows(sync(sim, tmp_path, ("user_account_analytics",)))

    assert sorted(rows) == [today - dt.timedelta(days=offset) for offset in range(89, -1, -1)]
    for day, (split_value, status, *values, save_rate) in rows.items():
        counts = sim.metrics.user_account_day(day)
        assert split_value == "all"
        assert status == sim.metrics.data_status(day)
        assert tuple(values) == tuple(counts[name] for name in USER_COUNTS), day
        assert save_rate == pytest.approx(counts["SAVE"] / counts["IMPRESSION"])
    assert rows[today][1] == "PROCESSING"
    assert rows[today - dt.timedelta(days=5)][1] == "READY"


def test_processing_day_updated_next_run(sim, tmp_path, monkeypatch):
    today = sim.today
    yesterday = today - dt.timedelta(days=1)
    pipeline = make_duckdb_pipeline(tmp_path, "analytics")
    sync(sim, tmp_path, ("user_account_analytics",), pipeline)
    assert user_rows(pipeline)[yesterday][1] == "PROCESSING"

    later = today + dt.timedelta(days=2)
    sim.today = later
    sim.metrics.today = later
    monkeypatch.setattr(config_module, "utc_today", lambda: later)
    sync(sim, tmp_path, ("user_account_analytics",), pipeline, start_date=later - dt.timedelta(days=89))

    rows = user_rows(pipeline)
    assert rows[yesterday][1] == "READY"
    assert rows[yesterday][2] == sim.metrics.user_account_day(yesterday)["IMPRESSION"]
    assert len(rows) == 92


def test_organic_days_beyond_90_reported(sim, tmp_path):
    today = sim.today

    pipeline = sync(sim, tmp_path, ("user_account_analytics",), start_date=today - dt.timedelta(days=120))

    assert len(user_rows(pipeline)) == 90
    assert unavailable_days(pipeline, ["user_account_analytics"]) == [
        {
            "table": "user_account_analytics",
            "ad_account_id": None,
            "start_date": (today - dt.timedelta(days=120)).isoformat(),
            "end_date": (today - dt.timedelta(days=90)).isoformat(),
            "days": 31,
            "reason": f"before {(today - dt.timedelta(days=89)).isoformat()}, the oldest day Pinterest serves organic analytics for",
        }
    ]


def test_pin_analytics_only_active_pins(tmp_path):
    with Simulator(SimulatorConfig(seed=7, scale="small", rate_limits={"org_analytics": 100})) as sim:
        template = next(iter(sim.data.pins.values()))
        sim.data.pins.clear()
        pin_ids = [str(813_744_226_420_000_000 + index) for index in range(1000)]
        for index, pin_id in enumerate(pin_ids):
            sim.data.pins[pin_id] = {**copy.deepcopy(template), "id": pin_id}
            sim.metrics.set_pin_active(pin_id, index % 50 == 0)
        active = {pin_id for index, pin_id in enumerate(pin_ids) if index % 50 == 0}

        pipeline = sync(sim, tmp_path, ("pin_analytics",))

        batch_calls = sim.request_counts["GET /v5/pins/analytics"]
        single_calls = sim.request_counts["GET /v5/pins/{pin_id}/analytics"]
        list_pages = sim.request_counts["GET /v5/pins"]
        print(f"pin analytics: {batch_calls} batch calls, {single_calls} single-pin calls, {list_pages} list pages")
        assert len(active) == 20
        assert batch_calls + single_calls <= 20
        assert list_pages == 4
        assert not [entry for entry in sim.requests_log if entry[3] >= 400]

        loaded = {pin_id for (pin_id,) in query(pipeline, "SELECT DISTINCT pin_id FROM pinterest.pin_analytics")}
        assert loaded == active
        rows = query(pipeline, "SELECT pin_id, date, data_status, impression, save, pin_click, outbound_click FROM pinterest.pin_analytics")
        assert len(rows) == 20 * 90
        for pin_id, day, status, *values in rows:
            expected_status, counts = sim.metrics.pin_day(pin_id, day)
            assert status == expected_status
            assert tuple(values) == tuple(counts.get(name) for name in PIN_COUNTS), (pin_id, day)


def test_pins_one_by_one_without_batch(sim, tmp_path):
    pin_ids = list(sim.data.pins)
    active = set(pin_ids[:3])
    for pin_id in pin_ids:
        sim.metrics.set_pin_active(pin_id, pin_id in active)
    sim.faults.fail_next.append(("/v5/pins/analytics", 403, {"code": 3, "message": "Not allowed to use this beta endpoint."}, {}))

    pipeline = sync(sim, tmp_path, ("pin_analytics",))

    assert sim.request_counts["GET /v5/pins/analytics"] == 1
    assert sim.request_counts["GET /v5/pins/{pin_id}/analytics"] == len(pin_ids)
    loaded = {pin_id for (pin_id,) in query(pipeline, "SELECT DISTINCT pin_id FROM pinterest.pin_analytics")}
    assert loaded == active
    impressions = dict(query(pipeline, "SELECT pin_id, sum(impression) FROM pinterest.pin_analytics GROUP BY 1"))
    for pin_id in active:
        expected = sum(sim.metrics.pin_day(pin_id, sim.today - dt.timedelta(days=offset))[1].get("IMPRESSION", 0) for offset in range(90))
        assert impressions[pin_id] == expected


def test_pin_analytics_wait_out_429(tmp_path):
    config = SimulatorConfig(seed=7, scale="small", rate_limits={"org_analytics": 3}, rate_limit_window_seconds=1.0)
    with Simulator(config) as sim:
        template = next(iter(sim.data.pins.values()))
        sim.data.pins.clear()
        for index in range(600):
            pin_id = str(813_744_226_420_000_000 + index)
            sim.data.pins[pin_id] = {**copy.deepcopy(template), "id": pin_id}
            sim.metrics.set_pin_active(pin_id, index % 100 == 0)

        pipeline = sync(sim, tmp_path, ("pin_analytics",))

        throttled = [entry for entry in sim.requests_log if entry[3] == 429]
        assert throttled
        assert query(pipeline, "SELECT count(*), count(DISTINCT pin_id) FROM pinterest.pin_analytics") == [(6 * 90, 6)]
