"""HTTP client for the hosted Airbyte execute API: token, connector lookup, execute, set-up.

The official Python packages for this API send telemetry by default and need a newer
Python than this project, so the client talks to the HTTP API with httpx. One
`httpx.Client` carries `ApplicationTokenAuth`; every call goes through `RetryPolicy`.
`X-Organization-Id` is sent on every request when `organization_id` is configured:
without it, application credentials that span several organizations get a 400.
"""

from __future__ import annotations

import collections
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ..config import AirbyteSettings, Credentials
from ..errors import ApiError, ConfigError, PaginationError
from ..settings import PAGE_SIZE
from .auth import ORGANIZATION_HEADER, ApplicationTokenAuth
from .errors import ConnectorNotFoundError, HostedApiError
from .policy import RetryPolicy, error_from_response

logger = logging.getLogger(__name__)

CONNECTORS_PATH = "/api/v1/integrations/connectors"
OAUTH_INITIATE_PATH = CONNECTORS_PATH + "/oauth/initiate"
CONNECTOR_TYPE = "Pinterest"
USER_AGENT = "pinterest-sync"

# The key of the next page's bookmark in `connector_metadata` differs between connector
# versions; all three are accepted.
CURSOR_KEYS = ("bookmark", "cursor", "end_cursor")

# Execute replies whose `status` is one of these carry a failure in a 2xx response.
FAILED_STATUSES = ("error", "failed", "failure")

CONNECTOR_FIX = (
    "Check sources.pinterest.airbyte.connector_id, or create a connector with "
    "`pinterest-sync hosted create` or `pinterest-sync hosted connect`."
)
ORGANIZATION_FIX = (
    "Set sources.pinterest.airbyte.organization_id (environment variable "
    "SOURCES__PINTEREST__AIRBYTE__ORGANIZATION_ID) to the organization that owns the connector."
)


@dataclass(frozen=True)
class Call:
    """Context of one API call, for error messages and error mapping.

    `shown_params` is what an error message may print: never a secret. `parent_named`
    is True when the call names an ad account or board, whose 403 or 404 means that
    object cannot be read rather than that the connector is missing.
    """

    endpoint: str
    shown_params: Mapping[str, Any] | None = None
    connector_id: str | None = None
    ad_account_id: str | None = None
    parent_named: bool = False
    customer_name: str | None = None
    idempotent: bool = True
    kind: str = "api"


class _CountingTransport(httpx.BaseTransport):
    """Transport that counts requests per endpoint, with connector ids as placeholders."""

    CONNECTOR_SEGMENT = re.compile(r"(/integrations/connectors/)(?!oauth/)[^/]+")

    def __init__(self, inner: httpx.BaseTransport, record: Callable[[str], None]) -> None:
        self._inner = inner
        self._record = record

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = self.CONNECTOR_SEGMENT.sub(r"\1{connector_id}", request.url.path)
        self._record(f"{request.method} {path}")
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def require_app_credentials(settings: AirbyteSettings) -> tuple[str, str]:
    """Return the Airbyte client id and secret, or raise ConfigError naming the missing key."""
    values = []
    for name in ("client_id", "client_secret"):
        value = getattr(settings, name)
        if value is None or not str(value).strip():
            key = f"sources.pinterest.airbyte.{name}"
            raise ConfigError(
                f"Missing {key}: set it in .dlt/secrets.toml under [sources.pinterest.airbyte] or in the "
                f"environment variable {key.upper().replace('.', '__')}. It is the Airbyte application "
                f"{name.replace('_', ' ')}, required for the hosted backend."
            )
        values.append(str(value).strip())
    return values[0], values[1]


