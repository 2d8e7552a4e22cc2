"""Pinterest OAuth: access-token refresh inside httpx, and the authorization-code flow.

`PinterestAuth` is an `httpx.Auth` for a synchronous `httpx.Client`. It attaches
`Authorization: Bearer`, refreshes the access token shortly before `expires_in` runs out,
and on a 401 refreshes once and sends the request once more.

Pinterest rotates the refresh token on every refresh and rejects the old one afterwards.
The new refresh token is therefore written to the `TokenStore` as soon as the token
response arrives, inside the store's file lock, before the new access token is used.
"""

from __future__ import annotations

import base64
import datetime
import logging
import threading
import time
import urllib.parse
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from pipelines.pinterest.errors import (
    ApiError,
    AuthError,
    parse_retry_after,
    read_error_envelope,
)
from pipelines.pinterest.token_store import StoredToken, TokenStore

logger = logging.getLogger(__name__)

TOKEN_PATH = "/oauth/token"
DEFAULT_OAUTH_URL = "https://www.pinterest.com/oauth/"

# Scopes that read everything the pipeline loads and cannot change anything.
READ_ONLY_SCOPES = ("ads:read", "boards:read", "pins:read", "user_accounts:read", "catalogs:read")

REFRESH_TOKEN_WARNING_DAYS = 7

# Access tokens are renewed this long before `expires_in` runs out, capped at a tenth of
# their lifetime so that short-lived tokens are still used at all.
ACCESS_TOKEN_MARGIN_SECONDS = 300.0

# Lifetime assumed when a token response carries no `expires_in`. A 401 still triggers a refresh.
FALLBACK_ACCESS_TOKEN_SECONDS = 3600.0

REAUTHORIZE_FIX = (
    "Run `pinterest-sync auth` to authorize the app again, then configure the new refresh "
    "token as sources.pinterest.credentials.refresh_token."
)


@dataclass(frozen=True)
class Credentials:
    """Pinterest app credentials and the configured refresh token.

    `continuous_refresh` must be True for apps created before 2025-09-25: Pinterest then
    expects `continuous_refresh=true` on every refresh to keep rotating refresh tokens.
    """

    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    continuous_refresh: bool = False


def _token_endpoint_fix(status: int, token_url: str) -> str:
    if status == 404:
        return (
            f"{token_url} does not exist: check sources.pinterest.base_url, which ends with /v5, "
            "for example https://api.pinterest.com/v5."
        )
    return "Check the client id and client secret of the app."


def build_basic_authorization(client_id: str, client_secret: str) -> str:
    """Return the `Authorization` header value that the token endpoint expects."""
    pair = f"{client_id}:{client_secret}".encode("utf-8")
    return "Basic " + base64.b64encode(pair).decode("ascii")


def refresh_token_expiry(payload: dict[str, Any], received_at: float) -> float | None:
    """Return when the refresh token in a token response expires, in Unix seconds.

    Prefers `refresh_token_expires_at` and falls back to `refresh_token_expires_in`.
    NOTE: the unit of `refresh_token_expires_at` is unverified (documented as seconds);
    values that only make sense as milliseconds are divided by 1000.
    """
    expires_at = payload.get("refresh_token_expires_at")
    if isinstance(expires_at, (int, float)) and not isinstance(expires_at, bool) and expires_at > 0:
        return float(expires_at) / 1000 if expires_at > 100_000_000_000 else float(expires_at)

    expires_in = payload.get("refresh_token_expires_in")
    if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool) and expires_in > 0:
        return received_at + float(expires_in)
    return None


