"""Derived figures of a benchmark run and the targets they are judged against.

The rate-limit bound of a run is the time its requests need at the configured quotas:
for each category, requests over requests per minute, and for the universal cap, all
rate-limited requests over requests per second. The largest of those is the bound. It
is a fluid bound: a sliding window lets the first window's worth of requests through
at once, so a run can finish up to one window (60 s) below it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from pipelines.pinterest.ratelimit import UNIVERSAL, category_for
from pipelines.pinterest.settings import ADS_ANALYTICS_TABLES, ORGANIC_ANALYTICS_TABLES

from .minimum import DOWNLOAD_ENDPOINT
from .pipeline_process import SyncMeasurement

METRIC_TABLES = frozenset(ADS_ANALYTICS_TABLES + ORGANIC_ANALYTICS_TABLES)
ANALYTICS_CATEGORIES = ("ads_analytics", "org_analytics")

MAX_REQUEST_RATIO = 1.05
MAX_WALL_TO_BOUND = 1.25
MAX_CPU_PER_MILLION_ROWS = 10.0
# Below this many metric rows, dlt's fixed cost per run (schema, state, merges) hides
# the cost per row, so the CPU target is shown but not judged.
MIN_ROWS_FOR_CPU_VERDICT = 100_000
MAX_PEAK_MB = 400.0
MAX_MEMORY_GROWTH = 1.2
MAX_DAILY_SHARE = 0.15
TARGET_LATENCY_MS = 50.0
TARGET_SCALE = "large"
MAX_REASON_CHARACTERS = 220


def endpoint_category(endpoint: str) -> str | None:
    """Rate-limit category of a benchmark endpoint key; None for the token endpoint and downloads."""
    if endpoint == DOWNLOAD_ENDPOINT:
        return None
    _, _, path = endpoint.partition(" ")
    return category_for(path)


def rate_limit_seconds(requests: Mapping[str, int], limits: Mapping[str, float]) -> dict[str, float]:
    """Seconds each category's quota, and the universal cap, needs for `requests`."""
    per_category: Counter[str] = Counter()
    for endpoint, count in requests.items():
        category = endpoint_category(endpoint)
        if category is not None:
            per_category[category] += count
            per_category[UNIVERSAL] += count
    seconds: dict[str, float] = {}
    for category, count in per_category.items():
        quota = limits.get(category)
        if quota:
            seconds[category] = count / quota if category == UNIVERSAL else count / quota * 60.0
    return seconds


def is_analytics_endpoint(endpoint: str) -> bool:
    return endpoint == DOWNLOAD_ENDPOINT or endpoint_category(endpoint) in ANALYTICS_CATEGORIES


@dataclass(frozen=True)
class RunFigures:
    """One sync run as the simulator saw it, plus the pipeline process's own figures."""

    measurement: SyncMeasurement
    requests: dict[str, int]
    statuses: dict[int, int]
    limits: dict[str, float]
    simulator_cpu_seconds: float

    @property
    def completed(self) -> bool:
        return self.measurement.completed

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def rate_limited(self) -> int:
        """429 responses the simulator sent during the run."""
        return self.statuses.get(429, 0)

    @property
    def bound_by_category(self) -> dict[str, float]:
        return rate_limit_seconds(self.requests, self.limits)

    @property
    def bound_seconds(self) -> float:
        return max(self.bound_by_category.values(), default=0.0)

    @property
    def bound_category(self) -> str | None:
        bounds = self.bound_by_category
        return max(bounds, key=bounds.__getitem__) if bounds else None

    @property
    def metric_rows(self) -> int:
        return sum(count for table, count in self.measurement.table_rows.items() if table in METRIC_TABLES)

    @property
    def entity_rows(self) -> int:
        return sum(count for table, count in self.measurement.table_rows.items() if table not in METRIC_TABLES)

    @property
    def metric_rows_per_second(self) -> float | None:
        seconds = self.measurement.seconds
        return self.metric_rows / seconds if seconds > 0 and self.metric_rows else None

    @property
    def cpu_per_million_rows(self) -> float | None:
        rows = self.metric_rows
        return self.measurement.cpu_seconds / (rows / 1_000_000) if rows else None

    @property
    def entity_list_requests(self) -> int:
        return sum(count for endpoint, count in self.requests.items() if not is_analytics_endpoint(endpoint))


@dataclass(frozen=True)
class ScaleResult:
    """Full sync and daily run of one scale."""

    scale: str
    latency_ms: float
    minimum: dict[str, int]
    expected_entity_rows: dict[str, int]
    full: RunFigures
    daily: RunFigures | None
    simulator_peak_rss_mb: float = 0.0
    skipped_tables: tuple[str, ...] = ()

    @property
    def minimum_total(self) -> int:
        return sum(self.minimum.values())

    @property
    def label(self) -> str:
        """The scale's name, plus the analytics tables the run left out, if any."""
        if not self.skipped_tables:
            return self.scale
        return f"{self.scale} without {', '.join(self.skipped_tables)}"


