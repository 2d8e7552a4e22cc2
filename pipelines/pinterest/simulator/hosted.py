"""A stand-in for Airbyte's hosted connector API, serving a running Pinterest simulator's data.

`HostedSimulator(sim).start()` serves on 127.0.0.1 and a free port:

- `POST /api/v1/account/applications/token`: application token from client id and secret;
- `GET /api/v1/integrations/connectors?customer_name=`: the customer's connectors
  (`{"data": [...]}`), 404 for an unknown customer;
- `POST /api/v1/integrations/connectors`: create a Pinterest connector from credentials;
- `POST /api/v1/integrations/connectors/oauth/initiate`: returns a `consent_url` whose
  page redirects to `redirect_url?connector_id=...`, or `?error=access_denied` when
  `faults.deny_consent` is set;
- `POST /api/v1/integrations/connectors/{connector_id}/execute`: `list` (and `get` for
  ad accounts and boards) of the Pinterest entities.

Execute calls are forwarded over HTTP to the Pinterest simulator with an access token
it issued, as Airbyte forwards them to Pinterest. The data, filters and limits are
therefore the same as on the direct path, and so are the Pinterest simulator's own
faults (error rate, repeated bookmarks, forbidden accounts, the board pin cap, no
catalog). Pinterest's bookmark
comes back in `connector_metadata` under the connector's `cursor_field` (`bookmark`,
`cursor` or `end_cursor`). As in Airbyte's records, board sections lack `board_id` and
keywords lack `ad_account_id` and `ad_group_id`. Pinterest errors come back with
Pinterest's status (5xx and broken replies as 502) and body `{"message", "code"}`.

Faults of the hosted API itself are in `HostedFaults`; `expire_tokens()` makes every
issued application token fail with 401. With more than one organization, requests other
than the token request need `X-Organization-Id`.

NOTE: Airbyte's reply to a failed Pinterest call is not documented; the status
pass-through above is this simulator's assumption.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import json
import logging
import random
import re
import secrets
import socket
import threading
import time
import urllib.parse
import uuid
from collections.abc import MutableMapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .faults import send_scripted_answer, template_matches

if TYPE_CHECKING:
    from .server import Simulator

logger = logging.getLogger(__name__)

API = "/api/v1"
TOKEN_PATH = f"{API}/account/applications/token"
CONNECTORS_PATH = f"{API}/integrations/connectors"
EXECUTE_PATH = CONNECTORS_PATH + "/{connector_id}/execute"
OAUTH_INITIATE_PATH = CONNECTORS_PATH + "/oauth/initiate"
CONSENT_PATH = "/consent/{session_id}"

ORGANIZATION_HEADER = "x-organization-id"
CURSOR_FIELDS = ("bookmark", "cursor", "end_cursor")
CONNECTOR_TYPE = "Pinterest"
DEFAULT_TOKEN_TTL_SECONDS = 15 * 60
UPSTREAM_TIMEOUT_SECONDS = 30.0
STARTUP_TIMEOUT_SECONDS = 15.0


@dataclasses.dataclass(frozen=True)
class HostedEntity:
    """A hosted entity: the Pinterest path behind it and what its records leave out."""

    list_path: str
    get_path: str | None = None
    stripped_fields: tuple[str, ...] = ()

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(re.findall(r"\{(\w+)\}", self.list_path))


ENTITIES: dict[str, HostedEntity] = {
    "ad_accounts": HostedEntity("/ad_accounts", get_path="/ad_accounts/{ad_account_id}"),
    "campaigns": HostedEntity("/ad_accounts/{ad_account_id}/campaigns"),
    "ad_groups": HostedEntity("/ad_accounts/{ad_account_id}/ad_groups"),
    "ads": HostedEntity("/ad_accounts/{ad_account_id}/ads"),
    "audiences": HostedEntity("/ad_accounts/{ad_account_id}/audiences"),
    "conversion_tags": HostedEntity("/ad_accounts/{ad_account_id}/conversion_tags"),
    "customer_lists": HostedEntity("/ad_accounts/{ad_account_id}/customer_lists"),
    "keywords": HostedEntity("/ad_accounts/{ad_account_id}/keywords", stripped_fields=("ad_account_id", "ad_group_id")),
    "boards": HostedEntity("/boards", get_path="/boards/{board_id}"),
    "board_sections": HostedEntity("/boards/{board_id}/sections", stripped_fields=("board_id",)),
    "board_pins": HostedEntity("/boards/{board_id}/pins"),
    "catalogs": HostedEntity("/catalogs"),
    "catalogs_feeds": HostedEntity("/catalogs/feeds"),
    "catalogs_product_groups": HostedEntity("/catalogs/product_groups"),
}


@dataclasses.dataclass
class HostedConnector:
    """One hosted Pinterest connector; `cursor_field` names the bookmark key in replies."""

    id: str
    customer_name: str
    organization_id: str
    name: str
    cursor_field: str = "bookmark"
    replication_config: dict[str, Any] = dataclasses.field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "customer_name": self.customer_name,
            "connector_type": CONNECTOR_TYPE,
            "replication_config": dict(self.replication_config),
        }


@dataclasses.dataclass
class HostedFaults:
    """Fault knobs of the hosted API itself; all off by default.

    - `fail_next`: one-shot scripted responses `(path template, status, body, headers)`,
      consumed in order by the first matching request; templates are written like
      "POST /api/v1/integrations/connectors/{connector_id}/execute".
    - `repeat_cursor_entities`: entities whose bookmarked pages return the first page
      again with the bookmark that was sent.
    - `deny_consent`: the consent page redirects with `error=access_denied`.
    - `keywords_need_ad_group`: a keywords list without `ad_group_id` fails with 400, as
      Airbyte's keywords entity declares the parameter required. False forwards the
      list to Pinterest, which returns the keywords whose parent is the ad account.
    """

    fail_next: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)
    repeat_cursor_entities: set[str] = dataclasses.field(default_factory=set)
    deny_consent: bool = False
    keywords_need_ad_group: bool = True

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def pop_scripted_response(self, method: str, template: str) -> tuple[Any, ...] | None:
        with self._lock:
            for index, response in enumerate(self.fail_next):
                if template_matches(response[0], method, template):
                    return self.fail_next.pop(index)
        return None


class HostedError(Exception):
    """An error response of the hosted API: `{"message": ...}` plus optional fields."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None, **fields: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.fields = fields

    def response(self) -> JSONResponse:
        return JSONResponse({"message": self.message, **self.fields}, status_code=self.status, headers=self.headers)


