"""Read and validate the sync configuration before any request is sent.

Values come from dlt's providers (environment variables such as
`SOURCES__PINTEREST__START_DATE`, then `.dlt/secrets.toml` and `.dlt/config.toml`), with
CLI overrides on top. Every check raises `ConfigError` naming the key, the value and the
fix, so a typo never starts a half-done load.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import dlt

from .auth import Credentials
from .errors import ConfigError
from .settings import (
    ALL_TABLES,
    BACKENDS,
    DEFAULT_BASE_URL,
    DEFAULT_ENTITY_STATUSES,
    DEFAULT_START_DAYS_AGO,
    ENTITY_TABLES,
    HOSTED_MISSING_TABLES,
    MAX_ID_DIGITS,
)

SECTION = "sources.pinterest"
ATTRIBUTION_WINDOWS = (0, 1, 7, 14, 30, 60)
CONVERSION_REPORT_TIMES = ("TIME_OF_AD_ACTION", "TIME_OF_CONVERSION")
GRANULARITIES = ("DAY", "HOUR")
ENTITY_STATUSES = ("ACTIVE", "PAUSED", "ARCHIVED", "DELETED_DRAFT")
DEFAULT_TOKEN_STORE = Path("~/.local/state/pinterest-sync/tokens.json")


def env_name(key: str) -> str:
    """Return the environment variable dlt reads for a dotted config key."""
    return key.upper().replace(".", "__")


@dataclass(frozen=True)
class AirbyteSettings:
    """Credentials and connector selection for the hosted Airbyte execute API."""

    base_url: str = "https://api.airbyte.ai"
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    organization_id: str | None = None
    customer_name: str | None = None
    connector_id: str | None = None


@dataclass(frozen=True)
class AnalyticsSettings:
    """Report settings sent with every ads analytics request and stored on every row."""

    columns: tuple[str, ...] | None = None
    click_window_days: int = 30
    engagement_window_days: int = 30
    view_window_days: int = 1
    conversion_report_time: str = "TIME_OF_AD_ACTION"
    granularity: str = "DAY"
    # Days before the cursor fetched again on every run, so late conversions replace
    # earlier values. None means the click window, at least 14 days.
    lookback_days: int | None = None
    targeting_types: tuple[str, ...] = ("APPTYPE", "COUNTRY", "GENDER", "AGE_BUCKET")

    @property
    def effective_lookback_days(self) -> int:
        if self.lookback_days is not None:
            return self.lookback_days
        return max(self.click_window_days, 14)


@dataclass(frozen=True)
class SyncConfig:
    """Everything one sync needs, validated."""

    base_url: str
    credentials: Credentials | None
    start_date: dt.date
    end_date: dt.date | None
    ad_account_ids: tuple[str, ...] | None
    resources: tuple[str, ...]
    backend: str = "pinterest"
    entity_statuses: tuple[str, ...] = DEFAULT_ENTITY_STATUSES
    token_store_path: Path = DEFAULT_TOKEN_STORE
    # A postgresql:// URL selects the token store shared by workers on several machines.
    token_store_url: str | None = field(default=None, repr=False)
    rate_limits: dict[str, float] | None = None
    max_workers: int = 4
    analytics: AnalyticsSettings = field(default_factory=AnalyticsSettings)
    airbyte: AirbyteSettings = field(default_factory=AirbyteSettings)
    # True when start or end date came from the command line: a backfill that leaves
    # the daily cursors alone.
    is_backfill: bool = False

    @property
    def today(self) -> dt.date:
        return utc_today()


def utc_today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def parse_date(value: Any, key: str) -> dt.date:
    """Parse a `YYYY-MM-DD` date, naming the key on failure."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ConfigError(f"{key} = {value!r} is not a date: use the form YYYY-MM-DD, for example 2024-05-01.")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{key} = {value!r} is not a valid calendar date: use YYYY-MM-DD.") from None


def parse_id_list(value: Any, key: str) -> tuple[str, ...] | None:
    """Parse ad account ids given as a list or a comma-separated string of digits."""
    if value is None or value == "" or value == []:
        return None
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    ids: list[str] = []
    for item in items:
        text = str(item).strip()
        if not text.isdigit() or not text.isascii():
            raise ConfigError(f"{key} contains {text!r}, which is not an ad account id: ids are digits only, for example 549755885175.")
        if len(text) > MAX_ID_DIGITS:
            raise ConfigError(f"{key} contains {text!r} with {len(text)} digits: ad account ids have at most {MAX_ID_DIGITS}.")
        if text not in ids:
            ids.append(text)
    return tuple(ids)


