"""SELECT statements of the reporting views, generated from a `Catalog`.

Two families of views:

- Ads-Manager-style reports (`*_daily_report`): one row per entity and day for the
  chosen attribution settings, with names and statuses joined from the entity tables.
  Missing metrics read as zero. Money comes as exact micros and as exact decimal amounts
  in the account currency, next to the usual ratios.
- Views named and shaped like the source tables of Fivetran's Pinterest Ads dbt package
  (`advertiser_report`, ..., `keyword_history`), so existing dbt projects run on this
  product's output. There an ad account is an "advertiser" and an ad a "pin promotion".
  Report metrics stay NULL where the API sent none, as in a raw source table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .catalog import AMOUNT, BIGINT, BOOLEAN, DOUBLE, TEXT, TIMESTAMP, Catalog, Source, TableColumns, quote

SETTINGS_COLUMNS = ("click_window_days", "engagement_window_days", "view_window_days", "conversion_report_time")

# Columns of an analytics table that identify a row rather than measure something.
KEY_COLUMNS = frozenset({
    "ad_account_id", "date", "hour", "currency", "campaign_id", "ad_group_id", "ad_id",
    "keyword_id", "product_group_id", "pin_id", "targeting_type", "targeting_value", *SETTINGS_COLUMNS,
})

# Conversion value columns that add up to the value of all conversions, used when the
# table lacks TOTAL_CONVERSIONS_VALUE_IN_MICRO_DOLLAR (the sync endpoints do not offer it).
# Click, view and engagement checkout values are parts of the checkout value, so they are
# not added again.
CONVERSION_VALUE_PARTS = (
    "total_checkout_value_in_micro_dollar",
    "total_signup_value_in_micro_dollar",
    "total_custom_value_in_micro_dollar",
)

ADS_MANAGER_VIEWS = (
    "ad_account_daily_report",
    "campaign_daily_report",
    "ad_group_daily_report",
    "ad_daily_report",
    "keyword_daily_report",
)
DBT_REPORT_VIEWS = ("advertiser_report", "campaign_report", "ad_group_report", "pin_promotion_report", "keyword_report")
DBT_HISTORY_VIEWS = ("advertiser_history", "campaign_history", "ad_group_history", "pin_promotion_history", "keyword_history")


@dataclass(frozen=True)
class Level:
    """A reporting level: its analytics table, the id column there and its entity table."""

    name: str
    analytics: str
    id_column: str | None
    entity: str | None


LEVELS = {
    "ad_account": Level("ad_account", "ad_account_analytics", None, "ad_accounts"),
    "campaign": Level("campaign", "campaign_analytics", "campaign_id", "campaigns"),
    "ad_group": Level("ad_group", "ad_group_analytics", "ad_group_id", "ad_groups"),
    "ad": Level("ad", "ad_analytics", "ad_id", "ads"),
    "keyword": Level("keyword", "keyword_analytics", "keyword_id", "keywords"),
}

# Entity columns of each Ads-Manager report, after date, ad account and currency.
ADS_MANAGER_ENTITY_COLUMNS = {
    "ad_account": (),
    "campaign": ("campaign_id", "campaign_name", "campaign_status", "campaign_objective_type"),
    "ad_group": ("ad_group_id", "ad_group_name", "ad_group_status", "campaign_id", "campaign_name", "campaign_status"),
    "ad": (
        "ad_id", "ad_name", "ad_status", "pin_id", "creative_type", "ad_group_id", "ad_group_name",
        "ad_group_status", "campaign_id", "campaign_name", "campaign_status",
    ),
    "keyword": (
        "keyword_id", "keyword_value", "keyword_match_type", "keyword_archived", "ad_group_id",
        "ad_group_name", "ad_group_status", "campaign_id", "campaign_name", "campaign_status",
    ),
}

# dbt report views: (view, level, entity columns after the account ids).
DBT_REPORTS = (
    ("advertiser_report", "ad_account", ()),
    ("campaign_report", "campaign", ("campaign_id", "campaign_name", "campaign_status")),
    ("ad_group_report", "ad_group", ("ad_group_id", "ad_group_name", "ad_group_status", "campaign_id")),
    ("pin_promotion_report", "ad", ("pin_promotion_id", "ad_group_id", "campaign_id")),
    (
        "keyword_report", "keyword",
        ("keyword_id", "pin_promotion_id", "ad_group_id", "ad_group_name", "ad_group_status", "campaign_id"),
    ),
)

# dbt history views: (view, entity table, [(output column, source column, type)]). A
# source column of None is always NULL, and the type "timestamp" converts Unix seconds.
HISTORY_COMMON_TAIL = (("created_time", "created_time", "timestamp"), ("updated_time", "updated_time", "timestamp"))
DBT_HISTORIES: tuple[tuple[str, str, tuple[tuple[str, str | None, str], ...]], ...] = (
    (
        "advertiser_history", "ad_accounts",
        (
            ("id", "id", TEXT), ("name", "name", TEXT), ("status", "status", TEXT),
            ("country", "country", TEXT), ("currency", "currency", TEXT),
            ("owner_user_id", "owner.id", TEXT), ("owner_username", "owner.username", TEXT),
            ("permissions", "permissions", TEXT), ("billing_profile_status", "billing_profile_status", TEXT),
            ("billing_type", "billing_type", TEXT), ("merchant_id", "merchant_id", TEXT),
            *HISTORY_COMMON_TAIL,
        ),
    ),
    (
        "campaign_history", "campaigns",
        (
            ("id", "id", TEXT), ("advertiser_id", "ad_account_id", TEXT), ("ad_account_id", "ad_account_id", TEXT),
            ("name", "name", TEXT), ("status", "status", TEXT), ("summary_status", "summary_status", TEXT),
            ("objective_type", "objective_type", TEXT), ("type", "type", TEXT),
            ("start_time", "start_time", "timestamp"), ("end_time", "end_time", "timestamp"),
            ("daily_spend_cap", "daily_spend_cap", BIGINT), ("lifetime_spend_cap", "lifetime_spend_cap", BIGINT),
            ("default_ad_group_budget_in_micro_currency", "default_ad_group_budget_in_micro_currency", BIGINT),
            ("is_automated_campaign", "is_automated_campaign", BOOLEAN),
            ("is_campaign_budget_optimization", "is_campaign_budget_optimization", BOOLEAN),
            ("is_flexible_daily_budgets", "is_flexible_daily_budgets", BOOLEAN),
            ("is_performance_plus", "is_performance_plus", BOOLEAN), ("order_line_id", "order_line_id", TEXT),
            *HISTORY_COMMON_TAIL,
        ),
    ),
    (
        "ad_group_history", "ad_groups",
        (
            ("id", "id", TEXT), ("campaign_id", "campaign_id", TEXT), ("advertiser_id", "ad_account_id", TEXT),
            ("ad_account_id", "ad_account_id", TEXT), ("name", "name", TEXT), ("status", "status", TEXT),
            ("summary_status", "summary_status", TEXT), ("type", "type", TEXT),
            ("start_time", "start_time", "timestamp"), ("end_time", "end_time", "timestamp"),
            ("budget_in_micro_currency", "budget_in_micro_currency", BIGINT),
            ("bid_in_micro_currency", "bid_in_micro_currency", BIGINT), ("budget_type", "budget_type", TEXT),
            ("bid_strategy_type", "bid_strategy_type", TEXT), ("billable_event", "billable_event", TEXT),
            ("pacing_delivery_type", "pacing_delivery_type", TEXT), ("placement_group", "placement_group", TEXT),
            ("auto_targeting_enabled", "auto_targeting_enabled", BOOLEAN),
            ("lifetime_frequency_cap", "lifetime_frequency_cap", BIGINT),
            *HISTORY_COMMON_TAIL,
        ),
    ),
    (
        "pin_promotion_history", "ads",
        (
            ("id", "id", TEXT), ("ad_group_id", "ad_group_id", TEXT), ("campaign_id", "campaign_id", TEXT),
            ("advertiser_id", "ad_account_id", TEXT), ("ad_account_id", "ad_account_id", TEXT),
            ("pin_id", "pin_id", TEXT), ("name", "name", TEXT), ("status", "status", TEXT),
            ("summary_status", "summary_status", TEXT), ("review_status", "review_status", TEXT),
            ("creative_type", "creative_type", TEXT), ("destination_url", "destination_url", TEXT),
            ("android_deep_link", "android_deep_link", TEXT), ("ios_deep_link", "ios_deep_link", TEXT),
            ("click_tracking_url", "click_tracking_url", TEXT), ("view_tracking_url", "view_tracking_url", TEXT),
            ("is_pin_deleted", "is_pin_deleted", BOOLEAN), ("is_removable", "is_removable", BOOLEAN),
            *HISTORY_COMMON_TAIL,
        ),
    ),
    (
        "keyword_history", "keywords",
        (
            ("id", "id", TEXT), ("_fivetran_id", "id", TEXT), ("value", "value", TEXT),
            ("match_type", "match_type", TEXT), ("archived", "archived", BOOLEAN), ("bid", "bid", BIGINT),
            ("parent_type", "parent_type", TEXT), ("parent_id", "parent_id", TEXT),
            ("ad_group_id", "ad_group_id", TEXT), ("campaign_id", None, TEXT),
            ("advertiser_id", "ad_account_id", TEXT), ("ad_account_id", "ad_account_id", TEXT),
            ("updated_time", "updated_time", "timestamp"),
        ),
    ),
)


@dataclass(frozen=True)
class ViewPlan:
    """One view to create: its name and SELECT, or why it cannot be built yet."""

    name: str
    select: str | None
    missing: str | None = None


def plan_views(catalog: Catalog) -> list[ViewPlan]:
    """Plan every reporting view; a view whose source table is not loaded gets a reason instead."""
    plans: list[ViewPlan] = []
    for view, level_name in zip(ADS_MANAGER_VIEWS, LEVELS):
        plans.append(_plan(catalog, view, LEVELS[level_name].analytics, lambda level=LEVELS[level_name]: ads_manager_select(catalog, level)))
    for view, level_name, columns in DBT_REPORTS:
        level = LEVELS[level_name]
        plans.append(_plan(catalog, view, level.analytics, lambda level=level, columns=columns: dbt_report_select(catalog, level, columns)))
    for view, table, spec in DBT_HISTORIES:
        plans.append(_plan(catalog, view, table, lambda table=table, spec=spec: history_select(catalog, table, spec)))
    return plans


def _plan(catalog: Catalog, view: str, table: str, build: Callable[[], str]) -> ViewPlan:
    source = catalog.tables.get(table)
    if source is None:
        return ViewPlan(view, None, f"table {catalog.dataset}.{table} is not loaded")
    for column in ("ad_account_id", "date") if table.endswith("_analytics") else ("id",):
        if not source.has(column):
            return ViewPlan(view, None, f"table {catalog.dataset}.{table} has no column {column}")
    return ViewPlan(view, build())


# ----- shared pieces ------------------------------------------------------------------


def metric_columns(table: TableColumns) -> list[tuple[str, str]]:
    """Numeric columns that measure something: every column that is not a key, a setting,
    dlt bookkeeping or a float amount derived from micros (the views derive exact ones)."""
    return [
        (name, kind)
        for name, kind in table.columns.items()
        if kind in ("integer", "number")
        and name not in KEY_COLUMNS
        and not name.startswith("_dlt")
        and not name.endswith("_in_account_currency")
    ]


def loads_join(catalog: Catalog, alias: str, table: TableColumns) -> str:
    """Join that gives each row of `alias` its load time as `l.inserted_at`.

    With a `_dlt_load_id` column the time is that row's load. Without it (dlt leaves the
    column out of Arrow batches unless `normalize.parquet_normalizer.add_dlt_load_id` is
    set), every row gets the time of the dataset's newest completed load.
    """
    if not catalog.has_table("_dlt_loads"):
        return f"CROSS JOIN (SELECT CAST(NULL AS {TIMESTAMP}) AS inserted_at) AS l"
    loads = catalog.ref("_dlt_loads")
    if table.has("_dlt_load_id"):
        return (
            f"LEFT JOIN (SELECT load_id, MAX(inserted_at) AS inserted_at FROM {loads} GROUP BY load_id) AS l "
            f"ON l.load_id = {alias}.{quote('_dlt_load_id')}"
        )
    return f"CROSS JOIN (SELECT MAX(inserted_at) AS inserted_at FROM {loads} WHERE status = 0) AS l"


def daily_select(catalog: Catalog, level: Level) -> tuple[str, dict[str, str]]:
    """SELECT of one row per ad account, entity and day for the catalog's attribution settings.

    Rows are summed per day, which turns hourly rows into days. A table that holds both
    daily rows (`hour` NULL) and hourly rows for a day contributes its daily rows only. Returns
    the SQL and the metric columns it outputs, by kind.
    """
    table = catalog.tables[level.analytics]
    rows = catalog.source("a", level.analytics)
    metrics = dict(metric_columns(table))

    keys = ["ad_account_id"] + ([level.id_column] if level.id_column else []) + ["date"]
    items = [f"{rows.column(key)} AS {quote(key)}" for key in keys]
    items.append(f"MAX({rows.value('currency', TEXT)}) AS currency")
    for parent in ("campaign_id", "ad_group_id"):
        if parent != level.id_column and rows.has(parent):
            items.append(f"MAX({rows.column(parent)}) AS {quote(parent)}")
    for name, kind in metrics.items():
        items.append(f"CAST(SUM({rows.column(name)}) AS {BIGINT if kind == 'integer' else DOUBLE}) AS {quote(name)}")
    items.append("MAX(l.inserted_at) AS _fivetran_synced")

    literals = catalog.attribution.literals()
    conditions = [f"{rows.column(name)} = {literals[name]}" for name in SETTINGS_COLUMNS if rows.has(name)]
    if rows.has("hour"):
        same_day = " AND ".join(
            f"h.{quote(name)} = {rows.column(name)}"
            for name in ("ad_account_id", "date", *SETTINGS_COLUMNS)
            if rows.has(name)
        )
        conditions.append(
            f"({rows.column('hour')} IS NULL OR NOT EXISTS "
            f"(SELECT 1 FROM {catalog.ref(level.analytics)} AS h WHERE h.{quote('hour')} IS NULL AND {same_day}))"
        )

    sql = (
        "SELECT " + ",\n       ".join(items)
        + f"\n  FROM {catalog.ref(level.analytics)} AS a\n  {loads_join(catalog, 'a', table)}"
        + ("\n  WHERE " + "\n    AND ".join(conditions) if conditions else "")
        + "\n  GROUP BY " + ", ".join(rows.column(key) for key in keys)
    )
    return sql, metrics


def _coalesce(*expressions: str | None) -> str | None:
    present = [expression for expression in expressions if expression is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else f"COALESCE({', '.join(present)})"


def _optional(source: Source, column: str) -> str | None:
    return source.column(column) if source.has(column) else None


def entity_context(catalog: Catalog, level: Level, daily_columns: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Joins from the daily rows `d` to the entity tables, and the id, name and status expressions.

    Parent ids come from the analytics row first and the entity tables second, so a
    row whose entity was deleted from the entity tables still keeps its parents.
    """
    joins: list[str] = []

    def join(table: str, alias: str, on: str | None) -> Source:
        source = catalog.source(alias, table)
        if not source.present or on is None or not source.has("id"):
            return Source(alias, None)
        joins.append(f"LEFT JOIN {catalog.ref(table)} AS {alias} ON {alias}.{quote('id')} = {on}")
        return source

    def daily(column: str) -> str | None:
        return f"d.{quote(column)}" if column in daily_columns else None

    account = join("ad_accounts", "acc", "d.ad_account_id")
    own = join(level.entity, "e", daily(level.id_column)) if level.name in ("ad", "keyword") and level.id_column else Source("e", None)

    if level.name == "ad_group":
        ad_group_id = daily("ad_group_id")
    elif level.name in ("ad", "keyword"):
        ad_group_id = _coalesce(daily("ad_group_id"), _optional(own, "ad_group_id"))
    else:
        ad_group_id = None
    group = join("ad_groups", "g", ad_group_id)

    if level.name == "campaign":
        campaign_id = daily("campaign_id")
    elif level.name == "ad_account":
        campaign_id = None
    else:
        campaign_id = _coalesce(daily("campaign_id"), _optional(own, "campaign_id"), _optional(group, "campaign_id"))
    campaign = join("campaigns", "c", campaign_id)

    values = {
        "ad_account_name": account.value("name", TEXT),
        "account_currency": account.value("currency", TEXT),
        "campaign_id": campaign_id or f"CAST(NULL AS {TEXT})",
        "campaign_name": campaign.value("name", TEXT),
        "campaign_status": campaign.value("status", TEXT),
        "campaign_objective_type": campaign.value("objective_type", TEXT),
        "ad_group_id": ad_group_id or f"CAST(NULL AS {TEXT})",
        "ad_group_name": group.value("name", TEXT),
        "ad_group_status": group.value("status", TEXT),
        "ad_id": daily("ad_id") or f"CAST(NULL AS {TEXT})",
        "pin_promotion_id": daily("ad_id") or f"CAST(NULL AS {TEXT})",
        "ad_name": own.value("name", TEXT) if level.name == "ad" else f"CAST(NULL AS {TEXT})",
        "ad_status": own.value("status", TEXT) if level.name == "ad" else f"CAST(NULL AS {TEXT})",
        "pin_id": own.value("pin_id", TEXT) if level.name == "ad" else f"CAST(NULL AS {TEXT})",
        "creative_type": own.value("creative_type", TEXT) if level.name == "ad" else f"CAST(NULL AS {TEXT})",
        "keyword_id": daily("keyword_id") or f"CAST(NULL AS {TEXT})",
        "keyword_value": own.value("value", TEXT) if level.name == "keyword" else f"CAST(NULL AS {TEXT})",
        "keyword_match_type": own.value("match_type", TEXT) if level.name == "keyword" else f"CAST(NULL AS {TEXT})",
        "keyword_archived": own.value("archived", BOOLEAN) if level.name == "keyword" else f"CAST(NULL AS {BOOLEAN})",
    }
    return joins, values


