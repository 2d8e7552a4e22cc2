"""Run the benchmark and write `docs/benchmarks.md`.

    uv run python -m benchmarks.run --scales small,medium,large --latency-ms 50

For each scale: start the simulator in its own process, run a full sync of every table
into a new DuckDB file in a fresh process, then a daily run in another fresh process,
and record what each cost. See `benchmarks/README.md`.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

from pipelines.pinterest.ratelimit import DEFAULT_RATE_LIMITS

from .figures import RunFigures, ScaleResult, check_targets
from .machine import ProcessSample, describe_machine
from .minimum import ANALYTICS_ENDPOINTS
from .pipeline_process import SyncJob, SyncMeasurement, run_sync_process
from .report import VERDICTS, render_page
from .simulator_process import SimulatorProcess, Snapshot

logger = logging.getLogger("benchmarks")

SCALES = ("small", "medium", "large")
DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
PROGRESS_EVERY_SECONDS = 60.0
# Days of analytics a full sync requests: the product's default start date, 89 days back.
HISTORY_DAYS = 89


def standard_rate_limits() -> dict[str, float]:
    """Return the rate limits that both the simulator and the client enforce: the product's Standard-access defaults."""
    return dict(DEFAULT_RATE_LIMITS)


class ProgressLog:
    """Log a running sync's CPU, memory and requests so far, about once a minute."""

    def __init__(self, scale: str, label: str, simulator: SimulatorProcess, baseline: Snapshot) -> None:
        self.scale = scale
        self.label = label
        self.simulator = simulator
        self.baseline = baseline
        self.next_report = PROGRESS_EVERY_SECONDS

    def __call__(self, elapsed: float, sample: ProcessSample | None) -> None:
        if elapsed < self.next_report:
            return
        self.next_report += PROGRESS_EVERY_SECONDS
        requests = sum(self.simulator.snapshot().since(self.baseline).requests.values())
        usage = f"CPU {sample.cpu_seconds:,.0f} s, peak {sample.peak_rss_mb:,.0f} MB" if sample else "no /proc sample"
        logger.info("%s %s run: %.0f s, %s requests so far, %s", self.scale, self.label, elapsed, f"{requests:,}", usage)


def _run_figures(measurement: SyncMeasurement, before: Snapshot, after: Snapshot, limits: dict[str, float]) -> RunFigures:
    served = after.since(before)
    return RunFigures(measurement, served.requests, served.statuses, limits, served.cpu_seconds)


def run_scale(
    scale: str,
    latency_ms: float,
    work_dir: Path,
    timeout_seconds: float,
    seed: int = 7,
    limits: dict[str, float] | None = None,
    daily: bool = True,
    skipped_tables: tuple[str, ...] = (),
) -> ScaleResult:
    """Benchmark one scale: a full sync, then (unless `daily` is False) a daily run.

    `skipped_tables` are analytics tables left out of both runs and of the minimum.
    """
    limits = limits if limits is not None else standard_rate_limits()
    settings = {"seed": seed, "scale": scale, "latency_ms": latency_ms, "rate_limits": dict(limits), "rate_limit_window_seconds": 60.0}
    scale_dir = work_dir / scale
    shutil.rmtree(scale_dir, ignore_errors=True)
    scale_dir.mkdir(parents=True)

    logger.info("Scale %s: building the simulator (seed %s, %g ms latency)", scale, seed, latency_ms)
    with SimulatorProcess(settings, skipped_tables) as simulator:
        info = simulator.info
        assert info is not None
        start_date = (dt.date.fromisoformat(info.today) - dt.timedelta(days=HISTORY_DAYS)).isoformat()

        def job(label: str) -> SyncJob:
            return SyncJob(
                label, info.base_url, info.client_id, info.client_secret, info.refresh_token, str(scale_dir), start_date, dict(limits),
                skipped_tables=skipped_tables,
            )

        runs: dict[str, RunFigures] = {}
        for label in ("full", "daily") if daily else ("full",):
            if runs and not runs["full"].completed:
                logger.warning("Scale %s: skipping the daily run because the full sync did not finish.", scale)
                break
            before = simulator.snapshot()
            logger.info("Scale %s: %s run starts", scale, label)
            measurement = run_sync_process(job(label), timeout_seconds, ProgressLog(scale, label, simulator, before))
            runs[label] = _run_figures(measurement, before, simulator.snapshot(), limits)
            if measurement.error:
                logger.warning("Scale %s: %s run did not complete: %s", scale, label, measurement.error.strip().splitlines()[-1])
            logger.info("Scale %s: %s run took %.0f s, %s requests", scale, label, measurement.seconds, f"{runs[label].total_requests:,}")
        simulator_peak = simulator.snapshot().peak_rss_mb

    return ScaleResult(
        scale=scale,
        latency_ms=latency_ms,
        minimum=info.minimum,
        expected_entity_rows=info.entity_rows,
        full=runs["full"],
        daily=runs.get("daily"),
        simulator_peak_rss_mb=simulator_peak,
        skipped_tables=skipped_tables,
    )


def save_results(path: Path, results: list[ScaleResult], machine: dict[str, str], command: str, limits: dict[str, float], started: dt.datetime) -> None:
    """Write the raw results as JSON, so the page can be rendered again without a new run."""
    document = {
        "command": command,
        "started": started.isoformat(),
        "machine": machine,
        "limits": limits,
        "results": [dataclasses.asdict(result) for result in results],
    }
    path.write_text(json.dumps(document, indent=1))


