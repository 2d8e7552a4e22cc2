"""The Simulator: a Pinterest API v5 stand-in served by uvicorn on loopback.

It is built from the OpenAPI description 5.23.0 alone and imports nothing from the rest
of `pipelines.pinterest`, so the sync code cannot agree with it by sharing a bug.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from .analytics_routes import analytics_routes
from .config import SimulatorConfig, validate_rate_limits
from .data import SimulatorData, expected_row_counts
from .entity_routes import EntityEndpoints
from .faults import Faults
from .metrics import MetricsModel
from .middleware import SimulatorMiddleware
from .oauth import OAuthEndpoints, OAuthState
from .pagination import Pager
from .ratelimit import RateLimiter
from .responses import error_response

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_SECONDS = 15.0
METHOD_NOT_ALLOWED = 5


class Simulator:
    """A Pinterest API v5 simulator with mutable data, fault knobs and request counters.

    `start()` serves it on 127.0.0.1 and a free port from a daemon thread; `stop()` ends
    it. Used as a context manager it does both.
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.today = self.config.today or dt.datetime.now(dt.timezone.utc).date()
        self.data = SimulatorData.generate(self.config.seed, self.config.scale, self.today, self.config.has_catalog)
        self.faults = Faults(error_rate=self.config.error_rate, seed=self.config.seed)
        self.oauth = OAuthState(self.config)
        self.rate_limiter = RateLimiter(self.config.rate_limits, self.config.rate_limit_window_seconds)
        self.pager = Pager()
        self.request_counts: collections.Counter[str] = collections.Counter()
        self.requests_log: list[tuple[str, str, dict[str, list[str]], int]] = []
        self.metrics = MetricsModel(self.data, seed=self.config.seed, today=self.today)
        self.data.metrics = self.metrics
        self.app = self.build_app()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._address: tuple[str, int] | None = None

    def build_app(self) -> Starlette:
        # Analytics routes go first: `/v5/pins/analytics` would otherwise match `/v5/pins/{pin_id}`.
        routes = [*analytics_routes(self), *EntityEndpoints(self).routes(), *OAuthEndpoints(self).routes()]
        return Starlette(
            routes=routes,
            middleware=[Middleware(SimulatorMiddleware, simulator=self)],
            exception_handlers={404: respond_not_found, 405: respond_method_not_allowed},
        )

    @property
    def app_routes(self) -> list[BaseRoute]:
        return self.app.routes

    # Lifecycle

    def start(self, port: int = 0, host: str = "127.0.0.1") -> Simulator:
        """Serve on `host:port` (port 0 picks a free one) and return once requests are accepted."""
        if self._thread is not None:
            raise RuntimeError("The simulator is already running: call stop() before starting it again.")
        # With proto left at 0, asyncio skips TCP_NODELAY on accepted connections and every
        # response waits about 40 ms for a delayed ACK.
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        self._address = (host, listener.getsockname()[1])

        server_config = uvicorn.Config(
            self.app, log_config=None, log_level="warning", access_log=False, lifespan="off",
            loop="asyncio", http="h11", ws="none", timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(server_config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [listener]}, name="pinterest-simulator", daemon=True)
        self._thread.start()

        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"The simulator did not start on {host}:{port}: see the uvicorn errors logged above.")
            time.sleep(0.01)
        logger.info("Pinterest API simulator listening on %s (seed %s, scale %s)", self.base_url, self.config.seed, self.config.scale)
        return self

    def stop(self) -> None:
        """Stop serving; open connections get a second to finish."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Simulator:
        return self if self.is_running else self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self._address else "not started"
        return f"Simulator(seed={self.config.seed}, scale={self.config.scale!r}, {where})"

    # Addresses and credentials

    @property
    def origin(self) -> str:
        if self._address is None:
            raise RuntimeError("The simulator has no address yet: call start() first.")
        host, port = self._address
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """API base URL, `http://127.0.0.1:PORT/v5`; the token endpoint is `base_url + "/oauth/token"`."""
        return self.origin + "/v5"

    @property
    def authorize_url(self) -> str:
        """The fake consent page, standing in for https://www.pinterest.com/oauth/."""
        return self.origin + "/oauth/"

    @property
    def client_id(self) -> str:
        return self.oauth.client_id

    @property
    def client_secret(self) -> str:
        return self.oauth.client_secret

    @property
    def refresh_token(self) -> str:
        """The one refresh token the token endpoint accepts now; it changes on every refresh."""
        return self.oauth.refresh_token

    @property
    def token_requests(self) -> list[dict[str, str]]:
        """Form fields of every token request, without secret values (refresh_token, code)."""
        return self.oauth.token_requests

    def issue_access_token(self, scopes: tuple[str, ...] | None = None) -> str:
        """Return a valid access token without going through the token endpoint."""
        return self.oauth.issue_access_token(scopes)

    def revoke_access_tokens(self) -> None:
        """Invalidate every access token issued so far, as an expiry would: requests get 401."""
        self.oauth.revoke_access_tokens()

    def set_rate_limits(self, rate_limits: dict[str, float] | None) -> None:
        """Replace the rate limits (same form as SimulatorConfig.rate_limits) and reset their counters."""
        validate_rate_limits(rate_limits)
        self.rate_limiter = RateLimiter(rate_limits, self.config.rate_limit_window_seconds)

    def expected_row_counts(self) -> dict[str, int]:
        """Rows per entity table a correct full sync loads from the current data and faults."""
        return expected_row_counts(self.data, self.faults.forbidden_ad_accounts)


async def respond_not_found(request: Request, exc: Exception) -> Response:
    return error_response(404, 404, f"Not found: {request.url.path} is not an endpoint of this API.")


async def respond_method_not_allowed(request: Request, exc: Exception) -> Response:
    allowed = exc.headers.get("Allow", "") if isinstance(exc, HTTPException) and exc.headers else ""
    return error_response(405, METHOD_NOT_ALLOWED, "Method not allowed", {"Allow": allowed} if allowed else None)


def serve_forever(config: SimulatorConfig, port: int, host: str = "127.0.0.1") -> None:
    """Serve a simulator until Ctrl-C, after printing its address and fake credentials.

    The credentials are the simulator's own made-up values, so printing them is safe;
    the refresh token shown rotates on the first refresh.
    """
    simulator = Simulator(config).start(port=port, host=host)
    lines: list[tuple[str, Any]] = [
        ("base_url", simulator.base_url),
        ("authorize_url", simulator.authorize_url),
        ("client_id", simulator.client_id),
        ("client_secret", simulator.client_secret),
        ("refresh_token", simulator.refresh_token),
    ]
    print(f"Pinterest API simulator (seed {config.seed}, scale {config.scale}); stop it with Ctrl-C.")
    for name, value in lines:
        print(f"{name}: {value}")
    print(flush=True)
    try:
        while simulator.is_running:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()
