"""The simulator's entity responses and error envelopes, validated against Pinterest's OpenAPI 5.23.0.

Each response goes through openapi-core's OpenAPI 3.0 response validation, and each
object is compared with its component schema's property names: the simulator must
send every documented field and nothing undocumented.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_core import Config, OpenAPI, V30ResponseValidator
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.response.exceptions import InvalidData

from pipelines.pinterest.simulator import Simulator, SimulatorConfig

from .support import OPENAPI_PATH

SPEC_PATH = OPENAPI_PATH
SPEC_HOST = "https://api.pinterest.com"

# Pinterest sends boards' and pins' date-times without a zone ("2024-05-01T10:20:30"),
# which RFC 3339 (the description's `format: date-time`) rejects; they mean UTC.
ISO_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")


def is_iso_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not ISO_DATE_TIME.match(value):
        return False
    dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


@pytest.fixture(scope="session")
def openapi() -> OpenAPI:
    config = Config(response_validator_cls=V30ResponseValidator, extra_format_validators={"date-time": is_iso_date_time})
    return OpenAPI.from_file_path(str(SPEC_PATH), config=config)


@pytest.fixture(scope="session")
def spec_schemas() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())["components"]["schemas"]


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorConfig(seed=11, scale="small", today=dt.date(2025, 6, 1))) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def api(sim: Simulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {sim.issue_access_token()}"}
    with httpx.Client(base_url=sim.base_url, headers=headers, timeout=10) as client:
        yield client


def validate(openapi: OpenAPI, method: str, path: str, response: httpx.Response) -> None:
    """Raise openapi-core's validation error when the response breaks the description."""
    content_type = response.headers.get("content-type", "application/json").split(";")[0]
    request = MockRequest(SPEC_HOST, method.lower(), "/v5" + path)
    openapi.validate_response(request, MockResponse(response.content, status_code=response.status_code, content_type=content_type))


