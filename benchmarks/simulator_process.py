"""Run the Pinterest API simulator in a process of its own.

The simulator computes every analytics figure in Python, which costs more CPU than the
pipeline itself at the larger scales. Serving it from a separate process keeps that CPU
and memory out of the pipeline process's `getrusage` figures. The parent talks to it
over a `multiprocessing` pipe: one message with the address and credentials at start,
then request-count snapshots on demand.
"""

from __future__ import annotations

import logging
import multiprocessing
import resource
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from .minimum import endpoint_key, minimum_requests

logger = logging.getLogger("benchmarks")

STARTUP_TIMEOUT_SECONDS = 600.0
SNAPSHOT_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class SimulatorInfo:
    """Address, credentials and data figures of a started simulator process."""

    base_url: str
    client_id: str
    client_secret: str
    refresh_token: str
    today: str
    minimum: dict[str, int]
    entity_rows: dict[str, int]


@dataclass(frozen=True)
class Snapshot:
    """Requests the simulator served so far, by benchmark endpoint key and by HTTP status."""

    requests: dict[str, int]
    statuses: dict[int, int]
    cpu_seconds: float
    peak_rss_mb: float

    def since(self, earlier: Snapshot) -> Snapshot:
        """Return the requests served between `earlier` and this snapshot."""
        requests = Counter(self.requests)
        requests.subtract(earlier.requests)
        statuses = Counter(self.statuses)
        statuses.subtract(earlier.statuses)
        return Snapshot(
            requests={key: value for key, value in requests.items() if value},
            statuses={key: value for key, value in statuses.items() if value},
            cpu_seconds=self.cpu_seconds - earlier.cpu_seconds,
            peak_rss_mb=self.peak_rss_mb,
        )


def _process_usage() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _serve(settings: dict[str, Any], skipped_tables: tuple[str, ...], connection: Connection) -> None:
    """Start the simulator, send its description, then serve snapshot commands until "stop"."""
    from pipelines.pinterest.simulator import Simulator, SimulatorConfig

    simulator = Simulator(SimulatorConfig(**settings)).start()
    try:
        polls = simulator.metrics.report_polls_in_progress + 1
        connection.send(
            SimulatorInfo(
                base_url=simulator.base_url,
                client_id=simulator.client_id,
                client_secret=simulator.client_secret,
                refresh_token=simulator.refresh_token,
                today=simulator.today.isoformat(),
                minimum=minimum_requests(simulator.data, report_status_polls=polls, skipped_tables=skipped_tables),
                entity_rows=simulator.expected_row_counts(),
            )
        )
        while True:
            command = connection.recv()
            if command == "stop":
                break
            if command == "snapshot":
                requests: Counter[str] = Counter()
                for key, count in list(simulator.request_counts.items()):
                    requests[endpoint_key(key)] += count
                statuses = Counter(entry[3] for entry in list(simulator.requests_log))
                cpu_seconds, peak_rss_mb = _process_usage()
                connection.send(Snapshot(dict(requests), dict(statuses), cpu_seconds, peak_rss_mb))
    finally:
        simulator.stop()


class SimulatorProcess:
    """A simulator served from a spawned process; use it as a context manager.

    `settings` are `SimulatorConfig` keyword arguments. `skipped_tables` are analytics
    tables the benchmark leaves out, which the minimum request count then leaves out too.
    """

    def __init__(self, settings: dict[str, Any], skipped_tables: tuple[str, ...] = ()) -> None:
        self.settings = settings
        self.skipped_tables = skipped_tables
        self._context = multiprocessing.get_context("spawn")
        self._connection: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self.info: SimulatorInfo | None = None

    def __enter__(self) -> SimulatorProcess:
        parent_end, child_end = self._context.Pipe()
        self._process = self._context.Process(target=_serve, args=(self.settings, self.skipped_tables, child_end), name="pinterest-simulator", daemon=True)
        self._process.start()
        child_end.close()
        self._connection = parent_end
        if not parent_end.poll(STARTUP_TIMEOUT_SECONDS):
            self.close()
            raise RuntimeError(f"Timed out after {STARTUP_TIMEOUT_SECONDS:.0f} s waiting for the simulator process to start (settings {self.settings}).")
        try:
            self.info = parent_end.recv()
        except EOFError:
            exit_code = self._process.exitcode
            self.close()
            raise RuntimeError(f"The simulator process exited while starting (exit code {exit_code}); see its traceback above.") from None
        logger.info("Simulator process %s serves %s", self._process.pid, self.info.base_url)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def snapshot(self) -> Snapshot:
        """Return the simulator's request counters now."""
        if self._connection is None:
            raise RuntimeError("The simulator process is not running: enter the context first.")
        self._connection.send("snapshot")
        if not self._connection.poll(SNAPSHOT_TIMEOUT_SECONDS):
            raise RuntimeError(f"The simulator process returned no snapshot within {SNAPSHOT_TIMEOUT_SECONDS:.0f} s.")
        return self._connection.recv()

    def close(self) -> None:
        """Stop the simulator, then its process; terminate the process if it hangs."""
        if self._connection is not None:
            try:
                self._connection.send("stop")
            except (BrokenPipeError, OSError):
                pass
            self._connection.close()
            self._connection = None
        if self._process is not None:
            self._process.join(timeout=15)
            if self._process.is_alive():
                logger.warning("Simulator process %s did not stop within 15 s; terminating it.", self._process.pid)
                self._process.terminate()
                self._process.join(timeout=5)
            self._process = None
