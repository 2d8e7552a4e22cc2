"""Dagster definitions that run the Pinterest sync as partitioned assets across workers.

Resource groups become multi-assets, ad accounts and days become partitions, and each
run (a unit) loads with its own dlt pipeline name and staging dataset, so that units
running in parallel on several machines can write to one warehouse dataset.
"""

from .build import build_definitions
from .groups import RESOURCE_GROUPS, ResourceGroup, Split
from .resource import PinterestSync
from .units import SyncUnit, unit_from_partitions

__all__ = ["RESOURCE_GROUPS", "PinterestSync", "ResourceGroup", "Split", "SyncUnit", "build_definitions", "unit_from_partitions"]
