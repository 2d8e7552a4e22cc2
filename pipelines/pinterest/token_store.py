"""Local store of rotated Pinterest refresh tokens.

Pinterest returns a new refresh token on every refresh, and only the newest one is safe
to use. The configured token usually stays in `secrets.toml` or the environment for good,
so the store records, per client id, the newest token together with the SHA-256
fingerprint of the configured token it descends from:

- a stored token whose fingerprint matches the configured token takes precedence over it;
- a configured token with a different fingerprint is a new authorization and replaces
  the stored one.

The file is JSON, created with mode 0600 in a folder created with mode 0700, and every
write replaces it atomically, so a crash leaves either the old or the new token on disk.
`TokenStore.lock()` returns a `filelock.FileLock` on `<path>.lock` that serialises
refreshes of all processes on one machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import filelock

from pipelines.pinterest.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_TOKEN_STORE_PATH = Path("~/.local/state/pinterest-sync/tokens.json")

STORE_FORMAT_VERSION = 1


def fingerprint(refresh_token: str) -> str:
    """Return the hex SHA-256 digest that identifies a configured refresh token on disk."""
    return hashlib.sha256(refresh_token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredToken:
    """The newest refresh token of one client id.

    `expires_at` is in Unix seconds (None when Pinterest sent no expiry), `rotated_from` is
    the fingerprint of the configured refresh token this one descends from.
    """

    refresh_token: str = field(repr=False)
    expires_at: float | None
    rotated_from: str


def choose_refresh_token(
    stored: StoredToken | None,
    client_id: str,
    configured_refresh_token: str,
    store_name: str,
    store_logger: logging.Logger,
) -> StoredToken:
    """Pick the refresh token to use now from a store's entry and the configured token.

    That is `stored` when it was rotated from `configured_refresh_token`, otherwise the
    configured token itself (a new authorization, or a first run). Every token store's
    `resolve()` applies this rule. A replaced stored token is logged on `store_logger`
    naming `store_name`.
    """
    configured_fingerprint = fingerprint(configured_refresh_token)
    if stored is not None and stored.rotated_from == configured_fingerprint:
        return stored

    if stored is not None:
        store_logger.info(
            "The configured Pinterest refresh token for client id %s differs from the one "
            "the stored token in %s was rotated from: using the configured token",
            client_id,
            store_name,
        )
    return StoredToken(configured_refresh_token, None, configured_fingerprint)


class TokenStore:
    """JSON file of the newest refresh token per client id (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path if path is not None else DEFAULT_TOKEN_STORE_PATH).expanduser()
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    def __repr__(self) -> str:
        return f"TokenStore({str(self.path)!r})"

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the cross-process refresh lock: re-read, refresh and save inside it."""
        self._ensure_folder()
        with filelock.FileLock(self.lock_path, mode=0o600):
            yield

    def load(self, client_id: str) -> StoredToken | None:
        """Return the stored token of `client_id`, or None when there is none."""
        entry = self._read_all().get(client_id)
        if entry is None:
            return None

        try:
            return StoredToken(
                refresh_token=str(entry["refresh_token"]),
                expires_at=float(entry["expires_at"]) if entry.get("expires_at") is not None else None,
                rotated_from=str(entry["rotated_from"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"Token store {self.path} has an invalid entry for client id {client_id} "
                f"(missing or malformed {exc}). Delete the file and run `pinterest-sync auth`."
            ) from None

    def resolve(self, client_id: str, configured_refresh_token: str) -> StoredToken:
        """Return the refresh token to use now for `client_id`.

        That is the stored token when it was rotated from `configured_refresh_token`,
        otherwise the configured token itself (a new authorization, or a first run).
        """
        return choose_refresh_token(self.load(client_id), client_id, configured_refresh_token, str(self.path), logger)

    def save(self, client_id: str, token: StoredToken) -> None:
        """Write `token` as the newest token of `client_id`, keeping other client ids.

        Call it inside `lock()`: the read-modify-write of the file is not atomic otherwise.
        """
        data = self._read_all()
        data[client_id] = {
            "refresh_token": token.refresh_token,
            "expires_at": token.expires_at,
            "rotated_from": token.rotated_from,
        }
        self._write_all(data)

    def _ensure_folder(self) -> None:
        folder = self.path.parent
        if folder.is_dir():
            return

        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkdir's mode is reduced by the umask, which must not widen to group or others.
        os.chmod(folder, 0o700)

    def _read_all(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ConfigError(
                f"Cannot read token store {self.path}: {exc.strerror}. Fix its permissions "
                "or set sources.pinterest.token_store_path to a readable file."
            ) from None

        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            document = None
        if not isinstance(document, dict) or not isinstance(document.get("clients"), dict):
            raise ConfigError(
                f"Token store {self.path} is not a valid token store file. Delete it and run "
                "`pinterest-sync auth` to store a new refresh token."
            )
        return dict(document["clients"])

    def _write_all(self, clients: dict[str, Any]) -> None:
        self._ensure_folder()
        payload = json.dumps({"version": STORE_FORMAT_VERSION, "clients": clients}, indent=2)

        # The temporary file lives in the same folder so that os.replace stays a rename
        # on one file system, and is opened with 0600 so the token is never readable by
        # others, not even for a moment.
        temporary_path = self.path.with_name(f".{self.path.name}.{secrets.token_hex(8)}.tmp")
        descriptor = os.open(temporary_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
                stream.write(payload)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary_path, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary_path)
            raise

        self._fsync_folder()

    def _fsync_folder(self) -> None:
        """Persist the rename itself, so a power loss cannot bring the old token back."""
        descriptor = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
