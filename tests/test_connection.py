"""A connection's outgoing queue: bounded, ordered, de-duplicated by seq."""

from __future__ import annotations

import asyncio

import pytest

from holdspace.live.base import Delivery
from holdspace.web.connection import Connection, Overflow


class Socket:
    """A peer that reads when told to."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.reading = asyncio.Event()
        self.reading.set()
        self.progress = asyncio.Event()

    async def send(self, frame: str) -> None:
        await self.reading.wait()
        self.sent.append(frame)
        self.progress.set()


def batch(*seqs: int) -> list[Delivery]:
    return [Delivery(s, f"frame-{s}") for s in seqs]


async def drained(socket: Socket, count: int) -> None:
    async with asyncio.timeout(5):
        while len(socket.sent) < count:
            socket.progress.clear()
            await socket.progress.wait()


async def test_held_events_are_released_after_the_snapshot_without_duplicates() -> None:
    """Events published while joining wait; those the snapshot already covers are dropped."""
    socket = Socket()
    conn = Connection("c", "u", socket.send, max_frames=100, max_bytes=10_000)
    writer = asyncio.create_task(conn.writer())
    conn.hold()
    conn.deliver(batch(4, 5, 6))
    conn.send("snapshot@5")
    conn.release(5)
    conn.deliver(batch(6, 7))
    await drained(socket, 3)
    assert socket.sent == ["snapshot@5", "frame-6", "frame-7"]
    writer.cancel()


async def test_catch_up_then_held_then_live_in_order() -> None:
    """A resume replays the gap from the log, then what arrived meanwhile, each once."""
    socket = Socket()
    conn = Connection("c", "u", socket.send, max_frames=100, max_bytes=10_000)
    writer = asyncio.create_task(conn.writer())
    conn.hold()
    conn.deliver(batch(9, 10))
    conn.release(6, batch(7, 8, 9))
    conn.deliver(batch(11))
    await drained(socket, 5)
    assert socket.sent == [f"frame-{s}" for s in (7, 8, 9, 10, 11)]
    writer.cancel()


async def test_a_peer_that_stops_reading_overflows_instead_of_growing() -> None:
    """Past its frame limit the queue stops the writer with Overflow; nobody waits on it."""
    socket = Socket()
    socket.reading.clear()  # the phone went into a tunnel
    conn = Connection("c", "u", socket.send, max_frames=10, max_bytes=1_000_000)
    writer = asyncio.create_task(conn.writer())
    for s in range(1, 30):
        conn.deliver(batch(s))  # returns at once, every time
    assert conn.overflowed
    socket.reading.set()
    with pytest.raises(Overflow):
        await asyncio.wait_for(writer, 5)


async def test_byte_limit_counts_too() -> None:
    """A few huge frames overflow the byte limit even under the frame limit."""
    socket = Socket()
    socket.reading.clear()
    conn = Connection("c", "u", socket.send, max_frames=1000, max_bytes=100)
    conn.send("x" * 60)
    assert not conn.overflowed
    conn.send("y" * 60)
    assert conn.overflowed


def notice(seq: int, frame: str, to: str = "u", gate: bool | None = None) -> Delivery:
    return Delivery(seq, frame, to=frozenset({to}), gate=gate)


async def test_a_gated_connection_sees_only_its_notices_until_let_in() -> None:
    """At the door: room events are dropped, notices pass; admission opens after its seq."""
    socket = Socket()
    conn = Connection("c", "u", socket.send, max_frames=100, max_bytes=10_000)
    writer = asyncio.create_task(conn.writer())
    conn.gated = True
    conn.deliver([*batch(3, 4), notice(4, "not-for-me", to="someone-else")])
    conn.deliver([*batch(5), notice(5, "admitted@5", gate=False), *batch(6)])
    await drained(socket, 2)
    assert socket.sent == ["admitted@5", "frame-6"]
    conn.deliver([notice(6, "removed", gate=True), *batch(7)])
    await drained(socket, 3)
    assert socket.sent[-1] == "removed"
    assert conn.gated
    writer.cancel()
