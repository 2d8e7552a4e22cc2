"""Store of rotated Pinterest refresh tokens in a PostgreSQL table, for workers on many machines.

`SqlTokenStore` has the interface of the file `TokenStore` (`lock()`, `load()`,
`resolve()`, `save()`) and the same precedence rules: per client id it keeps the newest
refresh token and the SHA-256 fingerprint of the configured token it was rotated from.

Pinterest accepts only the newest refresh token, so two workers must never refresh with
the same one. Rotation stays safe because every refresh happens inside `lock()`:

1. `lock()` opens a transaction and runs `SELECT ... FOR UPDATE` on the store's lock row.
   A second worker's `lock()` blocks on that row until the first transaction ends.
2. Inside the lock, `PinterestAuth` reads the stored token again, sends the refresh, and
   `save()` writes the new token in the same transaction.
3. Leaving `lock()` commits. The commit makes the new token visible and releases the row
   lock in one step, so the waiting worker reads the new token, never the consumed one.

If a worker dies while it holds the lock, PostgreSQL rolls its transaction back and ends
the lock when the connection closes. A worker that dies after Pinterest responded but
before the commit loses the new token, and the next refresh fails with `AuthError`
until someone runs `pinterest-sync auth`. The file store has the same window between the
response and its atomic rename.

Tokens are stored in plain text: grant the table to the workers' role only.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipelines.pinterest.errors import ConfigError, PinterestSyncError
from pipelines.pinterest.token_store import StoredToken, TokenStore, choose_refresh_token

logger = logging.getLogger(__name__)

DEFAULT_TABLE = "pinterest_sync_refresh_tokens"
LOCK_ROW = "refresh"
DEFAULT_LOCK_TIMEOUT_SECONDS = 300.0
URL_SCHEMES = ("postgresql://", "postgres://")

# An optional schema and a table name, each a plain lowercase SQL identifier, so the
# names can be put into statements without quoting.
TABLE_NAME = re.compile(r"^(?:[a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}$")


class TokenStoreUnavailable(OSError):
    """Failure to reach the token database, or a write that the database rejected.

    It is an `OSError` so that `PinterestAuth` reports a failed save of a freshly rotated
    token the same way as an unwritable token file.
    """

    def __str__(self) -> str:
        return str(self.strerror)


class SqlTokenStore:
    """PostgreSQL table of the newest refresh token per client id (see the module docstring).

    `dsn` is a libpq URI or key-value string and may contain a password: it is never
    logged and never part of `repr()` or of an error message. `lock_timeout_seconds`
    bounds the wait for another worker's refresh.
    """

    def __init__(
        self,
        dsn: str,
        table: str = DEFAULT_TABLE,
        lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
    ) -> None:
        if not TABLE_NAME.match(table):
            raise ConfigError(
                f"Token store table name {table!r} is invalid: use a lowercase name such as "
                f"{DEFAULT_TABLE} or myschema.{DEFAULT_TABLE} (letters, digits and underscores)."
            )
        if lock_timeout_seconds <= 0:
            raise ConfigError(f"Token store lock timeout {lock_timeout_seconds!r} is invalid: use a positive number of seconds.")

        self._dsn = dsn
        self.table = table
        self.lock_table = f"{table}_lock"
        self.lock_timeout_seconds = lock_timeout_seconds
        # `PinterestAuth` names the store by its `path` attribute in error messages.
        self.path = f"table {table} in {_describe_dsn(dsn)}"

        self._local = threading.local()
        self._tables_ready = False
        self._tables_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SqlTokenStore({self.path!r})"

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the refresh lock across processes and machines; commit `save()` on exit.

        Nested use in one thread reuses the held lock. Raises `PinterestSyncError` when
        another worker holds the lock for longer than `lock_timeout_seconds`.
        """
        if getattr(self._local, "connection", None) is not None:
            yield
            return

        self._ensure_tables()
        connection = self._connect(autocommit=False)
        try:
            self._acquire(connection)
            self._local.connection = connection
            yield
            connection.commit()
        except BaseException:
            _rollback_quietly(connection)
            raise
        finally:
            self._local.connection = None
            connection.close()

    def load(self, client_id: str) -> StoredToken | None:
        """Return the stored token of `client_id`, or None when there is none."""
        self._ensure_tables()
        with self._cursor() as cursor:
            cursor.execute(
                f"SELECT refresh_token, expires_at, rotated_from FROM {self.table} WHERE client_id = %s",
                (client_id,),
            )
            row = cursor.fetchone()
        if row is None:
            return None

        refresh_token, expires_at, rotated_from = row
        return StoredToken(
            refresh_token=str(refresh_token),
            expires_at=float(expires_at) if expires_at is not None else None,
            rotated_from=str(rotated_from),
        )

    def resolve(self, client_id: str, configured_refresh_token: str) -> StoredToken:
        """Return the refresh token to use now for `client_id`.

        That is the stored token when it was rotated from `configured_refresh_token`,
        otherwise the configured token itself (a new authorization, or a first run).
        """
        return choose_refresh_token(self.load(client_id), client_id, configured_refresh_token, self.path, logger)

    def save(self, client_id: str, token: StoredToken) -> None:
        """Write `token` as the newest token of `client_id`.

        Inside `lock()` the write commits when the lock is released; outside it, at once.
        Raises `TokenStoreUnavailable` when the database rejects the write.
        """
        import psycopg2

        self._ensure_tables()
        try:
            with self._cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {self.table} (client_id, refresh_token, expires_at, rotated_from, updated_at) "
                    "VALUES (%s, %s, %s, %s, now()) "
                    "ON CONFLICT (client_id) DO UPDATE SET refresh_token = EXCLUDED.refresh_token, "
                    "expires_at = EXCLUDED.expires_at, rotated_from = EXCLUDED.rotated_from, updated_at = now()",
                    (client_id, token.refresh_token, token.expires_at, token.rotated_from),
                )
        except psycopg2.Error as error:
            raise TokenStoreUnavailable(0, _first_line(error)) from None

    def _acquire(self, connection: Any) -> None:
        import psycopg2

        timeout_ms = int(self.lock_timeout_seconds * 1000)
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = {timeout_ms}")
                cursor.execute(f"SELECT name FROM {self.lock_table} WHERE name = %s FOR UPDATE", (LOCK_ROW,))
                if cursor.fetchone() is None:
                    raise PinterestSyncError(
                        f"The lock row {LOCK_ROW!r} is missing from {self.lock_table}: restore it with "
                        f"INSERT INTO {self.lock_table} (name) VALUES ('{LOCK_ROW}')."
                    )
        except psycopg2.errors.LockNotAvailable:
            raise PinterestSyncError(
                f"Timed out after {self.lock_timeout_seconds:g} s waiting for the refresh-token lock in "
                f"{self.path}: another worker is refreshing. Retry the run once that worker has finished."
            ) from None

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[Any]:
        """Yield a cursor on the held lock's transaction, or on a short autocommit connection."""
        locked_connection = getattr(self._local, "connection", None)
        if locked_connection is not None:
            with locked_connection.cursor() as cursor:
                yield cursor
            return

        connection = self._connect(autocommit=True)
        try:
            with connection.cursor() as cursor:
                yield cursor
        finally:
            connection.close()

    def _ensure_tables(self) -> None:
        """Create both tables and the lock row once per store, safe against other workers doing the same."""
        with self._tables_lock:
            if self._tables_ready:
                return

            connection = self._connect(autocommit=False)
            try:
                with connection.cursor() as cursor:
                    # Concurrent CREATE TABLE IF NOT EXISTS can still collide in the
                    # catalog, so creators queue on an advisory lock named after the table.
                    cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.table,))
                    cursor.execute(
                        f"CREATE TABLE IF NOT EXISTS {self.table} ("
                        "client_id text PRIMARY KEY, refresh_token text NOT NULL, expires_at double precision, "
                        "rotated_from text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())"
                    )
                    cursor.execute(f"CREATE TABLE IF NOT EXISTS {self.lock_table} (name text PRIMARY KEY)")
                    cursor.execute(
                        f"INSERT INTO {self.lock_table} (name) VALUES (%s) ON CONFLICT (name) DO NOTHING",
                        (LOCK_ROW,),
                    )
                connection.commit()
            except BaseException:
                _rollback_quietly(connection)
                raise
            finally:
                connection.close()
            self._tables_ready = True

    def _connect(self, autocommit: bool) -> Any:
        try:
            import psycopg2
        except ImportError:
            raise ConfigError(
                "The PostgreSQL token store needs psycopg2: install it with `uv add psycopg2-binary` "
                "(or the `dlt[postgres]` extra)."
            ) from None

        try:
            connection = psycopg2.connect(self._dsn)
        except psycopg2.Error as error:
            raise TokenStoreUnavailable(
                0, f"cannot connect to the token store database ({_describe_dsn(self._dsn)}): {_first_line(error)}"
            ) from None
        connection.autocommit = autocommit
        return connection


