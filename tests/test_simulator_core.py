"""Simulator behaviour over real HTTP on loopback: data, paging, filters, OAuth, limits and faults."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipelines.pinterest.simulator import ERROR_KINDS, Simulator, SimulatorConfig, SimulatorData
from pipelines.pinterest.simulator.ratelimit import category_for

TODAY = dt.date(2025, 6, 1)
ALL_STATUSES = ["ACTIVE", "PAUSED", "ARCHIVED"]
REPO_ROOT = Path(__file__).resolve().parents[1]


def start_simulator(**overrides: Any) -> Simulator:
    return Simulator(SimulatorConfig(**{"seed": 7, "scale": "small", "today": TODAY, **overrides})).start()


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = start_simulator()
    yield simulator
    simulator.stop()


def api_client(sim: Simulator, **options: Any) -> httpx.Client:
    headers = {"Authorization": f"Bearer {sim.issue_access_token()}"}
    return httpx.Client(base_url=sim.base_url, headers=headers, timeout=options.pop("timeout", 10), **options)


@pytest.fixture
def api(sim: Simulator) -> Iterator[httpx.Client]:
    with api_client(sim) as client:
        yield client


@pytest.fixture(scope="module")
def shared_sim() -> Iterator[Simulator]:
    """One simulator for the tests that only read; tests that change state use `sim`."""
    simulator = start_simulator()
    yield simulator
    simulator.stop()


@pytest.fixture(scope="module")
def shared_api(shared_sim: Simulator) -> Iterator[httpx.Client]:
    with api_client(shared_sim) as client:
        yield client


def first_account(sim: Simulator) -> str:
    return next(iter(sim.data.ad_accounts))


def walk(api: httpx.Client, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    bookmark = None
    while True:
        response = api.get(path, params={**(params or {}), **({"bookmark": bookmark} if bookmark else {})})
        assert response.status_code == 200, response.text
        items.extend(response.json()["items"])
        bookmark = response.json().get("bookmark")
        if not bookmark:
            return items


def refresh(sim: Simulator, refresh_token: str, **fields: str) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, **fields}
    return httpx.post(sim.base_url + "/oauth/token", data=data, auth=(sim.client_id, sim.client_secret))


# Data


def test_ids_are_18_digit_strings_above_2_53(shared_sim):
    collections = ("ad_accounts", "campaigns", "ad_groups", "ads", "keywords", "audiences", "customer_lists", "conversion_tags",
                   "product_group_promotions", "boards", "board_sections", "pins", "catalogs", "catalog_feeds", "catalog_product_groups")
    for name in collections:
        objects = getattr(shared_sim.data, name)
        assert objects, name
        for object_id, item in objects.items():
            assert item["id"] == object_id
            assert len(object_id) == 18, (name, object_id)
            assert object_id.isdigit(), (name, object_id)
            assert 2**53 < int(object_id) < 2**63


def test_same_seed_gives_same_data():
    first = SimulatorData.generate(5, "small", TODAY)
    second = SimulatorData.generate(5, "small", TODAY)
    other = SimulatorData.generate(6, "small", TODAY)

    assert first.campaigns == second.campaigns
    assert first.pins == second.pins
    assert list(first.campaigns) != list(other.campaigns)


def test_small_scale_shape(shared_sim):
    data = shared_sim.data

    assert sorted(account["currency"] for account in data.ad_accounts.values()) == ["EUR", "USD", "USD"]
    for account_id in data.ad_accounts:
        statuses = [campaign["status"] for campaign in data.campaigns.values() if campaign["ad_account_id"] == account_id]
        assert len(statuses) == 4
        assert set(statuses) == {"ACTIVE", "PAUSED", "ARCHIVED"}
    for name in ("ad_groups", "ads", "product_group_promotions"):
        assert {item["status"] for item in getattr(data, name).values()} == {"ACTIVE", "PAUSED", "ARCHIVED"}, name
    parent_types = [keyword["parent_type"] for keyword in data.keywords.values()]
    assert parent_types.count("AD_GROUP") > parent_types.count("ADVERTISER") > 0
    assert len(data.boards) == 4
    assert any(pin["board_section_id"] for pin in data.pins.values())
    assert data.has_catalog and all("credentials" in feed for feed in data.catalog_feeds.values())
    assert data.user_account["account_type"] == "BUSINESS"


def test_timestamp_types_per_entity(shared_sim):
    data = shared_sim.data
    campaign = next(iter(data.campaigns.values()))
    audience = next(iter(data.audiences.values()))
    fired = [tag["last_fired_time_ms"] for tag in data.conversion_tags.values() if tag["last_fired_time_ms"]]
    pin = next(iter(data.pins.values()))
    catalog = next(iter(data.catalogs.values()))
    group = next(iter(data.catalog_product_groups.values()))

    assert isinstance(campaign["created_time"], int) and campaign["created_time"] < 2_000_000_000
    assert isinstance(audience["created_timestamp"], int)
    assert fired and all(value > 10**12 for value in fired)
    assert dt.datetime.fromisoformat(pin["created_at"]).tzinfo is None
    assert catalog["created_at"].endswith("Z")
    assert isinstance(group["created_at"], int)


def test_medium_scale_sizes():
    data = SimulatorData.generate(7, "medium", TODAY)

    assert (len(data.ad_accounts), len(data.campaigns), len(data.ads), len(data.pins)) == (5, 200, 2_000, 10_000)


def test_catalog_can_be_absent():
    with Simulator(SimulatorConfig(seed=7, today=TODAY, has_catalog=False)) as simulator, api_client(simulator) as api:
        response = api.get("/catalogs/product_groups")
        counts = simulator.expected_row_counts()

    assert response.status_code == 409
    assert response.json()["code"] == 4182
    assert (counts["catalogs"], counts["catalog_feeds"], counts["catalog_product_groups"]) == (0, 0, 0)


# Pagination


def test_page_size_defaults_to_25(shared_sim, shared_api):
    first = shared_api.get("/pins").json()
    second = shared_api.get("/pins", params={"bookmark": first["bookmark"]}).json()

    assert len(first["items"]) == 25
    assert len(second["items"]) == 15
    assert second["bookmark"] is None


def test_page_size_limits(shared_sim, shared_api):
    assert len(shared_api.get("/pins", params={"page_size": 250}).json()["items"]) == 40
    for bad_value in ("251", "0", "3e"):
        response = shared_api.get("/pins", params={"page_size": bad_value})

        assert response.status_code == 400, bad_value
        assert response.json()["code"] == 1


def test_bookmarks_walk_every_item_once_in_order(shared_sim, shared_api):
    items = walk(shared_api, "/pins", {"page_size": 7})

    assert [pin["id"] for pin in items] == list(shared_sim.data.pins)


def test_invalid_bookmark_is_400(shared_sim, shared_api):
    response = shared_api.get("/pins", params={"bookmark": "not-a-bookmark"})

    assert response.status_code == 400
    assert response.json()["code"] == 1


def test_order_descending_sorts_by_id(shared_sim, shared_api):
    account_id = first_account(shared_sim)

    items = walk(shared_api, f"/ad_accounts/{account_id}/campaigns", {"entity_statuses": ALL_STATUSES, "order": "DESCENDING"})

    ids = [campaign["id"] for campaign in items]
    assert ids == sorted(ids, key=int, reverse=True)


def test_edits_show_on_later_pages(sim, api):
    first = api.get("/pins", params={"page_size": 20}).json()
    later_pin_id = list(sim.data.pins)[30]
    sim.data.pins[later_pin_id]["title"] = "Edited title"

    second = api.get("/pins", params={"page_size": 20, "bookmark": first["bookmark"]}).json()

    assert next(pin for pin in second["items"] if pin["id"] == later_pin_id)["title"] == "Edited title"


# Filters


def test_entity_statuses_default_hides_archived(shared_sim, shared_api):
    account_id = first_account(shared_sim)
    for name in ("campaigns", "ad_groups", "ads"):
        owned = {item_id: item for item_id, item in getattr(shared_sim.data, name).items() if item["ad_account_id"] == account_id}

        default = walk(shared_api, f"/ad_accounts/{account_id}/{name}")
        everything = walk(shared_api, f"/ad_accounts/{account_id}/{name}", {"entity_statuses": ALL_STATUSES})

        assert {item["id"] for item in default} == {item_id for item_id, item in owned.items() if item["status"] != "ARCHIVED"}, name
        assert {item["id"] for item in everything} == set(owned), name


def test_entity_statuses_rejects_unknown_value(shared_sim, shared_api):
    response = shared_api.get(f"/ad_accounts/{first_account(shared_sim)}/campaigns", params={"entity_statuses": "ACTIVE,PAUSED"})

    assert response.status_code == 400


def test_id_filters_take_repeated_keys(shared_sim, shared_api):
    account_id = first_account(shared_sim)
    wanted = [item_id for item_id, ad in shared_sim.data.ads.items() if ad["ad_account_id"] == account_id][:3]

    items = walk(shared_api, f"/ad_accounts/{account_id}/ads", {"ad_ids": wanted, "entity_statuses": ALL_STATUSES})
    too_many = shared_api.get(f"/ad_accounts/{account_id}/ads", params={"ad_ids": [str(10**17 + n) for n in range(251)]})
    comma_joined = shared_api.get(f"/ad_accounts/{account_id}/ads", params={"ad_ids": ",".join(wanted)})

    assert sorted(item["id"] for item in items) == sorted(wanted)
    assert too_many.status_code == 400
    assert comma_joined.status_code == 400


def test_keywords_unfiltered_returns_account_level_only(shared_sim, shared_api):
    account_id = first_account(shared_sim)

    items = walk(shared_api, f"/ad_accounts/{account_id}/keywords")

    expected = {keyword_id for keyword_id, keyword in shared_sim.data.keywords.items() if keyword["parent_type"] == "ADVERTISER" and keyword["parent_id"] == account_id}
    assert {item["id"] for item in items} == expected
    assert len(expected) == 2


def test_keywords_by_ad_group(shared_sim, shared_api):
    account_id = first_account(shared_sim)
    group_ids = [group_id for group_id, group in shared_sim.data.ad_groups.items() if group["ad_account_id"] == account_id]
    other_account_group = next(group_id for group_id, group in shared_sim.data.ad_groups.items() if group["ad_account_id"] != account_id)

    single = walk(shared_api, f"/ad_accounts/{account_id}/keywords", {"ad_group_id": group_ids[0]})
    several = walk(shared_api, f"/ad_accounts/{account_id}/keywords", {"ad_group_ids": group_ids})
    foreign = walk(shared_api, f"/ad_accounts/{account_id}/keywords", {"ad_group_id": other_account_group})
    too_many = shared_api.get(f"/ad_accounts/{account_id}/keywords", params={"ad_group_ids": [str(10**17 + n) for n in range(251)]})

    assert {item["parent_id"] for item in single} == {group_ids[0]}
    assert len(single) == 3
    assert {item["id"] for item in several} == {
        keyword_id for keyword_id, keyword in shared_sim.data.keywords.items() if keyword["parent_id"] in group_ids
    }
    assert all(item["parent_type"] == "AD_GROUP" for item in several)
    assert foreign == []
    assert too_many.status_code == 400


def test_product_group_promotions_need_ad_group(shared_sim, shared_api):
    account_id = first_account(shared_sim)
    group_id = next(promotion["ad_group_id"] for promotion in shared_sim.data.product_group_promotions.values() if shared_sim.data.ad_account_of_promotion(promotion) == account_id)
    expected = [item_id for item_id, promotion in shared_sim.data.product_group_promotions.items() if promotion["ad_group_id"] == group_id]

    missing = shared_api.get(f"/ad_accounts/{account_id}/product_group_promotions")
    found = walk(shared_api, f"/ad_accounts/{account_id}/product_group_promotions", {"ad_group_id": group_id, "entity_statuses": ALL_STATUSES})

    assert missing.status_code == 400
    assert missing.json()["code"] == 1
    assert [item["id"] for item in found] == expected


def test_conversion_tags_are_not_paginated(shared_sim, shared_api):
    account_id = first_account(shared_sim)

    body = shared_api.get(f"/ad_accounts/{account_id}/conversion_tags").json()

    assert list(body) == ["items"]
    assert [tag["id"] for tag in body["items"]] == [tag_id for tag_id, tag in shared_sim.data.conversion_tags.items() if tag["ad_account_id"] == account_id]


def test_board_pins_include_section_pins(shared_sim, shared_api):
    section_id, section = next(iter(shared_sim.data.board_sections.items()))
    board_id = section["board_id"]

    board_pins = walk(shared_api, f"/boards/{board_id}/pins")
    section_pins = walk(shared_api, f"/boards/{board_id}/sections/{section_id}/pins")
    sections = walk(shared_api, f"/boards/{board_id}/sections")

    assert [pin["id"] for pin in board_pins] == [pin_id for pin_id, pin in shared_sim.data.pins.items() if pin["board_id"] == board_id]
    assert section_pins and {pin["board_section_id"] for pin in section_pins} == {section_id}
    assert {pin["id"] for pin in section_pins} < {pin["id"] for pin in board_pins}
    assert all(set(item) == {"id", "name"} for item in sections)


def test_board_pins_stop_at_100000(sim, api):
    big_board = next(iter(sim.data.boards))
    sim.data.pins.clear()
    for index in range(100_001):
        pin_id = str(900_000_000_000_000_000 + index)
        sim.data.pins[pin_id] = {"id": pin_id, "board_id": big_board, "board_section_id": None}

    pages = 0
    bookmark = None
    while True:
        response = api.get(f"/boards/{big_board}/pins", params={"page_size": 250, **({"bookmark": bookmark} if bookmark else {})})
        if response.status_code != 200:
            break
        pages += 1
        bookmark = response.json()["bookmark"]

    assert pages == 400
    assert response.status_code == 400
    assert response.json()["message"] == "Pagination beyond 100.000 pins are not allowed."
    assert sim.expected_row_counts()["pins"] == 100_000


def test_unknown_objects_are_404(shared_sim, shared_api):
    assert shared_api.get("/boards/123/sections").status_code == 404
    assert shared_api.get(f"/boards/{next(iter(shared_sim.data.boards))}/sections/1/pins").status_code == 404
    assert shared_api.get("/ad_accounts/123/campaigns").status_code == 404
    assert shared_api.get("/no_such_endpoint").json()["code"] == 404
    assert shared_api.post("/ad_accounts").status_code == 405


# Authentication and OAuth


def test_bearer_token_required(shared_sim):
    with httpx.Client(base_url=shared_sim.base_url) as client:
        missing = client.get("/user_account")
        unknown = client.get("/user_account", headers={"Authorization": "Bearer pina_unknown"})

    assert (missing.status_code, missing.json()["code"]) == (401, 2)
    assert (unknown.status_code, unknown.json()["code"]) == (401, 2)


def test_expired_and_revoked_access_tokens_rejected():
    with Simulator(SimulatorConfig(seed=7, today=TODAY, access_token_ttl_seconds=0)) as simulator, api_client(simulator) as api:
        assert api.get("/user_account").status_code == 401

    with Simulator(SimulatorConfig(seed=7, today=TODAY)) as simulator, api_client(simulator) as api:
        assert api.get("/user_account").status_code == 200
        simulator.revoke_access_tokens()
        assert api.get("/user_account").status_code == 401


def test_missing_scope_is_401_code_3(shared_sim):
    token = shared_sim.issue_access_token(scopes=("ads:read",))
    with httpx.Client(base_url=shared_sim.base_url, headers={"Authorization": f"Bearer {token}"}) as client:
        boards = client.get("/boards")
        accounts = client.get("/ad_accounts")

    assert (boards.status_code, boards.json()["code"]) == (401, 3)
    assert accounts.status_code == 200


def test_refresh_rotates_token(sim):
    first_token = sim.refresh_token
    before = int(time.time())

    response = refresh(sim, first_token, continuous_refresh="true")

    body = response.json()
    assert response.status_code == 200
    assert body["refresh_token"] != first_token
    assert sim.refresh_token == body["refresh_token"]
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 2_592_000
    assert body["refresh_token_expires_in"] == 60 * 86_400
    assert before + 60 * 86_400 <= body["refresh_token_expires_at"] <= int(time.time()) + 60 * 86_400
    assert "ads:read" in body["scope"].split(",")
    with httpx.Client(base_url=sim.base_url, headers={"Authorization": f"Bearer {body['access_token']}"}) as client:
        assert client.get("/user_account").status_code == 200

    reused = refresh(sim, first_token)

    assert (reused.status_code, reused.json()["code"]) == (401, 2)
    assert refresh(sim, body["refresh_token"]).status_code == 200


def test_token_requests_recorded_without_secrets(sim):
    refresh(sim, sim.refresh_token, continuous_refresh="true")
    refresh(sim, sim.refresh_token)

    assert sim.token_requests == [
        {"grant_type": "refresh_token", "continuous_refresh": "true"},
        {"grant_type": "refresh_token"},
    ]


def test_refresh_rejects_bad_client_credentials(sim):
    wrong_secret = httpx.post(sim.base_url + "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": sim.refresh_token}, auth=(sim.client_id, "wrong"))
    no_auth = httpx.post(sim.base_url + "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": sim.refresh_token})

    assert wrong_secret.status_code == 401
    assert no_auth.status_code == 401


def test_reject_refresh_fault(sim):
    sim.faults.reject_refresh = True
    current = sim.refresh_token

    response = refresh(sim, current)

    assert response.status_code == 401
    assert set(response.json()) == {"code", "message"}
    assert sim.refresh_token == current


def test_short_refresh_token_ttl():
    with Simulator(SimulatorConfig(seed=7, today=TODAY, refresh_token_ttl_seconds=3 * 86_400)) as simulator:
        body = refresh(simulator, simulator.refresh_token).json()

    assert body["refresh_token_expires_in"] == 3 * 86_400
    assert body["refresh_token_expires_at"] - time.time() < 7 * 86_400

    with Simulator(SimulatorConfig(seed=7, today=TODAY, refresh_token_ttl_seconds=0)) as simulator:
        assert refresh(simulator, simulator.refresh_token).status_code == 401


def test_authorization_code_flow(sim):
    redirect_uri = "http://127.0.0.1:8085/callback"
    consent_params = {"client_id": sim.client_id, "redirect_uri": redirect_uri, "response_type": "code", "scope": "ads:read,boards:read", "state": "xyz"}

    consent = httpx.get(sim.authorize_url, params=consent_params, follow_redirects=False)

    assert consent.status_code == 302
    location = urllib.parse.urlsplit(consent.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect_uri
    returned = urllib.parse.parse_qs(location.query)
    assert returned["state"] == ["xyz"]

    exchange = {"grant_type": "authorization_code", "code": returned["code"][0], "redirect_uri": redirect_uri}
    first = httpx.post(sim.base_url + "/oauth/token", data=exchange, auth=(sim.client_id, sim.client_secret))
    again = httpx.post(sim.base_url + "/oauth/token", data=exchange, auth=(sim.client_id, sim.client_secret))

    assert first.status_code == 200
    assert first.json()["scope"] == "ads:read,boards:read"
    assert first.json()["refresh_token"] == sim.refresh_token
    assert again.status_code == 401


def test_consent_page_rejections(sim):
    base = {"client_id": sim.client_id, "redirect_uri": "http://127.0.0.1:9/cb", "response_type": "code", "state": "s1"}

    wrong_client = httpx.get(sim.authorize_url, params={**base, "client_id": "1"})
    sim.faults.deny_consent = True
    denied = httpx.get(sim.authorize_url, params=base, follow_redirects=False)

    assert wrong_client.status_code == 400
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(denied.headers["location"]).query) == {"error": ["access_denied"], "state": ["s1"]}


# Rate limits, counts and headers


def test_category_limit_answers_429_with_reset():
    with start_simulator(rate_limits={"ads_read": 3}) as simulator, api_client(simulator) as api:
        statuses = [api.get("/ad_accounts").status_code for _ in range(3)]
        limited = api.get("/ad_accounts")
        other_category = api.get("/boards")

    assert statuses == [200, 200, 200]
    assert (limited.status_code, limited.json()["code"]) == (429, 8)
    assert 1 <= int(limited.headers["X-RateLimit-Reset"]) <= 60
    assert other_category.status_code == 200


def test_per_second_cap_spans_categories():
    with start_simulator(rate_limits={"per_second": 2}) as simulator, api_client(simulator) as api:
        statuses = [api.get(path).status_code for path in ("/ad_accounts", "/boards", "/catalogs")]

    assert statuses[:2] == [200, 200]
    assert statuses[2] == 429


def test_rate_limit_window_recovers():
    with start_simulator(rate_limits={"org_read": 1}, rate_limit_window_seconds=0.5) as simulator, api_client(simulator) as api:
        first = api.get("/boards").status_code
        limited = api.get("/boards")
        time.sleep(0.6)
        after_wait = api.get("/boards").status_code

    assert (first, limited.status_code, after_wait) == (200, 429, 200)
    assert limited.headers["X-RateLimit-Reset"] == "1"


def test_analytics_routes_use_analytics_categories(sim, api):
    account_id = first_account(sim)
    sim.set_rate_limits({"ads_analytics": 1, "org_analytics": 1})
    path = f"/ad_accounts/{account_id}/campaigns/analytics"

    api.get(path)
    limited = api.get(path)
    entity = api.get(f"/ad_accounts/{account_id}/campaigns")
    api.get("/user_account/analytics")
    organic_limited = api.get("/user_account/analytics")

    assert limited.status_code == 429
    assert entity.status_code == 200
    assert organic_limited.status_code == 429
    assert sim.request_counts["GET /v5/ad_accounts/{ad_account_id}/campaigns/analytics"] == 2


def test_categories_follow_the_description():
    assert category_for("GET", "/v5/ad_accounts/{ad_account_id}/keywords") == "ads_read"
    assert category_for("POST", "/v5/ad_accounts/{ad_account_id}/reports") == "ads_analytics"
    assert category_for("GET", "/v5/pins/{pin_id}/analytics") == "org_analytics"
    assert category_for("GET", "/v5/catalogs/feeds") == "catalogs_read"
    assert category_for("GET", "/v5/boards/{board_id}/pins") == "org_read"
    assert category_for("POST", "/v5/oauth/token") is None
    assert category_for("GET", "/_downloads/{filename}") is None


def test_requests_counted_and_logged(sim, api):
    account_id = first_account(sim)

    api.get(f"/ad_accounts/{account_id}/campaigns", params={"entity_statuses": ["ACTIVE", "ARCHIVED"]})
    api.get(f"/ad_accounts/{account_id}/campaigns", params={"page_size": 999})
    httpx.get(sim.base_url + "/user_account")

    assert sim.request_counts["GET /v5/ad_accounts/{ad_account_id}/campaigns"] == 2
    assert sim.requests_log == [
        ("GET", "/v5/ad_accounts/{ad_account_id}/campaigns", {"entity_statuses": ["ACTIVE", "ARCHIVED"]}, 200),
        ("GET", "/v5/ad_accounts/{ad_account_id}/campaigns", {"page_size": ["999"]}, 400),
        ("GET", "/v5/user_account", {}, 401),
    ]


def test_every_response_has_unique_request_id(shared_sim, shared_api):
    responses = [shared_api.get("/user_account"), shared_api.get("/user_account"), shared_api.get("/nowhere"), httpx.get(shared_sim.base_url + "/boards")]

    request_ids = [response.headers["x-pinterest-rid"] for response in responses]
    assert len(set(request_ids)) == len(responses)


def test_latency_is_added():
    with start_simulator(latency_ms=150) as simulator, api_client(simulator) as api:
        started = time.monotonic()
        api.get("/user_account")
        elapsed = time.monotonic() - started

    assert elapsed >= 0.15


# Faults


@pytest.mark.parametrize("kind", ERROR_KINDS)
def test_error_rate_fault_kinds(kind):
    with start_simulator() as simulator, api_client(simulator, timeout=0.2) as api:
        simulator.faults.error_rate = 1.0
        simulator.faults.error_kinds = (kind,)
        simulator.faults.stall_seconds = 0.4
        if kind == "timeout":
            with pytest.raises(httpx.ReadTimeout):
                api.get("/boards")
            return
        if kind == "reset":
            with pytest.raises(httpx.RemoteProtocolError):
                api.get("/boards")
            return
        response = api.get("/boards")

    if kind in ("http_500", "http_502", "http_503"):
        assert response.status_code == int(kind[-3:])
    elif kind == "invalid_json":
        assert response.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            response.json()
    else:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")


def test_error_rate_is_seeded():
    outcomes = []
    for _ in range(2):
        with start_simulator(error_rate=0.4) as simulator, api_client(simulator) as api:
            simulator.faults.error_kinds = ("http_500", "http_503")
            outcomes.append([api.get("/boards").status_code for _ in range(30)])

    assert outcomes[0] == outcomes[1]
    assert {200, 500, 503} <= set(outcomes[0])


def test_fail_next_answers_once(sim, api):
    sim.faults.fail_next.append(("/boards", 400, {"code": 12, "message": "Something went wrong."}, {"Retry-After": "3"}))

    scripted = api.get("/boards")
    normal = api.get("/boards")

    assert (scripted.status_code, scripted.json()["code"], scripted.headers["Retry-After"]) == (400, 12, "3")
    assert normal.status_code == 200
    assert sim.faults.fail_next == []


def test_repeat_bookmark_fault(sim, api):
    sim.faults.repeat_bookmark_paths.add("/ad_accounts/{ad_account_id}/campaigns")
    path = f"/ad_accounts/{first_account(sim)}/campaigns"

    first = api.get(path, params={"page_size": 2}).json()
    second = api.get(path, params={"page_size": 2, "bookmark": first["bookmark"]}).json()

    assert second == first


def test_items_not_list_fault(sim, api):
    sim.faults.items_not_list_paths.add("GET /v5/boards")

    body = api.get("/boards").json()

    assert isinstance(body["items"], dict)
    assert set(body["items"]) == set(sim.data.boards)


def test_forbidden_ad_account(sim, api):
    forbidden = list(sim.data.ad_accounts)[1]
    sim.faults.forbidden_ad_accounts.add(forbidden)

    listed = walk(api, "/ad_accounts")
    responses = [api.get(f"/ad_accounts/{forbidden}"), api.get(f"/ad_accounts/{forbidden}/campaigns"), api.get(f"/ad_accounts/{forbidden}/keywords")]
    allowed = api.get(f"/ad_accounts/{first_account(sim)}/campaigns")
    counts = sim.expected_row_counts()

    assert forbidden in {account["id"] for account in listed}
    assert [(response.status_code, response.json()["code"]) for response in responses] == [(403, 29)] * 3
    assert allowed.status_code == 200
    assert counts["ad_accounts"] == 3
    assert counts["campaigns"] == 8


# Row counts and the command-line server


def test_expected_row_counts_match_full_walk(sim, api):
    """A correct client walking every endpoint loads exactly expected_row_counts()."""
    sim.faults.forbidden_ad_accounts.add(list(sim.data.ad_accounts)[2])
    loaded: dict[str, set[str]] = {}

    accounts = walk(api, "/ad_accounts")
    loaded["ad_accounts"] = {item["id"] for item in accounts}
    for table in ("campaigns", "ad_groups", "ads", "keywords", "audiences", "customer_lists", "conversion_tags", "product_group_promotions"):
        loaded[table] = set()
    for account in accounts:
        account_id = account["id"]
        if api.get(f"/ad_accounts/{account_id}").status_code == 403:
            continue
        statuses = {"entity_statuses": ALL_STATUSES, "page_size": 250}
        for table in ("campaigns", "ad_groups", "ads"):
            loaded[table] |= {item["id"] for item in walk(api, f"/ad_accounts/{account_id}/{table}", statuses)}
        groups = walk(api, f"/ad_accounts/{account_id}/ad_groups", statuses)
        group_ids = [group["id"] for group in groups]
        loaded["keywords"] |= {item["id"] for item in walk(api, f"/ad_accounts/{account_id}/keywords")}
        loaded["keywords"] |= {item["id"] for item in walk(api, f"/ad_accounts/{account_id}/keywords", {"ad_group_ids": group_ids})}
        loaded["audiences"] |= {item["id"] for item in walk(api, f"/ad_accounts/{account_id}/audiences")}
        loaded["customer_lists"] |= {item["id"] for item in walk(api, f"/ad_accounts/{account_id}/customer_lists")}
        loaded["conversion_tags"] |= {item["id"] for item in api.get(f"/ad_accounts/{account_id}/conversion_tags").json()["items"]}
        for group_id in group_ids:
            promotions = walk(api, f"/ad_accounts/{account_id}/product_group_promotions", {"ad_group_id": group_id, "entity_statuses": ALL_STATUSES})
            loaded["product_group_promotions"] |= {item["id"] for item in promotions}
    boards = walk(api, "/boards")
    loaded["boards"] = {board["id"] for board in boards}
    loaded["board_sections"] = {section["id"] for board in boards for section in walk(api, f"/boards/{board['id']}/sections")}
    loaded["pins"] = {pin["id"] for board in boards for pin in walk(api, f"/boards/{board['id']}/pins", {"page_size": 250})}
    loaded["user_account"] = {api.get("/user_account").json()["id"]}
    loaded["catalogs"] = {item["id"] for item in walk(api, "/catalogs")}
    loaded["catalog_feeds"] = {item["id"] for item in walk(api, "/catalogs/feeds")}
    loaded["catalog_product_groups"] = {item["id"] for item in walk(api, "/catalogs/product_groups")}

    assert {table: len(ids) for table, ids in loaded.items()} == sim.expected_row_counts()


def test_serve_forever_prints_and_stops():
    """`serve_forever` prints working fake credentials and exits cleanly on Ctrl-C."""
    script = (
        "from pipelines.pinterest.simulator import SimulatorConfig, serve_forever\n"
        "serve_forever(SimulatorConfig(seed=3), port=0)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        printed: dict[str, str] = {}
        assert process.stdout is not None
        for line in process.stdout:
            if not line.strip():
                break
            name, _, value = line.partition(": ")
            printed[name] = value.strip()

        assert {"base_url", "client_id", "client_secret", "refresh_token"} <= set(printed)
        assert printed["base_url"].startswith("http://127.0.0.1:")
        assert printed["base_url"].endswith("/v5")
        token = httpx.post(
            printed["base_url"] + "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": printed["refresh_token"]},
            auth=(printed["client_id"], printed["client_secret"]),
        )
        assert token.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        return_code = process.wait(timeout=10)

    assert return_code == 0
