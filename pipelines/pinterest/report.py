"""The end-of-run summary printed by `run` and `demo`."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from .pipeline import SyncResult


def print_summary(result: SyncResult, pipeline: Any, console: Console | None = None) -> None:
    """Print rows per table, skipped ad accounts, truncated boards, failures, requests and time."""
    console = console or Console(soft_wrap=True)
    table = Table(title=f"pinterest-sync: dataset {pipeline.dataset_name}")
    table.add_column("table")
    table.add_column("rows this run", justify="right")
    for name in sorted(result.table_rows):
        table.add_row(name, f"{result.table_rows[name]:,}")
    console.print(table)

    summary = result.summary
    for ad_account_id, reason in sorted(summary.skipped_accounts.items()):
        console.print(f"Skipped ad account {ad_account_id}: {reason}")
    for board_id, reason in sorted(summary.truncated_boards.items()):
        console.print(f"Truncated board {board_id}: {reason}")
    for message in summary.warnings:
        console.print(f"Warning: {message}")
    for message in summary.unavailable:
        console.print(f"Unavailable: {message}")
    for resource, reason in sorted(summary.failed_resources.items()):
        console.print(f"[red]FAILED[/red] {resource}: {reason}")
    console.print(f"Requests: {result.requests:,}  Time: {result.seconds:.1f} s  Destination: {pipeline.destination.destination_name}")