class PinterestAuth(httpx.Auth):
    """Bearer authentication with refresh-token rotation (see the module docstring).

    One instance is shared by every thread of one client: a thread lock makes concurrent
    requests wait for a single refresh, and the token store's file lock does the same
    for other processes, which may have rotated the token meanwhile.
    """

    requires_response_body = True

    def __init__(self, base_url: str, credentials: Credentials, store: TokenStore, timeout: float = 30.0) -> None:
        self.token_url = base_url.rstrip("/") + TOKEN_PATH
        self.timeout = timeout
        self.credentials = credentials
        self.store = store
        self.refresh_count = 0

        self._lock = threading.RLock()
        self._access_token: str | None = None
        self._access_token_renew_at = 0.0
        self._generation = 0

    def __repr__(self) -> str:
        return f"PinterestAuth(client_id={self.credentials.client_id!r}, token_url={self.token_url!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Send `request` with a valid access token; on a 401 refresh once and resend once."""
        access_token, generation = yield from self._current_access_token()
        request.headers["Authorization"] = f"Bearer {access_token}"
        response = yield request

        if response.status_code != 401:
            return

        code, message = read_error_envelope(response)
        logger.warning(
            "Pinterest returned HTTP 401 (code %s: %s) to %s %s, x-pinterest-rid %s: "
            "refreshing the access token and sending the request once more",
            code,
            message,
            request.method,
            request.url.path,
            response.headers.get("x-pinterest-rid", "missing"),
        )
        access_token, _ = yield from self._refresh(stale_generation=generation)
        request.headers["Authorization"] = f"Bearer {access_token}"
        yield request

    async def async_auth_flow(self, request: httpx.Request) -> Any:
        raise NotImplementedError("PinterestAuth supports the synchronous httpx.Client only")
        yield request  # pragma: no cover

    def _current_access_token(self) -> Generator[httpx.Request, httpx.Response, tuple[str, int]]:
        with self._lock:
            if self._access_token is not None and time.monotonic() < self._access_token_renew_at:
                return self._access_token, self._generation
            return (yield from self._refresh(stale_generation=self._generation))

    def _refresh(self, stale_generation: int) -> Generator[httpx.Request, httpx.Response, tuple[str, int]]:
        """Refresh the access token unless another thread did since `stale_generation`."""
        with self._lock:
            if (
                self._generation != stale_generation
                and self._access_token is not None
                and time.monotonic() < self._access_token_renew_at
            ):
                return self._access_token, self._generation

            with self.store.lock():
                # Another process may have rotated the token since this one started, so
                # the store is read again inside the lock.
                current = self.store.resolve(self.credentials.client_id, self.credentials.refresh_token)
                response = yield self._build_refresh_request(current.refresh_token)
                received_at = time.time()
                payload = self._read_token_response(response, current)
                self._persist_rotation(payload, current, received_at)

            self._access_token = payload["access_token"]
            lifetime = payload.get("expires_in")
            if not isinstance(lifetime, (int, float)) or isinstance(lifetime, bool) or lifetime <= 0:
                lifetime = FALLBACK_ACCESS_TOKEN_SECONDS
            margin = min(ACCESS_TOKEN_MARGIN_SECONDS, lifetime / 10)
            self._access_token_renew_at = time.monotonic() + lifetime - margin
            self._generation += 1
            self.refresh_count += 1

            logger.info(
                "Refreshed the Pinterest access token of client id %s (valid for %d s)",
                self.credentials.client_id,
                int(lifetime),
            )
            return self._access_token, self._generation

    def _build_refresh_request(self, refresh_token: str) -> httpx.Request:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if self.credentials.continuous_refresh:
            form["continuous_refresh"] = "true"

        return httpx.Request(
            "POST",
            self.token_url,
            data=form,
            headers={
                "Authorization": build_basic_authorization(
                    self.credentials.client_id, self.credentials.client_secret
                ),
                "Accept": "application/json",
            },
            # httpx applies the client's timeout only to requests it builds itself. A request
            # yielded from an auth flow needs its own, or it could wait forever.
            extensions={"timeout": httpx.Timeout(self.timeout).as_dict()},
        )

    def _read_token_response(self, response: httpx.Response, used: StoredToken) -> dict[str, Any]:
        request_id = response.headers.get("x-pinterest-rid")
        endpoint = f"POST {TOKEN_PATH}"

        if response.status_code in (400, 401):
            code, message = read_error_envelope(response)
            source = (
                f"the refresh token stored in {self.store.path}"
                if used.refresh_token != self.credentials.refresh_token
                else "the configured refresh token"
            )
            raise AuthError(
                f"Pinterest rejected {source} for client id {self.credentials.client_id} "
                f"(HTTP {response.status_code}, code {code}: {message}; x-pinterest-rid "
                f"{request_id or 'missing'}). The token is expired, revoked, or was already "
                f"rotated by another run on a machine without this token store, or "
                f"sources.pinterest.credentials.client_secret does not belong to this client id. "
                f"{REAUTHORIZE_FIX}"
            )

        if response.status_code != 200:
            code, message = read_error_envelope(response)
            transient = response.status_code == 429 or response.status_code >= 500
            raise ApiError(
                response.status_code,
                code,
                message,
                endpoint,
                request_id,
                fix=None if transient else _token_endpoint_fix(response.status_code, str(response.request.url)),
                retryable=transient,
                retry_after=parse_retry_after(response.headers) if transient else None,
            )

        try:
            payload = response.json()
        except (ValueError, UnicodeDecodeError):
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("access_token"), str):
            raise ApiError(
                200,
                None,
                "the token response is not a JSON object with an access_token",
                endpoint,
                request_id,
                retryable=True,
            )
        return payload

    def _persist_rotation(self, payload: dict[str, Any], used: StoredToken, received_at: float) -> None:
        new_refresh_token = payload.get("refresh_token")
        expires_at = refresh_token_expiry(payload, received_at)

        if isinstance(new_refresh_token, str) and new_refresh_token:
            rotated = StoredToken(new_refresh_token, expires_at, used.rotated_from)
            try:
                self.store.save(self.credentials.client_id, rotated)
            except OSError as exc:
                raise AuthError(
                    f"Pinterest issued a new refresh token for client id "
                    f"{self.credentials.client_id}, but saving it to {self.store.path} failed "
                    f"({exc.strerror}), and the previous token is no longer valid. Fix the "
                    "folder's permissions or set sources.pinterest.token_store_path. "
                    f"{REAUTHORIZE_FIX}"
                ) from None
        else:
            expires_at = expires_at if expires_at is not None else used.expires_at

        warn_if_refresh_token_expiring(self.credentials.client_id, expires_at)


