"""Run one sync in a fresh spawned process and measure it there.

A fresh process per run makes `ru_maxrss` the peak of that run alone, and its CPU time
covers every thread the pipeline starts (fetch workers, dlt's load threads). CPU and
memory are read with `resource.getrusage` inside the child. The parent also samples
`/proc` while it waits, so a run stopped at its time limit still has figures.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
import resource
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from .machine import ProcessSample, sample_process

logger = logging.getLogger("benchmarks")

POLL_SECONDS = 5.0


REQUEST_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class SyncJob:
    """One `run_sync` of every table into DuckDB; `work_dir` contains its database and dlt state."""

    label: str
    base_url: str
    client_id: str
    client_secret: str
    refresh_token: str
    work_dir: str
    start_date: str
    rate_limits: dict[str, float] | None
    max_workers: int = 4
    skipped_tables: tuple[str, ...] = ()
    # The simulator computes analytics in pure Python. At the large scale one targeting
    # response takes it about a minute of CPU, where Pinterest responds in seconds, and the
    # product's 30 s read timeout would turn that into retries that load the simulator more.
    request_timeout_seconds: float = REQUEST_TIMEOUT_SECONDS


@dataclass(frozen=True)
class SyncMeasurement:
    """Figures of one sync run.

    `seconds` is `run_sync`'s own wall time and `cpu_seconds` the process CPU spent inside
    it; `process_cpu_seconds` adds interpreter start and imports. `completed` is False
    when the run hit its time limit, and then the figures are those sampled so far.
    """

    label: str
    completed: bool
    seconds: float
    cpu_seconds: float
    process_cpu_seconds: float
    peak_rss_mb: float
    client_requests: int | None = None
    table_rows: dict[str, int] = field(default_factory=dict)
    failed_resources: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    step_seconds: dict[str, float] = field(default_factory=dict)


def _cpu_seconds(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def _step_seconds(pipeline: object) -> dict[str, float]:
    """Wall time of each dlt step (extract, normalize, load) of the pipeline's last run."""
    trace = getattr(pipeline, "last_trace", None)
    seconds: dict[str, float] = {}
    for step in getattr(trace, "steps", []) or []:
        if step.step in ("extract", "normalize", "load") and step.started_at and step.finished_at:
            seconds[step.step] = seconds.get(step.step, 0.0) + (step.finished_at - step.started_at).total_seconds()
    return seconds


def _run(job: SyncJob, connection: Connection) -> None:
    """Body of the pipeline process: one sync, then its measurement sent to the parent."""
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    started: float | None = None
    before: resource.struct_rusage | None = None
    try:
        import dlt

        from pipelines.pinterest.client import PinterestClient
        from pipelines.pinterest.config import Credentials, SyncConfig, parse_resources
        from pipelines.pinterest.destinations import duckdb_destination
        from pipelines.pinterest.pipeline import run_sync
        from pipelines.pinterest.ratelimit import RateLimits
        from pipelines.pinterest.token_store import TokenStore

        work_dir = Path(job.work_dir)
        config = SyncConfig(
            base_url=job.base_url,
            credentials=Credentials(job.client_id, job.client_secret, job.refresh_token),
            start_date=dt.date.fromisoformat(job.start_date),
            end_date=None,
            ad_account_ids=None,
            resources=tuple(table for table in parse_resources(None) if table not in job.skipped_tables),
            token_store_path=work_dir / "tokens.json",
            rate_limits=job.rate_limits,
            max_workers=job.max_workers,
        )
        pipeline = dlt.pipeline(
            pipeline_name="pinterest",
            dataset_name="pinterest",
            destination=duckdb_destination(work_dir / "pinterest.duckdb", "pinterest"),
            pipelines_dir=str(work_dir / "pipelines"),
        )

        client = PinterestClient(
            config.base_url, config.credentials, TokenStore(config.token_store_path),
            rate_limits=RateLimits.from_config(config.rate_limits), timeout=job.request_timeout_seconds,
        )

        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.monotonic()
        with client:
            result = run_sync(config, pipeline=pipeline, client=client)
        after = resource.getrusage(resource.RUSAGE_SELF)

        normalize = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
        rows = dict(normalize.row_counts) if normalize is not None else {}
        connection.send(
            SyncMeasurement(
                label=job.label,
                completed=True,
                seconds=result.seconds,
                cpu_seconds=_cpu_seconds(after) - _cpu_seconds(before),
                process_cpu_seconds=_cpu_seconds(after),
                peak_rss_mb=after.ru_maxrss / 1024,
                client_requests=result.requests,
                table_rows={table: count for table, count in rows.items() if not table.startswith("_dlt")},
                failed_resources=dict(result.summary.failed_resources),
                step_seconds=_step_seconds(pipeline),
            )
        )
    except BaseException:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        connection.send(
            SyncMeasurement(
                label=job.label, completed=False, seconds=time.monotonic() - started if started is not None else 0.0,
                cpu_seconds=_cpu_seconds(usage) - (_cpu_seconds(before) if before is not None else 0.0),
                process_cpu_seconds=_cpu_seconds(usage), peak_rss_mb=usage.ru_maxrss / 1024,
                error=traceback.format_exc(),
            )
        )
        raise


def run_sync_process(
    job: SyncJob,
    timeout_seconds: float,
    on_progress: Callable[[float, ProcessSample | None], None] | None = None,
) -> SyncMeasurement:
    """Run `job` in a spawned process and return its measurement.

    `on_progress(elapsed_seconds, sample)` is called every few seconds while the run
    lasts. After `timeout_seconds` the process is terminated and the measurement has
    `completed=False`, with CPU and peak memory from the last `/proc` sample.
    """
    context = multiprocessing.get_context("spawn")
    parent_end, child_end = context.Pipe()
    process = context.Process(target=_run, args=(job, child_end), name=f"pinterest-sync-{job.label}")
    started = time.monotonic()
    process.start()
    child_end.close()

    sample: ProcessSample | None = None
    measurement: SyncMeasurement | None = None
    try:
        while measurement is None:
            if parent_end.poll(POLL_SECONDS):
                try:
                    measurement = parent_end.recv()
                except EOFError:
                    break
                continue
            elapsed = time.monotonic() - started
            sample = sample_process(process.pid) or sample
            if on_progress is not None:
                on_progress(elapsed, sample)
            if elapsed > timeout_seconds:
                logger.warning("The %s run passed its limit of %.0f s: terminating process %s.", job.label, timeout_seconds, process.pid)
                process.terminate()
                break
            if not process.is_alive() and not parent_end.poll():
                break
    finally:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
            process.join()
        parent_end.close()

    if measurement is not None:
        return measurement
    elapsed = time.monotonic() - started
    return SyncMeasurement(
        label=job.label,
        completed=False,
        seconds=elapsed,
        cpu_seconds=sample.cpu_seconds if sample else 0.0,
        process_cpu_seconds=sample.cpu_seconds if sample else 0.0,
        peak_rss_mb=sample.peak_rss_mb if sample else 0.0,
        error=f"stopped after {elapsed:.0f} s (limit {timeout_seconds:.0f} s)" if process.exitcode in (-15, -9) else f"process exited with code {process.exitcode}",
    )