class ExecuteApi:
    """Client for Airbyte's hosted connector API (token, lookup, execute, create, OAuth).

    The connector id is the configured one or, with only `customer_name` configured,
    looked up once and cached. `request_count` counts HTTP requests, token requests and
    retries included. `page_size` is the records per list page, at most 250 as on Pinterest.
    """

    def __init__(
        self,
        settings: AirbyteSettings,
        *,
        timeout: float = 30.0,
        max_retries: int = 5,
        max_wait_seconds: float = 300.0,
        initial_backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 60.0,
        page_size: int = PAGE_SIZE,
    ) -> None:
        client_id, client_secret = require_app_credentials(settings)
        base_url = str(settings.base_url).rstrip("/")
        if not re.match(r"^https?://[^/\s]+", base_url):
            raise ConfigError(
                f"sources.pinterest.airbyte.base_url = {settings.base_url!r} is not an http(s) URL: "
                "use for example https://api.airbyte.ai."
            )

        self.settings = settings
        self.base_url = base_url
        self.timeout = timeout
        self.page_size = page_size
        self.policy = RetryPolicy(max_retries, max_wait_seconds, initial_backoff_seconds, max_backoff_seconds)
        self.auth = ApplicationTokenAuth(base_url, client_id, client_secret, settings.organization_id)

        self._connector_id = settings.connector_id
        self._connector_lock = threading.Lock()
        self._counts_lock = threading.Lock()
        self._request_counts: collections.Counter[str] = collections.Counter()

        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if settings.organization_id:
            headers[ORGANIZATION_HEADER] = settings.organization_id
        self._http = httpx.Client(
            base_url=base_url,
            auth=self.auth,
            transport=_CountingTransport(httpx.HTTPTransport(), self._record_request),
            timeout=timeout,
            headers=headers,
        )

    def __repr__(self) -> str:
        return f"ExecuteApi(base_url={self.base_url!r}, client_id={self.auth.client_id!r})"

    def __enter__(self) -> ExecuteApi:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def request_count(self) -> int:
        with self._counts_lock:
            return sum(self._request_counts.values())

    @property
    def request_counts(self) -> collections.Counter[str]:
        """A copy of the request counts keyed by "METHOD /path" with `{connector_id}`."""
        with self._counts_lock:
            return collections.Counter(self._request_counts)

    def _record_request(self, endpoint: str) -> None:
        with self._counts_lock:
            self._request_counts[endpoint] += 1

    # Connector selection

    @property
    def connector_id(self) -> str:
        """The connector to execute, looked up by customer name on first use."""
        with self._connector_lock:
            if self._connector_id is None:
                self._connector_id = self._look_up_connector()
            return self._connector_id

    def _look_up_connector(self) -> str:
        customer_name = self.settings.customer_name
        if not customer_name:
            raise ConfigError(
                "Neither sources.pinterest.airbyte.connector_id nor sources.pinterest.airbyte.customer_name "
                "is set: set one of them (environment variables SOURCES__PINTEREST__AIRBYTE__CONNECTOR_ID or "
                "SOURCES__PINTEREST__AIRBYTE__CUSTOMER_NAME) to choose the hosted connector."
            )

        call = Call(f"GET {CONNECTORS_PATH}", {"customer_name": customer_name}, customer_name=customer_name, kind="lookup")
        body = self._call("GET", CONNECTORS_PATH, call, params={"customer_name": customer_name})
        connectors = body.get("data") if isinstance(body, dict) else body
        if not isinstance(connectors, list):
            raise HostedApiError(200, None, "the connector list has no `data` list", call.endpoint, params=call.shown_params)

        typed = [item for item in connectors if isinstance(item, dict) and "connector_type" in item]
        if typed:
            connectors = [item for item in typed if str(item["connector_type"]).lower() == CONNECTOR_TYPE.lower()]
        ids = [str(item["id"]) for item in connectors if isinstance(item, dict) and item.get("id")]

        if not ids:
            raise ConnectorNotFoundError(
                f"Customer {customer_name!r} has no hosted Pinterest connector. Create one with "
                "`pinterest-sync hosted create` or `pinterest-sync hosted connect`, or set "
                "sources.pinterest.airbyte.connector_id."
            )
        if len(ids) > 1:
            raise ConfigError(
                f"Customer {customer_name!r} has {len(ids)} hosted Pinterest connectors ({', '.join(ids)}): "
                "set sources.pinterest.airbyte.connector_id to the one to read."
            )
        logger.info("Customer %s uses hosted connector %s", customer_name, ids[0])
        return ids[0]

    # Execute

    def execute(self, entity: str, action: str, params: Mapping[str, Any], *, parent_named: bool = False) -> Any:
        """Run one `entity`/`action` on the connector and return the parsed reply."""
        connector_id = self.connector_id
        path = f"{CONNECTORS_PATH}/{connector_id}/execute"
        call = Call(
            endpoint=f"POST {CONNECTORS_PATH}/{{connector_id}}/execute ({entity} {action})",
            shown_params=dict(params),
            connector_id=connector_id,
            ad_account_id=_text_or_none(params.get("ad_account_id")),
            parent_named=parent_named,
            customer_name=self.settings.customer_name,
            kind="execute",
        )
        body = {"entity": entity, "action": action, "params": dict(params)}
        reply = self._call("POST", path, call, json=body)

        status = reply.get("status") if isinstance(reply, dict) else None
        if isinstance(status, str) and status.lower() in FAILED_STATUSES:
            message = reply.get("error") or reply.get("message") or f"status {status!r}"
            raise HostedApiError(200, None, str(message), call.endpoint, params=call.shown_params, connector_id=connector_id,
                                 ad_account_id=call.ad_account_id)
        return reply

    def list_pages(
        self,
        entity: str,
        params: Mapping[str, Any],
        *,
        parent_named: bool = False,
        before_page: Callable[[], object] | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield the non-empty pages of an entity list, `page_size` records a page.

        The next page's bookmark is read from `connector_metadata` under any of
        CURSOR_KEYS and sent back as `params.bookmark`; paging stops on a null or empty
        one. A bookmark that comes back after it was followed raises PaginationError,
        because following it would repeat the same page forever.
        """
        query = dict(params)
        query["page_size"] = self.page_size
        seen: set[str] = set()
        if query.get("bookmark"):
            seen.add(str(query["bookmark"]))
        label = f"{entity} list on hosted connector {self.connector_id}"

        while True:
            if before_page is not None:
                before_page()
            reply = self.execute(entity, "list", query, parent_named=parent_named)
            records = _records_of(reply, label, query)
            key, bookmark = next_bookmark(reply)

            if bookmark is not None and bookmark in seen:
                raise PaginationError(
                    label,
                    f"the reply repeated connector_metadata.{key} {bookmark!r}, which was already followed, so "
                    f"following it again would repeat the same page forever (params {query}). "
                    f"The {entity} records are incomplete; run the sync again later.",
                )
            if records:
                yield records
            if bookmark is None:
                return
            seen.add(bookmark)
            query["bookmark"] = bookmark

    # Set-up calls

    def create_connector(self, customer_name: str, name: str, credentials: Credentials, start_date: str) -> str:
        """Create a hosted Pinterest connector and return its id.

        Not retried after a timeout or a 5xx: the connector may exist already, and a
        second one would make the lookup by customer name ambiguous.
        """
        body = {
            "customer_name": customer_name,
            "connector_type": CONNECTOR_TYPE,
            "name": name,
            "credentials": {
                "refresh_token": credentials.refresh_token,
                "client_id": credentials.client_id,
                "client_secret": credentials.client_secret,
            },
            "replication_config": {"start_date": start_date},
        }
        shown = {**body, "credentials": {"client_id": credentials.client_id, "client_secret": "(not shown)", "refresh_token": "(not shown)"}}
        call = Call(f"POST {CONNECTORS_PATH}", shown, customer_name=customer_name, idempotent=False, kind="create")
        reply = self._call("POST", CONNECTORS_PATH, call, json=body)
        connector_id = (reply.get("id") or reply.get("connector_id")) if isinstance(reply, dict) else None
        if not connector_id:
            raise HostedApiError(200, None, "the reply has no connector `id`", call.endpoint, params=shown)
        return str(connector_id)

    def initiate_oauth(self, customer_name: str, redirect_url: str) -> str:
        """Start the bring-your-own OAuth flow and return the consent URL."""
        body = {"customer_name": customer_name, "connector_type": CONNECTOR_TYPE, "redirect_url": redirect_url}
        call = Call(f"POST {OAUTH_INITIATE_PATH}", body, customer_name=customer_name, kind="initiate")
        reply = self._call("POST", OAUTH_INITIATE_PATH, call, json=body)
        consent_url = reply.get("consent_url") if isinstance(reply, dict) else None
        if not isinstance(consent_url, str) or not consent_url:
            raise HostedApiError(200, None, "the reply has no `consent_url`", call.endpoint, params=body)
        return consent_url

    # Sending

    def _call(self, method: str, path: str, call: Call, *, params: Mapping[str, Any] | None = None, json: Any = None) -> Any:
        try:
            return self.policy.call(call.endpoint, self._send_once, method, path, params, json, call)
        except HostedApiError as error:
            raise self._translate(error, call) from None

    def _send_once(self, method: str, path: str, params: Mapping[str, Any] | None, json: Any, call: Call) -> Any:
        try:
            response = self._http.request(method, path, params=params, json=json)
        except httpx.TimeoutException as exc:
            raise self._transport_error(call, f"timed out after {self.timeout:g} s ({type(exc).__name__})") from None
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise self._transport_error(call, f"connection failed ({type(exc).__name__})") from None
        except ApiError as error:
            # The token endpoint failed inside the auth flow.
            self.policy.check_wait(error)
            raise

        if response.is_success:
            return self._parse_success(response, call)

        error = error_from_response(
            response,
            call.endpoint,
            call.shown_params,
            connector_id=call.connector_id,
            ad_account_id=call.ad_account_id,
            parent_named=call.parent_named,
        )
        if not call.idempotent and error.status is not None and error.status >= 500:
            error.retryable = False
        self.policy.check_wait(error)
        if not error.retryable:
            logger.warning("%s", error)
        raise error

    def _transport_error(self, call: Call, message: str) -> HostedApiError:
        fix = None
        if not call.idempotent:
            fix = "The request may have been carried out: check before sending it again."
        return HostedApiError(None, None, message, call.endpoint, None, call.shown_params, connector_id=call.connector_id,
                              retryable=call.idempotent, fix=fix)

    def _parse_success(self, response: httpx.Response, call: Call) -> Any:
        try:
            return response.json()
        except (ValueError, UnicodeDecodeError):
            snippet = " ".join(response.text.split())[:80]
            raise HostedApiError(
                response.status_code,
                None,
                f"the response body is not valid JSON ({response.headers.get('content-type', 'no content type')}, "
                f"starting {snippet!r})",
                call.endpoint,
                None,
                call.shown_params,
                connector_id=call.connector_id,
                retryable=call.idempotent,
            ) from None

    def _translate(self, error: HostedApiError, call: Call) -> Exception:
        """Turn the errors that concern the whole configuration into ConfigErrors."""
        if error.status == 400 and "organization" in error.api_message.lower() and not self.settings.organization_id:
            return ConfigError(
                f"The Airbyte application credentials belong to several organizations, so every request must "
                f"name one (HTTP 400 from {error.endpoint}: {error.api_message}). {ORGANIZATION_FIX}"
            )
        if error.status == 404 and call.kind == "lookup":
            return ConnectorNotFoundError(
                f"Customer {call.customer_name!r} was not found (HTTP 404 from {error.endpoint}: {error.api_message}). "
                "Check sources.pinterest.airbyte.customer_name, or set sources.pinterest.airbyte.connector_id."
            )
        if error.status == 404 and call.kind == "execute" and not call.parent_named:
            looked_up = f", looked up for customer {call.customer_name!r}" if self.settings.connector_id is None else ""
            return ConnectorNotFoundError(
                f"Hosted connector {call.connector_id!r}{looked_up} was not found (HTTP 404 from {error.endpoint}: "
                f"{error.api_message}). {CONNECTOR_FIX}"
            )
        return error


def next_bookmark(reply: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """Return the `connector_metadata` key and value of the next page's bookmark, if any."""
    metadata = reply.get("connector_metadata")
    if not isinstance(metadata, Mapping):
        return None, None
    for key in CURSOR_KEYS:
        value = metadata.get(key)
        if value:
            return key, str(value)
    return None, None


def _records_of(reply: Any, label: str, query: Mapping[str, Any]) -> list[dict[str, Any]]:
    result = reply.get("result") if isinstance(reply, dict) else None
    if isinstance(result, dict) and isinstance(result.get("items"), list):
        result = result["items"]
    if not isinstance(result, list) or not all(isinstance(item, dict) for item in result):
        found = type(result).__name__ if isinstance(reply, dict) else f"a JSON {type(reply).__name__} reply"
        raise PaginationError(label, f"expected `result` to be a list of records, got {found} (params {dict(query)}).")
    return result


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
