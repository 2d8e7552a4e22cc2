"""HTTP client for Pinterest API v5: one connection pool, one retry policy, one paging loop.

`PinterestClient` wraps a single `httpx.Client`, which is safe to share between threads,
with `PinterestAuth` for tokens and a transport that applies the client-side rate limits,
counts requests and logs each one. Retries use tenacity:

- Retried: 429, 5xx, timeouts, network errors, 200 responses whose body is not JSON, and
  analytics 400s that request a later retry ("Retry after N seconds") or carry code 12.
- The wait is `Retry-After` or `X-RateLimit-Reset` when the response has one, otherwise
  an exponential backoff with jitter. A wait above `max_wait_seconds` raises
  RateLimitExhausted at once instead of sleeping.
- Not retried: every other 4xx. 403 and 404 raise AccessDenied, the rest ApiError.

Logs name the endpoint and the `x-pinterest-rid`, never a header or a request body, so no
token or secret reaches them.
"""

from __future__ import annotations

import collections
import datetime
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from pipelines.pinterest.auth import Credentials, PinterestAuth
from pipelines.pinterest.errors import (
    AccessDenied,
    ApiError,
    PaginationError,
    RateLimitExhausted,
    parse_retry_after,
    read_error_envelope,
)
from pipelines.pinterest.ratelimit import RateLimits, category_for
from pipelines.pinterest.retry import RetryPolicy, derive_error
from pipelines.pinterest.settings import PAGE_SIZE
from pipelines.pinterest.token_store import TokenStore

__all__ = ["Credentials", "PinterestClient", "endpoint_template"]

logger = logging.getLogger(__name__)

USER_AGENT = "pinterest-sync"

# Analytics endpoints throttle with HTTP 400 and this text instead of a 429.
RETRY_AFTER_MESSAGE = re.compile(r"retry after (\d+(?:\.\d+)?) seconds?", re.IGNORECASE)

# Code 12 ("something went wrong") on an analytics 400 is transient.
TRANSIENT_ANALYTICS_CODE = 12

ANALYTICS_CATEGORIES = ("ads_analytics", "org_analytics")

DOWNLOAD_ENDPOINT = "GET (report download)"

MAX_DOWNLOAD_REDIRECTS = 5


def endpoint_template(method: str, path: str) -> str:
    """Return "METHOD /path" with numeric ids replaced by named placeholders.

    "/ad_accounts/12/campaigns" becomes "/ad_accounts/{ad_account_id}/campaigns", so that
    request counts group by endpoint rather than by object.
    """
    segments = [segment for segment in path.split("?", 1)[0].split("/") if segment]
    named = []
    for index, segment in enumerate(segments):
        if segment.isdigit():
            parent = segments[index - 1] if index > 0 else ""
            placeholder = f"{parent[:-1]}_id" if parent.endswith("s") else "id"
            named.append("{" + placeholder + "}")
        else:
            named.append(segment)
    return f"{method.upper()} /" + "/".join(named)


def ad_account_of(path: str) -> str | None:
    """Return the ad account id in a path such as "/ad_accounts/12/campaigns", if any."""
    segments = [segment for segment in path.split("?", 1)[0].split("/") if segment]
    for index, segment in enumerate(segments[:-1]):
        if segment == "ad_accounts":
            return segments[index + 1]
    return None