def _amount(micros: str) -> str:
    """Exact amount in account currency from micros: a decimal product, never a float division."""
    return f"CAST(CAST({micros} AS DECIMAL(19,0)) * 0.000001 AS {AMOUNT})"


# ----- Ads-Manager-style daily reports -------------------------------------------------


def ads_manager_select(catalog: Catalog, level: Level) -> str:
    daily_sql, metrics = daily_select(catalog, level)
    joins, values = entity_context(catalog, level, sorted(_daily_keys(catalog, level) | set(metrics)))

    def zero(column: str, sql_type: str) -> str:
        if column not in metrics:
            return f"CAST(NULL AS {sql_type})"
        return f"CAST(COALESCE(d.{quote(column)}, 0) AS {sql_type})"

    def total(columns: Sequence[str], sql_type: str) -> str:
        present = [f"COALESCE(d.{quote(column)}, 0)" for column in columns if column in metrics]
        if not present:
            return f"CAST(NULL AS {sql_type})"
        return f"CAST({' + '.join(present)} AS {sql_type})"

    spend = zero("spend_in_micro_dollar", BIGINT)
    if "total_conversions_value_in_micro_dollar" in metrics:
        conversion_value = zero("total_conversions_value_in_micro_dollar", BIGINT)
    else:
        conversion_value = total(CONVERSION_VALUE_PARTS, BIGINT)
    checkout_value = zero("total_checkout_value_in_micro_dollar", BIGINT)

    literals = catalog.attribution.literals()
    items = [
        'd."date" AS "date"',
        'd."ad_account_id" AS ad_account_id',
        f"{values['ad_account_name']} AS ad_account_name",
        f"COALESCE(d.currency, {values['account_currency']}) AS currency",
        *(f"{values[column]} AS {quote(column)}" for column in ADS_MANAGER_ENTITY_COLUMNS[level.name]),
        f"CAST({literals['click_window_days']} AS {BIGINT}) AS click_window_days",
        f"CAST({literals['engagement_window_days']} AS {BIGINT}) AS engagement_window_days",
        f"CAST({literals['view_window_days']} AS {BIGINT}) AS view_window_days",
        f"CAST({literals['conversion_report_time']} AS {TEXT}) AS conversion_report_time",
        f"{spend} AS spend_in_micro_dollar",
        f"{_amount(spend)} AS spend_in_account_currency",
        f"{zero('impression_1', BIGINT)} AS paid_impressions",
        f"{zero('impression_2', BIGINT)} AS earned_impressions",
        f"{total(('impression_1', 'impression_2'), BIGINT)} AS total_impressions",
        f"{zero('clickthrough_1', BIGINT)} AS paid_clicks",
        f"{zero('clickthrough_2', BIGINT)} AS earned_clicks",
        f"{total(('clickthrough_1', 'clickthrough_2'), BIGINT)} AS total_clicks",
        f"{total(('outbound_click_1', 'outbound_click_2'), BIGINT)} AS outbound_clicks",
        f"{total(('repin_1', 'repin_2'), BIGINT)} AS saves",
        f"{zero('total_engagement', BIGINT)} AS engagements",
        f"{zero('total_conversions', DOUBLE)} AS total_conversions",
        f"{zero('total_checkout', DOUBLE)} AS checkout_conversions",
        f"{conversion_value} AS conversion_value_in_micro_dollar",
        f"{_amount(conversion_value)} AS conversion_value_in_account_currency",
        f"{checkout_value} AS checkout_value_in_micro_dollar",
        f"{_amount(checkout_value)} AS checkout_value_in_account_currency",
        "d._fivetran_synced AS loaded_at",
    ]
    ratios = [
        f"CAST(m.paid_clicks AS {DOUBLE}) / NULLIF(m.paid_impressions, 0) AS ctr",
        f"CAST(m.spend_in_micro_dollar AS {DOUBLE}) / 1000000 / NULLIF(m.paid_clicks, 0) AS cpc_in_account_currency",
        f"CAST(m.spend_in_micro_dollar AS {DOUBLE}) / 1000 / NULLIF(m.paid_impressions, 0) AS cpm_in_account_currency",
        f"CAST(m.conversion_value_in_micro_dollar AS {DOUBLE}) / NULLIF(m.spend_in_micro_dollar, 0) AS roas",
        f"CAST(m.checkout_value_in_micro_dollar AS {DOUBLE}) / NULLIF(m.spend_in_micro_dollar, 0) AS checkout_roas",
    ]
    return (
        f"WITH d AS (\n  {daily_sql}\n),\nm AS (\n  SELECT " + ",\n         ".join(items)
        + "\n  FROM d\n  " + "\n  ".join(joins) + "\n)\nSELECT m.*,\n       " + ",\n       ".join(ratios) + "\nFROM m"
    )


