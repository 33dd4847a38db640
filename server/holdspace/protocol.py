"""The WebSocket wire protocol: typed client commands in, JSON frames out.

One :func:`parse` turns a text frame into a typed command, or raises
:class:`InvalidInput` naming what is wrong; anything outside :data:`COMMANDS` is
refused. One :func:`encode_event` turns a room event into its frame, once for
every recipient. Close codes live here too, so every close is explained in one
place. ``docs/PROTOCOL.md`` documents all of it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

import orjson

from holdspace.clock import iso
from holdspace.core import commands as c
from holdspace.core.events import Event, Notice
from holdspace.errors import ClientError, Code, InvalidInput

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 16 * 1024  # larger frames get a `frame_too_large` error
TRANSPORT_MAX_BYTES = 64 * 1024  # the server refuses anything larger at the transport (1009)


class CloseCode:
    """Why the server closes a socket. Refusals that happen before the upgrade is
    accepted are HTTP responses instead: 403 (a foreign ``Origin``), 429 (too many or too
    fast from one address), 503 (the backend is out of reach)."""

    POLICY = 1008  # refused before accepting: the client sees HTTP 403
    TOO_BIG = 1009  # a frame over TRANSPORT_MAX_BYTES (sent by the transport)
    INTERNAL = 1011  # the server failed; reconnect and resume
    RESTART = 1012  # the worker is shutting down (sent by the server): reconnect and resume
    TRY_AGAIN = 1013  # the backend is briefly out of reach: reconnect shortly
    AUTH_FAILED = 4001  # no valid session token, or it was revoked: sign in again
    AUTH_TIMEOUT = 4002  # no `auth` frame in time
    TOO_SLOW = 4008  # the connection could not keep up: reconnect and resume
    RESYNC = 4009  # the room's history couldn't be proven complete: reconnect and rejoin
    # The account opened one socket more than HOLDSPACE_SOCKETS_PER_ACCOUNT on this worker
    # and this was its oldest: don't reconnect by yourself (it would close another).
    REPLACED = 4010
    UNCHECKED = 4012  # the sign-in couldn't be re-checked in time: reconnect (and resume)


# -- commands only the edge handles ------------------------------------------


@dataclass(frozen=True, slots=True)
class Auth:
    token: str


@dataclass(frozen=True, slots=True)
class ResumeFrom:
    session: str
    epoch: str
    seq: int


@dataclass(frozen=True, slots=True)
class JoinRoom:
    room: str
    resume: ResumeFrom | None = None


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class Frame:
    id: str | int | None
    type: str
    command: Any
    cid: str | None = None  # the client's id for this command: sent again, never applied twice
    # The frame as the client sent it: another worker parses it the same way (a worker far
    # from Redis hands its members' commands to a nearer one: see live/redis/relay.py).
    text: str | None = field(default=None, compare=False, repr=False)


# -- parsing ------------------------------------------------------------------


class BadFrame(InvalidInput):
    """A frame we could not turn into a command; carries its ``id`` when one was readable."""

    def __init__(self, message: str, *, code: Code, frame_id: Any = None, **detail: Any) -> None:
        super().__init__(message, code=code, **detail)
        self.frame_id = frame_id


_Check = Callable[[Any], bool]


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)  # no NaN
    )


@dataclass(frozen=True, slots=True)
class Spec:
    build: Callable[..., Any]
    required: Mapping[str, tuple[_Check, str]]
    optional: Mapping[str, tuple[_Check, str]]


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_ids(v: Any) -> bool:
    return isinstance(v, list) and len(v) <= 100 and all(isinstance(i, str) for i in v)


_STR = (_is_str, "a string")
_INT = (_is_int, "an integer")
_NUM = (_is_number, "a number")
_BOOL = (_is_bool, "true or false")
_IDS = (_is_ids, "a list of user ids")


def _resume(v: Any) -> bool:
    return (
        isinstance(v, dict)
        and _is_str(v.get("session"))
        and _is_str(v.get("epoch"))
        and _is_int(v.get("seq"))
        and v["seq"] >= 0
    )


def _join(room: str, resume: dict[str, Any] | None = None) -> JoinRoom:
    if resume is None:
        return JoinRoom(room)
    return JoinRoom(room, ResumeFrom(resume["session"], resume["epoch"], resume["seq"]))


COMMANDS: dict[str, Spec] = {
    "auth": Spec(Auth, {"token": _STR}, {}),
    "join": Spec(
        _join, {"room": _STR}, {"resume": (_resume, "an object with session, epoch and seq")}
    ),
    "ping": Spec(Ping, {}, {}),
    "leave": Spec(c.Leave, {}, {}),
    "agree": Spec(c.Agree, {}, {}),
    "set_mode": Spec(c.SetMode, {"mode": _STR}, {}),
    "post": Spec(c.Post, {"text": _STR}, {"sensitive": _BOOL}),
    "react": Spec(c.React, {"message": _INT, "kind": _STR}, {}),
    "mute": Spec(
        lambda user, minutes=None, reason=None: c.Mute(user, minutes, reason),
        {"user": _STR},
        {"minutes": _NUM, "reason": _STR},
    ),
    "unmute": Spec(lambda user: c.Unmute(user), {"user": _STR}, {}),
    "pause": Spec(c.Pause, {}, {"message": _STR}),
    "resume": Spec(c.Resume, {}, {}),
    "end_session": Spec(c.EndSession, {}, {}),
    "redact": Spec(c.Redact, {"message": _INT}, {"reason": _STR}),
    "whisper": Spec(c.Whisper, {}, {"text": _STR}),
    "whisper_reply": Spec(
        lambda user, text: c.WhisperReply(user, text), {"user": _STR, "text": _STR}, {}
    ),
    "who_reacted": Spec(c.WhoReacted, {"message": _INT}, {}),
    "crisis": Spec(c.Crisis, {}, {}),
    "start_round": Spec(
        c.StartRound, {}, {"kind": _STR, "prompt": _STR, "order": _STR, "turn_seconds": _NUM}
    ),
    "done": Spec(c.Done, {}, {}),
    "pass": Spec(c.Pass, {}, {}),
    "skip_turn": Spec(c.SkipTurn, {}, {}),
    "reorder_round": Spec(lambda order: c.ReorderRound(tuple(order)), {"order": _IDS}, {}),
    "end_round": Spec(c.EndRound, {}, {}),
    "raise_hand": Spec(c.RaiseHand, {}, {}),
    "lower_hand": Spec(lambda user=None: c.LowerHand(user), {}, {"user": _STR}),
    "give_floor": Spec(lambda user=None: c.GiveFloor(user), {}, {"user": _STR}),
    "end_floor": Spec(c.EndFloor, {}, {}),
    "clear_hands": Spec(c.ClearHands, {}, {}),
    "remove": Spec(
        lambda user, bar=False, reason=None: c.Remove(user, bar, reason),
        {"user": _STR},
        {"bar": _BOOL, "reason": _STR},
    ),
    "lock": Spec(c.Lock, {}, {}),
    "unlock": Spec(c.Unlock, {}, {}),
    "admit": Spec(lambda user: c.Admit(user), {"user": _STR}, {}),
    "decline": Spec(lambda user: c.Decline(user), {"user": _STR}, {}),
    "set_waiting_room": Spec(c.SetWaitingRoom, {"on": _BOOL}, {}),
    "slow_mode": Spec(c.SlowMode, {"seconds": _NUM}, {}),
    "balance": Spec(c.Balance, {}, {}),
}


_CID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _is_cid(v: Any) -> bool:
    return v is None or (isinstance(v, str) and _CID.fullmatch(v) is not None)


def _is_frame_id(v: Any) -> bool:
    return v is None or (_is_str(v) and len(v) <= 64) or _is_int(v)


def _frame_id(text: str) -> str | int | None:
    """A frame's ``id``, when it is valid JSON with a valid id; else None."""
    try:
        data = orjson.loads(text)
    except ValueError:
        return None
    frame_id = data.get("id") if isinstance(data, dict) else None
    return frame_id if _is_frame_id(frame_id) else None


