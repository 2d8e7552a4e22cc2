"""Pinterest's error envelope and the exception handlers raise to produce it."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

# Codes and messages as the OpenAPI description's examples give them.
INVALID_PARAMETERS = 1
AUTHENTICATION_FAILED = 2
MISSING_SCOPES = 3
RATE_LIMITED = 8
NOT_PERMITTED = 29
BOARD_NOT_FOUND = 40
PIN_NOT_FOUND = 50
SECTION_NOT_FOUND = 2031
NO_CATALOG = 4182

RATE_LIMIT_MESSAGE = (
    "This request exceeded a rate limit. This can happen if the client exceeds one\n"
    "of the published rate limits within a short time window."
)
NOT_PERMITTED_MESSAGE = "You are not permitted to access that resource."
MISSING_SCOPES_MESSAGE = (
    "Your token does not have sufficient permissions to perform this operation. "
    "Please ensure your token is authorized with the correct set of scopes."
)
NO_CATALOG_MESSAGE = "Can't access this feature without an existing catalog."


class ApiError(Exception):
    """An error response `{"code": ..., "message": ...}` with its HTTP status."""

    def __init__(self, status: int, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_response(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def invalid_parameter(message: str) -> ApiError:
    return ApiError(400, INVALID_PARAMETERS, message)


Endpoint = Callable[[Request], Awaitable[Response]]


def catch_api_errors(endpoint: Endpoint) -> Endpoint:
    """Turn an ApiError raised by the endpoint into its error envelope."""

    @functools.wraps(endpoint)
    async def wrapper(request: Request) -> Response:
        try:
            return await endpoint(request)
        except ApiError as error:
            return error_response(error.status, error.code, error.message, error.headers)

    return wrapper
