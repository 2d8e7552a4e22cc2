"""Application tokens of the hosted Airbyte API, attached inside httpx.

`ApplicationTokenAuth` fetches a token from `POST /api/v1/account/applications/token`
with the client id and secret, caches it, and on a 401 fetches a new one and sends the
request once more. Airbyte documents no lifetime in the token reply, so a token is
treated as valid for 15 minutes unless the reply carries `expires_in`. It is renewed a
minute early.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator
from typing import Any

import httpx

from .errors import HostedApiError, HostedAuthError, read_hosted_error, request_id_of
from .policy import error_from_response

logger = logging.getLogger(__name__)

TOKEN_PATH = "/api/v1/account/applications/token"
ORGANIZATION_HEADER = "X-Organization-Id"

DEFAULT_TOKEN_SECONDS = 15 * 60
TOKEN_MARGIN_SECONDS = 60.0

CREDENTIALS_FIX = (
    "Check sources.pinterest.airbyte.client_id and sources.pinterest.airbyte.client_secret "
    "(environment variables SOURCES__PINTEREST__AIRBYTE__CLIENT_ID and "
    "SOURCES__PINTEREST__AIRBYTE__CLIENT_SECRET): they are the Airbyte application "
    "credentials, not Pinterest ones."
)


class ApplicationTokenAuth(httpx.Auth):
    """Bearer authentication with a cached Airbyte application token.

    One instance is shared by every thread of a client, and a lock makes concurrent
    requests wait for a single token request. `token_count` counts token requests.
    """

    requires_response_body = True

    def __init__(self, base_url: str, client_id: str, client_secret: str, organization_id: str | None) -> None:
        self.token_url = base_url.rstrip("/") + TOKEN_PATH
        self.client_id = client_id
        self._client_secret = client_secret
        self.organization_id = organization_id
        self.token_count = 0

        self._lock = threading.RLock()
        self._token: str | None = None
        self._renew_at = 0.0
        self._generation = 0

    def __repr__(self) -> str:
        return f"ApplicationTokenAuth(client_id={self.client_id!r}, token_url={self.token_url!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Send `request` with a valid token; on a 401 fetch a new token and resend once."""
        token, generation = yield from self._current_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request

        if response.status_code != 401:
            return

        logger.info(
            "Airbyte returned HTTP 401 for %s %s (%s): fetching a new application token "
            "and sending the request once more",
            request.method,
            request.url.path,
            read_hosted_error(response),
        )
        token, _ = yield from self._fetch(stale_generation=generation)
        request.headers["Authorization"] = f"Bearer {token}"
        yield request

    async def async_auth_flow(self, request: httpx.Request) -> Any:
        raise NotImplementedError("ApplicationTokenAuth supports the synchronous httpx.Client only")
        yield request  # pragma: no cover

    def _current_token(self) -> Generator[httpx.Request, httpx.Response, tuple[str, int]]:
        with self._lock:
            if self._token is not None and time.monotonic() < self._renew_at:
                return self._token, self._generation
            return (yield from self._fetch(stale_generation=self._generation))

    def _fetch(self, stale_generation: int) -> Generator[httpx.Request, httpx.Response, tuple[str, int]]:
        """Request a token unless another thread got a fresh one since `stale_generation`."""
        with self._lock:
            if self._generation != stale_generation and self._token is not None and time.monotonic() < self._renew_at:
                return self._token, self._generation

            response = yield self._build_token_request()
            self.token_count += 1
            payload = self._read_token_response(response)

            self._token = payload["access_token"]
            lifetime = payload.get("expires_in")
            if not isinstance(lifetime, (int, float)) or isinstance(lifetime, bool) or lifetime <= 0:
                lifetime = DEFAULT_TOKEN_SECONDS
            self._renew_at = time.monotonic() + lifetime - min(TOKEN_MARGIN_SECONDS, lifetime / 10)
            self._generation += 1
            logger.info("Fetched an Airbyte application token for client id %s", self.client_id)
            return self._token, self._generation

    def _build_token_request(self) -> httpx.Request:
        headers = {"Accept": "application/json"}
        if self.organization_id:
            headers[ORGANIZATION_HEADER] = self.organization_id
        return httpx.Request(
            "POST",
            self.token_url,
            json={"client_id": self.client_id, "client_secret": self._client_secret},
            headers=headers,
        )

    def _read_token_response(self, response: httpx.Response) -> dict[str, Any]:
        endpoint = f"POST {TOKEN_PATH}"
        request_id = request_id_of(response)
        if response.status_code in (400, 401, 403):
            raise HostedAuthError(
                f"Airbyte rejected the application credentials of client id {self.client_id!r} "
                f"(HTTP {response.status_code} from {endpoint}: {read_hosted_error(response)}). {CREDENTIALS_FIX}"
            )
        if not response.is_success:
            raise error_from_response(response, endpoint, None)

        try:
            payload = response.json()
        except (ValueError, UnicodeDecodeError):
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("access_token"), str) or not payload["access_token"]:
            raise HostedApiError(
                response.status_code,
                None,
                "the token reply has no access_token",
                endpoint,
                request_id,
                retryable=True,
            )
        return payload
