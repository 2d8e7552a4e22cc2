"""One sync into DuckDB that can SIGKILL its own process at a chosen point.

The crash suite runs `run_worker(spec)` in a child process. `spec` is a dict (or, for
`python -m tests.crash_worker`, JSON in the environment variable PINTEREST_CRASH_SPEC):

- `base_url`, `client_id`, `client_secret`, `refresh_token`: the API and the configured
  credentials (the refresh token as it would stay in secrets.toml);
- `work_dir`: folder for the DuckDB file `sync.duckdb`, the dlt pipelines folder
  `pipelines/`, the token store `state/tokens.json`, the log file `worker.log` and the
  result file `result.json`;
- `resources`, `start_date`, `today` (ISO dates): what to sync. `today` fixes the UTC
  date the analytics code uses, so a suite that crosses midnight stays consistent;
- `kill`: None, or a kill point `NAME` or `NAME@N` (the N-th time the point is reached,
  default 1). `KILL_POINTS` lists the names.

A run that is not killed writes `result.json` with `ok`, `failed_resources`, `rows` and
`pending` (whether dlt still holds unloaded packages) and exits with status 0.

The crash, fault and secrets suites also share the read-back helpers below:
`table_snapshot`, `view_names`, `destination_source_state` and `local_source_state`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

SPEC_VARIABLE = "PINTEREST_CRASH_SPEC"

KILL_POINTS = (
    "api.request",  # before the N-th API call (entity lists, analytics, reports)
    "token.request",  # before the N-th refresh request is sent
    "token.save.before",  # token endpoint returned a new refresh token, not yet stored
    "token.replace",  # temporary token file written, not yet renamed over the store
    "token.save.after",  # new refresh token stored, new access token not yet used
    "pipeline.extract.before",
    "extract.commit.before",  # all resources extracted, package not committed
    "extract.commit.after",  # package committed, local pipeline state not yet saved
    "pipeline.extract.after",
    "normalize.commit.before",  # normalized files written, package not committed
    "pipeline.normalize.after",
    "pipeline.load.before",
    "load.job.ran",  # the N-th load job ran its SQL, not yet marked completed
    "load.merge_job.ran",  # the N-th merge (SQL follow-up) job ran, not yet marked completed
    "load.job.completed",  # the N-th load job was marked completed
    "load.package.before",  # every job done, `_dlt_loads` row not yet written
    "load.package.after_commit",  # `_dlt_loads` row written, package not yet archived
    "pipeline.load.after",
)


def kill_now() -> None:
    """End this process at once, as the OOM killer or a power cut would: no cleanup runs."""
    logging.getLogger(__name__).warning("crash worker: SIGKILL at the selected kill point")
    for handler in logging.getLogger().handlers:
        handler.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class KillSwitch:
    """Count how often each kill point is reached and kill the process at the selected hit."""

    def __init__(self, selected: str | None) -> None:
        name, _, count = (selected or "").partition("@")
        if selected and name not in KILL_POINTS:
            raise ValueError(f"kill point {name!r} is unknown: use one of {', '.join(KILL_POINTS)}.")
        self.name = name or None
        self.target = int(count) if count else 1
        self.hits: dict[str, int] = {}
        self._lock = threading.Lock()

    def reached(self, name: str) -> None:
        with self._lock:
            self.hits[name] = self.hits.get(name, 0) + 1
            fire = name == self.name and self.hits[name] == self.target
        if fire:
            kill_now()


def _wrap(owner: Any, attribute: str, before: Callable[..., None] | None = None,
          after: Callable[..., None] | None = None) -> None:
    """Replace `owner.attribute` with a wrapper calling `before(*args)` and `after(*args)` around it."""
    original = getattr(owner, attribute)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if before is not None:
            before(*args, **kwargs)
        result = original(*args, **kwargs)
        if after is not None:
            after(*args, **kwargs)
        return result

    setattr(owner, attribute, wrapper)


def install_kill_points(switch: KillSwitch, token_store_path: Path) -> None:
    """Patch the client, the token store and dlt's steps so each kill point reports to `switch`."""
    from dlt.common.storages.load_package import PackageStorage
    from dlt.common.storages.load_storage import LoadStorage
    from dlt.extract.extract import Extract
    from dlt.load.load import Load
    from dlt.pipeline.pipeline import Pipeline

    from pipelines.pinterest import token_store as token_store_module
    from pipelines.pinterest.auth import PinterestAuth
    from pipelines.pinterest.client import PinterestClient

    def point(name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: switch.reached(name)

    _wrap(PinterestClient, "request", before=point("api.request"))
    _wrap(PinterestAuth, "_build_refresh_request", before=point("token.request"))
    _wrap(token_store_module.TokenStore, "save", before=point("token.save.before"), after=point("token.save.after"))

    original_replace = os.replace

    def replace(source: Any, destination: Any, *args: Any, **kwargs: Any) -> None:
        if Path(destination) == token_store_path:
            switch.reached("token.replace")
        original_replace(source, destination, *args, **kwargs)

    os.replace = replace  # type: ignore[assignment]

    _wrap(Pipeline, "extract", before=point("pipeline.extract.before"), after=point("pipeline.extract.after"))
    _wrap(Pipeline, "normalize", after=point("pipeline.normalize.after"))
    _wrap(Pipeline, "load", before=point("pipeline.load.before"), after=point("pipeline.load.after"))
    _wrap(Extract, "commit_packages", before=point("extract.commit.before"), after=point("extract.commit.after"))
    _wrap(LoadStorage, "commit_new_load_package", before=point("normalize.commit.before"))
    _wrap(PackageStorage, "complete_job", after=point("load.job.completed"))
    _wrap(Load, "complete_package", before=point("load.package.before"))
    _wrap(LoadStorage, "complete_load_package", before=point("load.package.after_commit"))

    def job_ran(load: Any, job: Any, *args: Any, **kwargs: Any) -> None:
        switch.reached("load.job.ran")
        if job.file_name().endswith(".sql"):
            switch.reached("load.merge_job.ran")

    _wrap(Load, "w_run_job", after=job_ran)


@contextlib.contextmanager
def fixed_utc_today(day: dt.date | None) -> Iterator[None]:
    """Make the pipeline's UTC today `day` for the duration, as the simulator's today is fixed."""
    from pipelines.pinterest import config as config_module

    if day is None:
        yield
        return
    original = config_module.utc_today
    config_module.utc_today = lambda: day
    try:
        yield
    finally:
        config_module.utc_today = original


def sync_config(spec: dict[str, Any]) -> Any:
    """Build the SyncConfig of a spec: credentials as configured, token store in work_dir."""
    from pipelines.pinterest.auth import Credentials
    from pipelines.pinterest.config import SyncConfig

    work_dir = Path(spec["work_dir"])
    return SyncConfig(
        base_url=spec["base_url"],
        credentials=Credentials(spec["client_id"], spec["client_secret"], spec["refresh_token"]),
        start_date=dt.date.fromisoformat(spec["start_date"]),
        end_date=None,
        ad_account_ids=None,
        resources=tuple(spec["resources"]),
        token_store_path=work_dir / "state" / "tokens.json",
        max_workers=int(spec.get("max_workers", 4)),
    )


def sync_pipeline(work_dir: Path) -> Any:
    """The dlt pipeline of a work dir; the file stem differs from the dataset name on purpose."""
    import dlt

    return dlt.pipeline(
        pipeline_name="crash",
        dataset_name="pinterest",
        destination=dlt.destinations.duckdb(str(work_dir / "sync.duckdb")),
        pipelines_dir=str(work_dir / "pipelines"),
    )


def sync_once(spec: dict[str, Any], client: Any = None) -> dict[str, Any]:
    """Run one sync for `spec` and return what `result.json` records."""
    from pipelines.pinterest.pipeline import run_sync

    work_dir = Path(spec["work_dir"])
    today = dt.date.fromisoformat(spec["today"]) if spec.get("today") else None
    pipeline = sync_pipeline(work_dir)
    with fixed_utc_today(today):
        result = run_sync(sync_config(spec), pipeline=pipeline, client=client)
    return {
        "ok": result.ok,
        "failed_resources": dict(result.summary.failed_resources),
        "rows": dict(result.table_rows),
        "pending": pipeline.has_pending_data,
    }


def _log_to_file(path: Path) -> None:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)


