"""The one ASGI middleware every simulator request passes through.

Its steps, in order:
1. added latency (`latency_ms`);
2. request counting (`request_counts`, `requests_log`);
3. scripted `fail_next` responses;
4. the bearer token check: 401 code 2, or code 3 for missing scopes;
5. rate limits: 429 code 8 with `X-RateLimit-Reset`;
6. random faults from `error_rate`;
7. 403 code 29 for forbidden ad accounts.

Paths outside /v5 (the consent page, report downloads) and the token endpoint
need no bearer token and have no rate limit. Every response carries a unique
`x-pinterest-rid`.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
import uuid
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from .faults import error_body, send_error_fault, send_raw, send_scripted_answer
from .ratelimit import category_for
from .responses import (
    AUTHENTICATION_FAILED,
    MISSING_SCOPES,
    MISSING_SCOPES_MESSAGE,
    NOT_PERMITTED,
    NOT_PERMITTED_MESSAGE,
    RATE_LIMIT_MESSAGE,
    RATE_LIMITED,
)

if TYPE_CHECKING:
    from .server import Simulator

TOKEN_ENDPOINT = "/v5/oauth/token"


def required_scopes(template: str) -> tuple[str, ...]:
    """OAuth scopes an endpoint needs, as the description's `security` lists them."""
    if template.startswith("/v5/ad_accounts"):
        return ("ads:read",)
    if template.startswith("/v5/pins") or (template.startswith("/v5/boards/") and template.endswith("/pins")):
        return ("boards:read", "pins:read")
    if template.startswith("/v5/boards"):
        return ("boards:read",)
    if template.startswith("/v5/user_account"):
        return ("user_accounts:read",)
    if template.startswith("/v5/catalogs"):
        return ("catalogs:read",)
    return ()


def needs_bearer_token(template: str) -> bool:
    return template.startswith("/v5/") and template != TOKEN_ENDPOINT


class SimulatorMiddleware:
    """Middleware around the route table. The module docstring lists its steps in order."""

    def __init__(self, app: ASGIApp, simulator: Simulator) -> None:
        self.app = app
        self.sim = simulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        method = scope["method"]
        template, path_params = self.match_route(scope)
        scope["simulator.template"] = template
        query = urllib.parse.parse_qs(scope.get("query_string", b"").decode(), keep_blank_values=True)
        logged = False
        request_id = uuid.uuid4().hex

        def log(status: int) -> None:
            nonlocal logged
            if not logged:
                logged = True
                self.sim.requests_log.append((method, template, query, status))

        async def send_with_request_id(message: MutableMapping[str, Any]) -> None:
            # The log entry is written before the client can see the response.
            if message["type"] == "http.response.start":
                log(message["status"])
                message["headers"] = [*message.get("headers", []), (b"x-pinterest-rid", request_id.encode())]
            await send(message)

        if self.sim.config.latency_ms > 0:
            await asyncio.sleep(self.sim.config.latency_ms / 1000)
        self.sim.request_counts[f"{method} {template}"] += 1
        try:
            await self.dispatch(scope, receive, send_with_request_id, method, template, path_params)
        finally:
            log(0)

    async def dispatch(self, scope: Scope, receive: Receive, send: Send, method: str, template: str, path_params: dict[str, str]) -> None:
        faults = self.sim.faults
        scripted = faults.pop_scripted_response(method, template)
        if scripted is not None:
            await send_scripted_answer(send, scripted)
            return

        if needs_bearer_token(template):
            rejection = self.check_bearer_token(scope, template)
            if rejection is not None:
                status, code, message = rejection
                await send_raw(send, status, error_body(code, message), "application/json")
                return

            retry_after = self.sim.rate_limiter.admit(category_for(method, template), time.monotonic())
            if retry_after is not None:
                body = error_body(RATE_LIMITED, RATE_LIMIT_MESSAGE)
                await send_raw(send, 429, body, "application/json", {"X-RateLimit-Reset": str(retry_after)})
                return

            fault = faults.draw_error_kind()
            if fault is not None:
                await send_error_fault(send, fault, faults.stall_seconds)
                return

            if path_params.get("ad_account_id") in faults.forbidden_ad_accounts:
                await send_raw(send, 403, error_body(NOT_PERMITTED, NOT_PERMITTED_MESSAGE), "application/json")
                return

        await self.app(scope, receive, send)

    def check_bearer_token(self, scope: Scope, template: str) -> tuple[int, int, str] | None:
        """Return (status, code, message) when the Authorization header does not grant the endpoint."""
        headers = dict(scope.get("headers", []))
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return 401, AUTHENTICATION_FAILED, "Authentication failed: send an Authorization: Bearer <access token> header."
        grant = self.sim.oauth.grant_for(token.strip())
        if grant is None:
            return 401, AUTHENTICATION_FAILED, "Authentication failed: the access token is invalid or expired."
        missing = [scope_name for scope_name in required_scopes(template) if scope_name not in grant.scopes]
        if missing:
            return 401, MISSING_SCOPES, f"{MISSING_SCOPES_MESSAGE} Missing: {', '.join(missing)}."
        return None

    def match_route(self, scope: Scope) -> tuple[str, dict[str, str]]:
        """Return the served path template and path parameters; the raw path when no route matches."""
        partial: tuple[str, dict[str, str]] | None = None
        for route in self.sim.app_routes:
            match, child_scope = route.matches(scope)
            if match == Match.FULL:
                return route.path, child_scope.get("path_params", {})
            if match == Match.PARTIAL and partial is None:
                partial = (route.path, child_scope.get("path_params", {}))
        return partial or (scope["path"], {})
