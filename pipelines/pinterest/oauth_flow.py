"""The `pinterest-sync auth` flow: consent in a browser, code captured on a loopback redirect.

The redirect URI `http://localhost:<port>/` must be registered for the Pinterest app. The
code is exchanged at `{base_url}/oauth/token` and the refresh token is stored in the token
store, where the next run finds it.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from .config import DEFAULT_BASE_URL, SECTION, _read, env_name, load_credentials
from .errors import AuthError, ConfigError
from .token_store import StoredToken, TokenStore, fingerprint


class _RedirectCatcher(ThreadingHTTPServer):
    """Loopback server that keeps the query of the first redirect it receives."""

    daemon_threads = True

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _RedirectHandler)
        self.query: dict[str, list[str]] | None = None
        self.received = threading.Event()


class _RedirectHandler(BaseHTTPRequestHandler):
    server: _RedirectCatcher

    def do_GET(self) -> None:  # noqa: N802 (the name is http.server's)
        query = parse_qs(urlparse(self.path).query)
        if "code" not in query and "error" not in query:
            self.send_response(404)
            self.end_headers()
            return
        self.server.query = query
        self.server.received.set()
        body = b"pinterest-sync received the authorization. You can close this tab."
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # the query contains the code
        return


def _app_credentials() -> tuple[str, str]:
    values = []
    for name in ("client_id", "client_secret"):
        key = f"{SECTION}.credentials.{name}"
        value = _read(key, secret=True)
        if value is None or not str(value).strip():
            raise ConfigError(f"Missing {key}: set it in .dlt/secrets.toml under [sources.pinterest.credentials] or in {env_name(key)}.")
        values.append(str(value).strip())
    return values[0], values[1]


def run_authorization_flow(
    port: int,
    scopes: Sequence[str],
    oauth_url: str,
    timeout: float,
    echo: Callable[[str], None],
) -> None:
    """Print the consent URL, wait for the redirect, exchange the code and store the token."""
    from .auth import build_consent_url, exchange_authorization_code

    client_id, client_secret = _app_credentials()
    base_url = str(_read(f"{SECTION}.base_url") or DEFAULT_BASE_URL).rstrip("/")
    store_path = _read(f"{SECTION}.token_store_path")
    store = TokenStore(store_path)

    try:
        server = _RedirectCatcher(port)
    except OSError as error:
        raise ConfigError(f"Cannot listen on 127.0.0.1:{port} ({error.strerror}): pass another --port registered as a redirect URI.") from None
    redirect_uri = f"http://localhost:{server.server_address[1]}/"
    state = secrets.token_urlsafe(24)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        echo("Open this URL in a browser and approve access:")
        echo(build_consent_url(client_id, redirect_uri, list(scopes), state, oauth_url=oauth_url))
        deadline = time.monotonic() + timeout
        if not server.received.wait(max(0.0, deadline - time.monotonic())):
            raise AuthError(f"No redirect reached {redirect_uri} within {timeout:.0f} s: run `pinterest-sync auth` again and approve in time.")
    finally:
        server.shutdown()
        server.server_close()

    query = server.query or {}
    if "error" in query:
        raise AuthError(f"Consent was not given (Pinterest returned error={query['error'][0]!r}): run `pinterest-sync auth` again.")
    if query.get("state", [""])[0] != state:
        raise AuthError("The redirect carried a different state value, so it may not come from this request: run `pinterest-sync auth` again.")

    tokens = exchange_authorization_code(base_url, client_id, client_secret, query["code"][0], redirect_uri)
    refresh_token = tokens["refresh_token"]
    expires_at = tokens.get("refresh_token_expires_at")
    try:
        configured = load_credentials().refresh_token
    except ConfigError:
        configured = refresh_token
    with store.lock():
        store.save(client_id, StoredToken(refresh_token, float(expires_at) if expires_at else None, fingerprint(configured)))
    echo(f"Stored the new refresh token in {store.path}; the next run uses it.")
    echo("To configure it elsewhere, set sources.pinterest.credentials.refresh_token to:")
    echo(refresh_token)