def _run_from_json(values: dict | None) -> RunFigures | None:
    if values is None:
        return None
    measurement = SyncMeasurement(**values["measurement"])
    statuses = {int(status): count for status, count in values["statuses"].items()}
    return RunFigures(measurement, values["requests"], statuses, values["limits"], values["simulator_cpu_seconds"])


def load_results(path: Path) -> tuple[list[ScaleResult], dict[str, str], str, dict[str, float], dt.datetime]:
    """Read what `save_results` wrote."""
    document = json.loads(path.read_text())
    results = []
    for values in document["results"]:
        full = _run_from_json(values["full"])
        assert full is not None
        results.append(ScaleResult(
            scale=values["scale"], latency_ms=values["latency_ms"], minimum=values["minimum"],
            expected_entity_rows=values["expected_entity_rows"], full=full, daily=_run_from_json(values["daily"]),
            simulator_peak_rss_mb=values["simulator_peak_rss_mb"], skipped_tables=tuple(values.get("skipped_tables", ())),
        ))
    return results, document["machine"], document["command"], document["limits"], dt.datetime.fromisoformat(document["started"])


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description="Benchmark pinterest-sync against the simulator and write a Markdown page.")
    parser.add_argument("--scales", default="small,medium,large", help="Comma-separated simulator scales to run, in order (small, medium, large).")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="Latency the simulator adds to every request, in milliseconds.")
    parser.add_argument("--seed", type=int, default=7, help="Seed of the simulated data.")
    parser.add_argument("--timeout-minutes", type=float, default=40.0, help="Time limit of each sync run; a run past it is stopped and reported as unfinished.")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="Markdown page to write.")
    parser.add_argument("--work-dir", type=Path, default=None, help="Folder for the DuckDB files and dlt state (default: a new temporary folder, removed afterwards).")
    parser.add_argument("--no-daily", action="store_true", help="Skip the daily run after each full sync.")
    parser.add_argument("--results-json", type=Path, default=None, help="Also write the raw results to this JSON file.")
    parser.add_argument("--skip-tables", default="", help="Comma-separated analytics tables to leave out of every run, for example targeting_analytics.")
    parser.add_argument("--render-from", type=Path, nargs="+", default=None, help="Render the page from JSON files written by --results-json instead of running.")
    arguments = parser.parse_args(argv)
    scales = [name.strip() for name in arguments.scales.split(",") if name.strip()]
    unknown = [name for name in scales if name not in SCALES]
    if unknown or not scales:
        parser.error(f"--scales {arguments.scales!r} is invalid: use names from {', '.join(SCALES)}, for example small,medium.")
    arguments.scale_list = scales
    skipped = tuple(name.strip() for name in arguments.skip_tables.split(",") if name.strip())
    invalid = [name for name in skipped if name not in ANALYTICS_ENDPOINTS]
    if invalid:
        parser.error(f"--skip-tables {arguments.skip_tables!r} is invalid: only analytics tables can be left out ({', '.join(ANALYTICS_ENDPOINTS)}).")
    arguments.skipped_tables = skipped
    return arguments


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark command; exit status 0 when every run finished."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    arguments = parse_arguments(argv)
    if arguments.render_from is not None:
        results, commands = [], []
        for path in arguments.render_from:
            loaded, machine, command, limits, started = load_results(path)
            results += loaded
            commands.append((command, started))
        arguments.output.write_text(render_page(results, machine, commands, limits))
        logger.info("Wrote %s from %s", arguments.output, ", ".join(map(str, arguments.render_from)))
        return 0
    command = "uv run python -m benchmarks.run " + shlex.join(sys.argv[1:] if argv is None else argv)
    started = dt.datetime.now(dt.timezone.utc)
    machine = describe_machine()
    limits = standard_rate_limits()

    owned_dir = arguments.work_dir is None
    work_dir = Path(tempfile.mkdtemp(prefix="pinterest-benchmark-")) if owned_dir else arguments.work_dir
    results: list[ScaleResult] = []
    try:
        for scale in arguments.scale_list:
            scale_started = time.monotonic()
            results.append(run_scale(
                scale, arguments.latency_ms, work_dir, arguments.timeout_minutes * 60, arguments.seed, limits,
                not arguments.no_daily, arguments.skipped_tables,
            ))
            logger.info("Scale %s finished in %.0f s", scale, time.monotonic() - scale_started)
            arguments.output.parent.mkdir(parents=True, exist_ok=True)
            arguments.output.write_text(render_page(results, machine, [(command, started)], limits))
            if arguments.results_json is not None:
                save_results(arguments.results_json, results, machine, command, limits, started)
    finally:
        if owned_dir:
            shutil.rmtree(work_dir, ignore_errors=True)

    logger.info("Wrote %s", arguments.output)
    for check in check_targets(results):
        logger.info("%s [%s]: %s (%s) %s", check.target, check.scale, check.figure, check.limit, VERDICTS[check.met])
    finished = all(result.full.completed and (result.daily is None or result.daily.completed) for result in results)
    return 0 if finished else 1


if __name__ == "__main__":
    sys.exit(main())