def open_token_store(url: str | None, path: str | Path | None = None) -> TokenStore | SqlTokenStore:
    """Return the token store a configuration selects.

    A `postgresql://` URL selects `SqlTokenStore`, which workers on several machines can
    share. Otherwise the JSON file at `path` is used, which is safe on one machine and on a
    shared folder whose file system supports POSIX locks for all its clients.
    """
    if url:
        if not url.startswith(URL_SCHEMES):
            raise ConfigError(
                "The token store URL is invalid: use a PostgreSQL URL such as "
                "postgresql://user:password@host:5432/database, or leave it unset to use the token file."
            )
        return SqlTokenStore(url)
    return TokenStore(path)


def _describe_dsn(dsn: str) -> str:
    """Return the database, user and host of a DSN, leaving out the password."""
    try:
        from psycopg2.extensions import parse_dsn

        parts = parse_dsn(dsn)
    except Exception:  # an unparsable DSN or no psycopg2: psycopg2.connect names the problem
        return "the configured PostgreSQL database"
    host = parts.get("host", "localhost")
    port = parts.get("port", "5432")
    return f"database {parts.get('dbname', '?')} as user {parts.get('user', '?')} on {host}:{port}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _rollback_quietly(connection: Any) -> None:
    with contextlib.suppress(Exception):
        connection.rollback()