class HostedSimulator:
    """The hosted API over `sim` (a started Pinterest `Simulator`); see the module docstring.

    Made-up credentials and ids come from `seed`, so runs are repeatable. The default
    customer `customer_name` owns one connector, `connector_id`, in the first organization.
    """

    def __init__(
        self,
        sim: Simulator,
        *,
        organizations: int = 1,
        token_ttl_seconds: float = DEFAULT_TOKEN_TTL_SECONDS,
        customer_name: str = "simulated-customer",
        seed: int = 7,
    ) -> None:
        if organizations < 1:
            raise ValueError(f"organizations={organizations} is invalid: use 1 or more.")
        self.sim = sim
        self.token_ttl_seconds = token_ttl_seconds
        self.faults = HostedFaults()
        self._random = random.Random(f"hosted:{seed}")
        self.client_id = f"airbyte-app-{self._hex(8)}"
        self.client_secret = self._hex(32)
        self.organization_ids = [self._uuid() for _ in range(organizations)]
        self.customer_name = customer_name

        self.customers: dict[str, str] = {}
        self.connectors: dict[str, HostedConnector] = {}
        self.tokens: dict[str, float] = {}
        self.oauth_sessions: dict[str, dict[str, str]] = {}
        self.token_requests = 0
        self.request_counts: collections.Counter[str] = collections.Counter()
        self.requests_log: list[tuple[str, str, dict[str, Any], int]] = []
        self._lock = threading.Lock()
        self._upstream_token: str | None = None
        self._created = 0

        self.connector_id = self.add_connector(customer_name, cursor_field="bookmark").id
        self.app = self.build_app()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._address: tuple[str, int] | None = None

    # Set-up helpers for tests

    def _hex(self, length: int) -> str:
        return "".join(self._random.choice("0123456789abcdef") for _ in range(length))

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._random.getrandbits(128), version=4))

    def add_customer(self, customer_name: str, organization_id: str | None = None) -> None:
        """Register a customer (in the first organization by default) without connectors."""
        with self._lock:
            self.customers.setdefault(customer_name, organization_id or self.organization_ids[0])

    def add_connector(self, customer_name: str, *, cursor_field: str | None = None, name: str | None = None,
                      replication_config: dict[str, Any] | None = None) -> HostedConnector:
        """Create a connector for `customer_name`; without `cursor_field`, rotate through all three."""
        self.add_customer(customer_name)
        with self._lock:
            field = cursor_field or CURSOR_FIELDS[(self._created + 1) % len(CURSOR_FIELDS)]
            if field not in CURSOR_FIELDS:
                raise ValueError(f"cursor_field {field!r} is invalid: use one of {', '.join(CURSOR_FIELDS)}.")
            self._created += 1
            connector = HostedConnector(
                id=self._uuid(),
                customer_name=customer_name,
                organization_id=self.customers[customer_name],
                name=name or f"Pinterest ({customer_name})",
                cursor_field=field,
                replication_config=dict(replication_config or {}),
            )
            self.connectors[connector.id] = connector
        return connector

    def expire_tokens(self) -> None:
        """Expire every application token issued so far, so it gets a 401 as after its 15 minutes."""
        with self._lock:
            for token in self.tokens:
                self.tokens[token] = 0.0

    # Application

    def build_app(self) -> ASGIApp:
        routes = [
            Route(TOKEN_PATH, self.issue_token, methods=["POST"]),
            Route(OAUTH_INITIATE_PATH, self.initiate_oauth, methods=["POST"]),
            Route(CONNECTORS_PATH, self.list_connectors, methods=["GET"]),
            Route(CONNECTORS_PATH, self.create_connector, methods=["POST"]),
            Route(EXECUTE_PATH, self.execute, methods=["POST"]),
            Route(CONSENT_PATH, self.consent, methods=["GET"]),
        ]
        app = Starlette(routes=routes, exception_handlers={HostedError: respond_with_hosted_error})
        return _HostedMiddleware(app, self)

    async def issue_token(self, request: Request) -> Response:
        body = await _json_object(request)
        client_id, client_secret = body.get("client_id"), body.get("client_secret")
        if not isinstance(client_id, str) or not isinstance(client_secret, str):
            raise HostedError(422, "Send a JSON body with client_id and client_secret.")
        valid = secrets.compare_digest(client_id.encode(), self.client_id.encode()) and secrets.compare_digest(
            client_secret.encode(), self.client_secret.encode()
        )
        if not valid:
            raise HostedError(401, "Invalid client credentials.")
        token = f"abt_{secrets.token_urlsafe(24)}"
        with self._lock:
            self.tokens[token] = time.time() + self.token_ttl_seconds
            self.token_requests += 1
        return JSONResponse({"access_token": token, "token_type": "Bearer"})

    async def list_connectors(self, request: Request) -> Response:
        organization_id = self.authorize(request)
        customer_name = request.query_params.get("customer_name")
        if not customer_name:
            raise HostedError(422, "Query parameter customer_name is required.")
        if self.customers.get(customer_name) != organization_id:
            raise HostedError(404, f"Customer '{customer_name}' not found.")
        connectors = [item.public() for item in list(self.connectors.values()) if item.customer_name == customer_name]
        return JSONResponse({"data": connectors})

    async def create_connector(self, request: Request) -> Response:
        organization_id = self.authorize(request)
        body = await _json_object(request)
        customer_name = _required_text(body, "customer_name")
        _check_connector_type(body)
        credentials = body.get("credentials")
        if not isinstance(credentials, dict) or any(not isinstance(credentials.get(key), str) or not credentials[key]
                                                    for key in ("refresh_token", "client_id", "client_secret")):
            raise HostedError(422, "credentials must contain refresh_token, client_id and client_secret.")
        if credentials["client_id"] != self.sim.client_id or credentials["client_secret"] != self.sim.client_secret:
            raise HostedError(400, "Pinterest rejected the credentials: client_id or client_secret is wrong.")
        replication = body.get("replication_config") or {}
        start_date = replication.get("start_date") if isinstance(replication, dict) else None
        if start_date is not None and not _is_date(start_date):
            raise HostedError(422, f"replication_config.start_date '{start_date}' is not a date in the form YYYY-MM-DD.")

        self.add_customer(customer_name, organization_id)
        if self.customers[customer_name] != organization_id:
            raise HostedError(409, f"Customer '{customer_name}' belongs to another organization.")
        name = body.get("name") if isinstance(body.get("name"), str) and body.get("name") else None
        connector = self.add_connector(customer_name, name=name, replication_config=replication)
        return JSONResponse(connector.public(), status_code=201)

    async def initiate_oauth(self, request: Request) -> Response:
        organization_id = self.authorize(request)
        body = await _json_object(request)
        customer_name = _required_text(body, "customer_name")
        _check_connector_type(body)
        redirect_url = _required_text(body, "redirect_url")
        parsed = urllib.parse.urlparse(redirect_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise HostedError(422, f"redirect_url '{redirect_url}' is not an absolute http(s) URL.")
        session_id = secrets.token_urlsafe(16)
        with self._lock:
            self.oauth_sessions[session_id] = {"customer_name": customer_name, "redirect_url": redirect_url, "organization_id": organization_id}
        return JSONResponse({"consent_url": f"{self.origin}{CONSENT_PATH.format(session_id=session_id)}"})

    async def consent(self, request: Request) -> Response:
        """Approve (or deny) the consent at once and redirect to the caller's redirect_url."""
        with self._lock:
            session = self.oauth_sessions.pop(request.path_params["session_id"], None)
        if session is None:
            return PlainTextResponse("Unknown or used consent link.", status_code=404)
        if self.faults.deny_consent:
            return RedirectResponse(_with_query(session["redirect_url"], error="access_denied"), status_code=302)
        self.add_customer(session["customer_name"], session["organization_id"])
        connector = self.add_connector(session["customer_name"])
        return RedirectResponse(_with_query(session["redirect_url"], connector_id=connector.id), status_code=302)

    async def execute(self, request: Request) -> Response:
        organization_id = self.authorize(request)
        connector = self.connectors.get(request.path_params["connector_id"])
        if connector is None or connector.organization_id != organization_id:
            raise HostedError(404, f"Connector '{request.path_params['connector_id']}' not found.")

        body = await _json_object(request)
        entity_name, action = body.get("entity"), body.get("action")
        params = body.get("params") or {}
        if not isinstance(params, dict):
            raise HostedError(422, "params must be a JSON object.")
        entity = ENTITIES.get(entity_name) if isinstance(entity_name, str) else None
        if entity is None:
            raise HostedError(400, f"Unknown entity '{entity_name}'. Entities: {', '.join(ENTITIES)}.")
        if action not in ("list", "get") or (action == "get" and entity.get_path is None):
            raise HostedError(400, f"Action '{action}' is not supported for entity '{entity_name}'.")

        template = entity.list_path if action == "list" else entity.get_path
        assert template is not None
        path_ids = re.findall(r"\{(\w+)\}", template)
        missing = [name for name in path_ids if not params.get(name)]
        if entity_name == "keywords" and action == "list" and self.faults.keywords_need_ad_group and not params.get("ad_group_id"):
            missing.append("ad_group_id")
        if missing:
            raise HostedError(400, f"Missing required parameter(s) {', '.join(missing)} for entity '{entity_name}' action '{action}'.")

        path = template.format(**{name: urllib.parse.quote(str(params[name]), safe="") for name in path_ids})
        query = {key: value for key, value in params.items() if key not in path_ids}
        repeat = action == "list" and entity_name in self.faults.repeat_cursor_entities and bool(query.get("bookmark"))
        sent_bookmark = query.get("bookmark")
        if repeat:
            query.pop("bookmark")

        reply = await self.call_pinterest(path, query)
        if action == "get":
            return JSONResponse({"status": "success", "result": reply, "connector_metadata": {}})

        items = [_without(item, entity.stripped_fields) for item in reply.get("items") or []]
        bookmark = sent_bookmark if repeat else reply.get("bookmark")
        return JSONResponse({"status": "success", "result": items, "connector_metadata": {connector.cursor_field: bookmark or None}})

    def authorize(self, request: Request) -> str:
        """Check the bearer token and organization header; return the organization in use."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self._lock:
            expires_at = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if expires_at is None or expires_at <= time.time():
            raise HostedError(401, "Invalid or expired access token.")

        organization_id = request.headers.get(ORGANIZATION_HEADER)
        if organization_id is None:
            if len(self.organization_ids) > 1:
                raise HostedError(
                    400,
                    f"These credentials belong to {len(self.organization_ids)} organizations: "
                    "send the X-Organization-Id header to choose one.",
                )
            return self.organization_ids[0]
        if organization_id not in self.organization_ids:
            raise HostedError(403, f"Organization '{organization_id}' is not accessible with these credentials.")
        return organization_id

    async def call_pinterest(self, path: str, query: dict[str, Any]) -> Any:
        """GET a Pinterest simulator path; a 401 gets a new access token and one more try."""
        for attempt in range(2):
            token = self._pinterest_token(renew=attempt > 0)
            try:
                async with httpx.AsyncClient(timeout=UPSTREAM_TIMEOUT_SECONDS) as client:
                    response = await client.get(self.sim.base_url + path, params=query, headers={"Authorization": f"Bearer {token}"})
            except httpx.TimeoutException:
                raise HostedError(504, "Pinterest did not respond in time.") from None
            except httpx.HTTPError as error:
                raise HostedError(502, f"The connection to Pinterest failed ({type(error).__name__}).") from None
            if response.status_code != 401:
                break
        return _pinterest_result(response)

    def _pinterest_token(self, renew: bool) -> str:
        with self._lock:
            if self._upstream_token is None or renew:
                self._upstream_token = self.sim.issue_access_token()
            return self._upstream_token

    # Lifecycle

    def start(self) -> HostedSimulator:
        """Serve on 127.0.0.1 and a free port, returning once requests are accepted."""
        if self._thread is not None:
            raise RuntimeError("The hosted simulator is already running: call stop() first.")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        self._address = ("127.0.0.1", listener.getsockname()[1])
        config = uvicorn.Config(self.app, log_config=None, log_level="warning", access_log=False, lifespan="off",
                                loop="asyncio", http="h11", ws="none", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [listener]}, name="hosted-simulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("The hosted simulator did not start: see the uvicorn errors logged above.")
            time.sleep(0.01)
        logger.info("Hosted Airbyte API simulator listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> HostedSimulator:
        return self if self._thread is not None else self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        if self._address is None:
            raise RuntimeError("The hosted simulator has no address yet: call start() first.")
        return f"http://{self._address[0]}:{self._address[1]}"

    @property
    def base_url(self) -> str:
        """The API base URL (`sources.pinterest.airbyte.base_url`), without `/api/v1`."""
        return self.origin

    def __repr__(self) -> str:
        where = self.base_url if self._address else "not started"
        return f"HostedSimulator({len(self.connectors)} connectors, {where})"


async def respond_with_hosted_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HostedError)
    return error.response()


class _HostedMiddleware:
    """ASGI wrapper that counts and logs requests, sends scripted responses and adds a request id."""

    def __init__(self, app: Starlette, hosted: HostedSimulator) -> None:
        self.app = app
        self.hosted = hosted
        self.routes = app.routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        method = scope["method"]
        template = self.template(scope)
        statuses: list[int] = []
        request_id = uuid.uuid4().hex

        async def send_with_request_id(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        receive = await _buffered(receive, scope)
        self.hosted.request_counts[f"{method} {template}"] += 1
        try:
            scripted = self.hosted.faults.pop_scripted_response(method, template)
            if scripted is not None:
                await send_scripted_answer(send_with_request_id, scripted)
                return
            await self.app(scope, receive, send_with_request_id)
        finally:
            details = _loggable_request(scope)
            self.hosted.requests_log.append((method, template, details, statuses[0] if statuses else 0))

    def template(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return route.path  # type: ignore[attr-defined]
        return scope["path"]


async def _buffered(receive: Receive, scope: Scope) -> Receive:
    """Read the request body once so the log can show it and the app can still read it."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    scope["hosted.body"] = body
    sent = False

    async def replay() -> MutableMapping[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _loggable_request(scope: Scope) -> dict[str, Any]:
    """Query and JSON body of a request with every secret value replaced."""
    query = urllib.parse.parse_qs(scope.get("query_string", b"").decode(), keep_blank_values=True)
    try:
        body = json.loads(scope.get("hosted.body") or b"null")
    except ValueError:
        body = None
    if isinstance(body, dict):
        body = {key: ("(secret)" if key in ("client_secret", "credentials") else value) for key, value in body.items()}
    return {"query": query, "body": body}


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise HostedError(400, "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise HostedError(400, "The request body must be a JSON object.")
    return body


def _required_text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise HostedError(422, f"{name} is required.")
    return value.strip()


def _check_connector_type(body: dict[str, Any]) -> None:
    connector_type = body.get("connector_type")
    if not isinstance(connector_type, str) or connector_type.lower() != CONNECTOR_TYPE.lower():
        raise HostedError(422, f"connector_type '{connector_type}' is not available: use '{CONNECTOR_TYPE}'.")


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _with_query(url: str, **params: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _without(record: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key not in fields}


def _pinterest_result(response: httpx.Response) -> Any:
    """Return the JSON of a successful Pinterest reply, or raise HostedError carrying Pinterest's error."""
    try:
        body = response.json()
    except ValueError:
        body = None

    if response.is_success and body is not None:
        return body
    if response.is_success:
        raise HostedError(502, "Pinterest returned a reply that is not JSON.")

    code = body.get("code") if isinstance(body, dict) else None
    message = body.get("message") if isinstance(body, dict) else None
    text = f"Pinterest API error: {message or ' '.join(response.text.split())[:200]}"
    if response.status_code >= 500:
        raise HostedError(502, text, code=code)
    headers = {}
    if response.status_code == 429:
        headers["Retry-After"] = response.headers.get("retry-after") or response.headers.get("x-ratelimit-reset") or "1"
    raise HostedError(response.status_code, text, headers=headers, code=code)