def _daily_keys(catalog: Catalog, level: Level) -> set[str]:
    """Id columns that the daily SELECT of `level` outputs besides metrics."""
    table = catalog.tables[level.analytics]
    keys = {"ad_account_id", "date", "currency"}
    if level.id_column:
        keys.add(level.id_column)
    keys.update(parent for parent in ("campaign_id", "ad_group_id") if table.has(parent))
    return keys


# ----- dbt package source views ---------------------------------------------------------


def dbt_report_select(catalog: Catalog, level: Level, entity_columns: Sequence[str]) -> str:
    """Build a daily `*_report` view: the dbt package's columns first, then every other metric."""
    daily_sql, metrics = daily_select(catalog, level)
    joins, values = entity_context(catalog, level, sorted(_daily_keys(catalog, level) | set(metrics)))

    def raw(column: str, sql_type: str) -> str:
        return f"d.{quote(column)}" if column in metrics else f"CAST(NULL AS {sql_type})"

    if "total_conversions_value_in_micro_dollar" in metrics:
        conversion_value = raw("total_conversions_value_in_micro_dollar", BIGINT)
    else:
        parts = [f"d.{quote(column)}" for column in CONVERSION_VALUE_PARTS if column in metrics]
        if parts:
            all_null = " AND ".join(f"{part} IS NULL" for part in parts)
            added = " + ".join(f"COALESCE({part}, 0)" for part in parts)
            conversion_value = f"CASE WHEN {all_null} THEN NULL ELSE CAST({added} AS {BIGINT}) END"
        else:
            conversion_value = f"CAST(NULL AS {BIGINT})"

    named = {
        "impression_1": raw("impression_1", BIGINT),
        "impression_2": raw("impression_2", BIGINT),
        "clickthrough_1": raw("clickthrough_1", BIGINT),
        "clickthrough_2": raw("clickthrough_2", BIGINT),
        "spend_in_micro_dollar": raw("spend_in_micro_dollar", BIGINT),
        "total_conversions": raw("total_conversions", DOUBLE),
        "total_conversions_quantity": raw("total_conversions_quantity", DOUBLE),
        "total_conversions_value_in_micro_dollar": conversion_value,
    }
    items = [
        'd."date" AS "date"',
        "d.ad_account_id AS advertiser_id",
        "d.ad_account_id AS ad_account_id",
        *(f"{values[column]} AS {quote(column)}" for column in entity_columns),
        f"COALESCE(d.currency, {values['account_currency']}) AS currency",
        "d._fivetran_synced AS _fivetran_synced",
        *(f"{expression} AS {quote(column)}" for column, expression in named.items()),
        *(f"d.{quote(column)} AS {quote(column)}" for column in metrics if column not in named),
    ]
    return f"WITH d AS (\n  {daily_sql}\n)\nSELECT " + ",\n       ".join(items) + "\nFROM d\n" + "\n".join(joins)


