"""PinterestAuth and the OAuth helpers against the simulator's token endpoint."""

from __future__ import annotations

import logging
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipelines.pinterest.auth import (
    READ_ONLY_SCOPES,
    Credentials,
    build_consent_url,
    exchange_authorization_code,
)
from pipelines.pinterest.client import PinterestClient
from pipelines.pinterest.errors import ApiError, AuthError
from pipelines.pinterest.simulator import Simulator, SimulatorConfig
from pipelines.pinterest.token_store import TokenStore, fingerprint

TOKEN_ENDPOINT = "POST /v5/oauth/token"
USER_ACCOUNT = "GET /v5/user_account"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorConfig(seed=7, scale="small")) as simulator:
        yield simulator


def make_client(
    sim: Simulator,
    store_path: Path,
    refresh_token: str | None = None,
    continuous_refresh: bool = False,
    **options: Any,
) -> PinterestClient:
    credentials = Credentials(
        sim.client_id,
        sim.client_secret,
        refresh_token if refresh_token is not None else sim.refresh_token,
        continuous_refresh=continuous_refresh,
    )
    options.setdefault("initial_backoff_seconds", 0.01)
    return PinterestClient(sim.base_url, credentials, TokenStore(store_path), **options)


def test_rotated_token_used_by_next_run(sim: Simulator, tmp_path: Path) -> None:
    store_path = tmp_path / "state" / "tokens.json"
    configured = sim.refresh_token

    with make_client(sim, store_path, configured) as first_run:
        first_run.get("/user_account")
    rotated = sim.refresh_token

    with make_client(sim, store_path, configured) as second_run:
        second_run.get("/user_account")

    assert rotated != configured
    assert sim.request_counts[TOKEN_ENDPOINT] == 2
    assert sim.request_counts[USER_ACCOUNT] == 2
    assert [status for method, template, query, status in sim.requests_log if method == "POST"] == [200, 200]
    stored = TokenStore(store_path).load(sim.client_id)
    assert stored is not None
    assert stored.refresh_token == sim.refresh_token
    assert stored.rotated_from == fingerprint(configured)


def test_original_token_rejected_after_rotation(sim: Simulator, tmp_path: Path) -> None:
    configured = sim.refresh_token
    with make_client(sim, tmp_path / "a" / "tokens.json", configured) as first_run:
        first_run.get("/user_account")

    with make_client(sim, tmp_path / "b" / "tokens.json", configured) as run_without_store:
        with pytest.raises(AuthError):
            run_without_store.get("/user_account")


def test_continuous_refresh_sent_when_configured(sim: Simulator, tmp_path: Path) -> None:
    store_path = tmp_path / "tokens.json"
    with make_client(sim, store_path, continuous_refresh=True) as client:
        client.get("/user_account")
    with make_client(sim, tmp_path / "other.json", sim.refresh_token) as client:
        client.get("/user_account")

    assert sim.token_requests == [
        {"grant_type": "refresh_token", "continuous_refresh": "true"},
        {"grant_type": "refresh_token"},
    ]


def test_dead_refresh_token_fails_fast(sim: Simulator, tmp_path: Path) -> None:
    sim.faults.reject_refresh = True

    started = time.monotonic()
    with make_client(sim, tmp_path / "tokens.json") as client, pytest.raises(AuthError) as raised:
        client.get("/user_account")
    elapsed = time.monotonic() - started

    assert elapsed < 2.0
    assert sim.request_counts[TOKEN_ENDPOINT] == 1
    assert sim.request_counts[USER_ACCOUNT] == 0
    message = str(raised.value)
    assert "rejected the configured refresh token" in message
    assert sim.client_id in message
    assert "HTTP 401" in message
    assert "pinterest-sync auth" in message


