"""Ads and organic analytics tables: daily metrics per entity, typed Arrow batches, merged on full keys."""

from .resources import analytics_resources
from .unavailable import unavailable_days
from .validation import validate_analytics_settings

__all__ = ["analytics_resources", "unavailable_days", "validate_analytics_settings"]