def parse_resources(value: Any, key: str = "--resources") -> tuple[str, ...]:
    """Parse resource names (the table names); an unknown name lists the valid ones."""
    if value is None or value == "" or value == []:
        return ALL_TABLES
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    names = tuple(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))
    unknown = [name for name in names if name not in ALL_TABLES]
    if unknown:
        raise ConfigError(f"{key}: unknown resource {', '.join(map(repr, unknown))}. Valid names: {', '.join(ALL_TABLES)}.")
    if not names:
        raise ConfigError(f"{key} is empty: name at least one resource, for example campaigns,campaign_analytics.")
    return names


def parse_window(value: Any, key: str) -> int:
    """Parse an attribution window in days; 0 is a valid window, not 'unset'."""
    try:
        days = int(str(value).strip())
    except ValueError:
        days = None
    if days not in ATTRIBUTION_WINDOWS or isinstance(value, bool):
        allowed = ", ".join(map(str, ATTRIBUTION_WINDOWS))
        raise ConfigError(f"{key} = {value!r} is not a valid attribution window: use one of {allowed} (days).")
    return days


def parse_choice(value: Any, key: str, choices: tuple[str, ...]) -> str:
    text = str(value).strip().upper() if key.endswith(("report_time", "granularity")) else str(value).strip()
    if text not in choices:
        raise ConfigError(f"{key} = {value!r} is invalid: use one of {', '.join(choices)}.")
    return text


def parse_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    raise ConfigError(f"{key} = {value!r} is not a boolean: use true or false.")


