"""Constants shared by the Pinterest source: API defaults, limits and table names."""

from __future__ import annotations

DEFAULT_BASE_URL = "https://api.pinterest.com/v5"
PIPELINE_NAME = "pinterest"
DATASET_NAME = "pinterest"

# Pinterest serves synchronous analytics for the last 90 days counted in UTC. Starting
# 89 days back keeps the first day inside that window even when the UTC date has
# already moved past the caller's local date.
DEFAULT_START_DAYS_AGO = 89

# The maximum page size of every Pinterest list endpoint.
PAGE_SIZE = 250

# Campaigns, ad groups and ads default to ACTIVE and PAUSED on the API side, which hides
# archived entities and their spend. The pipeline requests all three.
DEFAULT_ENTITY_STATUSES = ("ACTIVE", "PAUSED", "ARCHIVED")

ENTITY_TABLES = (
    "ad_accounts",
    "campaigns",
    "ad_groups",
    "ads",
    "keywords",
    "audiences",
    "customer_lists",
    "conversion_tags",
    "product_group_promotions",
    "boards",
    "board_sections",
    "pins",
    "user_account",
    "catalogs",
    "catalog_feeds",
    "catalog_product_groups",
)

ADS_ANALYTICS_TABLES = (
    "ad_account_analytics",
    "campaign_analytics",
    "ad_group_analytics",
    "ad_analytics",
    "product_group_analytics",
    "keyword_analytics",
    "targeting_analytics",
)

ORGANIC_ANALYTICS_TABLES = ("user_account_analytics", "pin_analytics")

ALL_TABLES = ENTITY_TABLES + ADS_ANALYTICS_TABLES + ORGANIC_ANALYTICS_TABLES

BACKENDS = ("pinterest", "airbyte")

# Entity tables the hosted Airbyte execute API has no entity for: always read from Pinterest.
HOSTED_MISSING_TABLES = ("user_account", "product_group_promotions")

# Ad account ids are decimal strings of at most 19 digits (they exceed 2^53).
MAX_ID_DIGITS = 19