def test_dead_stored_token_named_in_error(sim: Simulator, tmp_path: Path) -> None:
    store_path = tmp_path / "tokens.json"
    configured = sim.refresh_token
    with make_client(sim, store_path, configured) as first_run:
        first_run.get("/user_account")
    sim.faults.reject_refresh = True

    with make_client(sim, store_path, configured) as second_run, pytest.raises(AuthError) as raised:
        second_run.get("/user_account")

    assert f"the refresh token stored in {store_path}" in str(raised.value)


def test_refresh_token_expiry_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = SimulatorConfig(seed=7, scale="small", refresh_token_ttl_seconds=3 * 86400)
    with Simulator(config) as sim, caplog.at_level(logging.WARNING):
        with make_client(sim, tmp_path / "tokens.json") as client:
            client.get("/user_account")

    warnings = [record for record in caplog.records if "expires on" in record.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "in 3.0 days" in warnings[0].getMessage()
    assert "pinterest-sync auth" in warnings[0].getMessage()


def test_refresh_token_far_from_expiry_no_warning(sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING), make_client(sim, tmp_path / "tokens.json") as client:
        client.get("/user_account")

    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING] == []


def test_access_token_reused_until_expiry(tmp_path: Path) -> None:
    config = SimulatorConfig(seed=7, scale="small", access_token_ttl_seconds=2)
    with Simulator(config) as sim, make_client(sim, tmp_path / "tokens.json") as client:
        for _ in range(3):
            client.get("/user_account")
        time.sleep(2.0)
        client.get("/user_account")

        statuses = [status for method, template, query, status in sim.requests_log]

    assert sim.request_counts[TOKEN_ENDPOINT] == 2
    assert sim.request_counts[USER_ACCOUNT] == 4
    assert 401 not in statuses


def test_revoked_access_token_refreshed_once(sim: Simulator, tmp_path: Path) -> None:
    with make_client(sim, tmp_path / "tokens.json") as client:
        client.get("/user_account")
        sim.revoke_access_tokens()
        account = client.get("/user_account")
        client.get("/user_account")

    assert account["id"] == sim.data.user_account["id"]
    assert sim.request_counts[TOKEN_ENDPOINT] == 2
    assert sim.request_counts[USER_ACCOUNT] == 4
    user_account_statuses = [status for method, template, query, status in sim.requests_log if template == "/v5/user_account"]
    assert user_account_statuses == [200, 401, 200, 200]


def test_repeated_401_not_refreshed_again(sim: Simulator, tmp_path: Path) -> None:
    unauthorized = (USER_ACCOUNT, 401, {"code": 3, "message": "Missing scopes."}, {})

    with make_client(sim, tmp_path / "tokens.json") as client:
        client.get("/user_account")
        sim.faults.fail_next.extend([unauthorized, unauthorized])
        with pytest.raises(ApiError) as raised:
            client.get("/user_account")

    assert raised.value.status == 401
    assert raised.value.code == 3
    assert sim.request_counts[TOKEN_ENDPOINT] == 2
    assert sim.request_counts[USER_ACCOUNT] == 3


def test_threads_share_one_refresh(tmp_path: Path) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    # The latency keeps the first refresh in flight while the other threads ask for a token.
    config = SimulatorConfig(seed=7, scale="small", latency_ms=200.0)
    with Simulator(config) as sim, make_client(sim, tmp_path / "tokens.json") as client:

        def fetch() -> None:
            barrier.wait()
            try:
                client.get("/user_account")
            except BaseException as error:  # noqa: BLE001 (reported by the assert below)
                errors.append(error)

        threads = [threading.Thread(target=fetch) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)

    assert errors == []
    assert sim.request_counts[TOKEN_ENDPOINT] == 1
    assert sim.request_counts[USER_ACCOUNT] == 6