def resolve(schemas: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def documented_properties(schemas: dict[str, Any], schema: dict[str, Any], item: dict[str, Any]) -> set[str]:
    """Property names of `schema` for `item`, through allOf and a discriminated oneOf."""
    schema = resolve(schemas, schema)
    names = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        names |= documented_properties(schemas, part, item)
    discriminator = schema.get("discriminator")
    if "oneOf" in schema and discriminator:
        chosen = discriminator["mapping"][item[discriminator["propertyName"]]]
        names |= documented_properties(schemas, {"$ref": chosen}, item)
    return names


def assert_fields_match_schema(schemas: dict[str, Any], schema_name: str, items: list[dict[str, Any]]) -> None:
    assert items, f"no {schema_name} objects to check"
    for item in items:
        documented = documented_properties(schemas, {"$ref": f"#/components/schemas/{schema_name}"}, item)
        assert set(item) - documented == set(), f"{schema_name} {item.get('id')} has undocumented fields"
        assert documented - set(item) == set(), f"{schema_name} {item.get('id')} lacks documented fields"


def walk_pages(openapi: OpenAPI, api: httpx.Client, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Fetch every page of a list endpoint, validating each response."""
    items: list[dict[str, Any]] = []
    bookmark = None
    for _ in range(100):
        response = api.get(path, params={**params, **({"bookmark": bookmark} if bookmark else {})})
        assert response.status_code == 200, response.text
        validate(openapi, "GET", path, response)
        body = response.json()
        items.extend(body["items"])
        bookmark = body.get("bookmark")
        if not bookmark:
            return items
    raise AssertionError(f"{path} did not end within 100 pages")


def catalog_sales_ad_group(sim: Simulator) -> str:
    return next(promotion["ad_group_id"] for promotion in sim.data.product_group_promotions.values())


def list_endpoints(sim: Simulator) -> list[tuple[str, dict[str, Any], str]]:
    account_id = next(iter(sim.data.ad_accounts))
    section = next(iter(sim.data.board_sections.values()))
    board_id = section["board_id"]
    group_ids = [group_id for group_id, group in sim.data.ad_groups.items() if group["ad_account_id"] == account_id]
    all_statuses = {"entity_statuses": ["ACTIVE", "PAUSED", "ARCHIVED"], "page_size": 5}
    return [
        ("/ad_accounts", {"page_size": 2}, "AdAccount"),
        (f"/ad_accounts/{account_id}/campaigns", all_statuses, "CampaignResponse"),
        (f"/ad_accounts/{account_id}/ad_groups", all_statuses, "AdGroupResponse"),
        (f"/ad_accounts/{account_id}/ads", all_statuses, "AdResponse"),
        (f"/ad_accounts/{account_id}/keywords", {}, "Keyword"),
        (f"/ad_accounts/{account_id}/keywords", {"ad_group_ids": group_ids, "page_size": 7}, "Keyword"),
        (f"/ad_accounts/{account_id}/audiences", {"page_size": 2}, "Audience"),
        (f"/ad_accounts/{account_id}/customer_lists", {}, "CustomerList"),
        (f"/ad_accounts/{account_id}/product_group_promotions", {"ad_group_id": catalog_sales_ad_group(sim), "entity_statuses": ["ACTIVE", "PAUSED", "ARCHIVED"]}, "ProductGroupPromotion"),
        ("/boards", {"page_size": 3}, "Board"),
        (f"/boards/{board_id}/sections", {}, "BoardSection"),
        (f"/boards/{board_id}/pins", {"page_size": 4}, "Pin"),
        (f"/boards/{board_id}/sections/{section['id']}/pins", {}, "Pin"),
        ("/pins", {"page_size": 250}, "Pin"),
        ("/catalogs", {}, "Catalog"),
        ("/catalogs/feeds", {}, "CatalogsFeed"),
        ("/catalogs/product_groups", {"page_size": 2}, "CatalogsVerticalProductGroup"),
    ]


def test_validator_rejects_numeric_id(openapi):
    """The validation below can fail: an id sent as a JSON number breaks the description."""
    body = json.dumps({"items": [{"id": 549755885175, "name": "x"}], "bookmark": None}).encode()

    with pytest.raises(InvalidData):
        openapi.validate_response(MockRequest(SPEC_HOST, "get", "/v5/ad_accounts"), MockResponse(body))


def test_list_endpoints_match_spec(sim, api, openapi, spec_schemas):
    for path, params, schema_name in list_endpoints(sim):
        items = walk_pages(openapi, api, path, params)

        assert_fields_match_schema(spec_schemas, schema_name, items)


def test_conversion_tags_match_spec(sim, api, openapi, spec_schemas):
    account_id = next(iter(sim.data.ad_accounts))
    path = f"/ad_accounts/{account_id}/conversion_tags"

    response = api.get(path)

    assert response.status_code == 200
    validate(openapi, "GET", path, response)
    assert set(response.json()) == {"items"}
    assert_fields_match_schema(spec_schemas, "ConversionTag", response.json()["items"])


def test_single_objects_match_spec(sim, api, openapi, spec_schemas):
    account_id = next(iter(sim.data.ad_accounts))
    board_id = next(iter(sim.data.boards))
    pin_id = next(iter(sim.data.pins))
    cases = [
        (f"/ad_accounts/{account_id}", "AdAccount"),
        (f"/boards/{board_id}", "Board"),
        (f"/pins/{pin_id}", "Pin"),
        ("/user_account", "Account"),
    ]
    for path, schema_name in cases:
        response = api.get(path)

        assert response.status_code == 200, path
        validate(openapi, "GET", path, response)
        assert_fields_match_schema(spec_schemas, schema_name, [response.json()])


def test_video_pins_match_spec(sim, api, openapi, spec_schemas):
    video_pin_id = next(pin_id for pin_id, pin in sim.data.pins.items() if pin["media"]["media_type"] == "video")
    path = f"/pins/{video_pin_id}"

    response = api.get(path)

    validate(openapi, "GET", path, response)
    assert response.json()["media"]["media_type"] == "video"


def test_token_response_matches_spec(sim, openapi):
    response = httpx.post(
        sim.base_url + "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": sim.refresh_token, "continuous_refresh": "true"},
        auth=(sim.client_id, sim.client_secret),
    )

    assert response.status_code == 200
    validate(openapi, "POST", "/oauth/token", response)
    assert set(response.json()) >= {"refresh_token", "refresh_token_expires_in", "refresh_token_expires_at"}


def test_rejected_refresh_matches_spec(sim, openapi):
    response = httpx.post(
        sim.base_url + "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "pinr.not-the-current-one"},
        auth=(sim.client_id, sim.client_secret),
    )

    assert response.status_code == 401
    validate(openapi, "POST", "/oauth/token", response)


def test_error_envelopes_match_spec(sim, api, openapi):
    account_id = next(iter(sim.data.ad_accounts))
    cases = [
        (f"/ad_accounts/{account_id}/campaigns", {"page_size": 251}, 400, 1),
        (f"/ad_accounts/{account_id}/product_group_promotions", {}, 400, 1),
        (f"/ad_accounts/{account_id}/ads", {"entity_statuses": "RUNNING"}, 400, 1),
        ("/boards/1/pins", {}, 404, 40),
        ("/pins/1", {}, 404, 50),
        ("/ad_accounts/1", {}, 404, 404),
    ]
    for path, params, status, code in cases:
        response = api.get(path, params=params)

        assert (response.status_code, response.json()["code"]) == (status, code), path
        validate(openapi, "GET", path, response)


def test_unauthenticated_error_matches_spec(sim, openapi):
    response = httpx.get(sim.base_url + "/ad_accounts")

    assert response.status_code == 401
    assert response.json()["code"] == 2
    validate(openapi, "GET", "/ad_accounts", response)


def test_forbidden_error_matches_spec(sim, api, openapi):
    account_id = list(sim.data.ad_accounts)[1]
    sim.faults.forbidden_ad_accounts.add(account_id)
    try:
        for path in (f"/ad_accounts/{account_id}", f"/ad_accounts/{account_id}/campaigns"):
            response = api.get(path)

            assert response.status_code == 403
            assert response.json()["code"] == 29
            validate(openapi, "GET", path, response)
    finally:
        sim.faults.forbidden_ad_accounts.clear()


def test_no_catalog_error_matches_spec(sim, api, openapi):
    sim.data.has_catalog = False
    try:
        for path in ("/catalogs", "/catalogs/feeds", "/catalogs/product_groups"):
            response = api.get(path)

            assert response.status_code == 409
            assert response.json()["code"] == 4182
            validate(openapi, "GET", path, response)
    finally:
        sim.data.has_catalog = True


def test_rate_limit_error_matches_spec(sim, api, openapi):
    sim.set_rate_limits({"ads_read": 1})
    try:
        api.get("/ad_accounts")
        response = api.get("/ad_accounts")
    finally:
        sim.set_rate_limits(None)

    assert response.status_code == 429
    assert response.json()["code"] == 8
    assert 1 <= int(response.headers["X-RateLimit-Reset"]) <= 60
    validate(openapi, "GET", "/ad_accounts", response)
