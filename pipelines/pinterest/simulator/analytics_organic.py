"""Organic analytics: daily metrics of the user account and of pins, with data_status.

Responses are keyed by split group (`all` without a split), each with `daily_metrics`
(`date`, `data_status`, `metrics`) and `summary_metrics`. A pin response to a request
for lifetime metrics only carries `lifetime_metrics` instead. Days after today are left
out.

Simulator assumptions (not documented by Pinterest):
- Split groups are named with the filter enums: APP_TYPE gives MOBILE, TABLET and WEB;
  OWNED_CONTENT gives CLAIMED and OTHER; SOURCE gives YOUR_PINS and OTHER_PINS;
  PIN_FORMAT gives the pin_format values.
- Lifetime metrics (TOTAL_COMMENTS, TOTAL_REACTIONS) cannot be combined with period
  metrics in one request: the API says total comments and reactions exist only as
  lifetime metrics, and the simulator rejects the mix with 400.
- `from_claimed_content`, `pin_format`, `content_type` and `source` are validated but
  do not narrow the figures; `app_types` does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request

from .analytics_columns import (
    APP_TYPES,
    CONTENT_TYPES,
    FROM_CLAIMED_CONTENT,
    PIN_FORMATS,
    PIN_METRIC_TYPES,
    PIN_SPLIT_FIELDS,
    SOURCES,
    TOP_PINS_SORT_BY,
    USER_ACCOUNT_METRIC_TYPES,
    USER_ACCOUNT_SPLIT_FIELDS,
)
from .analytics_params import (
    ORGANIC_DAYS_BACK,
    check_window,
    enum_list,
    enum_value,
    id_values,
    int_value,
    invalid,
    parse_dates,
    query_list,
)
from .metrics import ORGANIC_RATES, PIN_LIFETIME_METRICS, PIN_RATES, SPLIT_VALUES, MetricsModel, add_into
from .responses import PIN_NOT_FOUND, ApiError

MAX_PIN_IDS = 100
MAX_TOP_PINS = 50
# Counts a top pins ranking adds up from the pins' daily metrics.
PIN_ENGAGEMENT_PARTS = ("SAVE", "PIN_CLICK", "OUTBOUND_CLICK")

DayFigures = tuple[dt.date, str, dict[str, int]]


def select_metrics(counts: Mapping[str, int], metric_types: Sequence[str], rates: Mapping[str, tuple[str, str]]) -> dict[str, float | int]:
    """Return the requested metrics: counts as they are, rates from the counts."""
    metrics: dict[str, float | int] = {}
    for metric in metric_types:
        if metric in rates:
            numerator, denominator = rates[metric]
            if denominator in counts:
                metrics[metric] = counts.get(numerator, 0) / counts[denominator] if counts[denominator] else 0.0
        elif metric in counts:
            metrics[metric] = counts[metric]
    return metrics


def split_response(days: list[DayFigures], metric_types: Sequence[str], rates: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    summary: dict[str, int] = {}
    daily = []
    # Most pins have no activity, so most days' counts are all zero. Those days' metrics
    # depend only on which counts are present, and they add nothing to the summary
    # beyond those keys, so each key set is worked out once.
    zero_metrics: dict[tuple[str, ...], dict[str, float | int]] = {}
    for day, status, counts in days:
        if any(counts.values()):
            metrics = select_metrics(counts, metric_types, rates)
            add_into(summary, counts)
        else:
            names = tuple(counts)
            zero = zero_metrics.get(names)
            if zero is None:
                zero = zero_metrics[names] = select_metrics(counts, metric_types, rates)
                for name in names:
                    summary.setdefault(name, 0)
            metrics = dict(zero)
        daily.append({"date": day.isoformat(), "data_status": status, "metrics": metrics})
    return {"daily_metrics": daily, "summary_metrics": select_metrics(summary, metric_types, rates)}


class OrganicAnalytics:
    """Handlers of /user_account/analytics, its top pins, and pin analytics."""

    def __init__(self, sim: Any) -> None:
        self.sim = sim

    @property
    def model(self) -> MetricsModel:
        return self.sim.metrics

    def days(self, request: Request) -> list[dt.date]:
        start, end = parse_dates(request.query_params.get)
        check_window(start, end, self.model.today, ORGANIC_DAYS_BACK, ORGANIC_DAYS_BACK, "organic analytics")
        last = min(end, self.model.today)
        return [start + dt.timedelta(days=offset) for offset in range((last - start).days + 1)]

    def common_filters(self, request: Request) -> str:
        """Validate the optional filters; return app_types, the only one applied."""
        params = request.query_params
        ad_account_id = params.get("ad_account_id")
        if ad_account_id:
            id_values("ad_account_id", [ad_account_id], 1)
        return enum_value("app_types", params.get("app_types"), APP_TYPES, "ALL")

    # ----- user account ---------------------------------------------------------------

    def user_account_analytics(self, request: Request, body: bytes) -> dict[str, Any]:
        params = request.query_params
        days = self.days(request)
        app_type = self.common_filters(request)
        enum_value("from_claimed_content", params.get("from_claimed_content"), FROM_CLAIMED_CONTENT)
        enum_value("pin_format", params.get("pin_format"), PIN_FORMATS)
        enum_value("content_type", params.get("content_type"), CONTENT_TYPES)
        enum_value("source", params.get("source"), SOURCES)
        metric_types = enum_list("metric_types", query_list(params, "metric_types"), USER_ACCOUNT_METRIC_TYPES)
        split_field = enum_value("split_field", params.get("split_field"), USER_ACCOUNT_SPLIT_FIELDS, "NO_SPLIT")
        groups: dict[str, list[DayFigures]] = {}
        for day in days:
            counts = self.model.user_account_day(day) or {}
            if app_type != "ALL":
                counts = self.model.split_counts("APP_TYPE", counts, "user", day.isoformat())[app_type]
            parts = {"all": counts} if split_field == "NO_SPLIT" else self.model.split_counts(split_field, counts, "user-split", day.isoformat())
            for group, group_counts in parts.items():
                groups.setdefault(group, []).append((day, self.model.data_status(day), group_counts))
        chosen = metric_types or list(USER_ACCOUNT_METRIC_TYPES)
        return {group: split_response(days_figures, chosen, ORGANIC_RATES) for group, days_figures in groups.items()}

    def top_pins(self, request: Request, body: bytes) -> dict[str, Any]:
        """Rank the pins with activity by `sort_by` over the period.

        NOTE: `data_status` of each pin is keyed by date here; the API declares only a
        map of DataStatus values.
        """
        params = request.query_params
        days = self.days(request)
        app_type = self.common_filters(request)
        sort_by = enum_value("sort_by", params.get("sort_by"), TOP_PINS_SORT_BY)
        if sort_by is None:
            raise invalid("Missing required parameter: sort_by.")
        num_of_pins = int_value("num_of_pins", params.get("num_of_pins"), 10)
        if not 1 <= num_of_pins <= MAX_TOP_PINS:
            raise invalid(f"Invalid num_of_pins {num_of_pins}: use 1 to {MAX_TOP_PINS}.")
        created_in_last_n_days = int_value("created_in_last_n_days", params.get("created_in_last_n_days"))
        if created_in_last_n_days not in (None, 30):
            raise invalid(f"Invalid created_in_last_n_days {created_in_last_n_days}: the only accepted value is 30.")
        metric_types = enum_list("metric_types", query_list(params, "metric_types"), USER_ACCOUNT_METRIC_TYPES) or list(USER_ACCOUNT_METRIC_TYPES)
        ranking = []
        for pin_id in self.model.active_pin_ids():
            created = self.model.pin_created_day(pin_id)
            if created_in_last_n_days and (created is None or (self.model.today - created).days > created_in_last_n_days):
                continue
            total: dict[str, int] = {}
            for _, _, counts in self.pin_days(pin_id, days, app_type):
                add_into(total, counts)
            total["ENGAGEMENT"] = sum(total.get(part, 0) for part in PIN_ENGAGEMENT_PARTS)
            if total.get(sort_by, 0) > 0:
                ranking.append((pin_id, total))
        ranking.sort(key=lambda item: (-item[1][sort_by], item[0]))
        statuses = {day.isoformat(): self.model.data_status(day) for day in days}
        latest_ready = self.model.today - dt.timedelta(days=2)
        latest_ms = int(dt.datetime(latest_ready.year, latest_ready.month, latest_ready.day, 23, 59, 59, tzinfo=dt.timezone.utc).timestamp()) * 1000
        return {
            "date_availability": {"is_realtime": False, "latest_available_timestamp": latest_ms},
            "pins": [
                {"pin_id": pin_id, "metrics": select_metrics(total, metric_types, ORGANIC_RATES), "data_status": statuses}
                for pin_id, total in ranking[:num_of_pins]
            ],
            "sort_by": sort_by,
        }

    # ----- pins -------------------------------------------------------------------------

    def pin_analytics(self, request: Request, body: bytes) -> dict[str, Any]:
        pin_id = request.path_params["pin_id"]
        if pin_id not in self.sim.data.pins:
            raise ApiError(404, PIN_NOT_FOUND, "Pin not found.")
        days = self.days(request)
        app_type = self.common_filters(request)
        metric_types = self.pin_metric_types(request)
        split_field = enum_value("split_field", request.query_params.get("split_field"), PIN_SPLIT_FIELDS, "NO_SPLIT")
        return self.pin_response(pin_id, days, metric_types, split_field, app_type)

    def multi_pin_analytics(self, request: Request, body: bytes) -> dict[str, Any]:
        pin_ids = query_list(request.query_params, "pin_ids")
        if not pin_ids:
            raise invalid("Missing required parameter: pin_ids.")
        pin_ids = id_values("pin_ids", pin_ids, MAX_PIN_IDS)
        missing = [pin_id for pin_id in pin_ids if pin_id not in self.sim.data.pins]
        if missing:
            raise ApiError(404, PIN_NOT_FOUND, f"Pin not found: {', '.join(missing)}.")
        days = self.days(request)
        app_type = self.common_filters(request)
        metric_types = self.pin_metric_types(request)
        return {pin_id: self.pin_response(pin_id, days, metric_types, "NO_SPLIT", app_type) for pin_id in pin_ids}

    def pin_metric_types(self, request: Request) -> list[str]:
        metric_types = enum_list("metric_types", query_list(request.query_params, "metric_types"), PIN_METRIC_TYPES)
        if not metric_types:
            raise invalid("Missing required parameter: metric_types.")
        lifetime = [metric for metric in metric_types if metric in PIN_LIFETIME_METRICS]
        if lifetime and len(lifetime) != len(metric_types):
            raise invalid(
                f"Invalid metric_types: lifetime metrics ({', '.join(lifetime)}) cannot be requested "
                "together with period metrics; request them separately."
            )
        return list(dict.fromkeys(metric_types))

    def pin_days(self, pin_id: str, days: list[dt.date], app_type: str) -> list[DayFigures]:
        figures = []
        for day, pin_day in zip(days, self.model.pin_series(pin_id, days)):
            if pin_day is None:
                continue
            status, counts = pin_day
            if app_type != "ALL" and counts:
                counts = self.model.split_counts("APP_TYPE", counts, "pin", pin_id, day.isoformat())[app_type]
            figures.append((day, status, counts))
        return figures

    def pin_response(self, pin_id: str, days: list[dt.date], metric_types: list[str], split_field: str, app_type: str) -> dict[str, Any]:
        if metric_types[0] in PIN_LIFETIME_METRICS:
            lifetime = self.model.pin_lifetime(pin_id)
            return {"all": {"lifetime_metrics": {metric: lifetime[metric] for metric in metric_types}}}
        figures = self.pin_days(pin_id, days, app_type)
        if split_field == "NO_SPLIT":
            return {"all": split_response(figures, metric_types, PIN_RATES)}
        groups: dict[str, list[DayFigures]] = {group: [] for group in SPLIT_VALUES[split_field]}
        for day, status, counts in figures:
            parts = self.model.split_counts(split_field, counts, "pin-split", pin_id, day.isoformat()) if counts else {}
            for group, group_days in groups.items():
                group_days.append((day, status, parts.get(group, {})))
        return {group: split_response(group_days, metric_types, PIN_RATES) for group, group_days in groups.items()}
