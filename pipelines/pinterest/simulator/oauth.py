"""OAuth 2 as Pinterest runs it: a consent page, a token endpoint, rotating refresh tokens.

Every refresh returns a new refresh token and retires the old one at once, so a client
that does not persist the newest token is locked out on its next run. Access tokens
stay valid until they expire or a test revokes them.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import logging
import random
import secrets
import threading
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .config import SimulatorConfig
from .responses import AUTHENTICATION_FAILED, INVALID_PARAMETERS, error_response

if TYPE_CHECKING:
    from .server import Simulator

logger = logging.getLogger(__name__)

# Form fields whose values are secrets: kept out of `token_requests`.
SECRET_FIELDS = ("refresh_token", "code", "client_secret")


@dataclasses.dataclass
class AccessGrant:
    """Scopes and expiry (Unix seconds) of one access token."""

    scopes: tuple[str, ...]
    expires_at: float


class OAuthState:
    """Client credentials and the tokens currently valid.

    The client id, client secret and first refresh token derive from the seed, so a
    restarted `pinterest-sync simulate` with the same seed accepts the same settings.
    """

    def __init__(self, config: SimulatorConfig) -> None:
        rng = random.Random(f"oauth:{config.seed}")
        self.config = config
        self.client_id = str(1_400_000 + rng.randrange(100_000))
        self.client_secret = f"{rng.getrandbits(160):040x}"
        self.refresh_token = f"pinr.{rng.getrandbits(256):064x}"
        self.refresh_token_expires_at = time.time() + config.refresh_token_ttl_seconds
        self.refresh_scopes: tuple[str, ...] = tuple(config.scopes)
        self.access_tokens: dict[str, AccessGrant] = {}
        self.authorization_codes: dict[str, tuple[str, tuple[str, ...]]] = {}
        self.token_requests: list[dict[str, str]] = []
        self._lock = threading.Lock()

    def issue_access_token(self, scopes: tuple[str, ...] | None = None) -> str:
        """Mint an access token without the token endpoint (for tests that skip OAuth)."""
        token = f"pina_{secrets.token_urlsafe(32)}"
        grant = AccessGrant(tuple(self.config.scopes if scopes is None else scopes), time.time() + self.config.access_token_ttl_seconds)
        with self._lock:
            self.access_tokens[token] = grant
        return token

    def revoke_access_tokens(self) -> None:
        """Invalidate every access token issued so far; refresh tokens stay valid."""
        with self._lock:
            self.access_tokens.clear()

    def grant_for(self, access_token: str) -> AccessGrant | None:
        """Return the grant of a known, unexpired access token, else None."""
        with self._lock:
            grant = self.access_tokens.get(access_token)
        if grant is None or grant.expires_at <= time.time():
            return None
        return grant

    def rotate_refresh_token(self, scopes: tuple[str, ...]) -> tuple[str, int]:
        """Replace the refresh token; return the new one and its expiry (Unix seconds)."""
        token = f"pinr.{secrets.token_hex(32)}"
        expires_at = int(time.time()) + self.config.refresh_token_ttl_seconds
        with self._lock:
            self.refresh_token = token
            self.refresh_token_expires_at = expires_at
            self.refresh_scopes = scopes
        return token, expires_at

    def refresh_token_is_current(self, token: str) -> bool:
        with self._lock:
            current, expires_at = self.refresh_token, self.refresh_token_expires_at
        return secrets.compare_digest(token.encode(), current.encode()) and time.time() < expires_at

    def issue_code(self, redirect_uri: str, scopes: tuple[str, ...]) -> str:
        code = secrets.token_urlsafe(24)
        with self._lock:
            self.authorization_codes[code] = (redirect_uri, scopes)
        return code

    def redeem_code(self, code: str, redirect_uri: str) -> tuple[str, ...] | None:
        """Consume a consent code; None when unknown, used or issued for another redirect_uri."""
        with self._lock:
            issued = self.authorization_codes.pop(code, None)
        if issued is None or issued[0] != redirect_uri:
            return None
        return issued[1]

    def client_authenticated(self, authorization: str | None) -> bool:
        """Check HTTP Basic client credentials."""
        if not authorization or not authorization.lower().startswith("basic "):
            return False
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        client_id, _, client_secret = decoded.partition(":")
        return client_id == self.client_id and secrets.compare_digest(client_secret.encode(), self.client_secret.encode())


def fingerprint(token: str) -> str:
    """Return a short, non-reversible label for a token, safe to log."""
    return hashlib.sha256(token.encode()).hexdigest()[:8]


class OAuthEndpoints:
    """`POST /v5/oauth/token` and the fake consent page `GET /oauth/`."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.state = sim.oauth

    def routes(self) -> list[Route]:
        return [
            Route("/v5/oauth/token", self.token, methods=["POST"]),
            Route("/oauth/", self.consent, methods=["GET"]),
        ]

    async def consent(self, request: Request) -> Response:
        """Approve at once and redirect to `redirect_uri?code=...&state=...`, as a user clicking "Allow" would."""
        query = request.query_params
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != self.state.client_id:
            return HTMLResponse("<p>Invalid client_id: use the app id of a registered app.</p>", status_code=400)
        if not redirect_uri.startswith(("http://", "https://")):
            return HTMLResponse("<p>Invalid redirect_uri: use an absolute http(s) URL registered for the app.</p>", status_code=400)
        if query.get("response_type") != "code":
            return HTMLResponse("<p>Invalid response_type: use response_type=code.</p>", status_code=400)

        state_value = query.get("state")
        if self.sim.faults.deny_consent:
            params = {"error": "access_denied"}
        else:
            scopes = tuple(scope for scope in (query.get("scope") or "").split(",") if scope) or tuple(self.state.config.scopes)
            params = {"code": self.state.issue_code(redirect_uri, scopes)}
        if state_value is not None:
            params["state"] = state_value
        separator = "&" if urllib.parse.urlsplit(redirect_uri).query else "?"
        return RedirectResponse(redirect_uri + separator + urllib.parse.urlencode(params), status_code=302)

    async def token(self, request: Request) -> Response:
        form = {key: values[-1] for key, values in urllib.parse.parse_qs((await request.body()).decode(), keep_blank_values=True).items()}
        self.state.token_requests.append({key: value for key, value in form.items() if key not in SECRET_FIELDS})

        if not self.state.client_authenticated(request.headers.get("authorization")):
            return error_response(401, AUTHENTICATION_FAILED, "Authentication failed: the client id and secret in the Basic authorization header are invalid.")
        grant_type = form.get("grant_type")
        if grant_type == "refresh_token":
            return self.refresh(form)
        if grant_type == "authorization_code":
            return self.exchange_code(form)
        return error_response(400, INVALID_PARAMETERS, f"Invalid grant_type '{grant_type}': use refresh_token or authorization_code.")

    def refresh(self, form: dict[str, str]) -> Response:
        presented = form.get("refresh_token", "")
        if self.sim.faults.reject_refresh or not self.state.refresh_token_is_current(presented):
            logger.info("Rejected a refresh token (fingerprint %s): not the current one, expired or rejected by a fault", fingerprint(presented))
            return error_response(401, AUTHENTICATION_FAILED, "Authentication failed: the refresh token is invalid, expired or was replaced by a newer one.")
        return self.token_response(self.state.refresh_scopes, "refresh_token")

    def exchange_code(self, form: dict[str, str]) -> Response:
        scopes = self.state.redeem_code(form.get("code", ""), form.get("redirect_uri", ""))
        if scopes is None:
            return error_response(401, AUTHENTICATION_FAILED, "Authentication failed: the authorization code is invalid, used or was issued for another redirect_uri.")
        return self.token_response(scopes, "authorization_code")

    def token_response(self, scopes: tuple[str, ...], response_type: str) -> JSONResponse:
        access_token = self.state.issue_access_token(scopes)
        refresh_token, refresh_expires_at = self.state.rotate_refresh_token(scopes)
        body: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": self.state.config.access_token_ttl_seconds,
            "scope": ",".join(scopes),
            "refresh_token": refresh_token,
            "refresh_token_expires_in": self.state.config.refresh_token_ttl_seconds,
            "refresh_token_expires_at": refresh_expires_at,
            "response_type": response_type,
        }
        return JSONResponse(body)