def test_clients_sharing_store_chain_rotations(tmp_path: Path) -> None:
    config = SimulatorConfig(seed=7, scale="small", latency_ms=100.0)
    sim = Simulator(config).start()
    store_path = tmp_path / "tokens.json"
    configured = sim.refresh_token
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def run_once() -> None:
        barrier.wait()
        try:
            with make_client(sim, store_path, configured) as client:
                client.get("/user_account")
        except BaseException as error:  # noqa: BLE001 (reported by the assert below)
            errors.append(error)

    threads = [threading.Thread(target=run_once) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    sim.stop()

    assert errors == []
    assert sim.request_counts[TOKEN_ENDPOINT] == 3
    assert [status for method, template, query, status in sim.requests_log if method == "POST"] == [200, 200, 200]
    stored = TokenStore(store_path).load(sim.client_id)
    assert stored is not None
    assert stored.refresh_token == sim.refresh_token


def test_no_secret_in_logs_or_errors(sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    secrets_seen = [sim.client_secret, sim.refresh_token]
    sim.faults.fail_next.append((USER_ACCOUNT, 500, {"code": 0, "message": "Internal server error."}, {}))

    with caplog.at_level(logging.DEBUG), make_client(sim, tmp_path / "tokens.json") as client:
        client.get("/user_account")
        secrets_seen += [sim.refresh_token, client.auth._access_token or "unset"]
        sim.revoke_access_tokens()
        client.get("/user_account")
        secrets_seen += [sim.refresh_token, client.auth._access_token or "unset"]
        sim.faults.reject_refresh = True
        sim.revoke_access_tokens()
        with pytest.raises(AuthError) as raised:
            client.get("/user_account")
        representations = [repr(client), repr(client.auth), repr(client.auth.credentials), repr(client.auth.store)]

    assert sim.request_counts[TOKEN_ENDPOINT] == 3
    for secret in secrets_seen:
        assert secret not in caplog.text
        assert secret not in str(raised.value)
        for representation in representations:
            assert secret not in representation


def test_exchange_authorization_code(sim: Simulator) -> None:
    redirect_uri = "http://localhost:8085/"
    consent_url = build_consent_url(sim.client_id, redirect_uri, READ_ONLY_SCOPES, "state-1", oauth_url=sim.authorize_url)

    consent = httpx.get(consent_url, follow_redirects=False)
    redirect_query = urllib.parse.parse_qs(urllib.parse.urlsplit(consent.headers["location"]).query)
    tokens = exchange_authorization_code(
        sim.base_url, sim.client_id, sim.client_secret, redirect_query["code"][0], redirect_uri
    )

    assert consent.status_code == 302
    assert redirect_query["state"] == ["state-1"]
    assert tokens["refresh_token"] == sim.refresh_token
    assert tokens["scope"] == "ads:read,boards:read,pins:read,user_accounts:read,catalogs:read"
    assert sim.token_requests == [{"grant_type": "authorization_code", "redirect_uri": redirect_uri}]


def test_used_authorization_code_rejected(sim: Simulator) -> None:
    redirect_uri = "http://localhost:8085/"
    consent_url = build_consent_url(sim.client_id, redirect_uri, READ_ONLY_SCOPES, "state-1", oauth_url=sim.authorize_url)
    location = httpx.get(consent_url, follow_redirects=False).headers["location"]
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)["code"][0]
    exchange_authorization_code(sim.base_url, sim.client_id, sim.client_secret, code, redirect_uri)

    with pytest.raises(AuthError) as raised:
        exchange_authorization_code(sim.base_url, sim.client_id, sim.client_secret, code, redirect_uri)

    assert "rejected the authorization code" in str(raised.value)
    assert code not in str(raised.value)
    assert "pinterest-sync auth" in str(raised.value)


def test_build_consent_url_parameters() -> None:
    url = build_consent_url("1234", "http://localhost:8085/", READ_ONLY_SCOPES, "xyz")

    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://www.pinterest.com/oauth/"
    assert query == {
        "client_id": ["1234"],
        "redirect_uri": ["http://localhost:8085/"],
        "response_type": ["code"],
        "scope": ["ads:read,boards:read,pins:read,user_accounts:read,catalogs:read"],
        "state": ["xyz"],
    }
