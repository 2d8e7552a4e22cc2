"""The `pinterest-sync` command line: run, demo, simulate, check and auth.

Exit status: 0 when every selected resource loaded, 1 when a resource or the load
failed, 2 for invalid input or configuration, 3 when Pinterest rejected the credentials.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from .config import Credentials, SyncConfig, load_config, parse_resources
from .errors import AuthError, ConfigError, PinterestSyncError
from .settings import ALL_TABLES

SIMULATOR_LIMIT_NAMES = ("ads_read", "ads_analytics", "org_read", "org_analytics", "catalogs_read", "per_second")

EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_AUTH = 3
# The shell's convention for a process stopped by SIGINT.
EXIT_INTERRUPTED = 130
INTERRUPTED_MESSAGE = (
    "interrupted. Nothing half-done is visible: the next run first loads what this run "
    "had extracted, then syncs as usual."
)

logger = logging.getLogger("pinterest_sync")


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper()), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # httpx logs every request line at INFO; the client logs its own lines with request ids.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")


def _fail(message: str, code: int) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


@click.group()
@click.option("--log-level", default="WARNING", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              help="Log level for messages on standard error.")
def cli(log_level: str) -> None:
    """Copy Pinterest ads, organic and catalog data into DuckDB or any dlt destination."""
    _setup_logging(log_level)


@cli.command()
@click.option("--start-date", help="First day to load, YYYY-MM-DD (UTC). Given with or without --end-date, the run is a backfill that leaves the daily cursors alone.")
@click.option("--end-date", help="Last day to load, inclusive, YYYY-MM-DD (UTC).")
@click.option("--resources", help=f"Comma-separated table names to load (default: all). Names: {', '.join(ALL_TABLES)}.")
@click.option("--ad-account-ids", help="Comma-separated ad account ids; overrides sources.pinterest.ad_account_ids for this run.")
@click.option("--backend", type=click.Choice(["pinterest", "airbyte"]), help="Where entities are read from (default: sources.pinterest.backend).")
@click.option("--pipeline-name", default="pinterest", show_default=True, help="dlt pipeline name; also names the DuckDB file.")
@click.option("--dataset-name", default="pinterest", show_default=True, help="Dataset (schema) the tables are written to.")
def run(start_date: str | None, end_date: str | None, resources: str | None, ad_account_ids: str | None,
        backend: str | None, pipeline_name: str, dataset_name: str) -> None:
    """Sync with the configured credentials into the configured destination."""
    try:
        config = load_config(start_date=start_date, end_date=end_date, resources=resources,
                             ad_account_ids=ad_account_ids, backend=backend)
        _validate_analytics(config)
    except ConfigError as error:
        _fail(str(error), EXIT_INVALID)
    from .pipeline import make_pipeline

    if not pipeline_name.strip():
        _fail("--pipeline-name is empty: name the pipeline, for example --pipeline-name pinterest.", EXIT_INVALID)
    if not dataset_name.strip():
        _fail("--dataset-name is empty: name the dataset, for example --dataset-name pinterest.", EXIT_INVALID)
    _run_and_report(config, pipeline_factory=lambda: make_pipeline(pipeline_name=pipeline_name, dataset_name=dataset_name))


def _validate_analytics(config: SyncConfig) -> None:
    from .settings import ADS_ANALYTICS_TABLES

    if any(name in ADS_ANALYTICS_TABLES for name in config.resources):
        from .analytics import validate_analytics_settings

        validate_analytics_settings(config.analytics)


def _is_interrupt(error: BaseException) -> bool:
    from dlt.common.exceptions import SignalReceivedException

    current: BaseException | None = error
    while current is not None:
        if isinstance(current, (KeyboardInterrupt, SignalReceivedException)):
            return True
        current = current.__cause__ or current.__context__ or getattr(current, "exception", None)
        if current is error:
            return False
    return False


def _sync_error_cause(error: BaseException) -> BaseException:
    """Return the product error inside dlt's wrappers (a step failure wraps a pipe failure)."""
    current = error.__cause__ or getattr(error, "exception", None)
    while current is not None and not isinstance(current, PinterestSyncError):
        current = current.__cause__ or current.__context__
    return current or error.__cause__ or getattr(error, "exception", None) or error


def _run_and_report(config: SyncConfig, pipeline: Any = None, client: Any = None, pipeline_factory: Any = None) -> Any:
    from dlt.pipeline.exceptions import PipelineStepFailed

    from .pipeline import run_sync
    from .report import print_summary

    from .progress import make_progress

    try:
        result = run_sync(config, pipeline=pipeline, client=client, pipeline_factory=pipeline_factory, progress=make_progress(sys.stdout))
    except AuthError as error:
        _fail(str(error), EXIT_AUTH)
    except ConfigError as error:
        _fail(str(error), EXIT_INVALID)
    except KeyboardInterrupt:
        _fail(INTERRUPTED_MESSAGE, EXIT_INTERRUPTED)
    except PipelineStepFailed as error:
        cause = _sync_error_cause(error)
        if _is_interrupt(error):
            _fail(INTERRUPTED_MESSAGE, EXIT_INTERRUPTED)
        if isinstance(cause, AuthError):
            _fail(str(cause), EXIT_AUTH)
        if isinstance(cause, ConfigError):
            _fail(str(cause), EXIT_INVALID)
        _fail(f"the {error.step} step failed: {cause}", EXIT_FAILED)
    except PinterestSyncError as error:
        _fail(str(error), EXIT_FAILED)
    print_summary(result, result.pipeline)
    if result.reporting is not None:
        for line in result.reporting.lines():
            click.echo(line)
    if not result.ok:
        sys.exit(EXIT_FAILED)
    return result


