"""Deterministic simulated Pinterest objects, shaped like the OpenAPI 5.23.0 schemas.

Every object carries every property of its response schema, with the type Pinterest
uses on the wire. Ads entities count Unix seconds (`created_time`), and so do audiences
under other names (`created_timestamp`). Conversion tags count milliseconds
(`last_fired_time_ms`). Boards and pins use ISO strings without a zone, catalogs ISO
strings with `Z`, and catalog product groups Unix seconds (`created_at`). Ids are 18-digit strings: above 2**53, below 2**63, and
increasing in creation order within each kind.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .data import SimulatorData

DAY = 86_400


@dataclasses.dataclass(frozen=True)
class ScaleSpec:
    """How many objects of each kind one scale generates."""

    ad_accounts: int
    campaigns_per_account: int
    ad_groups_per_campaign: int
    ads_per_ad_group: int
    keywords_per_ad_group: int
    account_keywords: int
    audiences_per_account: int
    customer_lists_per_account: int
    conversion_tags_per_account: int
    boards: int
    pins: int
    product_groups: int


SCALE_SPECS: dict[str, ScaleSpec] = {
    "small": ScaleSpec(3, 4, 2, 2, 3, 2, 3, 2, 2, boards=4, pins=40, product_groups=3),
    "medium": ScaleSpec(5, 40, 5, 2, 3, 2, 5, 3, 2, boards=20, pins=10_000, product_groups=10),
    "large": ScaleSpec(5, 400, 5, 2, 3, 2, 5, 3, 2, boards=50, pins=100_000, product_groups=20),
}

# Order of kinds decides each kind's id range: kind i gets ids from 10**17 + i * 5 * 10**16.
ID_KINDS = (
    "ad_account", "campaign", "ad_group", "ad", "keyword", "audience", "customer_list",
    "conversion_tag", "product_group_promotion", "board", "board_section", "pin", "user",
    "catalog", "catalog_feed", "catalog_product_group",
)

CAMPAIGN_STATUSES = ("ACTIVE", "ACTIVE", "PAUSED", "ARCHIVED")
CAMPAIGN_OBJECTIVES = ("AWARENESS", "CATALOG_SALES", "CONSIDERATION", "WEB_CONVERSION")
ACTIVE_AD_STATUSES = ("ACTIVE", "ACTIVE", "PAUSED", "ARCHIVED")
PROMOTION_STATUSES = ("ACTIVE", "PAUSED", "ACTIVE", "ARCHIVED")
CAMPAIGN_SUMMARY = {"ACTIVE": "RUNNING", "PAUSED": "PAUSED", "ARCHIVED": "ARCHIVED"}
AD_SUMMARY = {"ACTIVE": "APPROVED", "PAUSED": "PAUSED", "ARCHIVED": "ARCHIVED"}
ACCOUNTS = (("US", "USD"), ("DE", "EUR"), ("US", "USD"), ("GB", "GBP"), ("US", "USD"))
WORDS = (
    "garden", "kitchen", "summer", "recipes", "linen", "ceramic", "vintage", "lamp", "desk",
    "sofa", "rug", "outdoor", "camping", "yoga", "running", "coffee", "tea", "bread",
    "wedding", "travel", "baby", "nursery", "autumn", "winter", "candle", "plant",
)
IMAGE_SIZES = (("150x150", 150, 150), ("400x300", 400, 300), ("600x", 600, 900), ("1200x", 1200, 1800))


class IdFactory:
    """18-digit ids per kind, increasing, with seeded gaps."""

    STEP = 10**10

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.counters = {kind: 0 for kind in ID_KINDS}

    def next(self, kind: str) -> str:
        index = ID_KINDS.index(kind)
        count = self.counters[kind]
        self.counters[kind] = count + 1
        value = 10**17 + index * 5 * 10**16 + count * self.STEP + self.rng.getrandbits(32)
        return str(value)


class Generator:
    """Builds the objects of one scale into a SimulatorData, all from one seed."""

    def __init__(self, data: SimulatorData, seed: int, scale: str, today: dt.date) -> None:
        self.data = data
        self.spec = SCALE_SPECS[scale]
        self.rng = random.Random(f"simulator:{seed}:{scale}")
        self.ids = IdFactory(random.Random(f"ids:{seed}"))
        self.now = int(dt.datetime(today.year, today.month, today.day, tzinfo=dt.timezone.utc).timestamp())
        self.username = "simulated_shop"
        self.pin_ids: list[str] = []
        self.account_tag_ids: list[str] = []

    def build(self, has_catalog: bool) -> None:
        self.build_user_account()
        self.build_boards_and_pins()
        product_group_ids = self.build_catalog() if has_catalog else []
        for index in range(self.spec.ad_accounts):
            self.build_ad_account(index, product_group_ids)
        self.data.user_account["board_count"] = len(self.data.boards)
        self.data.user_account["pin_count"] = len(self.data.pins)

    # Times

    def past_time(self, min_days: int, max_days: int) -> int:
        return self.now - self.rng.randint(min_days, max_days) * DAY - self.rng.randint(0, DAY - 1)

    def later_time(self, start: int) -> int:
        return min(self.now - 1, start + self.rng.randint(0, 40) * DAY + self.rng.randint(0, DAY - 1))

    @staticmethod
    def iso_without_zone(epoch: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))

    @staticmethod
    def iso_utc(epoch: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))

    def words(self, count: int) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(count))

    # Organic side

    def build_user_account(self) -> None:
        self.data.user_account = {
            "account_type": "BUSINESS",
            "id": self.ids.next("user"),
            "profile_image": "https://i.pinimg.com/600x600_R/42/f5/36/42f5364a2d1e4c5d8f0e6a1b1d2c3e4f.jpg",
            "website_url": "https://www.example.com",
            "username": self.username,
            "about": "Home and garden finds, simulated.",
            "business_name": "Simulated Shop",
            "board_count": 0,
            "pin_count": 0,
            "follower_count": self.rng.randint(100, 50_000),
            "following_count": self.rng.randint(10, 500),
            "monthly_views": self.rng.randint(1_000, 2_000_000),
        }

    def build_boards_and_pins(self) -> None:
        boards = [self.make_board(index) for index in range(self.spec.boards)]
        sections_by_board: dict[str, list[str]] = {}
        for index, board in enumerate(boards):
            self.data.boards[board["id"]] = board
            section_count = (2, 1, 0, 1)[index] if self.spec.boards == 4 else index % 3
            sections_by_board[board["id"]] = []
            for section_index in range(section_count):
                section = {"id": self.ids.next("board_section"), "name": f"{self.words(1).title()} {section_index + 1}", "board_id": board["id"]}
                self.data.board_sections[section["id"]] = section
                sections_by_board[board["id"]].append(section["id"])

        for index in range(self.spec.pins):
            board = boards[index % len(boards)]
            bits = self.rng.getrandbits(64)
            sections = sections_by_board[board["id"]]
            section_id = sections[(bits >> 3) % len(sections)] if sections and bits % 5 < 2 else None
            pin = self.make_pin(board["id"], section_id, bits)
            self.data.pins[pin["id"]] = pin
            board["pin_count"] += 1

        self.pin_ids = list(self.data.pins)
        first_pin_ids = self.pin_ids[: 4 * len(boards)]
        for board in boards:
            board_pin_ids = [pin_id for pin_id in first_pin_ids if self.data.pins[pin_id]["board_id"] == board["id"]]
            board["media"]["pin_thumbnail_urls"] = [self.image_url(pin_id, "150x150") for pin_id in board_pin_ids[:4]]

    def make_board(self, index: int) -> dict[str, Any]:
        created = self.past_time(200, 900)
        modified = self.later_time(created)
        return {
            "id": self.ids.next("board"),
            "created_at": self.iso_without_zone(created),
            "board_pins_modified_at": self.iso_without_zone(modified) + f".{self.rng.randint(0, 999_999):06d}",
            "name": f"{self.words(2).title()}",
            "description": None if index % 3 == 2 else f"Ideas for {self.words(2)}.",
            "collaborator_count": self.rng.randint(0, 3),
            "pin_count": 0,
            "follower_count": self.rng.randint(0, 5_000),
            "media": {"image_cover_url": f"https://i.pinimg.com/400x300/board/{index}.jpg", "pin_thumbnail_urls": []},
            "owner": {"username": self.username},
            "privacy": "SECRET" if index % 4 == 3 else "PUBLIC",
            "is_ads_only": False,
        }

    @staticmethod
    def image_url(pin_id: str, size: str) -> str:
        return f"https://i.pinimg.com/{size}/{pin_id[-2:]}/{pin_id[-4:-2]}/{pin_id}.jpg"

    def make_pin(self, board_id: str, section_id: str | None, bits: int) -> dict[str, Any]:
        """Build one pin from 64 random bits (one RNG call per pin keeps large scales fast)."""
        pin_id = self.ids.next("pin")
        created = self.now - (1 + (bits >> 8) % 800) * DAY - (bits >> 18) % DAY
        is_video = (bits >> 35) % 7 == 0
        images = {size: {"width": width, "height": height, "url": self.image_url(pin_id, size)} for size, width, height in IMAGE_SIZES}
        if is_video:
            media: dict[str, Any] = {
                "media_type": "video",
                "images": images,
                "cover_image_url": images["600x"]["url"],
                "video_url": f"https://v1.pinimg.com/videos/mc/720p/{pin_id}.mp4",
                "duration": 5 + (bits >> 38) % 550 / 10,
                "height": 1280,
                "width": 720,
            }
        else:
            media = {"media_type": "image", "images": images}
        topic = f"{WORDS[(bits >> 40) % len(WORDS)]} {WORDS[(bits >> 45) % len(WORDS)]}"
        color = (bits >> 50) & 0x3FFF
        return {
            "id": pin_id,
            "created_at": self.iso_without_zone(created),
            "link": f"https://www.example.com/p/{pin_id[-6:]}",
            "title": topic.title(),
            "description": f"All about {topic}.",
            "dominant_color": f"#{color * 1021 % 0x1000000:06x}",
            "alt_text": None,
            "creative_type": "VIDEO" if is_video else "REGULAR",
            "board_id": board_id,
            "board_section_id": section_id,
            "board_owner": {"username": self.username},
            "is_owner": True,
            "media": media,
            "parent_pin_id": None,
            "is_standard": True,
            "has_been_promoted": False,
            "pin_metrics": None,
        }

    # Catalog

    def build_catalog(self) -> list[str]:
        created = self.past_time(100, 400)
        catalog = {
            "id": self.ids.next("catalog"),
            "created_at": self.iso_utc(created),
            "updated_at": self.iso_utc(self.later_time(created)),
            "catalog_type": "RETAIL",
            "name": "Simulated Shop products",
        }
        self.data.catalogs[catalog["id"]] = catalog
        feed = {
            "id": self.ids.next("catalog_feed"),
            "created_at": self.iso_utc(created + 600),
            "updated_at": self.iso_utc(self.later_time(created + 600)),
            "catalog_type": "RETAIL",
            "name": "Main product feed",
            "format": "TSV",
            "location": "https://feeds.example.com/products.tsv",
            "credentials": {"username": "feed-reader", "password": "simulated-feed-password"},
            "preferred_processing_schedule": {"time": "02:30", "timezone": "Europe/London"},
            "status": "ACTIVE",
            "default_currency": "USD",
            "default_locale": "en-US",
            "default_country": "US",
            "default_availability": "IN_STOCK",
        }
        self.data.catalog_feeds[feed["id"]] = feed
        product_group_ids = []
        for index in range(self.spec.product_groups):
            group_created = self.past_time(10, 300)
            brand = self.words(1).title()
            group = {
                "id": self.ids.next("catalog_product_group"),
                "name": f"{brand} products",
                "description": None if index % 2 else f"Everything from {brand}.",
                "filters": {"any_of": [{"BRAND": {"values": [brand], "negated": False}}]},
                "created_at": group_created,
                "updated_at": self.later_time(group_created),
                "feed_id": feed["id"],
                "catalog_id": catalog["id"],
                "catalog_type": "RETAIL",
                "type": "MERCHANT_CREATED",
                "status": "ACTIVE" if index % 5 else "INACTIVE",
                "country": None,
                "locale": None,
                "is_featured": False,
            }
            self.data.catalog_product_groups[group["id"]] = group
            product_group_ids.append(group["id"])
        return product_group_ids

    # Ads side

    def build_ad_account(self, index: int, product_group_ids: list[str]) -> None:
        country, currency = ACCOUNTS[index % len(ACCOUNTS)]
        created = self.past_time(700, 1500)
        account = {
            "id": self.ids.next("ad_account"),
            "name": f"Simulated Shop {country} {index + 1}",
            "owner": {"id": self.data.user_account["id"], "username": self.username},
            "country": country,
            "currency": currency,
            "permissions": ["OWNER"] if index == 0 else ["ADMIN"],
            "created_time": created,
            "updated_time": self.later_time(created),
        }
        self.data.ad_accounts[account["id"]] = account
        customer_list_ids = [self.add_customer_list(account["id"], number) for number in range(self.spec.customer_lists_per_account)]
        tag_ids = [self.add_conversion_tag(account["id"], number) for number in range(self.spec.conversion_tags_per_account)]
        self.add_audiences(account["id"], customer_list_ids, tag_ids)
        self.account_tag_ids = tag_ids
        for number in range(self.spec.account_keywords):
            match_type = ("EXACT_NEGATIVE", "PHRASE_NEGATIVE")[number % 2]
            self.add_keyword(account["id"], "ADVERTISER", match_type, archived=False)
        for number in range(self.spec.campaigns_per_account):
            self.add_campaign(account["id"], number, product_group_ids)

    def add_campaign(self, account_id: str, number: int, product_group_ids: list[str]) -> None:
        status = CAMPAIGN_STATUSES[number % len(CAMPAIGN_STATUSES)]
        objective = CAMPAIGN_OBJECTIVES[number % len(CAMPAIGN_OBJECTIVES)]
        created = self.past_time(100, 600)
        campaign = {
            "id": self.ids.next("campaign"),
            "ad_account_id": account_id,
            "name": f"{objective.title().replace('_', ' ')} {self.words(1)} {number + 1}",
            "status": status,
            "lifetime_spend_cap": None if number % 2 else 500_000_000 + 10_000_000 * number,
            "daily_spend_cap": 25_000_000 if number % 2 else None,
            "order_line_id": None,
            "tracking_urls": None,
            "start_time": created + DAY,
            "end_time": None,
            "is_flexible_daily_budgets": False,
            "is_automated_campaign": False,
            "is_campaign_budget_optimization": False,
            "is_performance_plus": False,
            "objective_type": objective,
            "created_time": created,
            "updated_time": self.later_time(created),
            "type": "campaign",
            "summary_status": CAMPAIGN_SUMMARY[status],
            "bid_options": None,
        }
        self.data.campaigns[campaign["id"]] = campaign
        for group_number in range(self.spec.ad_groups_per_campaign):
            self.add_ad_group(campaign, group_number, product_group_ids)

    def add_ad_group(self, campaign: dict[str, Any], number: int, product_group_ids: list[str]) -> None:
        if campaign["status"] == "ACTIVE":
            status = "PAUSED" if number % 3 == 1 else "ACTIVE"
        else:
            status = campaign["status"]
        created = self.later_time(campaign["created_time"])
        group = {
            "id": self.ids.next("ad_group"),
            "ad_account_id": campaign["ad_account_id"],
            "campaign_id": campaign["id"],
            "name": f"{self.words(2).title()} group",
            "status": status,
            "budget_in_micro_currency": 10_000_000 * (number + 1),
            "bid_in_micro_currency": None if number % 2 else 1_500_000,
            "bid_strategy_type": "AUTOMATIC_BID" if number % 2 else "MAX_BID",
            "budget_type": "DAILY",
            "start_time": created,
            "end_time": None,
            "targeting_spec": {"GEO": ["US"], "LOCALE": ["en-US"], "AGE_BUCKET": ["25-34", "35-44"], "GENDER": ["female", "male", "unknown"], "APPTYPE": ["iphone", "web"], "INTEREST": []},
            "lifetime_frequency_cap": -1,
            "tracking_urls": None,
            "auto_targeting_enabled": True,
            "placement_group": "ALL",
            "pacing_delivery_type": "STANDARD",
            "conversion_learning_mode_type": None,
            "summary_status": CAMPAIGN_SUMMARY[status],
            "feed_profile_id": "0",
            "billable_event": "IMPRESSION",
            "type": "adgroup",
            "created_time": created,
            "updated_time": self.later_time(created),
            "optimization_goal_metadata": self.optimization_goal_metadata(campaign),
            "is_creative_optimization": None,
            "promotion_id": None,
            "promotion_application_level": None,
            "targeting_template_ids": None,
            "bid_multiplier": None,
            "dca_assets": None,
        }
        self.data.ad_groups[group["id"]] = group
        for ad_number in range(self.spec.ads_per_ad_group):
            self.add_ad(group, ad_number)
        for keyword_number in range(self.spec.keywords_per_ad_group):
            match_type = ("BROAD", "PHRASE", "EXACT")[keyword_number % 3]
            self.add_keyword(group["id"], "AD_GROUP", match_type, archived=status == "ARCHIVED")
        if campaign["objective_type"] == "CATALOG_SALES":
            for promotion_number in range(2):
                self.add_product_group_promotion(group, promotion_number, product_group_ids)

    def optimization_goal_metadata(self, campaign: dict[str, Any]) -> dict[str, Any]:
        """Conversion goal of an ad group; empty outside conversion objectives.

        The description declares this field nullable only outside an allOf that a null
        cannot satisfy, so an empty object represents "no goal".
        """
        if campaign["objective_type"] not in ("WEB_CONVERSION", "CATALOG_SALES") or not self.account_tag_ids:
            return {}
        return {
            "conversion_tag_v3_goal_metadata": {
                "attribution_windows": {"click_window_days": 30, "engagement_window_days": 30, "view_window_days": 1},
                "conversion_event": "CHECKOUT",
                "conversion_tag_id": self.account_tag_ids[0],
                "cpa_goal_value_in_micro_currency": "10000000",
                "is_roas_optimized": False,
                "learning_mode_type": "NOT_ACTIVE",
            }
        }

    def add_ad(self, group: dict[str, Any], number: int) -> None:
        if group["status"] == "ACTIVE":
            status = ACTIVE_AD_STATUSES[self.ids.counters["ad"] % len(ACTIVE_AD_STATUSES)]
        else:
            status = group["status"]
        if self.pin_ids:
            pin_id = self.pin_ids[self.ids.counters["ad"] % len(self.pin_ids)]
            self.data.pins[pin_id]["has_been_promoted"] = True
        else:
            pin_id = self.ids.next("pin")
        created = self.later_time(group["created_time"])
        ad = {
            "id": self.ids.next("ad"),
            "ad_group_id": group["id"],
            "campaign_id": group["campaign_id"],
            "ad_account_id": group["ad_account_id"],
            "pin_id": pin_id,
            "name": f"{self.words(2).title()} ad",
            "status": status,
            "creative_type": "REGULAR",
            "destination_url": f"https://www.example.com/landing/{number + 1}",
            "click_tracking_url": None,
            "view_tracking_url": None,
            "android_deep_link": None,
            "ios_deep_link": None,
            "carousel_android_deep_links": None,
            "carousel_destination_urls": None,
            "carousel_ios_deep_links": None,
            "tracking_urls": None,
            "is_pin_deleted": False,
            "is_removable": False,
            "lead_form_id": None,
            "collection_items_destination_url_template": None,
            "created_time": created,
            "updated_time": self.later_time(created),
            "rejected_reasons": [],
            "rejection_labels": [],
            "review_status": "APPROVED",
            "summary_status": AD_SUMMARY[status],
            "type": "pinpromotion",
            "grid_click_type": "CLOSEUP",
            "customizable_cta_type": None,
            "disclosure_type": None,
            "disclosure_url": None,
            "quiz_pin_data": None,
        }
        self.data.ads[ad["id"]] = ad

    def add_keyword(self, parent_id: str, parent_type: str, match_type: str, archived: bool) -> None:
        keyword = {
            "id": self.ids.next("keyword"),
            "archived": archived,
            "parent_id": parent_id,
            "parent_type": parent_type,
            "type": "keyword",
            "bid": None if parent_type == "ADVERTISER" else self.rng.choice((None, 800_000, 1_200_000)),
            "match_type": match_type,
            "value": self.words(2),
        }
        self.data.keywords[keyword["id"]] = keyword

    def add_product_group_promotion(self, group: dict[str, Any], number: int, product_group_ids: list[str]) -> None:
        if group["status"] == "ARCHIVED":
            status = "ARCHIVED"
        else:
            status = PROMOTION_STATUSES[self.ids.counters["product_group_promotion"] % len(PROMOTION_STATUSES)]
        product_group_id = product_group_ids[number % len(product_group_ids)] if product_group_ids else None
        product_group_name = self.data.catalog_product_groups[product_group_id]["name"] if product_group_id else None
        product_type = self.rng.choice(WORDS)
        promotion = {
            "id": self.ids.next("product_group_promotion"),
            "ad_group_id": group["id"],
            "bid_in_micro_currency": None if number % 2 else 900_000,
            "included": True,
            "definition": f"*/product_type_0='{product_type}'",
            "relative_definition": f"product_type_0='{product_type}'",
            "parent_id": None,
            "slideshow_collections_title": None,
            "slideshow_collections_description": None,
            "is_mdl": None,
            "status": status,
            "tracking_url": None,
            "catalog_product_group_id": product_group_id,
            "catalog_product_group_name": product_group_name,
            "creative_type": "SHOPPING",
            "collections_header_type": None,
            "collections_hero_pin_id": None,
            "collections_hero_destination_url": None,
            "grid_click_type": "CLOSEUP",
            "customizable_cta_type": None,
            "is_generate_background": None,
            "preferred_media_type": None,
            "selected_image_tag": None,
            "selected_video_tag": None,
        }
        self.data.product_group_promotions[promotion["id"]] = promotion

    def add_customer_list(self, account_id: str, number: int) -> str:
        created = self.past_time(60, 500)
        customer_list = {
            "id": self.ids.next("customer_list"),
            "ad_account_id": account_id,
            "name": f"Customers {self.words(1)} {number + 1}",
            "created_time": created,
            "updated_time": self.later_time(created),
            "num_batches": number + 1,
            "num_removed_user_records": 0,
            "num_uploaded_user_records": self.rng.randint(100, 90_000),
            "status": "READY" if number % 3 != 2 else "TOO_SMALL",
            "type": "customerlist",
            "exceptions": {},
        }
        self.data.customer_lists[customer_list["id"]] = customer_list
        return customer_list["id"]

    def add_conversion_tag(self, account_id: str, number: int) -> str:
        tag_id = self.ids.next("conversion_tag")
        fired = None if number % 2 else (self.now - self.rng.randint(60, 5 * DAY)) * 1000 + self.rng.randint(0, 999)
        tag = {
            "id": tag_id,
            "ad_account_id": account_id,
            "name": f"Checkout tag {number + 1}",
            "code_snippet": f"<script type=\"text/javascript\">pintrk('load', '{tag_id}');</script>",
            "enhanced_match_status": "VALIDATION_COMPLETE" if fired else "NOT_VALIDATED",
            "last_fired_time_ms": fired,
            "status": "ACTIVE",
            "version": "3",
            "configs": {
                "aem_enabled": True,
                "md_frequency": 1.0,
                "aem_fnln_enabled": False,
                "aem_ph_enabled": False,
                "aem_ge_enabled": False,
                "aem_db_enabled": False,
                "aem_loc_enabled": False,
                "aem_external_id_enabled": False,
                "no_code_capi_domains": [],
            },
        }
        self.data.conversion_tags[tag_id] = tag
        return tag_id

    def add_audiences(self, account_id: str, customer_list_ids: list[str], tag_ids: list[str]) -> None:
        account_audience_ids: list[str] = []
        rules = self.audience_rules(account_id, customer_list_ids, tag_ids, account_audience_ids)
        for number in range(self.spec.audiences_per_account):
            audience_type, rule = next(rules)
            created = self.past_time(30, 400)
            audience = {
                "id": self.ids.next("audience"),
                "ad_account_id": account_id,
                "name": f"{audience_type.title()} audience {number + 1}",
                "audience_type": audience_type,
                "description": None if number % 2 else f"People who {self.words(2)}.",
                "rule": rule,
                "size": None if audience_type == "ACTALIKE" else self.rng.randint(1_000, 2_000_000),
                "status": "READY",
                "type": "audience",
                "created_timestamp": created,
                "updated_timestamp": self.later_time(created),
                "created_by_company_name": None,
            }
            self.data.audiences[audience["id"]] = audience
            account_audience_ids.append(audience["id"])

    def audience_rules(
        self, account_id: str, customer_list_ids: list[str], tag_ids: list[str], audience_ids: list[str]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield (audience_type, rule) pairs; an ACTALIKE rule seeds from the account's first audience."""
        number = 0
        while True:
            kind = ("VISITOR", "CUSTOMER_LIST", "ENGAGEMENT", "ACTALIKE")[number % 4]
            if kind == "VISITOR" and tag_ids:
                yield kind, {"visitor_source_id": tag_ids[0], "retention_days": 180, "event": "checkout"}
            elif kind == "CUSTOMER_LIST" and customer_list_ids:
                yield kind, {"customer_list_id": customer_list_ids[number % len(customer_list_ids)]}
            elif kind == "ACTALIKE" and audience_ids:
                yield kind, {"seed_id": audience_ids[:1], "country": "US", "percentage": 5}
            else:
                yield "ENGAGEMENT", {"engager_type": 1, "retention_days": 30, "ad_account_id": account_id}
            number += 1
