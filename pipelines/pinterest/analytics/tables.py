"""The ads analytics tables: endpoints, report levels, keys and Arrow schemas.

Each table gets one explicit Arrow schema built from the requested columns. Every column
then exists from the first load even when the first days lack a metric, and the sync and
report paths write identical types into the same table.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from .columns import arrow_type, column_name, derived_amount_name, is_micro


@dataclass(frozen=True)
class AdsTable:
    """One ads analytics table and where its rows come from.

    `sync_path` is the path under `/ad_accounts/{id}/` of the synchronous endpoint (None:
    the table loads from async reports only). `id_param` is the query parameter that takes
    up to 250 entity ids, and `id_field` the row key naming the entity (also the report
    key). `parents` are parent id columns copied from the entity objects.
    """

    name: str
    report_level: str
    sync_path: str | None
    id_param: str | None = None
    id_field: str | None = None
    parents: tuple[str, ...] = ()
    targeting: bool = False

    @property
    def id_column(self) -> str | None:
        return column_name(self.id_field) if self.id_field else None


AD_ACCOUNT_ANALYTICS = AdsTable("ad_account_analytics", "ADVERTISER", "analytics")
CAMPAIGN_ANALYTICS = AdsTable(
    "campaign_analytics", "CAMPAIGN", "campaigns/analytics", "campaign_ids", "CAMPAIGN_ID"
)
AD_GROUP_ANALYTICS = AdsTable(
    "ad_group_analytics", "AD_GROUP", "ad_groups/analytics", "ad_group_ids", "AD_GROUP_ID",
    parents=("campaign_id",),
)
# Reports name ads "pin promotions"; their JSON is keyed by the ad id.
AD_ANALYTICS = AdsTable(
    "ad_analytics", "PIN_PROMOTION", "ads/analytics", "ad_ids", "AD_ID",
    parents=("ad_group_id", "campaign_id"),
)
PRODUCT_GROUP_ANALYTICS = AdsTable(
    "product_group_analytics", "PRODUCT_GROUP", "product_groups/analytics", "product_group_ids",
    "PRODUCT_GROUP_ID", parents=("ad_group_id", "campaign_id"),
)
# Sync endpoints expose keywords only as targeting values (the keyword text, without its id
# or match type), so keyword rows come from KEYWORD-level reports for every date: the
# report JSON is keyed by keyword id.
KEYWORD_ANALYTICS = AdsTable(
    "keyword_analytics", "KEYWORD", None, None, "KEYWORD_ID", parents=("ad_group_id", "campaign_id"),
)
TARGETING_ANALYTICS = AdsTable(
    "targeting_analytics", "ADVERTISER_TARGETING", "targeting_analytics", targeting=True,
)

ADS_TABLES: dict[str, AdsTable] = {
    table.name: table
    for table in (
        AD_ACCOUNT_ANALYTICS,
        CAMPAIGN_ANALYTICS,
        AD_GROUP_ANALYTICS,
        AD_ANALYTICS,
        PRODUCT_GROUP_ANALYTICS,
        KEYWORD_ANALYTICS,
        TARGETING_ANALYTICS,
    )
}

SETTINGS_COLUMNS = ("click_window_days", "engagement_window_days", "view_window_days", "conversion_report_time")


def key_columns(table: AdsTable, hourly: bool) -> list[str]:
    """Merge key of a table: account, entity, date (and hour), the attribution settings."""
    key = ["ad_account_id"]
    if table.id_column:
        key.append(table.id_column)
    if table.targeting:
        key += ["targeting_type", "targeting_value"]
    key.append("date")
    if hourly:
        key.append("hour")
    key += list(SETTINGS_COLUMNS)
    return key


def ads_schema(table: AdsTable, api_columns: tuple[str, ...], hourly: bool) -> pa.Schema:
    """Arrow schema of an ads analytics table for the requested API columns."""
    fields: dict[str, pa.Field] = {}

    def add(name: str, data_type: pa.DataType, nullable: bool = True) -> None:
        if name not in fields:
            fields[name] = pa.field(name, data_type, nullable=nullable)

    key = key_columns(table, hourly)
    add("ad_account_id", pa.string(), nullable=False)
    if table.id_column:
        add(table.id_column, pa.string(), nullable=False)
    for parent in table.parents:
        add(parent, pa.string())
    if table.targeting:
        add("targeting_type", pa.string(), nullable=False)
        add("targeting_value", pa.string(), nullable=False)
    add("date", pa.date32(), nullable=False)
    if hourly:
        add("hour", pa.int64(), nullable=False)
    add("click_window_days", pa.int64(), nullable=False)
    add("engagement_window_days", pa.int64(), nullable=False)
    add("view_window_days", pa.int64(), nullable=False)
    add("conversion_report_time", pa.string(), nullable=False)
    add("currency", pa.string())

    for api_name in api_columns:
        name = column_name(api_name)
        if name in key:
            continue
        add(name, arrow_type(api_name))
        if is_micro(api_name):
            add(derived_amount_name(api_name), pa.float64())
    return pa.schema(list(fields.values()))