@cli.command()
@click.option("--scale", default="small", show_default=True, type=click.Choice(["small", "medium", "large"]), help="Size of the simulated account.")
@click.option("--seed", default=7, show_default=True, help="Seed of the simulated data.")
def demo(scale: str, seed: int) -> None:
    """Sync the bundled simulator's data into ./pinterest.duckdb: no credentials, no network."""
    from .pipeline import make_pipeline
    from .simulator import Simulator, SimulatorConfig

    database = Path.cwd() / "pinterest.duckdb"
    state = tempfile.TemporaryDirectory(prefix="pinterest-sync-demo-")
    state_dir = Path(state.name)
    with state, Simulator(SimulatorConfig(seed=seed, scale=scale)) as simulator:
        click.echo(f"Simulator listening on {simulator.base_url}")
        today = dt.datetime.now(dt.timezone.utc).date()
        config = SyncConfig(
            base_url=simulator.base_url,
            credentials=Credentials(simulator.client_id, simulator.client_secret, simulator.refresh_token),
            start_date=today - dt.timedelta(days=89),
            end_date=None,
            ad_account_ids=None,
            resources=parse_resources(None),
            token_store_path=state_dir / "tokens.json",
        )
        from .destinations import duckdb_destination

        pipeline = make_pipeline(destination=duckdb_destination(database, "pinterest"), pipelines_dir=state_dir / "pipelines")
        _run_and_report(config, pipeline)
    click.echo(f"\nDatabase: {database}")
    click.echo(f"Notebooks read it from ../pinterest.duckdb; from another folder, set PINTEREST_DUCKDB={database}")
    click.echo("Open it with `duckdb pinterest.duckdb` (tables are in schema `pinterest`), or start the notebooks with:")
    click.echo("  uv run --with jupyterlab jupyter lab notebooks/")


@cli.command()
@click.option("--pipeline-name", default="pinterest", show_default=True, help="dlt pipeline name; also names the DuckDB file.")
@click.option("--dataset-name", default="pinterest", show_default=True, help="Dataset (schema) that holds the loaded tables.")
@click.option("--schema", "schema_name", default=None, help="Schema to create the views in (default: the dataset).")
def report(pipeline_name: str, dataset_name: str, schema_name: str | None) -> None:
    """Build the reporting views: daily Ads-Manager-style reports and the dbt package's source tables."""
    from .pipeline import make_pipeline
    from .reporting import ReportingError, build_reporting_views

    try:
        config = load_config(require_credentials=False)
    except ConfigError as error:
        _fail(str(error), EXIT_INVALID)
    database = Path.cwd() / f"{pipeline_name}.duckdb"
    uses_default_duckdb = not (os.environ.get("DESTINATION_TYPE") or os.environ.get("DESTINATION__DUCKDB__CREDENTIALS"))
    if uses_default_duckdb and not database.exists():
        _fail(f"{database} does not exist: run `pinterest-sync run` (or `demo`) in this folder first.", EXIT_INVALID)
    try:
        pipeline = make_pipeline(pipeline_name=pipeline_name, dataset_name=dataset_name)
    except PinterestSyncError as error:
        _fail(str(error), EXIT_FAILED)
    try:
        result = build_reporting_views(pipeline, dataset_name=dataset_name, schema_name=schema_name, attribution=config.analytics)
    except ReportingError as error:
        _fail(str(error), EXIT_FAILED)
    for line in result.lines():
        click.echo(line)


