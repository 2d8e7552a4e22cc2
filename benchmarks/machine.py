"""The machine a benchmark ran on, and CPU and peak memory of a live child process.

Both read Linux's `/proc`. Where a file is missing (another OS), the field is
"unknown" or the sample is None, and the run still completes.
"""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

PACKAGES = ("dlt", "duckdb", "pyarrow", "httpx")


@dataclass(frozen=True)
class ProcessSample:
    """CPU seconds (user + system, all threads) and peak resident memory of a process so far."""

    cpu_seconds: float
    peak_rss_mb: float


def sample_process(pid: int) -> ProcessSample | None:
    """Read a running process's CPU time and peak RSS (`VmHWM`); None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    # Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    fields = stat.rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu_seconds = (int(fields[11]) + int(fields[12])) / ticks
    peak_kb = 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            peak_kb = int(line.split()[1])
    return ProcessSample(cpu_seconds, peak_kb / 1024)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git_revision() -> str:
    """Return the checked-out commit, and how many files differ from it, so a figure names its code."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        changes = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}, {len(changes)} files changed or untracked" if changes else commit


def describe_machine() -> dict[str, str]:
    """Return the CPU, cores, memory, OS and the versions that shape the figures."""
    try:
        load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        load = "unknown"
    info = {
        "CPU": _cpu_model(),
        "cores": str(os.cpu_count() or "unknown"),
        "memory": _memory_gib(),
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
    }
    info.update({package: _version(package) for package in PACKAGES})
    info["git commit"] = _git_revision()
    info["load average at start (1, 5, 15 min)"] = load
    return info
