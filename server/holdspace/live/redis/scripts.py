"""The hub's Lua scripts (``lua/*.lua``, read once) and one builder of arguments for
each: the scripts take long positional lists, and only these builders write them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files

from holdspace.live.base import Delivery


def _source(name: str) -> str:
    return (files(__package__) / "lua" / f"{name}.lua").read_text(encoding="utf-8")


WRITE = _source("write")
SINCE = _source("since")
LEASE = _source("lease")
DUE = _source("due")

Arg = str | int | bytes
Row = tuple[str, str, str, str, str]  # seq, frame, recipients, gate, final


def row(d: Delivery) -> Row:
    """A log entry's fields as the write script stores them: recipients of a notice
    space-separated (empty for a room event), gate and final as "1", "0" or ""."""
    return (
        str(d.seq),
        d.frame,
        " ".join(sorted(d.to)) if d.to is not None else "",
        "" if d.gate is None else "1" if d.gate else "0",
        "1" if d.final else "",
    )


def delivery(s: str, f: str, t: str, g: str, x: str) -> Delivery:
    """A log entry read back: the inverse of :func:`row`."""
    return Delivery(
        int(s),
        f,
        final=x == "1",
        to=frozenset(t.split()) if t else None,
        gate=None if g == "" else g == "1",
    )


def write_args(
    *,
    version: str,
    ends: bool,
    epoch: str,
    seq: int,
    published: bytes,
    log_size: int,
    log_ms: int,
    expire_at_ms: int,
    follower: str,
    renew: bool,
    rows: Sequence[Row],
    replaced: Sequence[tuple[int, str]],
    written: dict[str, str],
    deleted: Sequence[str],
) -> list[Arg]:
    """Everything ``write.lua`` needs to commit one step, in its order: the version the
    step read ("0": the session must not exist yet), whether the step ends the session
    (its keys are deleted), the epoch and seq, what goes on the channel after the ids
    ([epoch, rows] as JSON), the most log entries and the oldest (ms) kept, when every
    key of the session expires, the calling worker's name among the session's
    followers (it delivers to its own subscribers itself), whether the step starts a
    new epoch for a state another Redis wrote; then the counts and the rows, the
    rewritten log entries (seq, new frame), the state parts to set and those to delete.
    The server's run id goes last, added by the script's connection (see
    :class:`.pipelined.PipelinedScript`)."""
    out: list[Arg] = [
        version, "1" if ends else "", epoch, seq, published, log_size, log_ms, expire_at_ms,
        len(rows), len(replaced), len(written), len(deleted), follower, "1" if renew else "",
    ]  # fmt: skip
    for r in rows:
        out += r
    for seq_and_frame in replaced:
        out += seq_and_frame
    for part in written.items():
        out += part
    out += deleted
    return out


def split_published(message: str) -> tuple[str, str | None]:
    """A channel message as its batch (``<prev id>\\n<entry ids>\\n<JSON>``) and, when
    the followers keep copies of the state, what the step wrote (see :class:`StepParts`).
    JSON has no raw newlines, so the batch ends at the third."""
    end = message.find("\n", message.find("\n", message.find("\n") + 1) + 1)
    if end < 0:
        return message, None
    return message[:end], message[end + 1 :]


@dataclass(frozen=True, slots=True)
class StepParts:
    """The state parts a step wrote and deleted, as published after its batch: a line
    ``<version before> <version after> <count written> <count deleted>``, then a name
    and a value per line for each part written, then a name per line for each deleted
    (the version after is "0" when the step ended the session)."""

    before: str
    after: str
    parts: dict[str, str]
    deleted: list[str]

    @staticmethod
    def parse(text: str) -> StepParts:
        head, *lines = text.split("\n")
        before, after, written, deleted = head.split(" ")
        h, d = int(written), int(deleted)
        if len(lines) != 2 * h + d:
            raise ValueError("a published step's parts don't match their counts")
        return StepParts(
            before, after, dict(zip(lines[0 : 2 * h : 2], lines[1 : 2 * h : 2], strict=True)),
            lines[2 * h : 2 * h + d],
        )  # fmt: skip


def since_args(epoch: str, seq: int) -> list[Arg]:
    return [epoch, seq]


def lease_args(worker_id: str, ttl_ms: int) -> list[Arg]:
    return [worker_id, ttl_ms]


def due_ms(at: float) -> int:
    """A moment as the due index scores it and asks for it: whole ms, rounded down the
    same way for both (a deadline at most a ms early costs a tick that changes nothing)."""
    return math.floor(at * 1000)


def due_args(now: float, limit: int) -> list[Arg]:
    return [due_ms(now), limit]
