"""TokenStore: precedence of rotated tokens, file permissions, atomic writes, locking."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipelines.pinterest.errors import ConfigError
from pipelines.pinterest.token_store import StoredToken, TokenStore, fingerprint

CONFIGURED = "configured-refresh-token-1"


def test_resolve_without_store_uses_configured(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "state" / "tokens.json")

    resolved = store.resolve("client-a", CONFIGURED)

    assert resolved.refresh_token == CONFIGURED
    assert resolved.rotated_from == fingerprint(CONFIGURED)
    assert resolved.expires_at is None
    assert not store.path.exists()


def test_resolve_prefers_token_rotated_from_configured(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    with store.lock():
        store.save("client-a", StoredToken("rotated-2", 1_900_000_000.0, fingerprint(CONFIGURED)))

    resolved = store.resolve("client-a", CONFIGURED)

    assert resolved.refresh_token == "rotated-2"
    assert resolved.expires_at == 1_900_000_000.0
    assert resolved.rotated_from == fingerprint(CONFIGURED)


def test_resolve_new_configured_token_replaces_stored(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    with store.lock():
        store.save("client-a", StoredToken("rotated-2", None, fingerprint(CONFIGURED)))

    resolved = store.resolve("client-a", "configured-after-new-authorization")

    assert resolved.refresh_token == "configured-after-new-authorization"
    assert resolved.rotated_from == fingerprint("configured-after-new-authorization")


def test_save_keeps_other_client_ids(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    with store.lock():
        store.save("client-a", StoredToken("token-a", None, fingerprint("a")))
        store.save("client-b", StoredToken("token-b", 5.0, fingerprint("b")))
        store.save("client-a", StoredToken("token-a2", 7.0, fingerprint("a")))

    assert store.load("client-a") == StoredToken("token-a2", 7.0, fingerprint("a"))
    assert store.load("client-b") == StoredToken("token-b", 5.0, fingerprint("b"))
    assert store.load("client-c") is None


def test_store_file_mode_0600_folder_0700(tmp_path: Path) -> None:
    old_umask = os.umask(0)
    try:
        store = TokenStore(tmp_path / "new" / "state" / "tokens.json")
        with store.lock():
            store.save("client-a", StoredToken("token-a", None, fingerprint("a")))
    finally:
        os.umask(old_umask)

    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700


def test_save_replaces_file_atomically(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    with store.lock():
        store.save("client-a", StoredToken("token-1", None, fingerprint("a")))
    first_inode = store.path.stat().st_ino

    with store.lock():
        store.save("client-a", StoredToken("token-2", None, fingerprint("a")))

    assert store.path.stat().st_ino != first_inode
    assert sorted(path.name for path in tmp_path.iterdir()) == ["tokens.json", "tokens.json.lock"]
    document = json.loads(store.path.read_text())
    assert document["clients"]["client-a"]["refresh_token"] == "token-2"


def test_failed_replace_keeps_old_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    with store.lock():
        store.save("client-a", StoredToken("token-1", None, fingerprint("a")))

    def fail_replace(source: object, target: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail_replace)
    with pytest.raises(OSError), store.lock():
        store.save("client-a", StoredToken("token-2", None, fingerprint("a")))
    monkeypatch.undo()

    assert store.load("client-a") == StoredToken("token-1", None, fingerprint("a"))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["tokens.json", "tokens.json.lock"]


def test_corrupt_store_raises_config_error(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("{not json")
    store = TokenStore(path)

    with pytest.raises(ConfigError) as raised:
        store.resolve("client-a", CONFIGURED)

    assert str(path) in str(raised.value)
    assert "pinterest-sync auth" in str(raised.value)


def test_repr_hides_refresh_token(tmp_path: Path) -> None:
    token = StoredToken("very-secret-refresh-token", None, fingerprint("a"))

    assert "very-secret-refresh-token" not in repr(token)
    assert "very-secret-refresh-token" not in repr(TokenStore(tmp_path / "tokens.json"))


def test_lock_excludes_other_process(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    probe = textwrap.dedent(
        f"""
        import filelock, sys
        try:
            with filelock.FileLock({str(store.lock_path)!r}, timeout=0.2):
                sys.exit(0)
        except filelock.Timeout:
            sys.exit(3)
        """
    )

    with store.lock():
        while_held = subprocess.run([sys.executable, "-c", probe], timeout=30)
    after_release = subprocess.run([sys.executable, "-c", probe], timeout=30)

    assert while_held.returncode == 3
    assert after_release.returncode == 0