def history_select(catalog: Catalog, table: str, spec: Sequence[tuple[str, str | None, str]]) -> str:
    """A `*_history` view: the current version of each entity with its load time.

    The entity tables are merged on `id`, so each id has one version: the one from the
    latest sync. `_fivetran_synced` is the time of the load that wrote it.
    """
    source = catalog.source("t", table)
    columns = catalog.tables[table]
    joins: list[str] = []
    items: list[str] = []
    for output, column, sql_type in spec:
        if output == "campaign_id" and column is None:
            items.append(f"{_keyword_campaign(catalog, source, joins)} AS {quote(output)}")
        elif column is not None and "." in column:
            items.append(f"{_json_field(catalog, source, column)} AS {quote(output)}")
        elif column is None:
            items.append(f"CAST(NULL AS {TEXT if sql_type == 'timestamp' else sql_type}) AS {quote(output)}")
        elif sql_type == "timestamp":
            items.append(f"{source.timestamp(column)} AS {quote(output)}")
        else:
            items.append(f"{source.value(column, sql_type)} AS {quote(output)}")
    items.append("l.inserted_at AS _fivetran_synced")
    return (
        "SELECT " + ",\n       ".join(items)
        + f"\nFROM {catalog.ref(table)} AS t\n{loads_join(catalog, 't', columns)}"
        + ("\n" + "\n".join(joins) if joins else "")
    )


