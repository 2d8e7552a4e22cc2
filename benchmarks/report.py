"""Render benchmark results as the Markdown page `docs/benchmarks.md`."""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Mapping

from pipelines.pinterest.ratelimit import UNIVERSAL

from .figures import RunFigures, ScaleResult, TargetCheck, check_targets, endpoint_category, stop_reason

VERDICTS = {True: "met", False: "**missed**", None: "no verdict"}


# Options that only choose where files go; the page leaves them out of the commands it shows.
FILE_OPTIONS = ("--output", "--results-json", "--work-dir")


def displayed_command(command: str) -> str:
    """Return `command` without the options that name output files."""
    words = shlex.split(command)
    kept: list[str] = []
    skip_next = False
    for word in words:
        if skip_next:
            skip_next = False
            continue
        if word in FILE_OPTIONS:
            skip_next = True
            continue
        if word.split("=", 1)[0] in FILE_OPTIONS:
            continue
        kept.append(word)
    return shlex.join(kept)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _seconds(value: float) -> str:
    return f"{value:,.1f} s" if value < 100 else f"{value:,.0f} s"


def targets_table(checks: list[TargetCheck]) -> list[str]:
    """Render the targets table as Markdown lines, ready to copy into a closing note."""
    rows = [[check.target, check.scale, check.figure, check.limit, VERDICTS[check.met], check.note] for check in checks]
    return _table(["target", "scale", "figure", "limit", "result", "note"], rows)


def _run_column(run: RunFigures | None, minimum_total: int) -> dict[str, str]:
    if run is None:
        return {}
    measurement = run.measurement
    status = "completed" if run.completed else stop_reason(measurement)
    bound = run.bound_seconds
    per_million = run.cpu_per_million_rows
    rate = run.metric_rows_per_second
    return {
        "status": status,
        "requests (simulator count)": f"{run.total_requests:,}",
        "requests (client count)": f"{measurement.client_requests:,}" if measurement.client_requests is not None else "n/a",
        "minimum requests for the same data": f"{minimum_total:,}",
        "requests / minimum": f"{run.total_requests / minimum_total:.3f}" if minimum_total and run.completed else "n/a",
        "429 responses": f"{run.rate_limited:,}",
        "wall time (run_sync)": _seconds(measurement.seconds),
        "rate-limit bound": f"{_seconds(bound)} ({run.bound_category})" if run.bound_category else "n/a",
        "wall time / bound": f"{measurement.seconds / bound:.2f}" if bound else "n/a",
        "pipeline CPU (run_sync)": _seconds(measurement.cpu_seconds),
        "pipeline CPU with start and imports": _seconds(measurement.process_cpu_seconds),
        "simulator CPU (its own process)": _seconds(run.simulator_cpu_seconds),
        "metric rows loaded": f"{run.metric_rows:,}" if run.completed else "none: the run ended before loading",
        "entity rows loaded": f"{run.entity_rows:,}" if run.completed else "none: the run ended before loading",
        "metric rows per second": f"{rate:,.0f}" if rate else "n/a",
        "CPU per million metric rows": f"{per_million:,.1f} s" if per_million is not None else "n/a",
        "peak memory (ru_maxrss)": f"{measurement.peak_rss_mb:,.0f} MB",
        "dlt steps (wall time)": ", ".join(f"{step} {_seconds(seconds)}" for step, seconds in measurement.step_seconds.items()) or "n/a",
        "failed resources": ", ".join(sorted(measurement.failed_resources)) or "none",
    }


def _scale_section(result: ScaleResult) -> list[str]:
    rows_of = result.expected_entity_rows
    lines = [
        f"## Scale: {result.label}",
        "",
        f"{rows_of.get('ad_accounts', 0)} ad accounts, {rows_of.get('campaigns', 0):,} campaigns, "
        f"{rows_of.get('ad_groups', 0):,} ad groups, {rows_of.get('ads', 0):,} ads, {rows_of.get('keywords', 0):,} keywords, "
        f"{rows_of.get('product_group_promotions', 0):,} product group promotions, {rows_of.get('boards', 0):,} boards, "
        f"{rows_of.get('pins', 0):,} pins; 90 days of analytics; {result.latency_ms:g} ms added latency per request.",
        "",
    ]
    full = _run_column(result.full, result.minimum_total)
    daily = _run_column(result.daily, result.minimum_total)
    lines += _table(["figure", "full sync", "daily run"], [[name, value, daily.get(name, "not run")] for name, value in full.items()])
    lines.append("")

    lines += [f"Rate-limit bound of the full sync by category ({result.label}):", ""]
    bound_rows = []
    for category, seconds in sorted(result.full.bound_by_category.items(), key=lambda item: -item[1]):
        requests = sum(count for endpoint, count in result.full.requests.items() if category == UNIVERSAL or endpoint_category(endpoint) == category)
        unit = "per second" if category == UNIVERSAL else "per minute"
        bound_rows.append([category, f"{requests:,}", f"{result.full.limits[category]:g} {unit}", _seconds(seconds)])
    lines += _table(["category", "requests", "quota", "time at the quota"], bound_rows)
    lines.append("")

    lines += [f"Requests per endpoint ({result.label}):", ""]
    lines += _table(["endpoint", "category", "full sync", "minimum", "full - minimum", "daily run"], _endpoint_rows(result))
    lines.append("")
    return lines


