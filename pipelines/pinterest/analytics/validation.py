"""Check analytics settings before any request, so a typo never starts a half-done load."""

from __future__ import annotations

from ..config import ATTRIBUTION_WINDOWS, CONVERSION_REPORT_TIMES, GRANULARITIES, AnalyticsSettings
from ..errors import ConfigError
from .columns import CONVERSION_COLUMNS, SYNC_COLUMNS
from .request import requested_columns

PREFIX = "sources.pinterest.analytics"

# Targeting types of the ad account targeting analytics endpoint (API v5.23.0).
TARGETING_TYPES = (
    "KEYWORD", "APPTYPE", "GENDER", "LOCATION", "PLACEMENT", "COUNTRY", "TARGETED_INTEREST",
    "PINNER_INTEREST", "AUDIENCE_INCLUDE", "GEO", "AGE_BUCKET", "REGION", "AGE_BUCKET_AND_GENDER",
)
MAX_LOOKBACK_DAYS = 89


def validate_analytics_settings(settings: AnalyticsSettings) -> None:
    """Raise ConfigError naming the first invalid analytics setting and how to fix it."""
    if settings.columns is not None and not requested_columns(settings):
        raise ConfigError(f"{PREFIX}.columns is empty: remove the key to use the default columns, or list at least one column such as SPEND_IN_MICRO_DOLLAR.")

    columns = requested_columns(settings)
    allowed = set(SYNC_COLUMNS)
    unknown = [column for column in columns if column not in allowed]
    if unknown:
        raise ConfigError(
            f"{PREFIX}.columns: unknown column(s) {', '.join(map(repr, unknown))}. The allowed names are "
            "SYNC_COLUMNS in pipelines/pinterest/analytics/columns.py, the same as the `columns` "
            "values of Pinterest's ads analytics endpoints (for example SPEND_IN_MICRO_DOLLAR, TOTAL_CLICKTHROUGH)."
        )

    for name in ("click_window_days", "engagement_window_days", "view_window_days"):
        value = getattr(settings, name)
        if isinstance(value, bool) or value not in ATTRIBUTION_WINDOWS:
            raise ConfigError(f"{PREFIX}.{name} = {value!r} is not a valid attribution window: use one of {', '.join(map(str, ATTRIBUTION_WINDOWS))} (days).")

    if settings.conversion_report_time not in CONVERSION_REPORT_TIMES:
        raise ConfigError(f"{PREFIX}.conversion_report_time = {settings.conversion_report_time!r} is invalid: use one of {', '.join(CONVERSION_REPORT_TIMES)}.")
    if settings.granularity not in GRANULARITIES:
        raise ConfigError(f"{PREFIX}.granularity = {settings.granularity!r} is invalid: use one of {', '.join(GRANULARITIES)}.")

    if settings.granularity == "HOUR":
        conversions = [column for column in columns if column in CONVERSION_COLUMNS]
        if conversions:
            raise ConfigError(
                f"{PREFIX}.granularity = 'HOUR' cannot be combined with conversion column(s) "
                f"{', '.join(conversions)}: Pinterest returns no conversion metrics by hour. "
                "Remove those columns or use granularity DAY."
            )

    types = [kind.strip().upper() for kind in settings.targeting_types if kind.strip()]
    if not types:
        raise ConfigError(f"{PREFIX}.targeting_types is empty: list at least one of {', '.join(TARGETING_TYPES)}.")
    unknown_types = [kind for kind in types if kind not in TARGETING_TYPES]
    if unknown_types:
        raise ConfigError(f"{PREFIX}.targeting_types: unknown type(s) {', '.join(map(repr, unknown_types))}. Use values from {', '.join(TARGETING_TYPES)}.")

    lookback = settings.lookback_days
    if lookback is not None and (isinstance(lookback, bool) or not 0 <= lookback <= MAX_LOOKBACK_DAYS):
        raise ConfigError(f"{PREFIX}.lookback_days = {lookback!r} is invalid: use a whole number of days from 0 to {MAX_LOOKBACK_DAYS}.")
