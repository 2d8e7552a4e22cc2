"""The benchmark harness at the small scale: processes, counts, minimum, bound and page.

These tests check that the harness measures correctly, not how fast the product is:
timed targets live in `docs/benchmarks.md`, written by `python -m benchmarks.run`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.figures import ScaleResult, check_targets, rate_limit_seconds
from benchmarks.minimum import endpoint_key, minimum_requests
from benchmarks.report import displayed_command, render_page
from benchmarks.run import parse_arguments, run_scale, standard_rate_limits
from pipelines.pinterest.simulator import SimulatorData
from pipelines.pinterest.simulator.data import ENTITY_TABLES

TODAY = dt.date(2025, 6, 30)


@pytest.fixture(scope="module")
def small_result(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaleResult]:
    work_dir = tmp_path_factory.mktemp("benchmark")
    yield run_scale("small", latency_ms=0.0, work_dir=work_dir, timeout_seconds=300.0)


def test_minimum_small_scale_per_endpoint() -> None:
    data = SimulatorData.generate(seed=7, scale="small", today=TODAY)

    minimum = minimum_requests(data, report_status_polls=2)

    # 3 ad accounts with 4 campaigns, 8 ad groups and 16 ads each.
    assert minimum["GET /ad_accounts/{ad_account_id}/campaigns"] == 3
    assert minimum["GET /ad_accounts/{ad_account_id}/product_group_promotions"] == 24
    assert minimum["GET /ad_accounts/{ad_account_id}/keywords"] == 6
    assert minimum["GET /ad_accounts/{ad_account_id}/ads/analytics"] == 3
    assert minimum["POST /ad_accounts/{ad_account_id}/reports"] == 3
    assert minimum["GET /ad_accounts/{ad_account_id}/reports"] == 6
    assert minimum["GET (report download)"] == 3
    assert minimum["GET /boards/{board_id}/pins"] == 4
    assert minimum["GET /pins/analytics"] == 1
    assert "GET /pins" not in minimum
    assert sum(minimum.values()) == 95


def test_minimum_counts_full_pages() -> None:
    data = SimulatorData.generate(seed=7, scale="medium", today=TODAY)

    minimum = minimum_requests(data, report_status_polls=2)

    # 400 ads per account need two pages and two batches of 250 ids.
    assert minimum["GET /ad_accounts/{ad_account_id}/ads"] == 10
    assert minimum["GET /ad_accounts/{ad_account_id}/ads/analytics"] == 10
    # 10,000 pins: 100 pin analytics requests of 100 ids.
    assert minimum["GET /pins/analytics"] == 100
    assert minimum["GET /ad_accounts/{ad_account_id}/product_group_promotions"] == 1000


def test_endpoint_key_strips_prefix() -> None:
    assert endpoint_key("GET /v5/boards/{board_id}/pins") == "GET /boards/{board_id}/pins"
    assert endpoint_key("POST /v5/oauth/token") == "POST /oauth/token"
    assert endpoint_key("GET /_downloads/{filename}") == "GET (report download)"


def test_rate_limit_seconds_per_category() -> None:
    requests = {
        "GET /ad_accounts/{ad_account_id}/campaigns": 500,
        "GET /ad_accounts/{ad_account_id}/ads/analytics": 150,
        "POST /oauth/token": 1,
        "GET (report download)": 3,
    }

    seconds = rate_limit_seconds(requests, standard_rate_limits())

    assert seconds == {"ads_read": 30.0, "ads_analytics": 30.0, "per_second": 6.5}


def test_harness_small_full_and_daily(small_result: ScaleResult) -> None:
    full, daily = small_result.full, small_result.daily

    assert full.completed
    assert daily is not None and daily.completed
    assert full.measurement.failed_resources == {}
    assert small_result.minimum_total == 95


def test_harness_counts_match_client(small_result: ScaleResult) -> None:
    for run in (small_result.full, small_result.daily):
        assert run is not None
        assert run.total_requests == run.measurement.client_requests
        assert run.rate_limited == 0


def test_harness_loads_expected_entities(small_result: ScaleResult) -> None:
    rows = small_result.full.measurement.table_rows

    for table in ENTITY_TABLES:
        assert rows.get(table, 0) == small_result.expected_entity_rows[table], table
    assert small_result.full.metric_rows > 0


def test_harness_measures_pipeline_process(small_result: ScaleResult) -> None:
    measurement = small_result.full.measurement

    assert measurement.seconds > 0
    assert 0 < measurement.cpu_seconds < measurement.process_cpu_seconds
    assert measurement.peak_rss_mb > 50
    assert small_result.full.simulator_cpu_seconds > 0
    assert set(measurement.step_seconds) == {"extract", "normalize", "load"}


def test_harness_bound_from_requests(small_result: ScaleResult) -> None:
    full = small_result.full
    ads_analytics = sum(count for endpoint, count in full.requests.items() if "analytics" in endpoint and "/ad_accounts/" in endpoint)
    reports = sum(count for endpoint, count in full.requests.items() if endpoint.endswith("/reports"))

    assert full.bound_by_category["ads_analytics"] == pytest.approx((ads_analytics + reports) / 300 * 60)
    assert full.bound_seconds == max(full.bound_by_category.values())


def test_page_lists_targets_and_scale(small_result: ScaleResult, tmp_path: Path) -> None:
    started = dt.datetime(2025, 6, 30, 12, 0, tzinfo=dt.timezone.utc)

    page = render_page([small_result], {"CPU": "test CPU"}, [("uv run python -m benchmarks.run --scales small", started)], standard_rate_limits())

    assert page.startswith("# Benchmarks\n")
    assert "| CPU | test CPU |" in page
    assert "## Scale: small" in page
    assert "| Full-sync requests at most 1.05 times the minimum | small |" in page
    assert f"| minimum requests for the same data | {small_result.minimum_total:,} |" in page
    assert len(check_targets([small_result])) >= 6


def test_displayed_command_drops_file_options() -> None:
    command = "uv run python -m benchmarks.run --scales small --output /tmp/page.md --results-json=/tmp/a.json"

    assert displayed_command(command) == "uv run python -m benchmarks.run --scales small"


def test_arguments_reject_unknown_scale(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_arguments(["--scales", "small,huge"])

    assert "--scales 'small,huge' is invalid" in capsys.readouterr().err


def test_arguments_reject_entity_table(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_arguments(["--skip-tables", "campaigns"])

    assert "only analytics tables can be left out" in capsys.readouterr().err


def test_minimum_skips_left_out_tables() -> None:
    data = SimulatorData.generate(seed=7, scale="small", today=TODAY)

    minimum = minimum_requests(data, report_status_polls=2, skipped_tables=("keyword_analytics", "targeting_analytics"))

    assert "POST /ad_accounts/{ad_account_id}/reports" not in minimum
    assert "GET (report download)" not in minimum
    assert "GET /ad_accounts/{ad_account_id}/targeting_analytics" not in minimum
    assert sum(minimum.values()) == 95 - 12 - 3
