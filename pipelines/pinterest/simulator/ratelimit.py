"""Server-side rate limits: Pinterest's per-category quotas plus the universal per-second cap."""

from __future__ import annotations

import collections
import math
import threading

# `x-ratelimit-category` of each served operation in the OpenAPI description 5.23.0,
# keyed like `Simulator.request_counts`.
ENDPOINT_CATEGORIES: dict[str, str] = {
    "GET /v5/ad_accounts": "ads_read",
    "GET /v5/ad_accounts/{ad_account_id}": "ads_read",
    "GET /v5/ad_accounts/{ad_account_id}/campaigns": "ads_read",
    "GET /v5/ad_accounts/{ad_account_id}/ad_groups": "ads_read",
    "GET /v5/ad_accounts/{ad_account_id}/ads": "ads_read",
    "GET /v5/ad_accounts/{ad_account_id}/keywords": "ads_read",
    "GET /v5/ad_accounts/{ad_account_id}/audiences": "ads_read",
    "GET /v5/ad_accounts/{ad_account_id}/customer_lists": "ads_read",
    "GET /v5/ad_accounts/{ad_account_id}/conversion_tags": "ads_read",
    "GET /v5/ad_accounts/{ad_account_id}/product_group_promotions": "ads_read",
    "GET /v5/ad_accounts/{ad_account_id}/analytics": "ads_analytics",
    "GET /v5/ad_accounts/{ad_account_id}/campaigns/analytics": "ads_analytics",
    "GET /v5/ad_accounts/{ad_account_id}/ad_groups/analytics": "ads_analytics",
    "GET /v5/ad_accounts/{ad_account_id}/ads/analytics": "ads_analytics",
    "GET /v5/ad_accounts/{ad_account_id}/product_groups/analytics": "ads_analytics",
    "GET /v5/ad_accounts/{ad_account_id}/pins/analytics": "ads_analytics",
    "GET /v5/ad_accounts/{ad_account_id}/targeting_analytics": "ads_analytics",
    "GET /v5/ad_accounts/{ad_account_id}/campaigns/targeting_analytics": "ads_analytics",
    "GET /v5/ad_accounts/{ad_account_id}/ad_groups/targeting_analytics": "ads_analytics",
    "GET /v5/ad_accounts/{ad_account_id}/ads/targeting_analytics": "ads_analytics",
    "GET /v5/ad_accounts/{ad_account_id}/reports": "ads_analytics",
    "POST /v5/ad_accounts/{ad_account_id}/reports": "ads_analytics",
    "GET /v5/boards": "org_read",
    "GET /v5/boards/{board_id}": "org_read",
    "GET /v5/boards/{board_id}/sections": "org_read",
    "GET /v5/boards/{board_id}/pins": "org_read",
    "GET /v5/boards/{board_id}/sections/{section_id}/pins": "org_read",
    "GET /v5/pins": "org_read",
    "GET /v5/pins/{pin_id}": "org_read",
    "GET /v5/pins/{pin_id}/analytics": "org_analytics",
    "GET /v5/pins/analytics": "org_analytics",
    "GET /v5/user_account": "org_read",
    "GET /v5/user_account/analytics": "org_analytics",
    "GET /v5/user_account/analytics/top_pins": "org_analytics",
    "GET /v5/catalogs": "catalogs_read",
    "GET /v5/catalogs/feeds": "catalogs_read",
    "GET /v5/catalogs/product_groups": "catalogs_read",
}


def category_for(method: str, template: str) -> str | None:
    """Return the rate-limit category of a served endpoint, or None when it has none.

    Endpoints outside /v5 (the consent page, report downloads) and the token endpoint
    have none. Templates missing from ENDPOINT_CATEGORIES get the category the
    description gives their family: analytics and reports of an ad account are
    `ads_analytics`, organic analytics `org_analytics`, catalogs `catalogs_read`, other
    ad account paths `ads_read` and the rest `org_read`.
    """
    if not template.startswith("/v5/") or template == "/v5/oauth/token":
        return None
    known = ENDPOINT_CATEGORIES.get(f"{method.upper()} {template}")
    if known:
        return known
    if template.startswith("/v5/ad_accounts"):
        is_analytics = template.endswith("analytics") or "/reports" in template
        return "ads_analytics" if is_analytics else "ads_read"
    if template.startswith(("/v5/user_account/analytics", "/v5/pins")) and "analytics" in template:
        return "org_analytics"
    if template.startswith("/v5/catalogs"):
        return "catalogs_read"
    return "org_read"


class RateLimiter:
    """Sliding-window request logs per category, plus the universal per-second cap.

    Only admitted requests count against the quota, so a client that waits out the
    reset gets through.
    """

    PER_SECOND = "per_second"

    def __init__(self, limits: dict[str, float] | None, window_seconds: float) -> None:
        self.limits = dict(limits or {})
        self.window_seconds = window_seconds
        self._admitted: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def admit(self, category: str | None, now: float) -> int | None:
        """Record one request at `now` (monotonic seconds) and return None, or return the
        whole seconds until it would be admitted (the `X-RateLimit-Reset` value)."""
        checks = [(self.PER_SECOND, 1.0)]
        if category is not None:
            checks.append((category, self.window_seconds))
        with self._lock:
            for name, window in checks:
                limit = self.limits.get(name)
                if limit is None:
                    continue
                admitted = self._admitted[name]
                while admitted and admitted[0] <= now - window:
                    admitted.popleft()
                if len(admitted) >= limit:
                    return max(1, math.ceil(admitted[0] + window - now))
            for name, _ in checks:
                if self.limits.get(name) is not None:
                    self._admitted[name].append(now)
        return None