def parse_string_list(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


def _read(key: str, secret: bool = False) -> Any:
    """Read one key from dlt's providers, turning a malformed TOML file into a ConfigError."""
    accessor = dlt.secrets if secret else dlt.config
    try:
        return accessor.get(key)
    except Exception as error:  # dlt wraps TOML parse errors in several exception types
        # The parser's message names the file, line and column; it quotes no values.
        raise ConfigError(f"Could not read the configuration ({error}). Fix the syntax error in .dlt/config.toml or .dlt/secrets.toml.") from None


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def load_credentials(
    read: Callable[[str], Any] = lambda key: _read(key, secret=True),
    stored_refresh_token: Callable[[str], str | None] = lambda client_id: None,
) -> Credentials:
    """Read the Pinterest app credentials; a missing one names its TOML key and env variable.

    Without a configured refresh token, the token that `pinterest-sync auth` stored for
    the client id is used, so a first run needs no copy of it in `secrets.toml`.
    """
    values: dict[str, str] = {}
    for name in ("client_id", "client_secret", "refresh_token"):
        key = f"{SECTION}.credentials.{name}"
        value = read(key)
        if _empty(value) and name == "refresh_token":
            value = stored_refresh_token(values["client_id"])
        if _empty(value):
            raise ConfigError(
                f"Missing {key}: set it in .dlt/secrets.toml under [sources.pinterest.credentials] "
                f"or in the environment variable {env_name(key)}. Run `pinterest-sync auth` to get a refresh token."
            )
        values[name] = str(value).strip()
    continuous = read(f"{SECTION}.credentials.continuous_refresh")
    return Credentials(
        client_id=values["client_id"],
        client_secret=values["client_secret"],
        refresh_token=values["refresh_token"],
        continuous_refresh=parse_bool(continuous, f"{SECTION}.credentials.continuous_refresh") if continuous is not None else False,
    )


def load_analytics_settings(read: Callable[[str], Any]) -> AnalyticsSettings:
    prefix = f"{SECTION}.analytics"
    settings = AnalyticsSettings()
    updates: dict[str, Any] = {}
    for name in ("click_window_days", "engagement_window_days", "view_window_days"):
        value = read(f"{prefix}.{name}")
        if value is not None:
            updates[name] = parse_window(value, f"{prefix}.{name}")
    value = read(f"{prefix}.conversion_report_time")
    if value is not None:
        updates["conversion_report_time"] = parse_choice(value, f"{prefix}.conversion_report_time", CONVERSION_REPORT_TIMES)
    value = read(f"{prefix}.granularity")
    if value is not None:
        updates["granularity"] = parse_choice(value, f"{prefix}.granularity", GRANULARITIES)
    value = read(f"{prefix}.lookback_days")
    if value is not None:
        try:
            days = int(value)
        except (TypeError, ValueError):
            days = -1
        if not 0 <= days <= 89:
            raise ConfigError(f"{prefix}.lookback_days = {value!r} is invalid: use a whole number of days from 0 to 89.")
        updates["lookback_days"] = days
    value = read(f"{prefix}.columns")
    if value is not None:
        updates["columns"] = parse_string_list(value)
    value = read(f"{prefix}.targeting_types")
    if value is not None:
        updates["targeting_types"] = parse_string_list(value)
    return replace(settings, **updates)


def load_airbyte_settings(read_config: Callable[[str], Any], read_secret: Callable[[str], Any]) -> AirbyteSettings:
    prefix = f"{SECTION}.airbyte"
    values: dict[str, Any] = {}
    for name in ("base_url", "organization_id", "customer_name", "connector_id"):
        value = read_config(f"{prefix}.{name}")
        if not _empty(value):
            values[name] = str(value).strip()
    for name in ("client_id", "client_secret"):
        value = read_secret(f"{prefix}.{name}")
        if not _empty(value):
            values[name] = str(value).strip()
    return AirbyteSettings(**values)


def load_config(
    *,
    start_date: str | None = None,
    end_date: str | None = None,
    resources: str | None = None,
    ad_account_ids: str | None = None,
    backend: str | None = None,
    require_credentials: bool = True,
) -> SyncConfig:
    """Build a validated `SyncConfig`; keyword arguments are CLI overrides."""
    read_config = lambda key: _read(key)  # noqa: E731
    read_secret = lambda key: _read(key, secret=True)  # noqa: E731

    base_url = read_config(f"{SECTION}.base_url") or DEFAULT_BASE_URL
    base_url = str(base_url).rstrip("/")
    if not re.match(r"^https?://[^/\s]+", base_url):
        raise ConfigError(f"{SECTION}.base_url = {base_url!r} is not an http(s) URL: use for example {DEFAULT_BASE_URL}.")

    today = utc_today()
    start_key = "--start-date" if start_date is not None else f"{SECTION}.start_date"
    end_key = "--end-date" if end_date is not None else f"{SECTION}.end_date"
    raw_start = start_date if start_date is not None else read_config(f"{SECTION}.start_date")
    raw_end = end_date if end_date is not None else read_config(f"{SECTION}.end_date")
    start = parse_date(raw_start, start_key) if not _empty(raw_start) else today - dt.timedelta(days=DEFAULT_START_DAYS_AGO)
    end = parse_date(raw_end, end_key) if not _empty(raw_end) else None
    if start > today:
        raise ConfigError(f"{start_key} = {start.isoformat()} is in the future (today is {today.isoformat()} UTC): use a date on or before today.")
    if end is not None and end < start:
        raise ConfigError(f"{end_key} = {end.isoformat()} is before the start date {start.isoformat()}: swap them or widen the range.")
    if end is not None and end > today:
        raise ConfigError(f"{end_key} = {end.isoformat()} is in the future (today is {today.isoformat()} UTC): use today or an earlier date.")

    raw_backend = backend if backend is not None else (read_config(f"{SECTION}.backend") or "pinterest")
    backend_name = str(raw_backend).strip().lower()
    if backend_name not in BACKENDS:
        backend_key = "--backend" if backend is not None else f"{SECTION}.backend"
        raise ConfigError(f"{backend_key} = {raw_backend!r} is unknown: use one of {', '.join(BACKENDS)}.")

    examples = {"--resources": "campaigns,campaign_analytics", "--ad-account-ids": "549755885175"}
    for flag, given in (("--resources", resources), ("--ad-account-ids", ad_account_ids)):
        if given is not None and not given.strip(" ,"):
            raise ConfigError(
                f"{flag} is empty: name at least one value, for example {flag} {examples[flag]}, "
                "or leave the option out to use the configuration."
            )
    ids_key = "--ad-account-ids" if ad_account_ids is not None else f"{SECTION}.ad_account_ids"
    ids = parse_id_list(ad_account_ids if ad_account_ids is not None else read_config(f"{SECTION}.ad_account_ids"), ids_key)
    selected = parse_resources(resources if resources is not None else read_config(f"{SECTION}.resources"),
                               "--resources" if resources is not None else f"{SECTION}.resources")

    statuses_value = read_config(f"{SECTION}.entity_statuses")
    statuses = parse_string_list(statuses_value) if statuses_value is not None else DEFAULT_ENTITY_STATUSES
    bad_status = [status for status in statuses if status not in ENTITY_STATUSES]
    if bad_status or not statuses:
        raise ConfigError(f"{SECTION}.entity_statuses = {statuses_value!r} is invalid: use values from {', '.join(ENTITY_STATUSES)}.")

    token_store = read_config(f"{SECTION}.token_store_path")
    workers_value = read_config(f"{SECTION}.max_workers")
    try:
        max_workers = int(workers_value) if workers_value is not None else 4
    except (TypeError, ValueError):
        max_workers = 0
    if not 1 <= max_workers <= 64:
        raise ConfigError(f"{SECTION}.max_workers = {workers_value!r} is invalid: use a whole number from 1 to 64.")

    rate_limits = read_config(f"{SECTION}.rate_limits")
    if rate_limits is not None:
        rate_limits = _parse_rate_limits(rate_limits)

    token_store_path = Path(str(token_store)).expanduser() if not _empty(token_store) else DEFAULT_TOKEN_STORE.expanduser()
    token_store_url = _optional_text(_read(f"{SECTION}.token_store_url", secret=True))

    def stored_refresh_token(client_id: str) -> str | None:
        from .token_store_sql import open_token_store

        stored = open_token_store(token_store_url, token_store_path).load(client_id)
        return stored.refresh_token if stored is not None else None

    credentials = None
    if require_credentials and backend_name == "pinterest":
        credentials = load_credentials(read_secret, stored_refresh_token)
    elif require_credentials:
        # The hosted backend reads entities with Airbyte credentials. Pinterest credentials,
        # when configured, still serve analytics and the tables the hosted API lacks.
        try:
            credentials = load_credentials(read_secret, stored_refresh_token)
        except ConfigError:
            credentials = None
    airbyte = load_airbyte_settings(read_config, read_secret)
    if backend_name == "airbyte":
        _check_airbyte_settings(airbyte)
        resources_chosen = resources is not None or read_config(f"{SECTION}.resources") is not None
        if credentials is None and not resources_chosen:
            # Without Pinterest credentials the default selection is what the hosted API
            # serves; naming another table explicitly fails that table with a clear error.
            selected = tuple(name for name in ENTITY_TABLES if name not in HOSTED_MISSING_TABLES)

    return SyncConfig(
        base_url=base_url,
        credentials=credentials,
        start_date=start,
        end_date=end,
        ad_account_ids=ids,
        resources=selected,
        backend=backend_name,
        entity_statuses=statuses,
        token_store_path=token_store_path,
        token_store_url=token_store_url,
        rate_limits=rate_limits,
        max_workers=max_workers,
        analytics=load_analytics_settings(read_config),
        airbyte=airbyte,
        is_backfill=start_date is not None or end_date is not None,
    )


def _optional_text(value: Any) -> str | None:
    return None if _empty(value) else str(value).strip()


def _check_airbyte_settings(settings: AirbyteSettings) -> None:
    prefix = f"{SECTION}.airbyte"
    for name in ("client_id", "client_secret"):
        if getattr(settings, name) is None:
            key = f"{prefix}.{name}"
            raise ConfigError(f"Missing {key}, required by backend = \"airbyte\": set it in .dlt/secrets.toml or in {env_name(key)}.")
    if settings.connector_id is None and settings.customer_name is None:
        raise ConfigError(
            f"Set {prefix}.connector_id or {prefix}.customer_name for backend = \"airbyte\" "
            f"(or run `pinterest-sync hosted create`)."
        )


def _parse_rate_limits(value: Any) -> dict[str, float]:
    key = f"{SECTION}.rate_limits"
    if not hasattr(value, "items"):
        raise ConfigError(f"{key} = {value!r} is invalid: use a table such as {{ads_read = 1000, ads_analytics = 300, per_second = 100}} (requests per minute, per_second per second).")
    limits: dict[str, float] = {}
    for name, raw in value.items():
        try:
            number = float(raw)
        except (TypeError, ValueError):
            number = -1.0
        if number <= 0:
            raise ConfigError(f"{key}.{name} = {raw!r} is invalid: use a positive number of requests.")
        limits[str(name)] = number
    return limits
