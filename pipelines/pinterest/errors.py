"""Exceptions raised by the Pinterest source.

Every message names the value that failed, the endpoint, the ad account and the
`x-pinterest-rid` where they are known, and what to do next. No message ever contains a
client secret, refresh token or access token: callers pass only ids, paths and the
error text Pinterest returned.
"""

from __future__ import annotations

import datetime
import email.utils
from collections.abc import Mapping
from typing import Any

import httpx


class PinterestSyncError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(PinterestSyncError):
    """Invalid or missing configuration, or an unreadable token store."""


class AuthError(PinterestSyncError):
    """Pinterest rejected the refresh token or the authorization code.

    Retrying cannot help: the user has to authorize the app again with
    `pinterest-sync auth`.
    """


class ApiError(PinterestSyncError):
    """A Pinterest API request failed.

    `status` is None when no HTTP response arrived (timeout, refused connection). `code`
    and `api_message` come from Pinterest's `{"code": int, "message": str}` envelope.
    `retryable` is True when another attempt can succeed, and `retry_after` is the wait
    in seconds that the server requested, if any.
    """

    def __init__(
        self,
        status: int | None,
        code: int | None,
        message: str,
        endpoint: str,
        request_id: str | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        ad_account_id: str | None = None,
        fix: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.api_message = message
        self.endpoint = endpoint
        self.request_id = request_id
        self.params = dict(params) if params else {}
        self.ad_account_id = ad_account_id
        self.fix = fix
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(self._format())

    def _format(self) -> str:
        status = f"HTTP {self.status}" if self.status is not None else "no HTTP response"
        if self.code is not None:
            status += f", code {self.code}"
        text = f"{self.endpoint} failed ({status}): {self.api_message}"

        context = []
        if self.ad_account_id:
            context.append(f"ad account {self.ad_account_id}")
        if self.params:
            context.append(f"params {self.params}")
        context.append(f"x-pinterest-rid {self.request_id or 'missing'}")
        text += f" [{'; '.join(context)}]"

        if self.fix:
            text += f". {self.fix}"
        return text


class AccessDenied(ApiError):
    """HTTP 403 or 404: the user cannot read this object.

    On an ad account, 403 code 29 means the user lacks a Business Access role (Admin,
    Analyst or Campaign Manager). The pipeline skips such an account and keeps the rest.
    """


class RateLimitExhausted(ApiError):
    """The server asked for a wait longer than the client's `max_wait_seconds`.

    Raised at once instead of sleeping, because Pinterest's daily limits can reset hours
    later (`X-RateLimit-Reset` of about 67,000 seconds).
    """


class PaginationError(PinterestSyncError):
    """A list endpoint returned a page the paging loop cannot continue from.

    Either the bookmark repeated (following it again would loop forever) or `items` was
    not a list.
    """

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        super().__init__(f"Paging {endpoint} stopped: {reason}")


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Return the wait in seconds that a response requests, or None.

    `Retry-After` may contain seconds or an HTTP date. Pinterest's own `X-RateLimit-Reset`
    contains the seconds until the quota resets (about 67,000 after a daily limit).
    """
    retry_after = headers.get("retry-after")
    if retry_after:
        seconds = _parse_seconds(retry_after)
        if seconds is None:
            seconds = _seconds_until_http_date(retry_after)
        if seconds is not None:
            return seconds

    reset = headers.get("x-ratelimit-reset")
    if reset:
        return _parse_seconds(reset)
    return None


def _parse_seconds(text: str) -> float | None:
    try:
        seconds = float(text.strip())
    except ValueError:
        return None
    if seconds != seconds or seconds < 0:
        return None
    return seconds


def _seconds_until_http_date(text: str) -> float | None:
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, (moment - datetime.datetime.now(datetime.timezone.utc)).total_seconds())


def read_error_envelope(response: httpx.Response) -> tuple[int | None, str]:
    """Return `code` and `message` of Pinterest's error body, tolerating non-JSON bodies.

    A body that is not the envelope (an HTML page from a proxy, say) yields no code and
    its first 200 characters as the message.
    """
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None

    if isinstance(body, dict) and ("code" in body or "message" in body):
        code = body.get("code")
        message = body.get("message")
        return (
            code if isinstance(code, int) and not isinstance(code, bool) else None,
            str(message) if message is not None else "no message",
        )

    text = " ".join(response.text.split())[:200]
    return None, text or "empty response body"
