"""Code location entry point: `dagster dev -m orchestration.definitions`.

The definitions read `sources.pinterest.*` from dlt's configuration when this module
loads; the destination and credentials are read by each run, in its own process.
"""

from __future__ import annotations

from .build import build_definitions

defs = build_definitions()
