"""PinterestClient against the simulator over loopback HTTP: retries, errors, paging, logs."""

from __future__ import annotations

import http.server
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.pinterest.client import Credentials, PinterestClient, endpoint_template
from pipelines.pinterest.errors import (
    AccessDenied,
    ApiError,
    PaginationError,
    RateLimitExhausted,
)
from pipelines.pinterest.ratelimit import RateLimits
from pipelines.pinterest.simulator import Simulator, SimulatorConfig
from pipelines.pinterest.token_store import TokenStore

USER_ACCOUNT = "GET /v5/user_account"
CAMPAIGNS = "GET /v5/ad_accounts/{ad_account_id}/campaigns"
AD_ACCOUNT_ANALYTICS = "GET /v5/ad_accounts/{ad_account_id}/analytics"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorConfig(seed=7, scale="small")) as simulator:
        yield simulator


def make_client(sim: Simulator, tmp_path: Path, **options: Any) -> PinterestClient:
    options.setdefault("initial_backoff_seconds", 0.01)
    options.setdefault("max_backoff_seconds", 0.05)
    return PinterestClient(
        sim.base_url,
        Credentials(sim.client_id, sim.client_secret, sim.refresh_token),
        TokenStore(tmp_path / "state" / "tokens.json"),
        **options,
    )


def first_ad_account_id(sim: Simulator) -> str:
    return next(iter(sim.data.ad_accounts))


def add_campaigns(sim: Simulator, ad_account_id: str, count: int) -> None:
    template = next(c for c in sim.data.campaigns.values() if c["ad_account_id"] == ad_account_id)
    for number in range(count):
        campaign_id = str(900_000_000_000_000_000 + number)
        sim.data.campaigns[campaign_id] = {**template, "id": campaign_id, "status": "ACTIVE"}


def test_get_returns_parsed_json(sim: Simulator, tmp_path: Path) -> None:
    with make_client(sim, tmp_path) as client:
        account = client.get("/user_account")

    assert account == sim.data.user_account
    assert client.request_counts == {"POST /oauth/token": 1, "GET /user_account": 1}
    assert client.request_count == 2