def run_worker(spec: dict[str, Any]) -> None:
    """Child-process entry point: install the kill point, sync, write result.json, exit."""
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    work_dir = Path(spec["work_dir"])
    work_dir.mkdir(parents=True, exist_ok=True)
    _log_to_file(work_dir / "worker.log")

    switch = KillSwitch(spec.get("kill"))
    install_kill_points(switch, work_dir / "state" / "tokens.json")

    outcome = sync_once(spec)
    outcome["hits"] = switch.hits
    (work_dir / "result.json").write_text(json.dumps(outcome, indent=2), encoding="utf-8")


def run_child(spec: dict[str, Any]) -> None:
    """`run_worker` with this process's stdout and stderr sent to files in work_dir.

    Used as a multiprocessing target, whose standard streams would otherwise be the
    parent's, so the secrets scan can read what the child printed.
    """
    work_dir = Path(spec["work_dir"])
    work_dir.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    for descriptor, name in ((1, "stdout.txt"), (2, "stderr.txt")):
        target = os.open(work_dir / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(target, descriptor)
        os.close(target)
    run_worker(spec)


def table_snapshot(database: Path, dataset: str = "pinterest") -> dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]]:
    """Return every data table of `dataset`: its columns and its sorted rows, dlt's own columns left out.

    `_dlt_load_id` and `_dlt_id` differ between runs by design, so two destinations that
    hold the same data compare equal. Views are left out too: they derive from the tables,
    and some show when the last load ran (`view_names` lists them).
    """
    import duckdb

    catalog = database.stem
    connection = duckdb.connect(str(database), read_only=True)
    try:
        names = [row[0] for row in connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? AND table_schema = ? "
            "AND table_type = 'BASE TABLE' ORDER BY table_name",
            [catalog, dataset],
        ).fetchall() if not row[0].startswith("_dlt")]
        snapshot = {}
        for name in names:
            columns = tuple(row[0] for row in connection.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_catalog = ? AND table_schema = ? "
                "AND table_name = ? ORDER BY column_name",
                [catalog, dataset, name],
            ).fetchall() if not row[0].startswith("_dlt"))
            selected = ", ".join(f'"{column}"' for column in columns)
            rows = connection.execute(f'SELECT {selected} FROM "{catalog}"."{dataset}"."{name}"').fetchall()
            snapshot[name] = (columns, sorted(rows, key=repr))
        return snapshot
    finally:
        connection.close()