@cli.command()
@click.option("--port", default=8765, show_default=True, help="TCP port on 127.0.0.1.")
@click.option("--seed", default=7, show_default=True, help="Seed of the simulated data.")
@click.option("--scale", default="small", show_default=True, type=click.Choice(["small", "medium", "large"]), help="Size of the simulated account.")
@click.option("--latency-ms", default=0.0, show_default=True, help="Added latency per request, in milliseconds.")
@click.option("--rate-limits", default=None, help="Per-category limits, e.g. ads_read=1000,ads_analytics=300,per_second=100 (requests per minute; per_second per second).")
@click.option("--error-rate", default=0.0, show_default=True, help="Share of requests (0 to 1) that get a random fault in response.")
@click.option("--no-catalog", is_flag=True, help="Simulate a user without a catalog (catalog endpoints return HTTP 409).")
def simulate(port: int, seed: int, scale: str, latency_ms: float, rate_limits: str | None, error_rate: float, no_catalog: bool) -> None:
    """Serve the Pinterest API simulator on loopback until stopped with Ctrl-C."""
    from .simulator import SimulatorConfig, serve_forever

    limits = None
    if rate_limits:
        limits = {}
        for part in rate_limits.split(","):
            name, _, value = part.partition("=")
            try:
                limits[name.strip()] = float(value)
            except ValueError:
                _fail(f"--rate-limits entry {part!r} is invalid: use name=number, e.g. ads_read=1000.", EXIT_INVALID)
    for name, number in (limits or {}).items():
        if name not in SIMULATOR_LIMIT_NAMES or number <= 0:
            _fail(f"--rate-limits entry {name}={number:g} is invalid: use positive numbers for {', '.join(SIMULATOR_LIMIT_NAMES)}.", EXIT_INVALID)
    if not 0.0 <= error_rate <= 1.0:
        _fail(f"--error-rate {error_rate} is invalid: use a number from 0 to 1.", EXIT_INVALID)
    if latency_ms < 0:
        _fail(f"--latency-ms {latency_ms:g} is invalid: use 0 or more milliseconds.", EXIT_INVALID)
    if not 0 <= port <= 65535:
        _fail(f"--port {port} is invalid: use a TCP port from 1 to 65535, or 0 for a free one.", EXIT_INVALID)
    try:
        serve_forever(SimulatorConfig(seed=seed, scale=scale, latency_ms=latency_ms, rate_limits=limits,
                                      error_rate=error_rate, has_catalog=not no_catalog), port=port)
    except OSError as error:
        _fail(f"cannot listen on 127.0.0.1:{port} ({error.strerror or error}): pass another --port.", EXIT_FAILED)


@cli.command()
def check() -> None:
    """Verify the credentials and list what the token can read, loading nothing."""
    from .pipeline import build_client

    try:
        config = load_config(resources="ad_accounts")
        client = build_client(config)
    except ConfigError as error:
        _fail(str(error), EXIT_INVALID)
    try:
        with client:
            user = client.get("/user_account")
            click.echo(f"User account: {user.get('username')} ({user.get('account_type', 'unknown type')})")
            accounts = [item for page in client.paginate("/ad_accounts") for item in page]
            click.echo(f"Ad accounts readable: {len(accounts)}")
            for account in accounts:
                click.echo(f"  {account['id']}  {account.get('name', '')}  currency={account.get('currency', '?')}")
            boards = next(iter(client.paginate("/boards")), [])
            click.echo(f"Boards: {'yes' if boards else 'none found'}")
    except AuthError as error:
        _fail(str(error), EXIT_AUTH)
    except PinterestSyncError as error:
        _fail(str(error), EXIT_FAILED)


@cli.command()
@click.option("--port", default=8085, show_default=True, help="Loopback port of the redirect URI registered for your app.")
@click.option("--scopes", default="ads:read,boards:read,pins:read,user_accounts:read,catalogs:read", show_default=True, help="Comma-separated OAuth scopes.")
@click.option("--oauth-url", default="https://www.pinterest.com/oauth/", show_default=True, help="Pinterest consent page.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for the consent redirect.")
def auth(port: int, scopes: str, oauth_url: str, timeout: float) -> None:
    """Run the authorization-code flow on a loopback redirect and store the refresh token."""
    from .oauth_flow import run_authorization_flow

    try:
        run_authorization_flow(port=port, scopes=scopes.split(","), oauth_url=oauth_url, timeout=timeout, echo=click.echo)
    except ConfigError as error:
        _fail(str(error), EXIT_INVALID)
    except AuthError as error:
        _fail(str(error), EXIT_AUTH)


@cli.group()
def hosted() -> None:
    """Set up a hosted Airbyte Pinterest connector for the airbyte backend."""


def _airbyte_settings() -> Any:
    from .config import _read, load_airbyte_settings

    return load_airbyte_settings(_read, lambda key: _read(key, secret=True))


def _run_hosted(action: Any) -> None:
    try:
        action()
    except ConfigError as error:
        _fail(str(error), EXIT_INVALID)
    except AuthError as error:
        _fail(str(error), EXIT_AUTH)
    except PinterestSyncError as error:
        _fail(str(error), EXIT_FAILED)


@hosted.command("create")
@click.option("--start-date", help="replication_config.start_date, YYYY-MM-DD (default: today (UTC) minus 89 days).")
def hosted_create_command(start_date: str | None) -> None:
    """Create a hosted connector from the Pinterest credentials and save its id in .dlt/config.toml."""
    from .config import load_credentials
    from .hosted import hosted_create

    _run_hosted(lambda: hosted_create(_airbyte_settings(), load_credentials(), start_date, click.echo))


@hosted.command("connect")
@click.option("--port", default=0, show_default=True, help="Loopback port of the callback; 0 picks a free port.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for the consent redirect.")
def hosted_connect_command(port: int, timeout: float) -> None:
    """Run the bring-your-own OAuth flow and save the new connector id in .dlt/config.toml."""
    from .hosted import hosted_connect

    _run_hosted(lambda: hosted_connect(_airbyte_settings(), port, timeout, click.echo))


def main() -> None:
    cli(prog_name="pinterest-sync")


if __name__ == "__main__":
    main()