def warn_if_refresh_token_expiring(client_id: str, expires_at: float | None) -> None:
    """Log a warning when the refresh token expires within REFRESH_TOKEN_WARNING_DAYS."""
    if expires_at is None:
        return

    remaining_days = (expires_at - time.time()) / 86400
    if remaining_days > REFRESH_TOKEN_WARNING_DAYS:
        return

    expiry = datetime.datetime.fromtimestamp(expires_at, tz=datetime.timezone.utc)
    logger.warning(
        "The Pinterest refresh token of client id %s expires on %s UTC, in %.1f days. Run "
        "`pinterest-sync auth` before then, or set continuous_refresh if the app was created "
        "before 2025-09-25, so that refreshes keep extending it.",
        client_id,
        expiry.strftime("%Y-%m-%d %H:%M"),
        remaining_days,
    )


def exchange_authorization_code(
    base_url: str,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    *,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """Exchange an authorization code for tokens at `{base_url}/oauth/token`.

    Returns Pinterest's token response (`access_token`, `refresh_token`, expiries, `scope`).
    Raises AuthError when Pinterest rejects the code and ApiError on other failures.
    """
    response = httpx.post(
        base_url.rstrip("/") + TOKEN_PATH,
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
        headers={
            "Authorization": build_basic_authorization(client_id, client_secret),
            "Accept": "application/json",
        },
        timeout=timeout,
    )
    request_id = response.headers.get("x-pinterest-rid")

    if response.status_code in (400, 401):
        error_code, message = read_error_envelope(response)
        raise AuthError(
            f"Pinterest rejected the authorization code for client id {client_id} "
            f"(HTTP {response.status_code}, code {error_code}: {message}; x-pinterest-rid "
            f"{request_id or 'missing'}). Codes are single-use and expire within minutes, and "
            f"redirect_uri {redirect_uri!r} must match one registered for the app exactly. "
            "Run `pinterest-sync auth` again."
        )

    if response.status_code != 200:
        error_code, message = read_error_envelope(response)
        raise ApiError(response.status_code, error_code, message, f"POST {TOKEN_PATH}", request_id)

    try:
        payload = response.json()
    except (ValueError, UnicodeDecodeError):
        payload = None
    if not isinstance(payload, dict) or not isinstance(payload.get("refresh_token"), str):
        raise ApiError(
            200,
            None,
            "the token response is not a JSON object with a refresh_token",
            f"POST {TOKEN_PATH}",
            request_id,
            fix="Run `pinterest-sync auth` again.",
        )

    warn_if_refresh_token_expiring(client_id, refresh_token_expiry(payload, time.time()))
    return payload


def build_consent_url(
    client_id: str,
    redirect_uri: str,
    scopes: Iterable[str],
    state: str,
    oauth_url: str = DEFAULT_OAUTH_URL,
) -> str:
    """Return the Pinterest consent page URL that starts the authorization-code flow.

    Pinterest expects the scopes comma-separated in one `scope` parameter.
    """
    query = urllib.parse.urlencode(
        {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": ",".join(scopes),
            "state": state,
        }
    )
    separator = "&" if "?" in oauth_url else "?"
    return f"{oauth_url}{separator}{query}"
