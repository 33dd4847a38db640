"""One exception tree for the whole server.

* :class:`ClientError` — the request was understood and refused. It carries a
  stable ``code`` and a message that is safe to show the member; it becomes an
  ``error`` frame (WebSocket) or a JSON error body (HTTP), and the connection lives on.
* Transport-level violations (oversized or undecodable frames) are closed by
  the transport itself with a standard close code; see ``protocol.CloseCode``.
* :class:`Unavailable` — a backend is out of reach; the command was *not* applied.
  Its :class:`OutcomeUnknown` — the backend was reached but its answer lost: the
  command may have been applied; sent again with the same client id, it applies once.

Internal detail never travels in these: log it where it happens.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Code(StrEnum):
    """Every code a refusal can carry: the one catalogue, with the HTTP status each
    answers with. ``docs/PROTOCOL.md`` and the README document them all (the doc test
    checks it); nothing else in the server spells a code as a bare string."""

    status: int

    def __new__(cls, value: str, status: int) -> Code:
        member = str.__new__(cls, value)
        member._value_ = value
        member.status = status
        return member

    # -- the request itself (400) --------------------------------------------------
    BAD_REQUEST = "bad_request", 400
    INVALID = "invalid", 400
    BAD_FRAME = "bad_frame", 400
    FRAME_TOO_LARGE = "frame_too_large", 400
    BINARY_FRAME = "binary_frame", 400
    UNKNOWN_COMMAND = "unknown_command", 400
    MISSING_FIELD = "missing_field", 400
    INVALID_FIELD = "invalid_field", 400
    BAD_JSON = "bad_json", 400
    TOO_LARGE = "too_large", 400
    TOO_LONG = "too_long", 400
    EMPTY = "empty", 400
    INVALID_NAME = "invalid_name", 400
    NAME_RESERVED = "name_reserved", 400
    NAME_CONFUSABLE = "name_confusable", 400
    INVALID_USERNAME = "invalid_username", 400
    COMMON_PASSWORD = "common_password", 400
    BAD_CREDENTIALS = "bad_credentials", 400
    # -- who is asking (401, 403) ---------------------------------------------------
    NOT_AUTHENTICATED = "not_authenticated", 401
    FORBIDDEN = "forbidden", 403
    BAD_ORIGIN = "bad_origin", 403
    BARRED = "barred", 403
    CLOSED = "closed", 403
    # -- what it names (404) --------------------------------------------------------
    NOT_FOUND = "not_found", 404
    INVALID_INVITE = "invalid_invite", 404
    NO_SUCH_PARTICIPANT = "no_such_participant", 404
    NO_SUCH_MESSAGE = "no_such_message", 404
    NOT_WAITING = "not_waiting", 404
    # -- the state of things (409) ----------------------------------------------------
    CONFLICT = "conflict", 409
    USERNAME_TAKEN = "username_taken", 409
    REJECTED = "rejected", 409
    ALREADY_AUTHENTICATED = "already_authenticated", 409
    ALREADY_JOINED = "already_joined", 409
    NOT_JOINED = "not_joined", 409
    NOT_PRESENT = "not_present", 409
    WAITING = "waiting", 409
    SESSION_ENDED = "session_ended", 409
    NO_SESSION = "no_session", 409
    REMOVED = "removed", 409
    LOCKED = "locked", 409
    ROOM_FULL = "room_full", 409
    AGREEMENT_REQUIRED = "agreement_required", 409
    LISTENING = "listening", 409
    MUTED = "muted", 409
    NOT_STARTED = "not_started", 409
    PAUSED = "paused", 409
    NOT_YOUR_TURN = "not_your_turn", 409
    SLOW_MODE = "slow_mode", 409
    NOT_MUTED = "not_muted", 409
    ALREADY_PAUSED = "already_paused", 409
    NOT_PAUSED = "not_paused", 409
    NO_ROUND = "no_round", 409
    ROUND_RUNNING = "round_running", 409
    NO_SHARERS = "no_sharers", 409
    NO_HANDS = "no_hands", 409
    NO_FLOOR = "no_floor", 409
    ALREADY_LOCKED = "already_locked", 409
    NOT_LOCKED = "not_locked", 409
    # -- slow down, try again (429, 503) -----------------------------------------------
    RATE_LIMITED = "rate_limited", 429
    TOO_MANY_CONNECTIONS = "too_many_connections", 429
    UNAVAILABLE = "unavailable", 503
    BUSY = "busy", 503
    OUTCOME_UNKNOWN = "outcome_unknown", 503


class HoldspaceError(Exception):
    """Base of every error Holdspace raises on purpose."""


class ClientError(HoldspaceError):
    code: Code = Code.BAD_REQUEST

    def __init__(self, message: str, *, code: Code | None = None, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.detail = detail

    @property
    def http_status(self) -> int:
        return self.code.status

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code.value, "message": self.message}
        if self.detail:
            body["detail"] = self.detail
        return body


class InvalidInput(ClientError):
    code = Code.INVALID


class NotAuthenticated(ClientError):
    code = Code.NOT_AUTHENTICATED


class Forbidden(ClientError):
    code = Code.FORBIDDEN


class NotFound(ClientError):
    code = Code.NOT_FOUND


class Conflict(ClientError):
    code = Code.CONFLICT


class Throttled(ClientError):
    code = Code.RATE_LIMITED


class Busy(ClientError):
    """Costly work (password hashing) already has as many callers waiting as it may:
    refused at once with ``retry_after``, rather than queued without bound."""

    code = Code.BUSY


class Rejected(ClientError):
    """A room command refused by the room's rules (the core raises these)."""

    code = Code.REJECTED


class Unavailable(HoldspaceError):
    """A backend could not be reached; nothing was applied."""

    code = Code.UNAVAILABLE


class OutcomeUnknown(Unavailable):
    """The backend was reached but its answer was lost: the command may or may not have
    been applied. Sent again with the same client id, it is applied at most once."""

    code = Code.OUTCOME_UNKNOWN


def outcome_unknown() -> ClientError:
    """What the sender of a command is told when its outcome is unknown."""
    return ClientError(
        "We couldn't confirm whether that went through. Send it again with the same `cid`: "
        "it will not be applied twice.",
        code=Code.OUTCOME_UNKNOWN,
        retry_after=1,
    )


def unavailable() -> ClientError:
    """What people are told when a backend is out of reach — over HTTP (503, also for a
    refused WebSocket handshake) and in an ``error`` frame alike."""
    return ClientError(
        "The service is briefly unavailable; nothing was changed. Please try again.",
        code=Code.UNAVAILABLE,
        retry_after=2,
    )
