"""Validation of analytics request parameters, with errors shaped like Pinterest's.

The limits come from the endpoint descriptions of the OpenAPI description 5.23.0.
Synchronous ads analytics reach 90 days back with a 90-day range. HOUR granularity
reaches 8 days back with a 3-day range. Async reports reach 914 days back with a
186-day range, and PRODUCT_ITEM reports 92 days back with a 31-day range.

Simulator assumptions, where Pinterest documents no rule:
- A range is measured as `end_date - start_date` in days, so a 90-day range spans 91
  dates.
- A view window longer than the click window is rejected: Pinterest documents that not
  every window combination is accepted, without saying which.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .analytics_columns import GRANULARITIES, REPORTING_TIMEZONES
from .metrics import ATTRIBUTION_WINDOW_DAYS, CONVERSION_REPORT_TIMES, AttributionSettings
from .responses import INVALID_PARAMETERS, ApiError

SYNC_DAYS_BACK = 90
SYNC_RANGE_DAYS = 90
HOUR_DAYS_BACK = 8
HOUR_RANGE_DAYS = 3
REPORT_DAYS_BACK = 914
REPORT_RANGE_DAYS = 186
PRODUCT_ITEM_DAYS_BACK = 92
PRODUCT_ITEM_RANGE_DAYS = 31
ORGANIC_DAYS_BACK = 90
MAX_SYNC_IDS = 250
MAX_REPORT_IDS = 500


def invalid(message: str) -> ApiError:
    return ApiError(400, INVALID_PARAMETERS, message)


@dataclasses.dataclass(frozen=True)
class MetricsQuery:
    """Dates, granularity, columns and attribution of one ads metrics request."""

    start: dt.date
    end: dt.date
    granularity: str
    columns: tuple[str, ...]
    settings: AttributionSettings
    start_hour: int | None = None
    end_hour: int | None = None


ParamGetter = Callable[[str], Any]


def require(get: ParamGetter, name: str) -> Any:
    value = get(name)
    if value is None or value == "" or value == []:
        raise invalid(f"Missing required parameter: {name}.")
    return value


def parse_date(name: str, value: Any) -> dt.date:
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise invalid(f"Invalid {name} {value!r}: use the format YYYY-MM-DD.") from None


def parse_dates(get: ParamGetter) -> tuple[dt.date, dt.date]:
    start = parse_date("start_date", require(get, "start_date"))
    end = parse_date("end_date", require(get, "end_date"))
    if end < start:
        raise invalid(f"Invalid date range: end_date {end} is before start_date {start}.")
    return start, end


def check_window(
    start: dt.date, end: dt.date, today: dt.date, days_back: int, range_days: int, what: str
) -> None:
    """Reject a start older than `days_back` before today (UTC) or a longer range."""
    oldest = today - dt.timedelta(days=days_back)
    if start < oldest:
        raise invalid(
            f"Invalid start_date {start}: {what} cover only the last {days_back} days before today "
            f"({today} UTC), so the earliest start_date is {oldest}."
        )
    if (end - start).days > range_days:
        raise invalid(
            f"Invalid date range {start} to {end}: {what} allow at most {range_days} days "
            "between start_date and end_date."
        )


def enum_value(name: str, value: Any, allowed: Sequence[str], default: str | None = None) -> str | None:
    if value is None or value == "":
        return default
    if value not in allowed:
        raise invalid(f"Invalid {name} {value!r}: use one of {', '.join(allowed)}.")
    return value


def enum_list(name: str, values: Iterable[str], allowed: Iterable[str]) -> list[str]:
    allowed_set = set(allowed)
    unknown = [value for value in values if value not in allowed_set]
    if unknown:
        raise invalid(f"Invalid {name}: {', '.join(unknown)} is not an accepted value.")
    return list(values)


def int_value(name: str, value: Any, default: int | None = None) -> int | None:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise invalid(f"Invalid {name} {value!r}: use an integer.")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid(f"Invalid {name} {value!r}: use an integer.") from None


def bool_value(name: str, value: Any, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1"):
        return True
    if str(value).lower() in ("false", "0"):
        return False
    raise invalid(f"Invalid {name} {value!r}: use true or false.")


def id_values(name: str, values: Sequence[Any], max_items: int) -> list[str]:
    """Validate a list of numeric ids and drop repeats, keeping the order."""
    ids: list[str] = []
    for value in values:
        text = str(value) if not isinstance(value, bool) else ""
        if not text.isdigit():
            raise invalid(f"Invalid {name}: {value!r} is not an id (digits only).")
        if text not in ids:
            ids.append(text)
    if len(ids) > max_items:
        raise invalid(f"Invalid {name}: {len(ids)} ids given, at most {max_items} are allowed in one request.")
    return ids


def attribution_settings(get: ParamGetter) -> AttributionSettings:
    """Read the attribution windows and report time, with the API's defaults."""
    windows = {}
    for name, default in (("click_window_days", 30), ("engagement_window_days", 30), ("view_window_days", 1)):
        days = int_value(name, get(name), default)
        if days not in ATTRIBUTION_WINDOW_DAYS:
            allowed = ", ".join(str(value) for value in ATTRIBUTION_WINDOW_DAYS)
            raise invalid(f"Invalid {name} {days}: use one of {allowed}.")
        windows[name] = days
    if windows["view_window_days"] > windows["click_window_days"]:
        raise invalid(
            f"Invalid attribution windows: view_window_days ({windows['view_window_days']}) cannot be "
            f"longer than click_window_days ({windows['click_window_days']})."
        )
    report_time = enum_value("conversion_report_time", get("conversion_report_time"), CONVERSION_REPORT_TIMES, "TIME_OF_AD_ACTION")
    enum_value("reporting_timezone", get("reporting_timezone"), REPORTING_TIMEZONES)
    return AttributionSettings(conversion_report_time=report_time, **windows)


def metric_columns(values: Sequence[str], allowed: frozenset[str]) -> tuple[str, ...]:
    if not values:
        raise invalid("Missing required parameter: columns.")
    unknown = [column for column in values if column not in allowed]
    if unknown:
        raise invalid(f"Invalid columns: {', '.join(unknown)} is not a reporting column of this endpoint.")
    return tuple(dict.fromkeys(values))


def metrics_query(
    get: ParamGetter,
    columns: Sequence[str],
    allowed_columns: frozenset[str],
    today: dt.date,
    days_back: int,
    range_days: int,
    what: str,
) -> MetricsQuery:
    """Validate dates, granularity, columns and attribution of an ads metrics request."""
    start, end = parse_dates(get)
    granularity = enum_value("granularity", require(get, "granularity"), GRANULARITIES)
    if granularity == "HOUR":
        check_window(start, end, today, HOUR_DAYS_BACK, HOUR_RANGE_DAYS, "hourly analytics")
    else:
        check_window(start, end, today, days_back, range_days, what)
    return MetricsQuery(
        start=start,
        end=end,
        granularity=granularity,
        columns=metric_columns(columns, allowed_columns),
        settings=attribution_settings(get),
    )


def query_list(params: Any, name: str) -> list[str]:
    """Read an array query parameter sent as repeated keys, comma-joined, or both."""
    values: list[str] = []
    for raw in params.getlist(name):
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    return values
