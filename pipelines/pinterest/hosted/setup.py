"""`pinterest-sync hosted create` and `hosted connect`: make a hosted connector and save its id.

`hosted_create` sends Pinterest credentials to Airbyte. `hosted_connect` runs the
bring-your-own OAuth flow: Airbyte returns a consent URL, the user approves in a
browser, and Airbyte redirects to a loopback callback served here with `connector_id`
(or `error`) in the query. Both save the id as `sources.pinterest.airbyte.connector_id`
in `.dlt/config.toml` of the working folder.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import secrets
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from ..config import AirbyteSettings, Credentials
from ..errors import ConfigError, PinterestSyncError
from ..settings import DEFAULT_START_DAYS_AGO
from .api import ExecuteApi
from .config_file import CONNECTOR_ID_ENV, CONNECTOR_ID_KEY, save_connector_id

logger = logging.getLogger(__name__)

Echo = Callable[[str], None]

# Pinterest rotates the refresh token on every refresh and rejects the old one afterwards,
# so two holders of one token chain invalidate each other.
SHARED_TOKEN_WARNING = (
    "Warning: the hosted connector now refreshes this Pinterest refresh token too, and each refresh "
    "invalidates the previous token. Authorize the direct path again with `pinterest-sync auth` before "
    "its next run, or use `pinterest-sync hosted connect` to give the connector its own authorization."
)

CUSTOMER_FIX = (
    "Set sources.pinterest.airbyte.customer_name (environment variable SOURCES__PINTEREST__AIRBYTE__CUSTOMER_NAME) "
    "to the Airbyte customer the connector belongs to."
)


class ConsentError(PinterestSyncError):
    """The OAuth consent did not produce a connector: cancelled, timed out or malformed."""


def parse_start_date(value: str | None, today: dt.date | None = None) -> str:
    """Validate `replication_config.start_date`; None means 89 days before today (UTC).

    Pinterest serves ads analytics for the last 90 days counted in UTC, hence the
    default. An older date is accepted because the replication may still use it.
    """
    today = today or dt.datetime.now(dt.timezone.utc).date()
    if value is None or not str(value).strip():
        return (today - dt.timedelta(days=DEFAULT_START_DAYS_AGO)).isoformat()

    text = str(value).strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ConfigError(f"--start-date {value!r} is not a date: use the form YYYY-MM-DD, for example {today.isoformat()}.")
    try:
        start = dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--start-date {value!r} is not a valid calendar date: use YYYY-MM-DD.") from None
    if start > today:
        raise ConfigError(f"--start-date {text} is in the future (today is {today.isoformat()} UTC): use a date on or before today.")
    return text


def hosted_create(
    settings: AirbyteSettings,
    credentials: Credentials,
    start_date: str | None,
    echo: Echo,
    *,
    config_path: Path | None = None,
    name: str | None = None,
    api: ExecuteApi | None = None,
) -> str:
    """Create a hosted Pinterest connector from Pinterest credentials, save and return its id."""
    customer_name = _require_customer(settings)
    start = parse_start_date(start_date)
    connector_name = name or f"Pinterest ({customer_name})"

    owned = api is None
    api = api or ExecuteApi(settings)
    try:
        connector_id = api.create_connector(customer_name, connector_name, credentials, start)
    finally:
        if owned:
            api.close()

    echo(f"Created hosted Pinterest connector {connector_id} for customer {customer_name!r} (start date {start}).")
    _save_and_report(connector_id, config_path, echo)
    echo(SHARED_TOKEN_WARNING)
    return connector_id


def hosted_connect(
    settings: AirbyteSettings,
    port: int,
    timeout: float,
    echo: Echo,
    *,
    config_path: Path | None = None,
    api: ExecuteApi | None = None,
) -> str:
    """Run the bring-your-own OAuth flow on a loopback callback, save and return the connector id.

    `port` 0 picks a free port. The callback path carries a random segment, so stray
    requests to the port get a 404 response and are ignored.
    """
    customer_name = _require_customer(settings)
    owned = api is None
    api = api or ExecuteApi(settings)
    try:
        server = _start_callback_server(port)
        try:
            redirect_url = f"http://127.0.0.1:{server.server_address[1]}{server.callback_path}"
            consent_url = api.initiate_oauth(customer_name, redirect_url)
            echo("Open this URL in a browser and approve access to Pinterest:")
            echo(consent_url)
            if not server.received.wait(timeout):
                raise ConsentError(
                    f"No redirect reached {redirect_url} within {timeout:g} s: run `pinterest-sync hosted connect` "
                    "again and approve in time, or pass a larger --timeout."
                )
        finally:
            server.shutdown()
            server.server_close()
    finally:
        if owned:
            api.close()

    query = server.query or {}
    if "error" in query:
        reason = query["error"][0]
        raise ConsentError(
            f"Consent was not given (Airbyte redirected with error={reason!r}), so no connector was created: "
            "run `pinterest-sync hosted connect` again and approve access."
        )
    connector_id = query["connector_id"][0].strip()
    echo(f"Connected hosted Pinterest connector {connector_id} for customer {customer_name!r}.")
    _save_and_report(connector_id, config_path, echo)
    return connector_id


def _require_customer(settings: AirbyteSettings) -> str:
    if not settings.customer_name or not settings.customer_name.strip():
        raise ConfigError(f"Missing sources.pinterest.airbyte.customer_name. {CUSTOMER_FIX}")
    return settings.customer_name.strip()


def _save_and_report(connector_id: str, config_path: Path | None, echo: Echo) -> None:
    path = save_connector_id(connector_id, config_path)
    echo(f"Saved {CONNECTOR_ID_KEY} = {connector_id!r} in {path}; the next run reads it.")
    configured = os.environ.get(CONNECTOR_ID_ENV)
    if configured and configured.strip() != connector_id:
        echo(f"Warning: the environment variable {CONNECTOR_ID_ENV}={configured.strip()!r} overrides that value: unset it or set it to {connector_id!r}.")


class _CallbackServer(ThreadingHTTPServer):
    """Loopback server that keeps the query of the first valid callback it receives."""

    daemon_threads = True

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _CallbackHandler)
        self.callback_path = f"/callback/{secrets.token_urlsafe(16)}"
        self.query: dict[str, list[str]] | None = None
        self.received = threading.Event()


class _CallbackHandler(BaseHTTPRequestHandler):
    server: _CallbackServer

    def do_GET(self) -> None:  # noqa: N802 (the name is http.server's)
        url = urlparse(self.path)
        query = parse_qs(url.query)
        valid = url.path == self.server.callback_path and (query.get("connector_id", [""])[0].strip() or "error" in query)
        if not valid or self.server.received.is_set():
            self._respond(404, "Not a pinterest-sync callback.")
            return

        self.server.query = query
        self.server.received.set()
        if "error" in query:
            self._respond(200, "pinterest-sync received the cancelled consent. You can close this tab.")
        else:
            self._respond(200, "pinterest-sync received the connector id. You can close this tab.")

    def _respond(self, status: int, text: str) -> None:
        body = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("Callback server: " + format, *args)


def _start_callback_server(port: int) -> _CallbackServer:
    try:
        server = _CallbackServer(port)
    except OSError as error:
        raise ConfigError(f"Cannot listen on 127.0.0.1:{port} ({error.strerror}): pass another --port, or 0 for a free one.") from None
    thread = threading.Thread(target=server.serve_forever, name="hosted-connect-callback", daemon=True)
    thread.start()
    logger.debug("Callback server listening on 127.0.0.1:%d", server.server_address[1])
    return server
