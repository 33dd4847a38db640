"""A live session's state as JSON parts and back, for the Redis hub.

The state is split so that a step rewrites only what it changed: the ``config``
(fixed for the session), the ``core`` (who is here and what is going on: small,
rewritten on most steps), the ``whispers`` (rewritten when one is added) and one
part per recent message (``m:<seq>``, written when posted and again only when
its reactions change or it is redacted: the core then puts a new record in its
seat, and the message buffer notes it for :mod:`.state`). Without
the split, every post would re-encode and resend up to 200 messages.

The shapes mirror :mod:`holdspace.core.state` field for field;
``from_parts(to_parts(s))`` equals ``s`` for every reachable state (checked by the
core's property tests). JSON has no infinity, so an open-ended mute is written as
``"inf"``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any

import orjson

from holdspace.core.state import (
    UNTOLD,
    Bucket,
    MessageBuffer,
    MessageRecord,
    Participant,
    PauseInfo,
    Rate,
    Receipts,
    RoomConfig,
    RoomState,
    Round,
    Stats,
    Waiting,
    Whisper,
)


def _float(value: float | None) -> float | str | None:
    return "inf" if value is not None and math.isinf(value) else value


def _unfloat(value: float | str | None) -> float | None:
    return math.inf if value == "inf" else value  # type: ignore[return-value]


def _bucket(b: Bucket | None) -> list[float] | None:
    return None if b is None else [b.tokens, b.updated_at]


def _unbucket(v: list[float] | None) -> Bucket | None:
    return None if v is None else Bucket(v[0], v[1])


_NAMES: dict[type, tuple[str, ...]] = {}


def _names(cls: type) -> tuple[str, ...]:
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def _shallow(obj: Any) -> dict[str, Any]:
    """A dataclass's fields as a dict, without ``asdict``'s deep copy: this runs on every
    step of a shared room, and the encoder only reads what it is given."""
    return {name: getattr(obj, name) for name in _names(type(obj))}


CONFIG, CORE, WHISPERS = "config", "core", "whispers"
MESSAGE = "m:"  # a message's part is MESSAGE + its seq
RECEIPT = "r:"  # a receipt's part is RECEIPT + its key ("<user> <cid>")


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def message_part(seq: int) -> str:
    return f"{MESSAGE}{seq}"


def config_json(config: RoomConfig) -> str:
    cfg = _shallow(config)
    cfg["post_rate"] = _shallow(config.post_rate)
    cfg["react_rate"] = _shallow(config.react_rate)
    return _dumps(cfg)


def core_json(state: RoomState) -> str:
    """Everything but the config, the messages and the whispers."""
    return _dumps({
        "epoch": state.epoch,
        "seq": state.seq,
        "phase": state.phase,
        "pause": None if state.pause is None else _shallow(state.pause),
        "participants": [
            {
                "user_id": p.user_id, "name": p.name, "role": p.role, "joined_at": p.joined_at,
                "mode": p.mode, "conns": sorted(p.conns), "away_since": p.away_since,
                "muted_until": _float(p.muted_until), "posts": _bucket(p.posts),
                "reacts": _bucket(p.reacts), "notes": _bucket(p.notes),
                "post_told": p.post_told,
            }
            for p in state.participants.values()
        ],
        "agreed": sorted(state.agreed),
        "stats": {
            u: {
                "name": s.name, "role": s.role, "turns": s.turns, "passes": s.passes,
                "posts": s.posts, "whispers": s.whispers, "last_spoke_at": s.last_spoke_at,
                "last_post_at": s.last_post_at,
            }
            for u, s in state.stats.items()
        },
        "round": None if state.round is None else _shallow(state.round),
        "hands": state.hands,
        "waiting": [{**_shallow(w), "conns": sorted(w.conns)} for w in state.waiting.values()],
        "admitted": sorted(state.admitted),
        "removed": sorted(state.removed),
        "locked": state.locked,
        "slow_mode": state.slow_mode,
        "slow_mode_since": state.slow_mode_since,
        "floor": state.floor,
        "waiting_room": state.waiting_room,
        "rounds_held": state.rounds_held,
    })  # fmt: skip


def message_json(m: MessageRecord) -> str:
    return _dumps({
        "seq": m.seq, "user_id": m.user_id, "name": m.name, "text": m.text, "at": m.at,
        "sensitive": m.sensitive, "reactions": {k: sorted(v) for k, v in m.reactions.items()},
        "role": m.role,
    })  # fmt: skip


def whispers_json(state: RoomState) -> str:
    return _dumps([_shallow(w) for w in state.whispers])


def whispers_mark(state: RoomState) -> tuple[int, str | None]:
    """Changes whenever the whispers do: they are only ever appended (and the oldest
    dropped), and every whisper's id is new."""
    return len(state.whispers), state.whispers[-1].id if state.whispers else None


def receipt_part(key: str) -> str:
    return f"{RECEIPT}{key}"


def receipt_json(state: RoomState, reply: Mapping[str, Any]) -> str:
    """A receipt, with the seq it was kept at: the order receipts are dropped in."""
    return _dumps([state.seq, reply])