def _endpoint_rows(result: ScaleResult) -> list[list[str]]:
    daily = result.daily.requests if result.daily else {}
    endpoints = sorted(set(result.full.requests) | set(result.minimum) | set(daily))
    rows = []
    for endpoint in endpoints:
        full_count = result.full.requests.get(endpoint, 0)
        minimum = result.minimum.get(endpoint, 0)
        rows.append([
            f"`{endpoint}`", endpoint_category(endpoint) or "none", f"{full_count:,}", f"{minimum:,}",
            f"{full_count - minimum:+,}", f"{daily.get(endpoint, 0):,}" if result.daily else "not run",
        ])
    return rows


def _bounds_section(results: list[ScaleResult]) -> list[str]:
    """Per scale: the requests above the minimum, and what the wall time compares with."""
    lines = ["## What bounds the figures", ""]
    for result in results:
        full = result.full
        extra = [
            f"`{endpoint}` {full.requests.get(endpoint, 0) - result.minimum.get(endpoint, 0):+,}"
            for endpoint in sorted(set(full.requests) | set(result.minimum))
            if full.requests.get(endpoint, 0) != result.minimum.get(endpoint, 0)
        ]
        if result.skipped_tables:
            lines.append(f"- {result.label}: a supplementary run that leaves out {', '.join(result.skipped_tables)}, so that the other tables can be measured at this scale.")
        if full.completed:
            lines.append(f"- {result.label}: requests above the minimum in the full sync: {', '.join(extra) or 'none'}.")
        else:
            lines.append(f"- {result.label}: the full sync ended early, so its {full.total_requests:,} requests cannot be compared with the minimum of {result.minimum_total:,}.")
        state = "took" if full.completed else f"ended ({stop_reason(full.measurement)}) after"
        lines.append(
            f"  The full sync {state} {_seconds(full.measurement.seconds)} against a rate-limit bound of "
            f"{_seconds(full.bound_seconds)} ({full.bound_category}). Meanwhile the simulator used "
            f"{_seconds(full.simulator_cpu_seconds)} of CPU and the pipeline {_seconds(full.measurement.cpu_seconds)}."
        )
        if result.daily is not None and result.daily.completed:
            daily = result.daily
            lines.append(
                f"  The daily run sent {daily.total_requests:,} requests, {daily.entity_list_requests:,} of them entity lists, "
                f"which no endpoint filters by update time. Its minimum equals the full sync's: {result.minimum_total:,}."
            )
    lines.append("")
    return lines


def render_page(
    results: list[ScaleResult],
    machine: Mapping[str, str],
    commands: list[tuple[str, dt.datetime]],
    limits: Mapping[str, float],
) -> str:
    """Return the whole Markdown page for the results of one or more benchmark commands.

    `commands` lists each command line with the UTC time it started.
    """
    checks = check_targets(results)
    lines = ["# Benchmarks", "", "Generated by:", ""]
    lines += [f"- `{displayed_command(command)}`, started {started.strftime('%Y-%m-%d %H:%M')} UTC" for command, started in commands]
    lines += [
        "",
        "Run the commands again to refresh this page rather than editing it. When several",
        "commands contributed, each wrote `--results-json` and the page was rendered from all",
        "of them with `--render-from`.",
        "",
        "Each scale starts the Pinterest API simulator in a process of its own. A fresh process",
        "then runs a full initial sync of every table into a new DuckDB file. Another fresh",
        "process then runs the daily sync: the same sync again, as the next run of a daily schedule.",
        "Both sides enforce the same rate limits:",
        ", ".join(f"{name} {value:g}/{'s' if name == UNIVERSAL else 'min'}" for name, value in limits.items()) + ".",
        "The ads_read, ads_analytics and per-second figures are Pinterest's published Standard-access",
        "limits. The org_read, org_analytics and catalogs_read figures are the product's defaults:",
        "Pinterest publishes none for them. The pipeline's HTTP read timeout is 300 s instead of",
        "30 s, because the simulator computes a large-scale targeting response in about a minute.",
        "",
        "Request counts come from the simulator. CPU time and peak memory (`ru_maxrss`) are the",
        "pipeline process's own, from `resource.getrusage`. Wall time is `run_sync`'s. The",
        "minimum is computed from the simulated data with the API's documented limits (see",
        "`benchmarks/minimum.py`). The rate-limit bound is each category's requests over its",
        "quota, the largest of them. A sliding window lets one window's worth through at once,",
        "so a run can finish up to 60 s under this bound.",
        "",
        "## Machine",
        "",
    ]
    lines += _table(["", ""], [[name, value] for name, value in machine.items()])
    lines += ["", "## Targets", ""]
    lines += targets_table(checks)
    lines.append("")
    lines += _bounds_section(results)
    for result in results:
        lines += _scale_section(result)
    return "\n".join(lines).rstrip() + "\n"