@dataclass(frozen=True)
class TargetCheck:
    """One target judged on one scale: `met` is None when the run gives no verdict."""

    target: str
    scale: str
    figure: str
    limit: str
    met: bool | None
    note: str = ""


def stop_reason(measurement: SyncMeasurement) -> str:
    """Say why a run did not complete: its time limit, or the last line of its error."""
    error = (measurement.error or "").strip()
    if error.startswith("stopped after"):
        return error.replace("stopped after", "stopped at its time limit after", 1)
    lines = error.splitlines()
    # The product's own exception names the endpoint; dlt's wrapper around it does not.
    product_errors = [line for line in lines if line.startswith("pipelines.pinterest.errors.")]
    if product_errors:
        last_line = product_errors[0]
    elif lines:
        last_line = lines[-1]
    else:
        last_line = "no error recorded"
    last_line = last_line.removeprefix("pipelines.pinterest.errors.").split(" [", 1)[0]
    if len(last_line) > MAX_REASON_CHARACTERS:
        last_line = last_line[:MAX_REASON_CHARACTERS] + "..."
    return f"failed: {last_line}"


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def check_targets(results: list[ScaleResult]) -> list[TargetCheck]:
    """Judge every target on every scale that has the figures for it."""
    checks: list[TargetCheck] = []
    for result in results:
        checks.extend(_request_checks(result))
        checks.extend(_wall_checks(result))
        checks.extend(_cpu_checks(result))
        checks.extend(_memory_checks(result))
    checks.extend(_marginal_cpu_checks(results))
    checks.extend(_memory_growth_checks(results))
    for result in results:
        checks.extend(_daily_checks(result))
    order = {name: index for index, name in enumerate(TARGETS)}
    return sorted(checks, key=lambda check: order[check.target])


REQUESTS_TARGET = "Full-sync requests at most 1.05 times the minimum"
WALL_TARGET = "Wall time at most 1.25 times the rate-limit bound"
CPU_TARGET = "Pipeline CPU at most 10 s per million metric rows"
MEMORY_TARGET = "Peak memory under 400 MB"
MEMORY_GROWTH_TARGET = "Peak memory within 1.2 times from medium to large"
DAILY_REQUESTS_TARGET = "Daily run at most 15% of the full sync's requests"
DAILY_WALL_TARGET = "Daily run at most 15% of the full sync's wall time"
TARGETS = (REQUESTS_TARGET, WALL_TARGET, CPU_TARGET, MEMORY_TARGET, MEMORY_GROWTH_TARGET, DAILY_REQUESTS_TARGET, DAILY_WALL_TARGET)


def _request_checks(result: ScaleResult) -> list[TargetCheck]:
    full = result.full
    ratio = _ratio(full.total_requests, result.minimum_total)
    if ratio is None:
        return []
    if not full.completed:
        figure = f"{full.total_requests:,} sent before the run ended (minimum {result.minimum_total:,})"
        return [TargetCheck(REQUESTS_TARGET, result.label, figure, f"<= {MAX_REQUEST_RATIO}", None, f"run {stop_reason(full.measurement)}")]
    figure = f"{full.total_requests:,} / {result.minimum_total:,} = {ratio:.3f}"
    return [TargetCheck(REQUESTS_TARGET, result.label, figure, f"<= {MAX_REQUEST_RATIO}", ratio <= MAX_REQUEST_RATIO)]


def _wall_checks(result: ScaleResult) -> list[TargetCheck]:
    full = result.full
    official = result.scale == TARGET_SCALE and result.latency_ms == TARGET_LATENCY_MS and not result.skipped_tables
    note = "" if official else f"reference only: the target is set for a sync of every table at the {TARGET_SCALE} scale and {TARGET_LATENCY_MS:g} ms latency"
    limit = f"<= {MAX_WALL_TO_BOUND}"
    if not full.completed:
        figure = f"did not finish: ended after {full.measurement.seconds:,.0f} s; the requests sent so far need {full.bound_seconds:,.0f} s"
        return [TargetCheck(WALL_TARGET, result.label, figure, limit, False if official else None, f"run {stop_reason(full.measurement)}")]
    ratio = _ratio(full.measurement.seconds, full.bound_seconds)
    if ratio is None:
        return []
    figure = f"{full.measurement.seconds:,.0f} s / {full.bound_seconds:,.0f} s ({full.bound_category}) = {ratio:.2f}"
    return [TargetCheck(WALL_TARGET, result.label, figure, limit, (ratio <= MAX_WALL_TO_BOUND) if official else None, note)]