def to_parts(state: RoomState) -> dict[str, str]:
    parts = {
        CONFIG: config_json(state.config),
        CORE: core_json(state),
        WHISPERS: whispers_json(state),
    }
    for seq, m in state.messages.items():
        parts[message_part(seq)] = message_json(m)
    for key, reply in state.receipts.items():
        parts[receipt_part(key)] = receipt_json(state, reply)
    return parts


def from_parts(parts: Mapping[str, str]) -> RoomState:
    cfg = orjson.loads(parts[CONFIG])
    cfg["post_rate"] = Rate(**cfg["post_rate"])
    cfg["react_rate"] = Rate(**cfg["react_rate"])
    state = _from_core(RoomConfig(**cfg), parts[CORE])
    records = []
    kept: list[tuple[int, str, Mapping[str, Any]]] = []
    for name, text in parts.items():
        if name.startswith(MESSAGE):
            records.append(_message(text))
        elif name.startswith(RECEIPT):
            kept.append(_receipt(name, text))
    records.sort(key=lambda m: m.seq)  # oldest first, as the buffer drops them
    state.messages = MessageBuffer((m.seq, m) for m in records)
    kept.sort(key=lambda r: r[0])
    state.receipts = Receipts((key, reply) for _, key, reply in kept)
    state.whispers = _whispers(parts[WHISPERS])
    return state


def advance(state: RoomState, written: Mapping[str, str], deleted: Iterable[str]) -> RoomState:
    """``state`` after a step another worker wrote, from the parts it wrote and deleted
    (every other part is as it was): equal to :func:`from_parts` of the whole hash after
    that step, without decoding the messages again. ``state`` is used up."""
    if CONFIG in written:  # the step created the session: every part is here
        return from_parts(written)
    core = written.get(CORE)
    after = state if core is None else _from_core(state.config, core)
    messages, receipts = state.messages, state.receipts
    for name in deleted:
        if name.startswith(MESSAGE):
            messages.pop(int(name[len(MESSAGE) :]), None)
        elif name.startswith(RECEIPT):
            receipts.pop(name[len(RECEIPT) :], None)
    new_messages: list[MessageRecord] = []
    new_receipts: list[tuple[int, str, Mapping[str, Any]]] = []
    for name, text in written.items():
        if name.startswith(MESSAGE):
            m = _message(text)
            if m.seq in messages:
                messages[m.seq] = m  # a reaction or a redaction: in its seat
            else:
                new_messages.append(m)
        elif name.startswith(RECEIPT):
            at, key, reply = _receipt(name, text)
            if key in receipts:
                receipts[key] = reply
            else:
                new_receipts.append((at, key, reply))
    # New ones are newer than every message and receipt kept: they go last, in order.
    for m in sorted(new_messages, key=lambda m: m.seq):
        messages[m.seq] = m
    for _, key, reply in sorted(new_receipts, key=lambda r: r[0]):
        receipts[key] = reply
    after.messages, after.receipts = messages, receipts
    after.whispers = _whispers(written[WHISPERS]) if WHISPERS in written else state.whispers
    return after


def _message(text: str) -> MessageRecord:
    m = orjson.loads(text)
    m["reactions"] = {k: frozenset(v) for k, v in m["reactions"].items()}
    return MessageRecord(**m)


def _receipt(name: str, text: str) -> tuple[int, str, Mapping[str, Any]]:
    at, reply = orjson.loads(text)
    return at, name[len(RECEIPT) :], reply


def _whispers(text: str) -> list[Whisper]:
    return [Whisper(**w) for w in orjson.loads(text)]


def _from_core(config: RoomConfig, core: str) -> RoomState:
    """A state from its config and core part, with no messages, receipts or whispers."""
    d = orjson.loads(core)
    state = RoomState(config=config, epoch=d["epoch"])
    state.seq = d["seq"]
    state.phase = d["phase"]
    state.pause = None if d["pause"] is None else PauseInfo(**d["pause"])
    for p in d["participants"]:
        state.participants[p["user_id"]] = Participant(
            user_id=p["user_id"], name=p["name"], role=p["role"], joined_at=p["joined_at"],
            mode=p["mode"], conns=set(p["conns"]), away_since=p["away_since"],
            muted_until=_unfloat(p["muted_until"]), posts=_unbucket(p["posts"]),
            reacts=_unbucket(p["reacts"]), notes=_unbucket(p.get("notes")),
            post_told=p.get("post_told", UNTOLD),
        )  # fmt: skip
    state.agreed = set(d["agreed"])
    state.stats = {u: Stats(**s) for u, s in d["stats"].items()}
    state.round = None if d["round"] is None else Round(**d["round"])
    state.hands = list(d["hands"])
    for w in d["waiting"]:
        state.waiting[w["user_id"]] = Waiting(**{**w, "conns": set(w["conns"])})
    state.admitted = set(d["admitted"])
    state.removed = set(d["removed"])
    state.locked = d["locked"]
    state.slow_mode = d["slow_mode"]
    state.slow_mode_since = d["slow_mode_since"]
    # Parts written before these fields existed (a rolling upgrade) read as their defaults.
    state.floor = d.get("floor")
    state.waiting_room = d.get("waiting_room", state.config.waiting_room)
    state.rounds_held = d.get("rounds_held", 0)
    return state