class _InstrumentedTransport(httpx.BaseTransport):
    """Transport that waits for the rate limiters, then counts and logs every request.

    It receives every request the client sends, including token refreshes and retries.
    `elapsed` in the log is the time until the response headers arrived.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport,
        base_path: str,
        rate_limits: RateLimits,
        record: Callable[[str], None],
    ) -> None:
        self._inner = inner
        self._base_path = base_path.rstrip("/")
        self._rate_limits = rate_limits
        self._record = record

    def api_path(self, url: httpx.URL) -> str:
        path = url.path
        if self._base_path and path.startswith(self._base_path + "/"):
            return path[len(self._base_path) :]
        return path

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = self.api_path(request.url)
        self._rate_limits.acquire(path)
        self._record(endpoint_template(request.method, path))

        started = time.monotonic()
        try:
            response = self._inner.handle_request(request)
        except httpx.TransportError as exc:
            logger.debug(
                "%s %s failed after %.3f s: %s",
                request.method,
                path,
                time.monotonic() - started,
                type(exc).__name__,
            )
            raise

        logger.debug(
            "%s %s -> %d in %.3f s, x-pinterest-rid %s",
            request.method,
            path,
            response.status_code,
            time.monotonic() - started,
            response.headers.get("x-pinterest-rid", "missing"),
        )
        return response

    def close(self) -> None:
        self._inner.close()


class ClientRetryPolicy(RetryPolicy):
    """Retry policy of the direct client, raising ApiError and RateLimitExhausted."""

    logger = logging.getLogger(__name__)

    def check_wait(self, error: ApiError) -> None:
        """Raise RateLimitExhausted when the server requests a wait above max_wait_seconds.

        Errors that are not retried never raise it, whatever wait they carry.
        """
        if error.retryable:
            super().check_wait(error)

    def gave_up_error(self, error: ApiError, attempts: int) -> ApiError:
        return derive_error(
            ApiError,
            error,
            f"{error.api_message} (gave up after {attempts} attempts)",
            fix=error.fix or "Pinterest or the network failed repeatedly, so run the sync again later.",
        )

    def wait_exceeded_error(self, error: ApiError, resume_at: datetime.datetime) -> ApiError:
        return derive_error(
            RateLimitExhausted,
            error,
            f"{error.api_message} (the server requested a wait of {error.retry_after:.0f} s)",
            fix=(
                f"The wait exceeds max_wait_seconds={self.max_wait_seconds:g}, so the request "
                f"was not retried. Run the sync again after "
                f"{resume_at.strftime('%Y-%m-%d %H:%M')} UTC, or raise max_wait_seconds."
            ),
        )


class PinterestClient:
    """Client for Pinterest API v5 (see the module docstring for the retry policy).

    `rate_limits` defaults to Pinterest's Standard-access quotas; pass one RateLimits to
    several clients to make them share it. `max_retries` counts attempts after the first.
    `initial_backoff_seconds` and `max_backoff_seconds` shape the exponential backoff used
    when the server names no wait.
    """

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        token_store: TokenStore,
        rate_limits: RateLimits | None = None,
        timeout: float = 30.0,
        max_retries: int = 5,
        max_wait_seconds: float = 300.0,
        *,
        initial_backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 60.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._any_response = False
        self.retry_policy = ClientRetryPolicy(
            max_retries, max_wait_seconds, initial_backoff_seconds, max_backoff_seconds
        )

        self.rate_limits = rate_limits if rate_limits is not None else RateLimits()
        self.auth = PinterestAuth(self.base_url, credentials, token_store, timeout=timeout)

        self._counts_lock = threading.Lock()
        self._request_counts: collections.Counter[str] = collections.Counter()

        transport = _InstrumentedTransport(
            httpx.HTTPTransport(),
            httpx.URL(self.base_url).path,
            self.rate_limits,
            self._record_request,
        )
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=self.auth,
            transport=transport,
            timeout=timeout,
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
        )
        self._download_transport = httpx.HTTPTransport()

    def __repr__(self) -> str:
        return f"PinterestClient(base_url={self.base_url!r}, client_id={self.auth.credentials.client_id!r})"

    def __enter__(self) -> PinterestClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pools."""
        self._http.close()
        self._download_transport.close()

    @property
    def request_count(self) -> int:
        """Number of HTTP requests sent, including token refreshes, retries and downloads."""
        with self._counts_lock:
            return sum(self._request_counts.values())

    @property
    def request_counts(self) -> collections.Counter[str]:
        """A copy of the request counts keyed by `endpoint_template`."""
        with self._counts_lock:
            return collections.Counter(self._request_counts)

    def _record_request(self, endpoint: str) -> None:
        with self._counts_lock:
            self._request_counts[endpoint] += 1

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET `path` (relative to base_url) and return the parsed JSON body."""
        return self.request("GET", path, params=params)

    def post(self, path: str, json: Any = None) -> Any:
        """POST a JSON body to `path` and return the parsed JSON body."""
        return self.request("POST", path, json=json)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """Send one API request with retries and return the parsed JSON body.

        List values in `params` are sent as repeated keys, as Pinterest declares array
        parameters.
        """
        endpoint = f"{method.upper()} {path}"
        return self.retry_policy.call(endpoint, self._send_once, method.upper(), path, params, json)

    def paginate(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[list[dict[str, Any]]]:
        """Yield the non-empty `items` pages of a list endpoint, requested with page_size=250.

        Follows `bookmark` until it is null or empty. A response without a `bookmark` key
        (such as conversion tags, which are not paginated) is a single page.

        Raises PaginationError naming the endpoint when `items` is not a list, or when a
        bookmark comes back that was already followed, because following it again would
        loop forever. The page carrying the repeated bookmark is not yielded.
        """
        query = dict(params or {})
        query["page_size"] = PAGE_SIZE
        endpoint = f"GET {path}"
        seen_bookmarks: set[str] = set()
        if query.get("bookmark"):
            seen_bookmarks.add(str(query["bookmark"]))

        while True:
            body = self.get(path, params=query)
            items = body.get("items") if isinstance(body, dict) else None
            if not isinstance(items, list):
                if isinstance(body, dict):
                    found = f"`items` of type {type(items).__name__}"
                else:
                    found = f"a JSON {type(body).__name__}"
                raise PaginationError(
                    endpoint,
                    f"expected a JSON object with an `items` list, got {found} "
                    f"(params {query}). Check that the path is a list endpoint.",
                )

            bookmark = body.get("bookmark")
            if bookmark and bookmark in seen_bookmarks:
                raise PaginationError(
                    endpoint,
                    f"the API returned bookmark {bookmark!r} again after "
                    f"{len(seen_bookmarks)} page(s), so following it would repeat the same "
                    "page forever. The items of this endpoint are incomplete, so retry the run later.",
                )

            if items:
                yield items

            if not bookmark:
                return
            seen_bookmarks.add(bookmark)
            query["bookmark"] = bookmark

    def download(self, url: str) -> bytes:
        """Download a report file from the URL Pinterest returned, with retries.

        The request carries no Authorization header: the URL is pre-signed and must not
        receive the bearer token. Its query string is a signature, so logs and errors
        show only the host and path.
        """
        public_url = str(httpx.URL(url).copy_with(query=None, fragment=None))
        return self.retry_policy.call(f"GET {public_url}", self._download_once, url, public_url)

    def _send_once(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json: Any,
    ) -> Any:
        endpoint = f"{method} {path}"
        ad_account_id = ad_account_of(path)

        try:
            response = self._http.request(method, path, params=params, json=json)
        except httpx.TimeoutException as exc:
            raise ApiError(
                None, None, f"timed out after {self.timeout:g} s ({type(exc).__name__})",
                endpoint, None, params, ad_account_id=ad_account_id, retryable=True,
            ) from None
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            # A refused connection before any response ever arrived is almost always a
            # wrong base URL, so it fails at once instead of backing off for a minute.
            unreachable = isinstance(exc, httpx.ConnectError) and not self._any_response
            raise ApiError(
                None, None, f"connection to {self.base_url} failed ({type(exc).__name__}: {exc})",
                endpoint, None, params, ad_account_id=ad_account_id, retryable=not unreachable,
                fix="Check sources.pinterest.base_url and the network." if unreachable else None,
            ) from None
        except ApiError as error:
            # The token endpoint failed during a refresh inside the auth flow.
            self.retry_policy.check_wait(error)
            raise

        self._any_response = True
        if response.is_success:
            return self._parse_success(response, endpoint, params, ad_account_id)

        error = self._error_from_response(response, method, path, params)
        self.retry_policy.check_wait(error)
        if not error.retryable:
            logger.warning("%s", error)
        raise error

    def _parse_success(
        self,
        response: httpx.Response,
        endpoint: str,
        params: Mapping[str, Any] | None,
        ad_account_id: str | None,
    ) -> Any:
        if response.status_code == 204:
            return None

        try:
            return response.json()
        except (ValueError, UnicodeDecodeError):
            content_type = response.headers.get("content-type", "no content type")
            snippet = " ".join(response.text.split())[:80]
            raise ApiError(
                response.status_code,
                None,
                f"the response body is not valid JSON ({content_type}, "
                f"{len(response.content)} bytes, starting {snippet!r})",
                endpoint,
                response.headers.get("x-pinterest-rid"),
                params,
                ad_account_id=ad_account_id,
                retryable=True,
            ) from None

    def _error_from_response(
        self,
        response: httpx.Response,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
    ) -> ApiError:
        status = response.status_code
        code, message = read_error_envelope(response)
        ad_account_id = ad_account_of(path)
        arguments: dict[str, Any] = {
            "status": status,
            "code": code,
            "message": message,
            "endpoint": f"{method} {path}",
            "request_id": response.headers.get("x-pinterest-rid"),
            "params": params,
            "ad_account_id": ad_account_id,
        }

        if status == 429 or status >= 500:
            return ApiError(**arguments, retryable=True, retry_after=parse_retry_after(response.headers))

        if status == 400 and category_for(path) in ANALYTICS_CATEGORIES:
            requested_wait = RETRY_AFTER_MESSAGE.search(message)
            if requested_wait:
                return ApiError(**arguments, retryable=True, retry_after=float(requested_wait.group(1)))
            if code == TRANSIENT_ANALYTICS_CODE:
                return ApiError(**arguments, retryable=True, retry_after=parse_retry_after(response.headers))

        if status == 401:
            return ApiError(
                **arguments,
                fix="Pinterest rejected the access token even after a refresh. Code 3 means the "
                "app lacks a scope: run `pinterest-sync auth` to grant the read scopes.",
            )

        if status in (403, 404):
            if ad_account_id is not None:
                fix = (
                    f"Give the user the Admin, Analyst or Campaign Manager role on ad account "
                    f"{ad_account_id} in Business Access, or leave the account out of "
                    "sources.pinterest.ad_account_ids."
                )
            else:
                fix = "The object does not exist or this user cannot read it."
            return AccessDenied(**arguments, fix=fix)

        return ApiError(**arguments)

    def _download_once(self, url: str, public_url: str) -> bytes:
        endpoint = f"GET {public_url}"
        started = time.monotonic()
        try:
            response, content = self._fetch_download(url)
        except httpx.TimeoutException as exc:
            raise ApiError(
                None, None, f"timed out after {self.timeout:g} s ({type(exc).__name__})",
                endpoint, retryable=True,
            ) from None
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise ApiError(
                None, None, f"connection failed ({type(exc).__name__})", endpoint, retryable=True
            ) from None
        logger.debug(
            "%s -> %d in %.3f s (%d bytes)",
            endpoint,
            response.status_code,
            time.monotonic() - started,
            len(content),
        )

        if response.is_success:
            return content

        transient = response.status_code == 429 or response.status_code >= 500
        error = ApiError(
            response.status_code,
            None,
            " ".join(content.decode("utf-8", "replace").split())[:200] or "empty response body",
            endpoint,
            retryable=transient,
            retry_after=parse_retry_after(response.headers) if transient else None,
            fix=None if transient else "Report links live 5 minutes: request the report again.",
        )
        self.retry_policy.check_wait(error)
        if not transient:
            logger.warning("%s", error)
        raise error

    def _fetch_download(self, url: str) -> tuple[httpx.Response, bytes]:
        """GET `url` straight through a transport, following up to MAX_DOWNLOAD_REDIRECTS.

        httpx.Client logs every request URL at INFO level, and a pre-signed URL's query
        is a credential, so downloads bypass the client.
        """
        self._record_request(DOWNLOAD_ENDPOINT)
        target = httpx.URL(url)
        for _ in range(MAX_DOWNLOAD_REDIRECTS + 1):
            request = httpx.Request(
                "GET",
                target,
                headers={"User-Agent": USER_AGENT},
                extensions={"timeout": httpx.Timeout(self.timeout).as_dict()},
            )
            response = self._download_transport.handle_request(request)
            try:
                content = response.read()
            finally:
                response.close()

            location = response.headers.get("location")
            if not response.is_redirect or not location:
                return response, content
            target = target.join(location)

        return response, content
