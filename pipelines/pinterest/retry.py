"""Retry policy shared by the direct Pinterest client and the hosted Airbyte client.

`RetryPolicy` retries the retryable `ApiError`s a request function raises, with tenacity:

- The wait is the error's `retry_after`, the wait the server requested, when it has one,
  otherwise an exponential backoff with jitter.
- `check_wait` raises at once when the server requests a wait above `max_wait_seconds`,
  so such a wait never sleeps.
- Each retry is logged as a warning. Once the attempts run out, the error built by
  `gave_up_error`, which names the number of attempts, is logged and raised.

Subclasses build the two final errors (`gave_up_error`, `wait_exceeded_error`) and set
`logger`, so that each client keeps its own exception types, messages and logger name.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import tenacity

from pipelines.pinterest.errors import ApiError

T = TypeVar("T")
E = TypeVar("E", bound=ApiError)


def derive_error(error_type: type[E], error: ApiError, message: str, **keywords: Any) -> E:
    """Build an `error_type` with a new message and the request details of `error`.

    The status, code, endpoint, request id, params and ad account are copied. `keywords`
    sets the rest, such as `fix`.
    """
    return error_type(
        error.status,
        error.code,
        message,
        error.endpoint,
        error.request_id,
        error.params,
        ad_account_id=error.ad_account_id,
        **keywords,
    )


class RetryPolicy:
    """Run one request function with the module's retry rules.

    `max_retries` counts attempts after the first. `initial_backoff_seconds` and
    `max_backoff_seconds` shape the backoff used when the server names no wait.
    """

    logger: ClassVar[logging.Logger] = logging.getLogger(__name__)

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
        """Raise `wait_exceeded_error` when the server requests a wait above max_wait_seconds."""
        if error.retry_after is None or error.retry_after <= self.max_wait_seconds:
            return

        resume_at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=error.retry_after)
        exhausted = self.wait_exceeded_error(error, resume_at)
        self.logger.warning("%s", exhausted)
        raise exhausted from None

    def gave_up_error(self, error: ApiError, attempts: int) -> ApiError:
        """Build the error raised when the last of `attempts` attempts failed with `error`."""
        raise NotImplementedError

    def wait_exceeded_error(self, error: ApiError, resume_at: datetime.datetime) -> ApiError:
        """Build the error raised when `error` requests a wait above max_wait_seconds.

        `resume_at` is the UTC time at which the requested wait ends.
        """
        raise NotImplementedError

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
        self.logger.warning(
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
        final = self.gave_up_error(error, retry_state.attempt_number)
        self.logger.warning("%s", final)
        raise final from error
