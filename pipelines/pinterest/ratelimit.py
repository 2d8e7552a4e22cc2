"""Client-side rate limits per Pinterest rate-limit category.

Pinterest counts requests per category (the `x-ratelimit-category` response header:
`ads_read`, `ads_analytics`, `org_read`, `org_analytics`, `catalogs_read`) and caps every
user and app at a universal rate per second on top. Staying under those quotas on the
client side costs a short wait. Exceeding them costs a 429, and after a daily limit the
quota resets only hours later.

Each category, and the universal cap, is a pyrate-limiter 3.9 `Limiter` over an
in-memory sliding-window bucket. `Limiter.try_acquire` sleeps until a slot is free when
`max_delay` is set, and it holds the limiter's own lock while it sleeps, so threads that
wait on one category queue behind each other but never block threads of another category.

pyrate-limiter's default bucket factory starts a background "leak" thread per limiter that
runs until the bucket is disposed, and disposing right after creation makes that thread
fail an assertion (pyrate-limiter 3.9.0). `_SelfTrimmingFactory` avoids the thread: it
drops expired entries from the bucket on each acquisition, under the limiter's lock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from pyrate_limiter import (
    AbstractBucket,
    BucketFactory,
    Duration,
    InMemoryBucket,
    Limiter,
    MonotonicClock,
    Rate,
    RateItem,
)

from pipelines.pinterest.errors import ConfigError

logger = logging.getLogger(__name__)

UNIVERSAL = "per_second"

# Requests per minute per category, and requests per second for UNIVERSAL, of Pinterest's
# Standard access tier (ads_read, ads_analytics and the universal cap are published).
# NOTE: Pinterest publishes no figures for org_read, org_analytics and catalogs_read in
# the sources this project has; the values below are guesses kept low on purpose.
DEFAULT_RATE_LIMITS: Mapping[str, float] = {
    "ads_read": 1000,
    "ads_analytics": 300,
    "org_read": 300,
    "org_analytics": 100,
    "catalogs_read": 300,
    UNIVERSAL: 100,
}

CATEGORIES = tuple(name for name in DEFAULT_RATE_LIMITS if name != UNIVERSAL)

# Extra length of the client's windows. The client counts a request when it sends it and
# the API when it handles it, so a request delayed more than the next one in flight could
# otherwise land inside the API's window and draw a 429. With 1 s on the minute windows
# alone, 19 of 1,338 requests of a medium-scale benchmark sync drew a 429 while the
# simulator was short of CPU.
MINUTE_WINDOW_MARGIN_MS = 2000
SECOND_WINDOW_MARGIN_MS = 100

# Minimum wait in seconds that is logged at INFO level. Shorter waits are routine pacing.
NOTABLE_WAIT_SECONDS = 1.0


# Roots whose read endpoints all count as ads_read in the OpenAPI description 5.23.0.
ADS_READ_ROOTS = ("businesses", "integrations", "resources", "terms")


def category_for(path: str) -> str | None:
    """Return the rate-limit category of an API path such as "/ad_accounts/1/campaigns".

    The rules reproduce the `x-ratelimit-category` of every read operation in Pinterest's
    OpenAPI description 5.23.0. The OAuth token endpoint has no category (None), and
    paths outside the five read categories (such as trends) count as `org_read`.
    """
    segments = [segment for segment in path.split("?", 1)[0].split("/") if segment]
    if segments and segments[0] == "v5":
        segments = segments[1:]
    if not segments:
        return "org_read"
    root, last = segments[0], segments[-1]

    if root == "oauth":
        return None

    if root == "ad_accounts":
        if last.endswith("analytics") or last == "reports":
            return "ads_analytics"
        return "ads_read"

    if root in ("user_account", "pins") and "analytics" in segments:
        return "org_analytics"

    if root == "catalogs":
        return "catalogs_read"

    if root == "resources" and last == "metrics_ready_state":
        return "ads_analytics"

    # Pinterest counts the follower list against the ads quota, unlike the rest of /user_account.
    if root in ADS_READ_ROOTS or segments[:2] == ["user_account", "followers"]:
        return "ads_read"

    return "org_read"


class _SelfTrimmingFactory(BucketFactory):
    """A single bucket whose expired entries are dropped on each acquisition."""

    def __init__(self, bucket: InMemoryBucket) -> None:
        self.bucket = bucket
        self.clock = MonotonicClock()

    def wrap_item(self, name: str, weight: int = 1) -> RateItem:
        # Limiter.try_acquire calls this while holding its lock, so trimming is safe here.
        now = self.clock.now()
        self.bucket.leak(now)
        return RateItem(name, now, weight=weight)

    def get(self, item: RateItem) -> AbstractBucket:
        return self.bucket


class RateLimits:
    """Blocking rate limiters shared by every thread that uses one client.

    `limits` overrides entries of DEFAULT_RATE_LIMITS: requests per minute for a category,
    requests per second for "per_second". Pass the same instance to several clients to
    make them share one quota.
    """

    def __init__(self, limits: Mapping[str, float] | None = None) -> None:
        merged: dict[str, float] = dict(DEFAULT_RATE_LIMITS)
        for name, value in (limits or {}).items():
            if name not in DEFAULT_RATE_LIMITS:
                raise ConfigError(
                    f"Unknown rate-limit category {name!r}. "
                    f"Use one of: {', '.join(DEFAULT_RATE_LIMITS)}."
                )
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(
                    f"Rate limit {name}={value!r} is invalid: give a positive number of "
                    f"requests per {'second' if name == UNIVERSAL else 'minute'}."
                )
            merged[name] = value
        self.limits = merged

        self._limiters: dict[str, Limiter] = {
            name: self._build_limiter(self._rate(name, value)) for name, value in merged.items()
        }

    @classmethod
    def from_config(cls, limits: Mapping[str, float] | None) -> RateLimits:
        """Build from the `sources.pinterest.rate_limits` table (same keys and units)."""
        return cls(limits)

    def __repr__(self) -> str:
        return f"RateLimits({self.limits!r})"

    @staticmethod
    def _rate(name: str, requests: float) -> Rate:
        if name == UNIVERSAL:
            window_ms = int(Duration.SECOND) + SECOND_WINDOW_MARGIN_MS
        else:
            window_ms = int(Duration.MINUTE) + MINUTE_WINDOW_MARGIN_MS
        if float(requests).is_integer():
            return Rate(int(requests), window_ms)
        # A fractional quota such as 0.5 per second becomes one request per 2 seconds.
        return Rate(1, max(1, round(window_ms / requests)))

    @staticmethod
    def _build_limiter(rate: Rate) -> Limiter:
        # With retry_until_max_delay the limiter keeps sleeping until a slot frees up,
        # and max_delay (two windows) bounds the total wait of one request.
        return Limiter(
            _SelfTrimmingFactory(InMemoryBucket([rate])),
            raise_when_fail=True,
            max_delay=2 * int(rate.interval),
            retry_until_max_delay=True,
        )

    def acquire(self, path: str) -> float:
        """Block until a request to `path` fits its category and the universal cap.

        Returns the seconds spent waiting.
        """
        category = category_for(path)
        if category is None:
            return 0.0

        waited = 0.0
        for name in (category, UNIVERSAL):
            started = time.monotonic()
            self._limiters[name].try_acquire(name)
            waited_here = time.monotonic() - started
            waited += waited_here

            if waited_here >= NOTABLE_WAIT_SECONDS:
                unit = "second" if name == UNIVERSAL else "minute"
                logger.info(
                    "Waited %.1f s for the %s rate limit (%g requests per %s) before %s",
                    waited_here,
                    name,
                    self.limits[name],
                    unit,
                    path,
                )
        return waited
