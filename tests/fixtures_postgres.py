"""pytest plugin: one PostgreSQL server per test session, and a fresh database per test.

Register it in tests/conftest.py with `pytest_plugins = ["tests.fixtures_postgres"]`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.postgres import LocalPostgres, running_postgres


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    """Start PostgreSQL once per session: a start costs about a second, a stop about two."""
    with running_postgres() as server:
        yield server


@pytest.fixture
def postgres_dsn(postgres_server: LocalPostgres) -> str:
    """Return the DSN of a new empty database, so tests never see each other's tables."""
    return postgres_server.create_database()
