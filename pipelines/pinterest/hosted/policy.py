"""Retry and error policy of the hosted path, the same as the direct Pinterest client's.

- retried: 429, 5xx, timeouts, network errors and 2xx replies whose body is not JSON;
- the wait is `Retry-After` (or `X-RateLimit-Reset`) when the response has one, otherwise
  an exponential backoff with jitter. A wait above `max_wait_seconds` raises
  `HostedRateLimitExhausted` at once instead of sleeping;
- not retried: every other 4xx. 403 and 404 on a call that names an ad account or board
  raise `HostedAccessDenied`, so the resources skip that account as on the direct path.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from typing import Any

import httpx

from ..errors import ApiError, parse_retry_after
from ..retry import RetryPolicy as SharedRetryPolicy, derive_error
from .errors import (
    HostedAccessDenied,
    HostedApiError,
    HostedRateLimitExhausted,
    read_hosted_code,
    read_hosted_error,
    request_id_of,
)

logger = logging.getLogger(__name__)


def error_from_response(
    response: httpx.Response,
    endpoint: str,
    params: Mapping[str, Any] | None,
    *,
    connector_id: str | None = None,
    ad_account_id: str | None = None,
    parent_named: bool = False,
) -> HostedApiError:
    """Map a non-2xx response to the error the retry policy and the resources expect."""
    status = response.status_code
    arguments: dict[str, Any] = {
        "status": status,
        "code": read_hosted_code(response),
        "message": read_hosted_error(response),
        "endpoint": endpoint,
        "request_id": request_id_of(response),
        "params": params,
        "ad_account_id": ad_account_id,
        "connector_id": connector_id,
    }

    if status == 429 or status >= 500:
        return HostedApiError(**arguments, retryable=True, retry_after=parse_retry_after(response.headers))

    if status in (403, 404) and parent_named:
        return HostedAccessDenied(
            **arguments,
            fix="The Pinterest user behind the hosted connector cannot read this object; "
            "an ad account needs the Admin, Analyst or Campaign Manager role in Business Access.",
        )

    if status == 401:
        return HostedApiError(
            **arguments,
            fix="Airbyte rejected a freshly fetched application token: check that the application "
            "may use this connector, and sources.pinterest.airbyte.organization_id.",
        )

    return HostedApiError(**arguments)


class RetryPolicy(SharedRetryPolicy):
    """Retry policy of the hosted path, raising HostedApiError and HostedRateLimitExhausted."""

    logger = logging.getLogger(__name__)

    def gave_up_error(self, error: ApiError, attempts: int) -> ApiError:
        return derive_error(
            HostedApiError,
            error,
            f"{error.api_message} (gave up after {attempts} attempts)",
            connector_id=getattr(error, "connector_id", None),
            fix=error.fix or "Airbyte or the network failed repeatedly; run the sync again later.",
        )

    def wait_exceeded_error(self, error: ApiError, resume_at: datetime.datetime) -> ApiError:
        return derive_error(
            HostedRateLimitExhausted,
            error,
            f"{error.api_message} (the server asks to wait {error.retry_after:.0f} s)",
            connector_id=getattr(error, "connector_id", None),
            retry_after=error.retry_after,
            fix=(
                f"The wait exceeds max_wait_seconds={self.max_wait_seconds:g}, so the request was not "
                f"retried. Run the sync again after {resume_at.strftime('%Y-%m-%d %H:%M')} UTC."
            ),
        )