def view_names(database: Path, dataset: str = "pinterest") -> list[str]:
    """Return the names of the views in `dataset`."""
    import duckdb

    connection = duckdb.connect(str(database), read_only=True)
    try:
        return [row[0] for row in connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? AND table_schema = ? "
            "AND table_type = 'VIEW' ORDER BY table_name",
            [database.stem, dataset],
        ).fetchall()]
    finally:
        connection.close()


def destination_source_state(database: Path, dataset: str = "pinterest") -> dict[str, Any]:
    """Return the `sources` part of the newest pipeline state committed to the destination."""
    import duckdb
    from dlt.common.versioned_state import decompress_state

    connection = duckdb.connect(str(database), read_only=True)
    try:
        row = connection.execute(
            f'SELECT state FROM "{database.stem}"."{dataset}"."_dlt_pipeline_state" ORDER BY version DESC, created_at DESC LIMIT 1'
        ).fetchone()
    finally:
        connection.close()
    return decompress_state(row[0]).get("sources", {}) if row else {}


def local_source_state(work_dir: Path) -> dict[str, Any]:
    """Return the `sources` part of the pipeline state in the local pipelines folder."""
    path = work_dir / "pipelines" / "crash" / "state.json"
    return json.loads(path.read_text(encoding="utf-8")).get("sources", {}) if path.exists() else {}


def main() -> None:
    run_worker(json.loads(os.environ[SPEC_VARIABLE]))
    sys.exit(0)


if __name__ == "__main__":
    main()