def _cpu_checks(result: ScaleResult) -> list[TargetCheck]:
    checks = []
    for run in (result.full, result.daily):
        if run is None or not run.completed or run.cpu_per_million_rows is None:
            continue
        per_million = run.cpu_per_million_rows
        figure = f"{run.measurement.cpu_seconds:,.1f} s for {run.metric_rows:,} rows = {per_million:,.1f} s per million"
        judged = run.metric_rows >= MIN_ROWS_FOR_CPU_VERDICT
        note = "" if judged else f"reference only: below {MIN_ROWS_FOR_CPU_VERDICT:,} rows the fixed cost of a run dominates"
        checks.append(TargetCheck(CPU_TARGET, f"{result.label} ({run.measurement.label})", figure,
                                  f"<= {MAX_CPU_PER_MILLION_ROWS:g} s", (per_million <= MAX_CPU_PER_MILLION_ROWS) if judged else None, note))
    return checks


def _marginal_cpu_checks(results: list[ScaleResult]) -> list[TargetCheck]:
    """CPU per million metric rows between two consecutive scales, which cancels the fixed cost of a run."""
    finished = [result for result in results if result.full.completed]
    checks = []
    for smaller, larger in zip(finished, finished[1:]):
        if smaller.skipped_tables != larger.skipped_tables:
            continue
        rows = larger.full.metric_rows - smaller.full.metric_rows
        if rows <= 0:
            continue
        seconds = larger.full.measurement.cpu_seconds - smaller.full.measurement.cpu_seconds
        per_million = seconds / (rows / 1_000_000)
        figure = f"{seconds:,.1f} s more for {rows:,} more rows = {per_million:,.1f} s per million"
        note = "reference only: the difference between two full syncs, which also differ in entity rows"
        checks.append(TargetCheck(CPU_TARGET, f"{smaller.label} to {larger.label} (marginal)", figure,
                                  f"<= {MAX_CPU_PER_MILLION_ROWS:g} s", None, note))
    return checks


def _memory_checks(result: ScaleResult) -> list[TargetCheck]:
    runs = [run for run in (result.full, result.daily) if run is not None]
    peak = max(run.measurement.peak_rss_mb for run in runs)
    official = result.scale == TARGET_SCALE and not result.skipped_tables
    note = "" if official else f"reference only: the target is set for a sync of every table at the {TARGET_SCALE} scale"
    if official and not all(run.completed for run in runs):
        note = "a run ended early: the peak so far"
    met = (peak < MAX_PEAK_MB) if official and (peak >= MAX_PEAK_MB or all(run.completed for run in runs)) else None
    return [TargetCheck(MEMORY_TARGET, result.label, f"{peak:,.0f} MB", f"< {MAX_PEAK_MB:g} MB", met, note)]


def _memory_growth_checks(results: list[ScaleResult]) -> list[TargetCheck]:
    medium = next((result for result in results if result.scale == "medium" and not result.skipped_tables), None)
    if medium is None:
        return []
    checks = []
    for large in (result for result in results if result.scale == TARGET_SCALE):
        growth = _ratio(large.full.measurement.peak_rss_mb, medium.full.measurement.peak_rss_mb)
        if growth is None:
            continue
        figure = f"{large.full.measurement.peak_rss_mb:,.0f} MB / {medium.full.measurement.peak_rss_mb:,.0f} MB = {growth:.2f}"
        official = not large.skipped_tables
        decided = large.full.completed or growth > MAX_MEMORY_GROWTH
        met = (growth <= MAX_MEMORY_GROWTH) if official and decided else None
        notes = []
        if not large.full.completed:
            notes.append("the large run stopped early: its peak so far")
        if not official:
            notes.append("reference only: the large run left tables out")
        checks.append(TargetCheck(MEMORY_GROWTH_TARGET, f"medium to {large.label}", figure, f"<= {MAX_MEMORY_GROWTH}", met, "; ".join(notes)))
    return checks


def _daily_checks(result: ScaleResult) -> list[TargetCheck]:
    daily, full = result.daily, result.full
    if daily is None or not daily.completed or not full.completed:
        return []
    checks = []
    share = _ratio(daily.total_requests, full.total_requests)
    if share is not None:
        figure = f"{daily.total_requests:,} / {full.total_requests:,} = {share:.0%}"
        note = f"{daily.entity_list_requests:,} of the daily requests list entities"
        checks.append(TargetCheck(DAILY_REQUESTS_TARGET, result.label, figure, f"<= {MAX_DAILY_SHARE:.0%}", share <= MAX_DAILY_SHARE, note))
    time_share = _ratio(daily.measurement.seconds, full.measurement.seconds)
    if time_share is not None:
        figure = f"{daily.measurement.seconds:,.0f} s / {full.measurement.seconds:,.0f} s = {time_share:.0%}"
        checks.append(TargetCheck(DAILY_WALL_TARGET, result.label, figure, f"<= {MAX_DAILY_SHARE:.0%}", time_share <= MAX_DAILY_SHARE))
    return checks
