"""The hub's Lua scripts (``lua/*.lua``, read once) and one builder of arguments for
each: the scripts take long positional lists, and only these builders write them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files

from holdspace.live.base import Delivery


def _source(name: str) -> str:
    return (files(__package__) / "lua" / f"{name}.lua").read_text(encoding="utf-8")


WRITE = _source("write")
SINCE = _source("since")
LEASE = _source("lease")

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


@dataclass(frozen=True, slots=True)
class WriteStep:
    """Everything ``write.lua`` needs to commit one step, by name."""

    version: str  # the version the step read ("0": the session must not exist yet)
    ends: bool  # the step ends the session: delete its keys
    epoch: str
    seq: int
    published: bytes  # what goes on the channel after the ids: [epoch, rows] as JSON
    log_size: int  # most log entries kept
    log_ms: int  # oldest log entry kept (age)
    expire_at_ms: int  # every key of the session expires then (or in an hour at least)
    worker_id: str  # the calling worker: it delivers to its own subscribers itself
    rows: Sequence[Row]
    replaced: Sequence[tuple[int, str]]  # (seq, new frame) of rewritten log entries
    written: dict[str, str]  # state parts to set
    deleted: Sequence[str]  # state parts to delete

    def args(self) -> list[Arg]:
        out: list[Arg] = [
            self.version,
            "1" if self.ends else "",
            self.epoch,
            self.seq,
            self.published,
            self.log_size,
            self.log_ms,
            self.expire_at_ms,
            len(self.rows),
            len(self.replaced),
            len(self.written),
            len(self.deleted),
            self.worker_id,
        ]
        for r in self.rows:
            out += r
        for seq, frame in self.replaced:
            out += (seq, frame)
        for part in self.written.items():
            out += part
        out += self.deleted
        return out


def since_args(epoch: str, seq: int) -> list[Arg]:
    return [epoch, seq]


def lease_args(worker_id: str, ttl_ms: int) -> list[Arg]:
    return [worker_id, ttl_ms]
