"""Settings of one simulator instance, fixed when the Simulator is built."""

from __future__ import annotations

import dataclasses
import datetime as dt

SCALES = ("small", "medium", "large")

RATE_LIMIT_KEYS = ("ads_read", "ads_analytics", "org_read", "org_analytics", "catalogs_read", "per_second")

# Pinterest's published Standard-access limits: per minute, except `per_second`.
# The other categories' figures are not published, so they stay unlimited.
PINTEREST_RATE_LIMITS: dict[str, float] = {"ads_read": 1000, "ads_analytics": 300, "per_second": 100}

READ_SCOPES = (
    "ads:read",
    "boards:read",
    "boards:read_secret",
    "pins:read",
    "pins:read_secret",
    "user_accounts:read",
    "catalogs:read",
)

THIRTY_DAYS = 30 * 86_400
SIXTY_DAYS = 60 * 86_400


@dataclasses.dataclass
class SimulatorConfig:
    """What the simulator serves and how strictly.

    `rate_limits` maps a Pinterest rate-limit category (`ads_read`, `ads_analytics`,
    `org_read`, `org_analytics`, `catalogs_read`) to requests per window of
    `rate_limit_window_seconds` (a minute, as Pinterest counts), and `per_second` to
    requests per second across all categories. None, or a category left out, means
    no limit. `today` is the UTC date the simulated data and analytics revolve around
    (default: the real UTC date when the simulator is built). `error_rate` is the
    starting value of `Faults.error_rate`.
    """

    seed: int = 7
    scale: str = "small"
    latency_ms: float = 0.0
    rate_limits: dict[str, float] | None = None
    access_token_ttl_seconds: int = THIRTY_DAYS
    refresh_token_ttl_seconds: int = SIXTY_DAYS
    today: dt.date | None = None
    has_catalog: bool = True
    error_rate: float = 0.0
    rate_limit_window_seconds: float = 60.0
    scopes: tuple[str, ...] = READ_SCOPES

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise ValueError(f"scale {self.scale!r} is invalid: use one of {', '.join(SCALES)}.")
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms {self.latency_ms} is invalid: use 0 or more milliseconds.")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError(f"error_rate {self.error_rate} is invalid: use a number from 0 to 1.")
        if self.rate_limit_window_seconds <= 0:
            raise ValueError(f"rate_limit_window_seconds {self.rate_limit_window_seconds} is invalid: use a positive number.")
        validate_rate_limits(self.rate_limits)


def validate_rate_limits(rate_limits: dict[str, float] | None) -> None:
    """Raise ValueError naming the entry when a limit has an unknown category or is not positive."""
    if rate_limits is None:
        return
    for name, limit in rate_limits.items():
        if name not in RATE_LIMIT_KEYS:
            raise ValueError(f"rate limit category {name!r} is unknown: use one of {', '.join(RATE_LIMIT_KEYS)}.")
        if limit <= 0:
            raise ValueError(f"rate limit {name}={limit} is invalid: use a positive number of requests.")
