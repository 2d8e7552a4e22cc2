"""Report settings shared by sync and async ads analytics requests, and their error handling."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from ..config import AnalyticsSettings
from ..errors import ApiError, ConfigError
from .columns import CONVERSION_COLUMNS, DEFAULT_COLUMNS


@dataclass(frozen=True)
class ReportSettings:
    """Attribution, granularity and columns sent with every ads analytics request of a run."""

    columns: tuple[str, ...]
    click_window_days: int
    engagement_window_days: int
    view_window_days: int
    conversion_report_time: str
    granularity: str
    targeting_types: tuple[str, ...]

    @property
    def hourly(self) -> bool:
        return self.granularity == "HOUR"

    def attribution(self) -> dict[str, Any]:
        """Attribution parameters exactly as configured: 0 is a window, not 'unset'."""
        return {
            "click_window_days": self.click_window_days,
            "engagement_window_days": self.engagement_window_days,
            "view_window_days": self.view_window_days,
            "conversion_report_time": self.conversion_report_time,
        }

    def describe_attribution(self) -> str:
        return ", ".join(f"{name}={value}" for name, value in self.attribution().items())

    def cursor_key(self, extra: tuple[str, ...] = ()) -> str:
        """Key of the daily cursor: rows requested with other settings are other rows."""
        digest = hashlib.sha256(",".join(self.columns + ("|",) + extra).encode()).hexdigest()[:12]
        return (
            f"{self.click_window_days}/{self.engagement_window_days}/{self.view_window_days}/"
            f"{self.conversion_report_time}/{self.granularity}/{digest}"
        )


def requested_columns(settings: AnalyticsSettings) -> tuple[str, ...]:
    """Columns to request: the configured ones (upper-cased, first occurrence kept) or the defaults.

    HOUR granularity returns no conversion metrics, so its default set leaves them out.
    """
    if settings.columns is not None:
        return tuple(dict.fromkeys(column.strip().upper() for column in settings.columns if column.strip()))
    if settings.granularity == "HOUR":
        return tuple(column for column in DEFAULT_COLUMNS if column not in CONVERSION_COLUMNS)
    return DEFAULT_COLUMNS


def report_settings(settings: AnalyticsSettings) -> ReportSettings:
    return ReportSettings(
        columns=requested_columns(settings),
        click_window_days=settings.click_window_days,
        engagement_window_days=settings.engagement_window_days,
        view_window_days=settings.view_window_days,
        conversion_report_time=settings.conversion_report_time,
        granularity=settings.granularity,
        targeting_types=tuple(dict.fromkeys(kind.strip().upper() for kind in settings.targeting_types if kind.strip())),
    )


def reject_attribution(error: ApiError, settings: ReportSettings) -> None:
    """Raise ConfigError when the API rejected the combination of attribution windows.

    Pinterest accepts each window value alone but not every combination. Retrying with
    other windows would store rows under settings the user did not choose, so the run
    stops and names the combination. The caller re-raises any other error.
    """
    message = error.api_message or ""
    if error.status != 400 or "window" not in message.lower():
        return
    raise ConfigError(
        f"Pinterest rejected the attribution settings {settings.describe_attribution()} "
        f"on {error.endpoint} (request id {error.request_id}): {message}. Choose another "
        "combination under [sources.pinterest.analytics] (click_window_days, "
        "engagement_window_days, view_window_days)."
    ) from error
