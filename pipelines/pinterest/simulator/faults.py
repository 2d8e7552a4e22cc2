"""Fault knobs that tests set at run time, and the raw ASGI responses that inject the faults.

Path templates in the knobs may be written with or without the `/v5` prefix and with or
without a leading method: "/ad_accounts/{ad_account_id}/campaigns",
"/v5/ad_accounts/{ad_account_id}/campaigns" and "GET /v5/ad_accounts/{ad_account_id}/campaigns"
all name the same endpoint.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

ERROR_KINDS = ("http_500", "http_502", "http_503", "timeout", "reset", "invalid_json", "html_200")

# One-shot scripted response: (path template, status, JSON body, headers). The body may
# also be a str or bytes, sent as is, or None for an empty body. Headers may be left out.
ScriptedResponse = tuple[Any, ...]


@dataclasses.dataclass
class Faults:
    """Mutable fault knobs; all are off by default.

    - `error_rate`: share of authenticated /v5 requests (0 to 1), drawn from a RNG
      seeded with the simulator's seed, that get one of `error_kinds` instead of the normal
      response. The token endpoint, the consent page and report downloads are spared.
    - `stall_seconds`: how long a `timeout` fault delays the request before it responds
      504, so a client with a shorter timeout sees a read timeout.
    - `repeat_bookmark_paths`: list endpoints whose bookmarked pages return the first
      page again, with the bookmark that was sent.
    - `items_not_list_paths`: list endpoints whose `items` is an object keyed by id.
    - `fail_next`: scripted one-shot responses, consumed in order by the first matching request.
    - `forbidden_ad_accounts`: ad account ids that get 403 code 29 on every path that
      names them.
    - `reject_refresh`: every refresh_token grant gets 401.
    - `deny_consent`: the fake consent page redirects with `error=access_denied`.
    """

    error_rate: float = 0.0
    error_kinds: tuple[str, ...] = ERROR_KINDS
    stall_seconds: float = 5.0
    repeat_bookmark_paths: set[str] = dataclasses.field(default_factory=set)
    items_not_list_paths: set[str] = dataclasses.field(default_factory=set)
    fail_next: list[ScriptedResponse] = dataclasses.field(default_factory=list)
    forbidden_ad_accounts: set[str] = dataclasses.field(default_factory=set)
    reject_refresh: bool = False
    deny_consent: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(f"faults:{self.seed}")
        self._lock = threading.Lock()

    def draw_error_kind(self) -> str | None:
        """Pick the fault for one request, or None for a normal response."""
        if self.error_rate <= 0 or not self.error_kinds:
            return None
        with self._lock:
            if self.rng.random() >= self.error_rate:
                return None
            kind = self.rng.choice(self.error_kinds)
        if kind not in ERROR_KINDS:
            raise ValueError(f"fault kind {kind!r} is unknown: use one of {', '.join(ERROR_KINDS)}.")
        return kind

    def pop_scripted_response(self, method: str, template: str) -> ScriptedResponse | None:
        """Remove and return the first `fail_next` entry naming this endpoint."""
        with self._lock:
            for index, answer in enumerate(self.fail_next):
                if template_matches(answer[0], method, template):
                    return self.fail_next.pop(index)
        return None

    def path_in(self, paths: set[str], method: str, template: str) -> bool:
        return any(template_matches(pattern, method, template) for pattern in paths)


def template_matches(pattern: str, method: str, template: str) -> bool:
    """Return whether a knob's path template names the served endpoint `method template`."""
    pattern_method, _, pattern_path = pattern.strip().rpartition(" ")
    if pattern_method and pattern_method.upper() != method.upper():
        return False
    if not pattern_path.startswith("/v5/") and template.startswith("/v5/"):
        pattern_path = "/v5" + pattern_path
    return pattern_path == template


def error_body(code: int, message: str) -> bytes:
    return json.dumps({"code": code, "message": message}).encode()


async def send_raw(send: Send, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
    raw_headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    raw_headers += [(name.lower().encode(), str(value).encode()) for name, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def send_scripted_answer(send: Send, answer: ScriptedResponse) -> None:
    """Send one `fail_next` entry as the response."""
    status = int(answer[1])
    body = answer[2] if len(answer) > 2 else None
    headers = dict(answer[3]) if len(answer) > 3 and answer[3] else {}
    if body is None:
        await send_raw(send, status, b"", headers.pop("content-type", "application/json"), headers)
    elif isinstance(body, bytes):
        await send_raw(send, status, body, headers.pop("content-type", "application/octet-stream"), headers)
    elif isinstance(body, str):
        await send_raw(send, status, body.encode(), headers.pop("content-type", "text/plain; charset=utf-8"), headers)
    else:
        await send_raw(send, status, json.dumps(body).encode(), headers.pop("content-type", "application/json"), headers)


async def send_error_fault(send: Send, kind: str, stall_seconds: float) -> None:
    """Respond to one request with the transport or server fault `kind`."""
    if kind == "http_500":
        await send_raw(send, 500, error_body(0, "Internal server error."), "application/json")
    elif kind == "http_502":
        await send_raw(send, 502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")
    elif kind == "http_503":
        await send_raw(send, 503, error_body(0, "Service unavailable. Try again later."), "application/json")
    elif kind == "timeout":
        await asyncio.sleep(stall_seconds)
        await send_raw(send, 504, b"<html><body><h1>504 Gateway Time-out</h1></body></html>", "text/html")
    elif kind == "reset":
        await send_truncated_body(send)
    elif kind == "invalid_json":
        await send_raw(send, 200, b'{"items": [{"id": "1', "application/json")
    elif kind == "html_200":
        body = b"<!DOCTYPE html><html><body><p>Pinterest is down for maintenance.</p></body></html>"
        await send_raw(send, 200, body, "text/html; charset=utf-8")
    else:
        raise ValueError(f"fault kind {kind!r} is unknown: use one of {', '.join(ERROR_KINDS)}.")


async def send_truncated_body(send: Send) -> None:
    """Promise a body, send part of it and return, so the server drops the connection.

    uvicorn closes the transport when the app returns with the response incomplete; the
    client sees the connection end mid-body. uvicorn also logs that at ERROR level,
    which `_DeliberateAbortFilter` silences for these aborts only.
    """
    body = b'{"items": [], "bookmark": null}' * 8
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    _abort_filter.expect_one()
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body[: len(body) // 3], "more_body": True})


class _DeliberateAbortFilter(logging.Filter):
    """Drop uvicorn's 'returned without completing response' error once per injected abort."""

    MESSAGE = "ASGI callable returned without completing response."

    def __init__(self) -> None:
        super().__init__()
        self._pending = 0
        self._lock = threading.Lock()

    def expect_one(self) -> None:
        with self._lock:
            self._pending += 1

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != self.MESSAGE:
            return True
        with self._lock:
            if self._pending > 0:
                self._pending -= 1
                return False
        return True


_abort_filter = _DeliberateAbortFilter()
logging.getLogger("uvicorn.error").addFilter(_abort_filter)