def parse(text: str) -> Frame:
    """Parse one client text frame, or raise :class:`BadFrame` saying why."""
    if len(text) > MAX_FRAME_BYTES or len(text.encode()) > MAX_FRAME_BYTES:
        raise BadFrame(
            f"Frames can be up to {MAX_FRAME_BYTES} bytes.",
            code=Code.FRAME_TOO_LARGE,
            limit=MAX_FRAME_BYTES,
            # The sender is waiting on this id: read it if the frame is otherwise sound
            # (the transport already bounds it at TRANSPORT_MAX_BYTES).
            frame_id=_frame_id(text),
        )
    try:
        data = orjson.loads(text)  # strict: no NaN, no lone surrogates, bounded depth
    except ValueError:
        raise BadFrame("That frame isn't valid JSON.", code=Code.BAD_FRAME) from None
    if not isinstance(data, dict):
        raise BadFrame("A frame must be a JSON object.", code=Code.BAD_FRAME)
    frame_id = data.get("id")
    if not _is_frame_id(frame_id):
        raise BadFrame("`id` must be a short string or an integer.", code=Code.BAD_FRAME)
    kind = data.get("type")
    if not isinstance(kind, str):
        raise BadFrame("A frame needs a `type`.", code=Code.BAD_FRAME, frame_id=frame_id)
    cid = data.get("cid")
    if not _is_cid(cid):
        raise BadFrame(
            "`cid` must be 1 to 64 letters, digits, '.', '_', ':' or '-'.",
            code=Code.INVALID_FIELD,
            field="cid",
            frame_id=frame_id,
        )
    spec = COMMANDS.get(kind)
    if spec is None:
        raise BadFrame(
            f"Unknown command {kind[:40]!r}.", code=Code.UNKNOWN_COMMAND, frame_id=frame_id
        )
    args: dict[str, Any] = {}
    for name in spec.required:
        if name not in data:
            raise BadFrame(
                f"`{kind}` needs `{name}`.", code=Code.MISSING_FIELD, field=name, frame_id=frame_id
            )
        args[name] = data[name]
    for name in spec.optional:
        if data.get(name) is not None:
            args[name] = data[name]
    for name, value in args.items():
        check, wanted = spec.required.get(name) or spec.optional[name]
        if not check(value):
            raise BadFrame(
                f"`{name}` must be {wanted}.",
                code=Code.INVALID_FIELD,
                field=name,
                frame_id=frame_id,
            )
    return Frame(frame_id, kind, spec.build(**args), cid, text)


