"""A minimal HTTP access log: method, route, status, duration, request id — no address,
no query.

The request id is the proxy's (nginx's ``$request_id``, sent as ``X-Request-ID``)
when it looks like one, so a line in the proxy's log and one here can be matched;
otherwise one is made up. Either way it goes back in the response's header.
"""

from __future__ import annotations

import logging
import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("holdspace.http")

_REQUEST_ID = re.compile(r"[A-Za-z0-9-]{8,64}")


def request_id(scope: Scope) -> str:
    """The proxy's id for this request or upgrade, if it sent a plausible one; else a new one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = str(value.decode("latin-1"))
            if _REQUEST_ID.fullmatch(text):
                return text
            break
    return secrets.token_hex(8)


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        rid = request_id(scope)

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            log.info(
                "request",
                extra={
                    "request_id": rid,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
