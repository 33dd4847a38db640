"""One exception tree for the whole server.

* :class:`ClientError` — the request was understood and refused. It carries a
  stable ``code`` and a message that is safe to show the member; it becomes an
  ``error`` frame (WebSocket) or a JSON error body (HTTP), and the connection lives on.
* Transport-level violations (oversized or undecodable frames) are closed by
  the transport itself with a standard close code; see ``protocol.CloseCode``.
* :class:`Unavailable` — a backend is out of reach; the command was *not* applied.

Internal detail never travels in these: log it where it happens.
"""

from __future__ import annotations

from typing import Any


class HoldspaceError(Exception):
    """Base of every error Holdspace raises on purpose."""


class ClientError(HoldspaceError):
    code = "bad_request"
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.detail = detail

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail:
            body["detail"] = self.detail
        return body


class InvalidInput(ClientError):
    code = "invalid"
    http_status = 400


class NotAuthenticated(ClientError):
    code = "not_authenticated"
    http_status = 401


class Forbidden(ClientError):
    code = "forbidden"
    http_status = 403


class NotFound(ClientError):
    code = "not_found"
    http_status = 404


class Conflict(ClientError):
    code = "conflict"
    http_status = 409


class Throttled(ClientError):
    code = "rate_limited"
    http_status = 429


class Rejected(ClientError):
    """A room command refused by the room's rules (the core raises these)."""

    code = "rejected"
    http_status = 409


class Unavailable(HoldspaceError):
    """A backend could not be reached; nothing was applied."""

    code = "unavailable"
    #: What people are told, over HTTP and on a refused WebSocket handshake.
    public_message = "The service is briefly unavailable; nothing was changed. Please try again."
