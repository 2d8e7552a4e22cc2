"""`pinterest-sync auth` end to end: consent URL, loopback redirect, code exchange, store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from pipelines.pinterest.token_store import TokenStore

REPO = Path(__file__).resolve().parents[1]


def start_auth(simulator, tmp_path: Path, store: Path) -> subprocess.Popen[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SOURCES__")}
    env.update({
        "PYTHONPATH": str(REPO),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "SOURCES__PINTEREST__BASE_URL": simulator.base_url,
        "SOURCES__PINTEREST__CREDENTIALS__CLIENT_ID": simulator.client_id,
        "SOURCES__PINTEREST__CREDENTIALS__CLIENT_SECRET": simulator.client_secret,
        "SOURCES__PINTEREST__TOKEN_STORE_PATH": str(store),
    })
    oauth_url = simulator.base_url.removesuffix("/v5") + "/oauth/"
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.pinterest.cli", "auth", "--port", "0", "--oauth-url", oauth_url, "--timeout", "60"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def read_consent_url(process: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith("http"):
            return line.strip()
    raise AssertionError("auth printed no consent URL")


def test_auth_stores_token_that_refreshes(simulator, tmp_path):
    store_path = tmp_path / "state" / "tokens.json"
    process = start_auth(simulator, tmp_path, store_path)
    consent_url = read_consent_url(process)

    consent = httpx.get(consent_url, follow_redirects=False)
    assert consent.status_code == 302
    # The redirect URI names localhost; the catcher listens on 127.0.0.1.
    callback = consent.headers["location"].replace("//localhost:", "//127.0.0.1:")
    assert httpx.get(callback).status_code == 200
    stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == 0, stderr
    stored = TokenStore(store_path).load(simulator.client_id)
    assert stored is not None
    assert stored.refresh_token == simulator.refresh_token
    assert oct(store_path.stat().st_mode & 0o777) == "0o600"
    assert "Stored the new refresh token" in stdout
    token = httpx.post(
        simulator.base_url + "/oauth/token",
        auth=(simulator.client_id, simulator.client_secret),
        data={"grant_type": "refresh_token", "refresh_token": stored.refresh_token},
    )
    assert token.status_code == 200, token.text
    assert "access_token" in json.loads(token.text)


def test_auth_denied_consent_exits_3(simulator, tmp_path):
    simulator.faults.deny_consent = True
    store_path = tmp_path / "tokens.json"
    process = start_auth(simulator, tmp_path, store_path)
    consent_url = read_consent_url(process)

    consent = httpx.get(consent_url, follow_redirects=False)
    httpx.get(consent.headers["location"].replace("//localhost:", "//127.0.0.1:"))
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 3
    assert "Consent was not given" in stderr
    assert not store_path.exists()
