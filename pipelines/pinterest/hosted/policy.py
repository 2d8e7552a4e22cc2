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
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx
import tenacity

from ..errors import ApiError, parse_retry_after
from .errors import (
    HostedAccessDenied,
    HostedApiError,
    HostedRateLimitExhausted,
    read_hosted_code,
    read_hosted_error,
    request_id_of,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")


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


class RetryPolicy:
    """Run one request function with the module's retry rules.

    `max_retries` counts attempts after the first. `initial_backoff_seconds` and
    `max_backoff_seconds` shape the backoff used when the server names no wait.
    """

    def __init__(
        self,
        max_retries: int = 5,
        max_wait_seconds: float = 300.0,
        initial_backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 60.0,
    ) -> None:
        self.max_retries = max_retries
        self.max_wait_seconds = max_wait_seconds
        self.initial_backoff_seconds = initial_backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds

    def call(self, endpoint: str, function: Callable[..., T], *args: Any) -> T:
        """Call `function(*args)`, retrying the retryable ApiErrors it raises.

        `function` calls `check_wait` before it raises, so an overlong wait never sleeps.
        """
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            wait=self._wait_seconds,
            retry=tenacity.retry_if_exception(lambda error: isinstance(error, ApiError) and error.retryable),
            before_sleep=lambda state: self._log_retry(endpoint, state),
            retry_error_callback=self._give_up,
        )
        return retrying(function, *args)

    def check_wait(self, error: ApiError) -> None:
        """Raise HostedRateLimitExhausted when the server requests a wait above max_wait_seconds."""
        if error.retry_after is None or error.retry_after <= self.max_wait_seconds:
            return

        resume_at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=error.retry_after)
        exhausted = HostedRateLimitExhausted(
            error.status,
            error.code,
            f"{error.api_message} (the server asks to wait {error.retry_after:.0f} s)",
            error.endpoint,
            error.request_id,
            error.params,
            ad_account_id=error.ad_account_id,
            connector_id=getattr(error, "connector_id", None),
            retry_after=error.retry_after,
            fix=(
                f"The wait exceeds max_wait_seconds={self.max_wait_seconds:g}, so the request was not "
                f"retried. Run the sync again after {resume_at.strftime('%Y-%m-%d %H:%M')} UTC."
            ),
        )
        logger.warning("%s", exhausted)
        raise exhausted from None

    def _wait_seconds(self, retry_state: tenacity.RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, ApiError) and error.retry_after is not None:
            return error.retry_after

        backoff = tenacity.wait_exponential_jitter(
            multiplier=self.initial_backoff_seconds,
            max=self.max_backoff_seconds,
            jitter=self.initial_backoff_seconds,
        )
        return backoff(retry_state)

    def _log_retry(self, endpoint: str, retry_state: tenacity.RetryCallState) -> None:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        logger.warning(
            "Retrying %s in %.1f s (attempt %d of %d): %s",
            endpoint,
            wait,
            retry_state.attempt_number + 1,
            self.max_retries + 1,
            error,
        )

    def _give_up(self, retry_state: tenacity.RetryCallState) -> Any:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        assert isinstance(error, ApiError)
        final = HostedApiError(
            error.status,
            error.code,
            f"{error.api_message} (gave up after {retry_state.attempt_number} attempts)",
            error.endpoint,
            error.request_id,
            error.params,
            ad_account_id=error.ad_account_id,
            connector_id=getattr(error, "connector_id", None),
            fix=error.fix or "Airbyte or the network failed repeatedly; run the sync again later.",
        )
        logger.warning("%s", final)
        raise final from error