def _json_field(catalog: Catalog, source: Source, path: str) -> str:
    """Text of `parent.key`: dlt's flattened `parent__key` column or the key inside a JSON column."""
    parent, key = path.split(".", 1)
    flattened = f"{parent}__{key}"
    if source.has(flattened):
        return source.value(flattened, TEXT)
    if source.has(parent):
        return catalog.dialect.json_text(source.column(parent), key)
    return f"CAST(NULL AS {TEXT})"


def _keyword_campaign(catalog: Catalog, keyword: Source, joins: list[str]) -> str:
    """Campaign of a keyword through its ad group; keywords on the ad account have none."""
    ad_group_id = _coalesce(
        _optional(keyword, "ad_group_id"),
        f"CASE WHEN {keyword.column('parent_type')} = 'AD_GROUP' THEN {keyword.column('parent_id')} END"
        if keyword.has("parent_type") and keyword.has("parent_id") else None,
    )
    group = catalog.source("g", "ad_groups")
    if ad_group_id is None or not group.has("id") or not group.has("campaign_id"):
        return f"CAST(NULL AS {TEXT})"
    joins.append(f"LEFT JOIN {catalog.ref('ad_groups')} AS g ON g.{quote('id')} = {ad_group_id}")
    return f"CAST({group.column('campaign_id')} AS {TEXT})"
