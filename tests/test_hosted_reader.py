"""HostedClient against the hosted simulator: same records as the direct client, errors, retries."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.pinterest.auth import Credentials as PinterestCredentials
from pipelines.pinterest.client import PinterestClient
from pipelines.pinterest.config import AirbyteSettings
from pipelines.pinterest.errors import ConfigError, PaginationError
from pipelines.pinterest.hosted import (
    ConnectorNotFoundError,
    HostedAccessDenied,
    HostedApiError,
    HostedAuthError,
    HostedClient,
    HostedLister,
    NotHostedError,
)
from pipelines.pinterest.hosted.errors import HostedRateLimitExhausted
from pipelines.pinterest.listing import EntityLister
from pipelines.pinterest.settings import DEFAULT_ENTITY_STATUSES
from pipelines.pinterest.simulator import Simulator, SimulatorConfig
from pipelines.pinterest.simulator.hosted import HostedSimulator
from pipelines.pinterest.token_store import TokenStore

EXECUTE = "POST /api/v1/integrations/connectors/{connector_id}/execute"


@pytest.fixture
def hosted(simulator: Simulator) -> Iterator[HostedSimulator]:
    with HostedSimulator(simulator) as server:
        yield server


def settings_for(hosted: HostedSimulator, **overrides: Any) -> AirbyteSettings:
    values: dict[str, Any] = dict(
        base_url=hosted.base_url,
        client_id=hosted.client_id,
        client_secret=hosted.client_secret,
        customer_name=hosted.customer_name,
    )
    values.update(overrides)
    return AirbyteSettings(**values)


def hosted_client(hosted: HostedSimulator, **overrides: Any) -> HostedClient:
    options = {key: overrides.pop(key) for key in ("page_size", "max_wait_seconds", "initial_backoff_seconds") if key in overrides}
    return HostedClient(settings_for(hosted, **overrides), **options)


def direct_client(simulator: Simulator, tmp_path: Path) -> PinterestClient:
    credentials = PinterestCredentials(simulator.client_id, simulator.client_secret, simulator.refresh_token)
    return PinterestClient(simulator.base_url, credentials, TokenStore(tmp_path / "tokens.json"))


def records(client: Any, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [item for page in client.paginate(path, params) for item in page]


def entity_requests(simulator: Simulator) -> list[tuple[str, dict[str, Any], tuple[str, ...]]]:
    """Every list call the entity resources make: path, params, parent ids the hosted path adds."""
    data = simulator.data
    statuses = {"entity_statuses": list(DEFAULT_ENTITY_STATUSES)}
    requests: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [("/ad_accounts", {}, ())]
    for account_id in data.ad_accounts:
        for kind in ("campaigns", "ad_groups", "ads"):
            requests.append((f"/ad_accounts/{account_id}/{kind}", statuses, ("ad_account_id",)))
        for kind in ("audiences", "customer_lists", "conversion_tags"):
            requests.append((f"/ad_accounts/{account_id}/{kind}", {}, ("ad_account_id",)))
        for group_id, group in data.ad_groups.items():
            if group["ad_account_id"] == account_id:
                requests.append((f"/ad_accounts/{account_id}/keywords", {"ad_group_id": group_id}, ("ad_group_id", "ad_account_id")))
    requests.append(("/boards", {}, ()))
    for board_id in data.boards:
        requests.append((f"/boards/{board_id}/sections", {}, ("board_id",)))
        requests.append((f"/boards/{board_id}/pins", {}, ("board_id",)))
    for path in ("/catalogs", "/catalogs/feeds", "/catalogs/product_groups"):
        requests.append((path, {}, ()))
    return requests


def with_parent_ids(record: dict[str, Any], path: str, params: dict[str, Any], added: tuple[str, ...]) -> dict[str, Any]:
    """The direct record plus the parent ids HostedClient adds when a hosted record lacks them."""
    segments = path.strip("/").split("/")
    ids = dict(params)
    if segments[0] == "ad_accounts" and len(segments) > 1:
        ids["ad_account_id"] = segments[1]
    if segments[0] == "boards" and len(segments) > 1:
        ids["board_id"] = segments[1]
    expected = dict(record)
    for name in added:
        if expected.get(name) is None:
            expected[name] = ids[name]
    return expected


def test_pages_equal_direct_for_every_entity_path(simulator, hosted, tmp_path):
    requests = entity_requests(simulator)
    with direct_client(simulator, tmp_path) as direct:
        expected = {(path, repr(params)): records(direct, path, params) for path, params, _ in requests}

    with hosted_client(hosted) as client:
        for path, params, added in requests:
            direct_records = expected[(path, repr(params))]
            assert records(client, path, params) == [with_parent_ids(item, path, params, added) for item in direct_records], path

    assert sum(len(items) for items in expected.values()) > 100


def test_keyword_records_carry_parent_ids(simulator, hosted):
    group_id, group = next(iter(simulator.data.ad_groups.items()))
    account_id = group["ad_account_id"]

    with hosted_client(hosted) as client:
        keywords = records(client, f"/ad_accounts/{account_id}/keywords", {"ad_group_id": group_id})

    assert len(keywords) == 3
    for keyword in keywords:
        assert keyword["ad_group_id"] == group_id
        assert keyword["ad_account_id"] == account_id
        assert keyword["parent_id"] == group_id


def test_keywords_by_ad_group_ids_list_each_group(simulator, hosted, tmp_path):
    account_id = next(iter(simulator.data.ad_accounts))
    group_ids = [group_id for group_id, group in simulator.data.ad_groups.items() if group["ad_account_id"] == account_id]
    path = f"/ad_accounts/{account_id}/keywords"

    with hosted_client(hosted) as client:
        batched = records(client, path, {"ad_group_ids": group_ids})
    with direct_client(simulator, tmp_path) as direct:
        one_by_one = [item for group_id in group_ids for item in records(direct, path, {"ad_group_id": group_id})]

    assert [item["id"] for item in batched] == [item["id"] for item in one_by_one]
    assert len(batched) == 3 * len(group_ids)


def test_account_keywords_rejected_become_warning(simulator, hosted):
    account_ids = list(simulator.data.ad_accounts)

    with hosted_client(hosted) as client:
        found = [records(client, f"/ad_accounts/{account_id}/keywords") for account_id in account_ids]
        warnings = list(client.warnings)

    assert found == [[] for _ in account_ids]
    assert warnings == [
        "Keywords whose parent is an ad account are not loaded: the hosted Airbyte execute API lists keywords only "
        "per ad group (Missing required parameter(s) ad_group_id for entity 'keywords' action 'list'.). "
        "Keywords of ad groups are loaded."
    ]
    # Only the first account is asked: the rejection is remembered.
    assert hosted.request_counts[EXECUTE] == 1


def test_account_keywords_listed_when_accepted(simulator, hosted, tmp_path):
    hosted.faults.keywords_need_ad_group = False
    account_id = next(iter(simulator.data.ad_accounts))
    path = f"/ad_accounts/{account_id}/keywords"

    with direct_client(simulator, tmp_path) as direct:
        expected = [with_parent_ids(item, path, {}, ("ad_account_id",)) for item in records(direct, path)]
    with hosted_client(hosted) as client:
        found = records(client, path)
        warnings = client.warnings

    assert found == expected
    assert {item["parent_type"] for item in found} == {"ADVERTISER"}
    assert warnings == []


@pytest.mark.parametrize("cursor_field", ["bookmark", "cursor", "end_cursor"])
def test_every_cursor_key_is_followed(simulator, hosted, tmp_path, cursor_field):
    connector = hosted.add_connector(hosted.customer_name + "-" + cursor_field, cursor_field=cursor_field)
    board_id = max(simulator.data.boards, key=lambda board: len(simulator.data.board_pin_ids(board)))
    pin_count = len(simulator.data.board_pin_ids(board_id))
    path = f"/boards/{board_id}/pins"

    with direct_client(simulator, tmp_path) as direct:
        expected = records(direct, path)
    with hosted_client(hosted, connector_id=connector.id, customer_name=None, page_size=2) as client:
        pages = list(client.paginate(path))

    assert pin_count >= 5
    assert [len(page) for page in pages] == [2] * (pin_count // 2) + ([1] if pin_count % 2 else [])
    assert [item for page in pages for item in page] == expected


def test_lister_lists_archived_through_hosted(simulator, hosted):
    account_id = next(iter(simulator.data.ad_accounts))
    expected = [campaign_id for campaign_id, campaign in simulator.data.campaigns.items() if campaign["ad_account_id"] == account_id]

    with hosted_client(hosted) as client:
        lister = HostedLister(client)
        ids = lister.ids(account_id, "campaigns")
        again = lister.take(account_id, "campaigns")

    assert isinstance(lister, EntityLister)
    assert ids == expected
    assert "ARCHIVED" in {campaign["status"] for campaign in again}
    assert hosted.request_counts[EXECUTE] == 1


def test_repeated_cursor_stops_with_message(simulator, hosted):
    hosted.faults.repeat_cursor_entities = {"boards"}

    with hosted_client(hosted, page_size=2) as client:
        pages = []
        with pytest.raises(PaginationError) as caught:
            for page in client.paginate("/boards"):
                pages.append(page)

    bookmark = hosted.requests_log[-1][2]["body"]["params"]["bookmark"]
    assert str(caught.value) == (
        f"Paging boards list on hosted connector {hosted.connector_id} stopped: the reply repeated "
        f"connector_metadata.bookmark {bookmark!r}, which was already followed, so following it again would "
        f"repeat the same page forever (params {{'page_size': 2, 'bookmark': {bookmark!r}}}). "
        "The boards records are incomplete; run the sync again later."
    )
    assert [[board["id"] for board in page] for page in pages] == [list(simulator.data.boards)[:2]]


def test_pinterest_repeat_bookmark_fault_reaches_hosted(simulator, hosted):
    simulator.faults.repeat_bookmark_paths = {"/boards"}

    with hosted_client(hosted, page_size=2) as client:
        with pytest.raises(PaginationError):
            records(client, "/boards")


def test_token_expiry_fetches_new_token(simulator, hosted, caplog):
    with hosted_client(hosted) as client:
        first = records(client, "/boards")
        hosted.expire_tokens()
        with caplog.at_level(logging.INFO, logger="pipelines.pinterest.hosted.auth"):
            second = records(client, "/boards")

    assert second == first
    assert hosted.token_requests == 2
    assert (
        "Airbyte returned HTTP 401 for POST /api/v1/integrations/connectors/"
        f"{hosted.connector_id}/execute (Invalid or expired access token.): fetching a new application token "
        "and sending the request once more"
    ) in caplog.messages


def test_token_rejected_after_refetch_fails_with_message(hosted):
    expired = (EXECUTE, 401, {"message": "Invalid or expired access token."})
    hosted.faults.fail_next = [expired, expired]

    with hosted_client(hosted) as client:
        with pytest.raises(HostedApiError) as caught:
            records(client, "/boards")

    error = caught.value
    assert error.status == 401
    assert str(error) == (
        "POST /api/v1/integrations/connectors/{connector_id}/execute (boards list) failed (HTTP 401): "
        f"Invalid or expired access token. [connector {hosted.connector_id}; params {{'page_size': 250}}; "
        f"request id {error.request_id}]. Airbyte rejected a freshly fetched application token: check that the "
        "application may use this connector, and sources.pinterest.airbyte.organization_id."
    )
    assert hosted.token_requests == 2


def test_wrong_app_secret_fails_with_message(hosted):
    with hosted_client(hosted, client_secret="not-the-secret") as client:
        with pytest.raises(HostedAuthError) as caught:
            records(client, "/boards")

    assert str(caught.value) == (
        f"Airbyte rejected the application credentials of client id {hosted.client_id!r} (HTTP 401 from "
        "POST /api/v1/account/applications/token: Invalid client credentials.). Check "
        "sources.pinterest.airbyte.client_id and sources.pinterest.airbyte.client_secret (environment variables "
        "SOURCES__PINTEREST__AIRBYTE__CLIENT_ID and SOURCES__PINTEREST__AIRBYTE__CLIENT_SECRET): they are the "
        "Airbyte application credentials, not Pinterest ones."
    )
    assert "not-the-secret" not in str(caught.value)


def test_missing_organization_header_fails_with_message(simulator):
    with HostedSimulator(simulator, organizations=2) as hosted:
        with hosted_client(hosted, connector_id=hosted.connector_id) as client:
            with pytest.raises(ConfigError) as caught:
                records(client, "/ad_accounts")

    assert str(caught.value) == (
        "The Airbyte application credentials belong to several organizations, so every request must name one "
        "(HTTP 400 from POST /api/v1/integrations/connectors/{connector_id}/execute (ad_accounts list): "
        "These credentials belong to 2 organizations: send the X-Organization-Id header to choose one.). "
        "Set sources.pinterest.airbyte.organization_id (environment variable "
        "SOURCES__PINTEREST__AIRBYTE__ORGANIZATION_ID) to the organization that owns the connector."
    )


def test_organization_header_selects_organization(simulator):
    with HostedSimulator(simulator, organizations=2) as hosted:
        with hosted_client(hosted, organization_id=hosted.organization_ids[0]) as client:
            accounts = records(client, "/ad_accounts")
        execute_calls = [entry for entry in hosted.requests_log if entry[0] == "POST" and "execute" in entry[1]]

    assert [account["id"] for account in accounts] == list(simulator.data.ad_accounts)
    assert [entry[3] for entry in execute_calls] == [200]


def test_unknown_customer_fails_with_message(hosted):
    with hosted_client(hosted, customer_name="nobody") as client:
        with pytest.raises(ConnectorNotFoundError) as caught:
            records(client, "/boards")

    assert str(caught.value) == (
        "Customer 'nobody' was not found (HTTP 404 from GET /api/v1/integrations/connectors: "
        "Customer 'nobody' not found.). Check sources.pinterest.airbyte.customer_name, or set "
        "sources.pinterest.airbyte.connector_id."
    )


def test_customer_without_connector_fails_with_message(hosted):
    hosted.add_customer("empty-customer")

    with hosted_client(hosted, customer_name="empty-customer") as client:
        with pytest.raises(ConnectorNotFoundError) as caught:
            client.connector_id

    assert str(caught.value) == (
        "Customer 'empty-customer' has no hosted Pinterest connector. Create one with `pinterest-sync hosted create` "
        "or `pinterest-sync hosted connect`, or set sources.pinterest.airbyte.connector_id."
    )


def test_customer_with_two_connectors_fails_with_message(hosted):
    second = hosted.add_connector(hosted.customer_name)

    with hosted_client(hosted) as client:
        with pytest.raises(ConfigError) as caught:
            client.connector_id

    assert str(caught.value) == (
        f"Customer {hosted.customer_name!r} has 2 hosted Pinterest connectors ({hosted.connector_id}, {second.id}): "
        "set sources.pinterest.airbyte.connector_id to the one to read."
    )


def test_customer_lookup_happens_once(hosted):
    with hosted_client(hosted) as client:
        records(client, "/boards")
        records(client, "/ad_accounts")

    assert hosted.request_counts["GET /api/v1/integrations/connectors"] == 1
    assert hosted.token_requests == 1


def test_unknown_connector_fails_with_message(hosted):
    with hosted_client(hosted, connector_id="0000-missing", customer_name=None) as client:
        with pytest.raises(ConnectorNotFoundError) as caught:
            records(client, "/boards")

    assert str(caught.value) == (
        "Hosted connector '0000-missing' was not found (HTTP 404 from POST "
        "/api/v1/integrations/connectors/{connector_id}/execute (boards list): Connector '0000-missing' not found.). "
        "Check sources.pinterest.airbyte.connector_id, or create a connector with `pinterest-sync hosted create` "
        "or `pinterest-sync hosted connect`."
    )


def test_rate_limit_waits_for_retry_after(hosted):
    hosted.faults.fail_next = [(EXECUTE, 429, {"message": "Too many requests."}, {"Retry-After": "0"})]

    with hosted_client(hosted) as client:
        boards = records(client, "/boards")

    assert len(boards) == 4
    assert [entry[3] for entry in hosted.requests_log if entry[1].endswith("/execute")] == [429, 200]


def test_long_retry_after_raises_at_once(hosted):
    hosted.faults.fail_next = [(EXECUTE, 429, {"message": "Daily limit reached."}, {"Retry-After": "67000"})]

    with hosted_client(hosted, max_wait_seconds=60.0) as client:
        with pytest.raises(HostedRateLimitExhausted) as caught:
            records(client, "/boards")

    assert caught.value.retry_after == 67000.0
    assert "Daily limit reached. (the server asks to wait 67000 s)" in str(caught.value)
    assert hosted.request_counts[EXECUTE] == 1


def test_server_errors_are_retried(hosted):
    hosted.faults.fail_next = [(EXECUTE, 503, {"message": "Unavailable."}), (EXECUTE, 502, "<html>bad gateway</html>")]

    with hosted_client(hosted, initial_backoff_seconds=0.01) as client:
        boards = records(client, "/boards")

    assert len(boards) == 4
    assert [entry[3] for entry in hosted.requests_log if entry[1].endswith("/execute")] == [503, 502, 200]


def test_pinterest_faults_pass_through_and_retry(simulator, hosted):
    simulator.faults.fail_next = [("/v5/boards", 500, {"code": 0, "message": "Internal server error."})]

    with hosted_client(hosted, initial_backoff_seconds=0.01) as client:
        boards = records(client, "/boards")

    assert len(boards) == 4
    assert [entry[3] for entry in hosted.requests_log if entry[1].endswith("/execute")] == [502, 200]


def test_pinterest_rate_limit_passes_retry_after(simulator, hosted):
    simulator.faults.fail_next = [("/v5/boards", 429, {"code": 8, "message": "Rate limit exceeded."}, {"X-RateLimit-Reset": "0"})]

    with hosted_client(hosted) as client:
        boards = records(client, "/boards")

    assert len(boards) == 4
    assert [entry[3] for entry in hosted.requests_log if entry[1].endswith("/execute")] == [429, 200]


def test_board_pin_cap_error_is_not_retried(simulator, hosted):
    board_id = next(iter(simulator.data.boards))
    cap = ("/v5/boards/{board_id}/pins", 400, {"code": 1, "message": "Pagination beyond 100.000 pins are not allowed."})
    simulator.faults.fail_next = [cap]

    with hosted_client(hosted) as client:
        with pytest.raises(HostedApiError) as caught:
            records(client, f"/boards/{board_id}/pins")

    assert not isinstance(caught.value, HostedAccessDenied)
    assert caught.value.status == 400
    assert caught.value.api_message == "Pinterest API error: Pagination beyond 100.000 pins are not allowed."
    assert hosted.request_counts[EXECUTE] == 1


def test_invalid_parameter_reports_params(hosted):
    with hosted_client(hosted) as client:
        with pytest.raises(HostedApiError) as caught:
            client.api.execute("boards", "list", {"page_size": 999})

    error = caught.value
    assert error.status == 400
    assert error.params == {"page_size": 999}
    assert str(error) == (
        "POST /api/v1/integrations/connectors/{connector_id}/execute (boards list) failed (HTTP 400, code 1): "
        "Pinterest API error: Parameter 'page_size' must be between 1 and 250 (was 999). "
        f"[connector {hosted.connector_id}; params {{'page_size': 999}}; request id {error.request_id}]"
    )


def test_missing_catalog_keeps_pinterest_code():
    with Simulator(SimulatorConfig(seed=7, scale="small", has_catalog=False)) as simulator, HostedSimulator(simulator) as hosted:
        with hosted_client(hosted) as client:
            with pytest.raises(HostedApiError) as caught:
                records(client, "/catalogs")

    assert caught.value.status == 409
    assert caught.value.code == 4182


def test_forbidden_ad_account_is_access_denied(simulator, hosted):
    account_id = next(iter(simulator.data.ad_accounts))
    simulator.faults.forbidden_ad_accounts = {account_id}

    with hosted_client(hosted) as client:
        with pytest.raises(HostedAccessDenied) as caught:
            records(client, f"/ad_accounts/{account_id}/campaigns")

    assert caught.value.status == 403
    assert caught.value.ad_account_id == account_id


def test_single_ad_account_comes_from_the_list(simulator, hosted):
    account_id = list(simulator.data.ad_accounts)[1]

    with hosted_client(hosted) as client:
        account = client.get(f"/ad_accounts/{account_id}")
        with pytest.raises(HostedAccessDenied) as caught:
            client.get("/ad_accounts/123")

    assert account == simulator.data.ad_accounts[account_id]
    assert caught.value.ad_account_id == "123"
    assert hosted.request_counts[EXECUTE] == 1


@pytest.mark.parametrize(
    ("call", "path", "fix"),
    [
        ("get", "/user_account", "Configure Pinterest credentials (sources.pinterest.credentials) so that user_account is read from the Pinterest API, or leave user_account out of --resources when the backend is airbyte."),
        ("paginate", "/ad_accounts/1/product_group_promotions", "Configure Pinterest credentials (sources.pinterest.credentials) so that product_group_promotions is read from the Pinterest API, or leave product_group_promotions out of --resources when the backend is airbyte."),
        ("get", "/ad_accounts/1/analytics", "Analytics are read from the Pinterest API only: configure sources.pinterest.credentials."),
    ],
)
def test_unhosted_paths_fail_without_request(hosted, call, path, fix):
    with hosted_client(hosted) as client:
        with pytest.raises(NotHostedError) as caught:
            if call == "get":
                client.get(path)
            else:
                records(client, path, {"ad_group_id": "1"})

    assert str(caught.value) == (
        f"GET {path} failed (no HTTP response): the hosted Airbyte execute API has no entity for this Pinterest "
        f"endpoint [request id missing]. {fix}"
    )
    assert sum(hosted.request_counts.values()) == 0


def test_secret_absent_from_repr_and_log(hosted, caplog):
    with caplog.at_level(logging.DEBUG):
        with hosted_client(hosted) as client:
            records(client, "/boards")
            text = repr(client) + repr(client.api) + repr(client.api.auth)

    assert hosted.client_secret not in text
    assert hosted.client_secret not in caplog.text
    assert all(hosted.client_secret not in repr(entry) for entry in hosted.requests_log)