def test_500_retried_then_succeeds(sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sim.faults.fail_next.extend(
        [
            (USER_ACCOUNT, 500, {"code": 0, "message": "Internal server error."}, {}),
            (USER_ACCOUNT, 503, "<html>Service Unavailable</html>", {"content-type": "text/html"}),
        ]
    )

    with caplog.at_level(logging.WARNING), make_client(sim, tmp_path) as client:
        account = client.get("/user_account")

    assert account["username"] == sim.data.user_account["username"]
    assert sim.request_counts[USER_ACCOUNT] == 3
    retries = [record.getMessage() for record in caplog.records if "Retrying" in record.getMessage()]
    assert len(retries) == 2
    assert "GET /user_account failed (HTTP 500, code 0)" in retries[0]
    assert "x-pinterest-rid " in retries[0]
    assert "x-pinterest-rid missing" not in retries[0]


def test_429_waits_for_ratelimit_reset(sim: Simulator, tmp_path: Path) -> None:
    with make_client(sim, tmp_path) as client:
        client.get("/user_account")
        started = time.monotonic()
        sim.faults.fail_next.append(
            (USER_ACCOUNT, 429, {"code": 8, "message": "Rate limit exceeded."}, {"X-RateLimit-Reset": "1"})
        )
        client.get("/user_account")
        elapsed = time.monotonic() - started

    assert 1.0 <= elapsed < 2.0
    assert sim.request_counts[USER_ACCOUNT] == 3


def test_retry_after_header_wins(sim: Simulator, tmp_path: Path) -> None:
    with make_client(sim, tmp_path) as client:
        client.get("/user_account")
        sim.faults.fail_next.append(
            (USER_ACCOUNT, 503, {"code": 0, "message": "Busy."}, {"Retry-After": "0.5", "X-RateLimit-Reset": "60"})
        )
        started = time.monotonic()
        client.get("/user_account")
        elapsed = time.monotonic() - started

    assert 0.5 <= elapsed < 1.5


def test_reset_hours_away_raises_at_once(sim: Simulator, tmp_path: Path) -> None:
    with make_client(sim, tmp_path, max_wait_seconds=300.0) as client:
        client.get("/user_account")
        sim.faults.fail_next.append(
            (USER_ACCOUNT, 429, {"code": 8, "message": "Rate limit exceeded."}, {"X-RateLimit-Reset": "67000"})
        )
        started = time.monotonic()
        with pytest.raises(RateLimitExhausted) as raised:
            client.get("/user_account")
        elapsed = time.monotonic() - started

    assert elapsed < 1.0
    assert sim.request_counts[USER_ACCOUNT] == 2
    message = str(raised.value)
    assert "GET /user_account failed (HTTP 429, code 8)" in message
    assert "67000 s" in message
    assert "max_wait_seconds=300" in message
    assert raised.value.request_id


def test_forbidden_ad_account_not_retried(sim: Simulator, tmp_path: Path) -> None:
    ad_account_id = first_ad_account_id(sim)
    sim.faults.forbidden_ad_accounts.add(ad_account_id)

    with make_client(sim, tmp_path) as client, pytest.raises(AccessDenied) as raised:
        client.get(f"/ad_accounts/{ad_account_id}/campaigns")

    assert sim.request_counts[CAMPAIGNS] == 1
    assert raised.value.status == 403
    assert raised.value.code == 29
    assert raised.value.ad_account_id == ad_account_id
    message = str(raised.value)
    assert f"GET /ad_accounts/{ad_account_id}/campaigns failed (HTTP 403, code 29)" in message
    assert f"ad account {ad_account_id}" in message
    assert f"x-pinterest-rid {raised.value.request_id}" in message
    assert "Business Access" in message


def test_404_raises_access_denied(sim: Simulator, tmp_path: Path) -> None:
    with make_client(sim, tmp_path) as client, pytest.raises(AccessDenied) as raised:
        client.get("/ad_accounts/123456789/campaigns")

    assert raised.value.status == 404
    assert client.request_counts["GET /ad_accounts/{ad_account_id}/campaigns"] == 1


def test_other_400_not_retried(sim: Simulator, tmp_path: Path) -> None:
    ad_account_id = first_ad_account_id(sim)

    with make_client(sim, tmp_path) as client, pytest.raises(ApiError) as raised:
        client.get(f"/ad_accounts/{ad_account_id}/campaigns", params={"page_size": 1000})

    assert type(raised.value) is ApiError
    assert raised.value.status == 400
    assert sim.request_counts[CAMPAIGNS] == 1
    assert "page_size" in str(raised.value)


def test_analytics_retry_after_400_retried(sim: Simulator, tmp_path: Path) -> None:
    ad_account_id = first_ad_account_id(sim)
    sim.faults.fail_next.extend(
        [
            (AD_ACCOUNT_ANALYTICS, 400, {"code": 1, "message": "Retry after 1 seconds"}, {}),
            (AD_ACCOUNT_ANALYTICS, 400, {"code": 12, "message": "Something went wrong."}, {}),
        ]
    )
    params = {
        "start_date": sim.today.isoformat(),
        "end_date": sim.today.isoformat(),
        "columns": "SPEND_IN_MICRO_DOLLAR",
        "granularity": "DAY",
    }

    with make_client(sim, tmp_path) as client:
        started = time.monotonic()
        rows = client.get(f"/ad_accounts/{ad_account_id}/analytics", params=params)
        elapsed = time.monotonic() - started

    assert isinstance(rows, list)
    assert sim.request_counts[AD_ACCOUNT_ANALYTICS] == 3
    assert elapsed >= 1.0


def test_code_12_outside_analytics_not_retried(sim: Simulator, tmp_path: Path) -> None:
    sim.faults.fail_next.append((USER_ACCOUNT, 400, {"code": 12, "message": "Something went wrong."}, {}))

    with make_client(sim, tmp_path) as client, pytest.raises(ApiError):
        client.get("/user_account")

    assert sim.request_counts[USER_ACCOUNT] == 1


@pytest.mark.parametrize(
    "answer",
    [
        (200, '{"items": [{"id": "1', {"content-type": "application/json"}),
        (200, "<!DOCTYPE html><html><body>Maintenance</body></html>", {"content-type": "text/html"}),
        (200, None, {}),
    ],
    ids=["truncated_json", "html_page", "empty_body"],
)
def test_invalid_200_body_retried(sim: Simulator, tmp_path: Path, answer: tuple) -> None:
    sim.faults.fail_next.append((USER_ACCOUNT, *answer))

    with make_client(sim, tmp_path) as client:
        account = client.get("/user_account")

    assert account["id"] == sim.data.user_account["id"]
    assert sim.request_counts[USER_ACCOUNT] == 2


def test_gives_up_after_max_retries(sim: Simulator, tmp_path: Path) -> None:
    sim.faults.fail_next.extend(
        [(USER_ACCOUNT, 502, "<html>Bad Gateway</html>", {"content-type": "text/html"})] * 3
    )

    with make_client(sim, tmp_path, max_retries=2) as client, pytest.raises(ApiError) as raised:
        client.get("/user_account")

    assert sim.request_counts[USER_ACCOUNT] == 3
    assert raised.value.status == 502
    assert "gave up after 3 attempts" in str(raised.value)
    assert "Bad Gateway" in str(raised.value)


def test_timeout_retried(sim: Simulator, tmp_path: Path) -> None:
    sim.faults.error_kinds = ("timeout",)
    sim.faults.stall_seconds = 2.0

    with make_client(sim, tmp_path, timeout=0.3, max_retries=1) as client:
        client.get("/ad_accounts")
        sim.faults.error_rate = 1.0
        with pytest.raises(ApiError) as raised:
            client.get("/user_account")

    assert raised.value.status is None
    assert "timed out after 0.3 s" in str(raised.value)
    assert "gave up after 2 attempts" in str(raised.value)
    assert sim.request_counts[USER_ACCOUNT] == 2


def test_connection_reset_retried(sim: Simulator, tmp_path: Path) -> None:
    with make_client(sim, tmp_path, max_retries=2) as client:
        client.get("/ad_accounts")
        sim.faults.error_kinds = ("reset",)
        sim.faults.error_rate = 1.0
        with pytest.raises(ApiError) as raised:
            client.get("/user_account")

    assert raised.value.status is None
    assert f"connection to {sim.base_url} failed" in str(raised.value)
    assert sim.request_counts[USER_ACCOUNT] == 3


def test_paginate_reads_every_page(sim: Simulator, tmp_path: Path) -> None:
    ad_account_id = first_ad_account_id(sim)
    add_campaigns(sim, ad_account_id, 600)
    expected = {
        campaign_id
        for campaign_id, campaign in sim.data.campaigns.items()
        if campaign["ad_account_id"] == ad_account_id and campaign["status"] in ("ACTIVE", "PAUSED", "ARCHIVED")
    }
    path = f"/ad_accounts/{ad_account_id}/campaigns"

    with make_client(sim, tmp_path) as client:
        pages = list(client.paginate(path, {"entity_statuses": ["ACTIVE", "PAUSED", "ARCHIVED"]}))

    assert [len(page) for page in pages] == [250, 250, len(expected) - 500]
    assert {item["id"] for page in pages for item in page} == expected
    queries = [query for method, template, query, status in sim.requests_log if template == CAMPAIGNS.split(" ")[1]]
    assert [query["page_size"] for query in queries] == [["250"]] * 3
    assert "bookmark" not in queries[0]
    assert all(len(query["bookmark"]) == 1 for query in queries[1:])
    assert queries[0]["entity_statuses"] == ["ACTIVE", "PAUSED", "ARCHIVED"]


def test_repeated_bookmark_raises_pagination_error(sim: Simulator, tmp_path: Path) -> None:
    ad_account_id = first_ad_account_id(sim)
    add_campaigns(sim, ad_account_id, 300)
    sim.faults.repeat_bookmark_paths.add("/ad_accounts/{ad_account_id}/campaigns")
    pages: list[list[dict]] = []

    with make_client(sim, tmp_path) as client, pytest.raises(PaginationError) as raised:
        for page in client.paginate(f"/ad_accounts/{ad_account_id}/campaigns"):
            pages.append(page)

    assert sim.request_counts[CAMPAIGNS] == 2
    assert len(pages) == 1
    assert len({item["id"] for item in pages[0]}) == 250
    assert raised.value.endpoint == f"GET /ad_accounts/{ad_account_id}/campaigns"
    assert f"GET /ad_accounts/{ad_account_id}/campaigns" in str(raised.value)
    assert "again" in str(raised.value)


def test_items_not_list_raises_pagination_error(sim: Simulator, tmp_path: Path) -> None:
    sim.faults.items_not_list_paths.add("/boards")

    with make_client(sim, tmp_path) as client, pytest.raises(PaginationError) as raised:
        list(client.paginate("/boards"))

    assert "Paging GET /boards stopped" in str(raised.value)
    assert "`items` of type dict" in str(raised.value)


def test_unpaginated_list_is_one_page(sim: Simulator, tmp_path: Path) -> None:
    ad_account_id = first_ad_account_id(sim)
    expected = [tag for tag in sim.data.conversion_tags.values() if tag["ad_account_id"] == ad_account_id]

    with make_client(sim, tmp_path) as client:
        pages = list(client.paginate(f"/ad_accounts/{ad_account_id}/conversion_tags"))

    assert sim.request_counts["GET /v5/ad_accounts/{ad_account_id}/conversion_tags"] == 1
    assert [item["id"] for page in pages for item in page] == [tag["id"] for tag in expected]


def test_debug_log_names_request(sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="pipelines.pinterest.client"), make_client(sim, tmp_path) as client:
        client.get("/user_account")

    lines = [record.getMessage() for record in caplog.records if record.name == "pipelines.pinterest.client"]
    assert len(lines) == 2
    assert lines[0].startswith("POST /oauth/token -> 200 in ")
    assert lines[1].startswith("GET /user_account -> 200 in ")
    assert "x-pinterest-rid " in lines[1]
    assert "x-pinterest-rid missing" not in lines[1]


def test_client_rate_limit_avoids_429(tmp_path: Path) -> None:
    config = SimulatorConfig(seed=7, scale="small", rate_limits={"per_second": 5})
    with Simulator(config) as sim, make_client(sim, tmp_path, rate_limits=RateLimits({"per_second": 5})) as client:
        started = time.monotonic()
        for _ in range(11):
            client.get("/user_account")
        elapsed = time.monotonic() - started

        statuses = [status for method, template, query, status in sim.requests_log]

    assert 429 not in statuses
    assert sim.request_counts[USER_ACCOUNT] == 11
    assert elapsed >= 1.9


def test_endpoint_template_names_ids() -> None:
    assert endpoint_template("get", "/ad_accounts/12/campaigns") == "GET /ad_accounts/{ad_account_id}/campaigns"
    assert endpoint_template("GET", "/boards/3/sections/4/pins") == "GET /boards/{board_id}/sections/{section_id}/pins"
    assert endpoint_template("GET", "/pins/813744226420795884/analytics") == "GET /pins/{pin_id}/analytics"
    assert endpoint_template("GET", "/user_account") == "GET /user_account"


class _HeaderRecorder(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 (the name is http.server's)
        type(self).received.append(dict(self.headers.items()))
        body = b'{"100": [{"DATE": "2024-05-01"}]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


def test_download_sends_no_authorization(sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _HeaderRecorder.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HeaderRecorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/report.json?X-Amz-Signature=signature-value"

    try:
        with caplog.at_level(logging.DEBUG), make_client(sim, tmp_path) as client:
            client.get("/user_account")
            content = client.download(url)
    finally:
        server.shutdown()
        server.server_close()

    assert content == b'{"100": [{"DATE": "2024-05-01"}]}'
    assert len(_HeaderRecorder.received) == 1
    assert "authorization" not in {name.lower() for name in _HeaderRecorder.received[0]}
    assert "signature-value" not in caplog.text
    assert client.request_counts["GET (report download)"] == 1


def test_refused_first_connection_fails_fast(tmp_path: Path) -> None:
    """A base URL with no listener fails on the first attempt, naming the URL."""
    store = TokenStore(tmp_path / "tokens.json")
    credentials = Credentials("1", "secret", "refresh")
    with PinterestClient("http://127.0.0.1:9/v5", credentials, store, max_retries=5) as client:
        started = time.monotonic()
        with pytest.raises(ApiError) as raised:
            client.get("/user_account")

    assert time.monotonic() - started < 5
    assert "connection to http://127.0.0.1:9/v5 failed" in str(raised.value)
    assert "sources.pinterest.base_url" in str(raised.value)


def test_silent_token_endpoint_times_out(tmp_path: Path) -> None:
    """A server that accepts the connection and never responds fails after the timeout."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    store = TokenStore(tmp_path / "tokens.json")
    try:
        with PinterestClient(f"http://127.0.0.1:{port}/v5", Credentials("1", "s", "r"), store,
                             timeout=1.0, max_retries=1, initial_backoff_seconds=0.01) as client:
            started = time.monotonic()
            with pytest.raises(ApiError) as raised:
                client.get("/user_account")
            elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()

    assert elapsed < 10
    assert "timed out" in str(raised.value)
