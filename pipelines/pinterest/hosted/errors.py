"""Exceptions of the hosted Airbyte path, fitted into the package's error hierarchy.

The entity resources catch `ApiError` (a table fails alone) and `AccessDenied` (an ad
account is skipped), so the hosted errors subclass those. Configuration problems that
affect every table (unknown connector or customer, missing organization id) are
`ConfigError`s, which stop the run before anything is loaded. Messages name the Airbyte
endpoint, the connector, the parameters sent and Airbyte's request id. They never
contain the client secret, an application token or Pinterest credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from ..errors import AccessDenied, ApiError, AuthError, ConfigError, RateLimitExhausted

REQUEST_ID_HEADERS = ("x-request-id", "x-airbyte-request-id")


class HostedErrorFormat:
    """Message layout for errors of the execute API: no Pinterest request id exists there."""

    connector_id: str | None = None

    def _format(self) -> str:
        error: Any = self
        status = f"HTTP {error.status}" if error.status is not None else "no HTTP response"
        if error.code is not None:
            status += f", code {error.code}"
        text = f"{error.endpoint} failed ({status}): {error.api_message}"

        context = []
        if error.connector_id:
            context.append(f"connector {error.connector_id}")
        if error.ad_account_id:
            context.append(f"ad account {error.ad_account_id}")
        if error.params:
            context.append(f"params {error.params}")
        context.append(f"request id {error.request_id or 'missing'}")
        text += f" [{'; '.join(context)}]"

        if error.fix:
            text += f". {error.fix}"
        return text


class HostedApiError(HostedErrorFormat, ApiError):
    """A request to the hosted Airbyte API failed (see `ApiError` for the fields)."""

    def __init__(self, *args: Any, connector_id: str | None = None, **kwargs: Any) -> None:
        self.connector_id = connector_id
        super().__init__(*args, **kwargs)


class HostedAccessDenied(HostedErrorFormat, AccessDenied):
    """HTTP 403 or 404 on an execute call that names a parent object (ad account or board)."""

    def __init__(self, *args: Any, connector_id: str | None = None, **kwargs: Any) -> None:
        self.connector_id = connector_id
        super().__init__(*args, **kwargs)


class HostedRateLimitExhausted(HostedErrorFormat, RateLimitExhausted):
    """The hosted API asked for a wait longer than the client's `max_wait_seconds`."""

    def __init__(self, *args: Any, connector_id: str | None = None, **kwargs: Any) -> None:
        self.connector_id = connector_id
        super().__init__(*args, **kwargs)


class NotHostedError(HostedApiError):
    """The Pinterest endpoint has no entity in the hosted execute API.

    Raised without any request, so a resource that needs such an endpoint fails alone
    with a message that explains how to load it instead.
    """

    def __init__(self, path: str, fix: str) -> None:
        super().__init__(
            None,
            None,
            "the hosted Airbyte execute API has no entity for this Pinterest endpoint",
            f"GET {path}",
            fix=fix,
        )


class HostedAuthError(AuthError):
    """Airbyte rejected the application credentials (client id and secret)."""


class ConnectorNotFoundError(ConfigError):
    """The configured connector id, or the customer it is looked up by, does not exist."""


def read_hosted_error(response: httpx.Response) -> str:
    """Return the error text of an Airbyte error body, tolerating several shapes.

    Airbyte returns `{"message": ...}`, `{"detail": ...}`, `{"error": ...}` or
    `{"errors": [{"message": ...}, ...]}`. Any other body yields its first 200
    characters.
    """
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None

    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(_error_text(item) for item in errors)
        for key in ("message", "detail", "error"):
            value = body.get(key)
            if value:
                return _error_text(value)

    text = " ".join(response.text.split())[:200]
    return text or "empty response body"


def read_hosted_code(response: httpx.Response) -> int | None:
    """Return the integer `code` of an error body: Pinterest's code when Airbyte passes it on."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def _error_text(value: Any) -> str:
    if isinstance(value, Mapping):
        for key in ("message", "msg", "detail", "error"):
            if value.get(key):
                return str(value[key])
    if isinstance(value, list):
        return "; ".join(_error_text(item) for item in value)
    return str(value)


def request_id_of(response: httpx.Response) -> str | None:
    for name in REQUEST_ID_HEADERS:
        if response.headers.get(name):
            return response.headers[name]
    return None