# -- encoding -------------------------------------------------------------------


def _dumps(body: dict[str, Any]) -> str:
    return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS).decode()


def _is_instant(key: str) -> bool:
    return key in ("at", "deadline", "since") or key.endswith(("_at", "until"))


def plain(value: Any, key: str = "") -> Any:
    """Plain data for JSON; every instant (``at``, ``*_at``, ``*until``, ``deadline``,
    ``since``) becomes ISO 8601."""
    if isinstance(value, float) and _is_instant(key):
        return iso(value)
    if isinstance(value, dict):
        return {k: plain(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, key) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name), f.name) for f in fields(value)}
    return value


def encode_event(event: Event) -> str:
    """The one frame every recipient of ``event`` gets."""
    body: dict[str, Any] = {"type": event.type}
    body.update(plain(event))
    return _dumps(body)


def encode(kind: str, /, **body: Any) -> str:
    """A direct (unsequenced) frame: replies, errors, snapshots."""
    return _dumps(plain({"type": kind, **{k: v for k, v in body.items()}}))


SERVICE_MESSAGES = {
    False: "We're having connection trouble: messages may be delayed. Anything you send "
    "that doesn't go through gets an error, so nothing is silently lost.",
    True: "Everything is back to normal.",
}


def encode_service(available: bool) -> str:
    """The ``service`` frame a hub tells everyone connected when it loses its backend, and
    when the backend is back."""
    return encode("service", available=available, message=SERVICE_MESSAGES[available])


def encode_notice(notice: Notice) -> str:
    """A notice's frame: its type, and its body."""
    return encode(notice.type, **notice.body())


def error_frame(error: ClientError, frame_id: Any = None) -> str:
    body = error.to_dict()
    if frame_id is not None:
        body["id"] = frame_id
    return encode("error", **body)
