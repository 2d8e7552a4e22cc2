"""Client-side rate limits: category mapping, blocking across threads, configuration."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from pipelines.pinterest.errors import ConfigError
from pipelines.pinterest.ratelimit import CATEGORIES, DEFAULT_RATE_LIMITS, SECOND_WINDOW_MARGIN_MS, RateLimits, category_for

from .support import OPENAPI_PATH



@pytest.mark.parametrize(
    ("path", "category"),
    [
        ("/ad_accounts", "ads_read"),
        ("/ad_accounts/549755885175/campaigns", "ads_read"),
        ("/ad_accounts/549755885175/conversion_tags", "ads_read"),
        ("/ad_accounts/549755885175/analytics", "ads_analytics"),
        ("/ad_accounts/549755885175/campaigns/analytics", "ads_analytics"),
        ("/ad_accounts/549755885175/ad_groups/analytics", "ads_analytics"),
        ("/ad_accounts/549755885175/ads/analytics", "ads_analytics"),
        ("/ad_accounts/549755885175/product_groups/analytics", "ads_analytics"),
        ("/ad_accounts/549755885175/targeting_analytics", "ads_analytics"),
        ("/ad_accounts/549755885175/reports", "ads_analytics"),
        ("/user_account/analytics", "org_analytics"),
        ("/pins/813744226420795884/analytics", "org_analytics"),
        ("/pins/analytics", "org_analytics"),
        ("/user_account", "org_read"),
        ("/boards", "org_read"),
        ("/boards/1/sections", "org_read"),
        ("/boards/1/pins", "org_read"),
        ("/pins/813744226420795884", "org_read"),
        ("/catalogs", "catalogs_read"),
        ("/catalogs/feeds", "catalogs_read"),
        ("/catalogs/product_groups", "catalogs_read"),
        ("/v5/ad_accounts/1/campaigns", "ads_read"),
        ("/oauth/token", None),
    ],
)
def test_category_for_path(path: str, category: str | None) -> None:
    assert category_for(path) == category


def test_defaults_match_standard_access() -> None:
    assert DEFAULT_RATE_LIMITS["ads_read"] == 1000
    assert DEFAULT_RATE_LIMITS["ads_analytics"] == 300
    assert DEFAULT_RATE_LIMITS["per_second"] == 100


def test_universal_cap_blocks_threads() -> None:
    limits = RateLimits({"per_second": 10})
    started_at: list[float] = []
    lock = threading.Lock()

    def acquire_several(count: int) -> None:
        for _ in range(count):
            limits.acquire("/boards")
            with lock:
                started_at.append(time.monotonic())

    begin = time.monotonic()
    threads = [threading.Thread(target=acquire_several, args=(count,)) for count in (6, 5, 5, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    elapsed = time.monotonic() - begin

    assert len(started_at) == 21
    assert 2.0 <= elapsed < 4.0
    started_at.sort()
    for first, eleventh in zip(started_at, started_at[10:]):
        assert eleventh - first >= 0.95


def test_exhausted_category_leaves_others_free() -> None:
    limits = RateLimits({"ads_analytics": 2, "per_second": 1000})
    limits.acquire("/ad_accounts/1/analytics")
    limits.acquire("/ad_accounts/1/analytics")
    blocked = threading.Thread(target=limits.acquire, args=("/ad_accounts/1/analytics",), daemon=True)
    blocked.start()
    time.sleep(0.2)

    begin = time.monotonic()
    for _ in range(20):
        limits.acquire("/ad_accounts/1/campaigns")
    elapsed = time.monotonic() - begin

    assert blocked.is_alive()
    assert elapsed < 0.5


def test_token_endpoint_not_limited() -> None:
    limits = RateLimits({"per_second": 1})
    limits.acquire("/boards")

    waited = limits.acquire("/oauth/token")

    assert waited == 0.0


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        ({"ads_write": 10}, "Unknown rate-limit category 'ads_write'"),
        ({"ads_read": 0}, "Rate limit ads_read=0 is invalid"),
        ({"per_second": -1}, "Rate limit per_second=-1 is invalid"),
        ({"org_read": "fast"}, "Rate limit org_read='fast' is invalid"),
    ],
)
def test_invalid_limits_raise_config_error(limits: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        RateLimits(limits)

    assert expected in str(raised.value)


def test_fractional_limit_spaces_requests() -> None:
    limits = RateLimits({"per_second": 2.5})

    begin = time.monotonic()
    limits.acquire("/boards")
    limits.acquire("/boards")
    elapsed = time.monotonic() - begin

    assert 0.35 <= elapsed < 1.0


def test_bucket_drops_expired_entries() -> None:
    limits = RateLimits({"per_second": 5})
    for _ in range(5):
        limits.acquire("/boards")
    time.sleep(1.0 + SECOND_WINDOW_MARGIN_MS / 1000 + 0.05)

    limits.acquire("/boards")

    bucket = limits._limiters["per_second"].bucket_factory.bucket
    assert bucket.count() == 1


def test_category_for_matches_openapi() -> None:
    description = json.loads(OPENAPI_PATH.read_text())
    mismatches = []
    checked = 0
    for path, operations in description["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            category = operation.get("x-ratelimit-category")
            if category not in CATEGORIES:
                continue
            if method != "get" and not (method == "post" and path.endswith("/reports")):
                continue
            checked += 1
            if category_for(path) != category:
                mismatches.append((method, path, category, category_for(path)))

    assert checked == 124
    assert mismatches == []
