"""A connection's outgoing queue: bounded, ordered, de-duplicated by seq."""

from __future__ import annotations

import asyncio

from holdspace.live.base import Delivery
from holdspace.live.connection import Connection, Overflow, Revoked


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
    conn.hold()
    conn.deliver(batch(4, 5, 6))
    conn.send("snapshot@5")
    conn.release(5)
    conn.deliver(batch(6, 7))
    await drained(socket, 3)
    assert socket.sent == ["snapshot@5", "frame-6", "frame-7"]


async def test_catch_up_then_held_then_live_in_order() -> None:
    """A resume replays the gap from the log, then what arrived meanwhile, each once."""
    socket = Socket()
    conn = Connection("c", "u", socket.send, max_frames=100, max_bytes=10_000)
    conn.hold()
    conn.deliver(batch(9, 10))
    conn.release(6, batch(7, 8, 9))
    conn.deliver(batch(11))
    await drained(socket, 5)
    assert socket.sent == [f"frame-{s}" for s in (7, 8, 9, 10, 11)]


async def test_a_peer_that_stops_reading_overflows_instead_of_growing() -> None:
    """Past its frame limit the queue stops with Overflow, at once, and the send stuck on
    the peer is ended; nobody waits on it."""
    socket = Socket()
    socket.reading.clear()  # the phone went into a tunnel
    stops: list[BaseException] = []
    conn = Connection(
        "c", "u", socket.send, max_frames=10, max_bytes=1_000_000, on_stop=stops.append
    )
    conn.deliver(batch(1))
    await asyncio.sleep(0)  # the writer starts, and blocks on the peer
    assert conn.sending
    for s in range(2, 30):
        conn.deliver(batch(s))  # returns at once, every time
    assert conn.overflowed
    assert [type(r) for r in stops] == [Overflow]
    await conn.close()
    socket.reading.set()
    assert socket.sent == []  # the stuck send was ended, not completed
    assert not conn.sending


async def test_an_idle_connection_holds_no_writer_task() -> None:
    """The writer runs only while frames wait; the next frame starts another."""
    socket = Socket()
    conn = Connection("c", "u", socket.send, max_frames=100, max_bytes=10_000)
    assert not conn.sending
    conn.send("one")
    assert conn.sending
    await drained(socket, 1)
    for _ in range(5):  # the writer's last turn, after its last send
        if not conn.sending:
            break
        await asyncio.sleep(0)
    assert not conn.sending
    conn.send("two")
    await drained(socket, 2)
    assert socket.sent == ["one", "two"]


async def test_a_failed_send_stops_the_connection_and_says_why() -> None:
    """The peer has gone: the error reaches ``on_stop`` and nothing more is queued."""

    class Gone(Exception):
        pass

    async def send(frame: str) -> None:
        raise Gone

    stops: list[BaseException] = []
    conn = Connection("c", "u", send, max_frames=100, max_bytes=10_000, on_stop=stops.append)
    conn.send("hello")
    for _ in range(5):
        if stops:
            break
        await asyncio.sleep(0)
    assert [type(r) for r in stops] == [Gone]
    conn.send("into the void")
    assert not conn.sending


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
    conn.gated = True
    conn.deliver([*batch(3, 4), notice(4, "not-for-me", to="someone-else")])
    conn.deliver([*batch(5), notice(5, "admitted@5", gate=False), *batch(6)])
    await drained(socket, 2)
    assert socket.sent == ["admitted@5", "frame-6"]
    conn.deliver([notice(6, "removed", gate=True), *batch(7)])
    await drained(socket, 3)
    assert socket.sent[-1] == "removed"
    assert conn.gated


def signed_in() -> tuple[Socket, Connection, list[BaseException], asyncio.Event]:
    """A connection signed in as device ``d:this-device`` of ``u``; why it stopped, and
    an event set when it does."""
    socket = Socket()
    stops: list[BaseException] = []
    stopped = asyncio.Event()

    def on_stop(reason: BaseException) -> None:
        stops.append(reason)
        stopped.set()

    conn = Connection(
        "c", "u", socket.send, max_frames=100, max_bytes=10_000, on_stop=on_stop,
        sign_in=frozenset({"d:this-device", "d:*u"}),
    )  # fmt: skip
    return socket, conn, stops, stopped


async def test_a_sign_out_is_the_last_thing_a_connection_hears() -> None:
    """A sign-out addressed to this connection's sign-in goes out, then nothing more —
    not the room events after it in the same batch, not later notices — and the
    connection stops, saying why."""
    socket, conn, stops, stopped = signed_in()
    conn.deliver([*batch(1), notice(1, "signed-out-elsewhere", to="d:other-device"), *batch(2)])
    conn.deliver([*batch(3), notice(3, "signed_out", to="d:this-device"), *batch(4)])
    conn.deliver([*batch(5), notice(5, "for-u")])
    async with asyncio.timeout(5):
        await stopped.wait()
    assert socket.sent == ["frame-1", "frame-2", "frame-3", "signed_out"]
    assert [type(r) for r in stops] == [Revoked]


async def test_signing_out_every_device_reaches_each() -> None:
    """A sign-out of all of someone's devices stops this one too, once its frame is out."""
    socket, conn, stops, stopped = signed_in()
    socket.reading.clear()  # nothing goes out yet: the stop waits for the frame
    conn.deliver([notice(0, "signed_out", to="d:*u"), *batch(1)])
    assert not stops
    socket.reading.set()
    async with asyncio.timeout(5):
        await stopped.wait()
    assert socket.sent == ["signed_out"]
    assert [type(r) for r in stops] == [Revoked]


class Kernel:
    """A socket's ``send_now``: takes frames at once while it has room (``room``), else
    says no and they go the waiting way (``Socket.send``)."""

    def __init__(self, socket: Socket) -> None:
        self.socket = socket
        self.room = True
        self.now: list[str] = []  # what went out at once

    def send_now(self, frame: str) -> bool:
        if not self.room:
            return False
        self.now.append(frame)
        self.socket.sent.append(frame)
        return True


async def test_a_frame_goes_out_at_once_when_nothing_waits() -> None:
    """No task for a frame the socket can take now; once one had to wait, those after
    it queue behind it (order kept) until the queue is empty again."""
    socket = Socket()
    kernel = Kernel(socket)
    conn = Connection(
        "c", "u", socket.send, max_frames=100, max_bytes=10_000, send_now=kernel.send_now
    )
    conn.deliver(batch(1, 2))
    assert kernel.now == ["frame-1", "frame-2"]
    assert not conn.sending
    kernel.room = False
    socket.reading.clear()
    conn.deliver(batch(3))
    kernel.room = True  # room again, but frame 3 is still waiting: 4 goes behind it
    conn.deliver(batch(4))
    assert conn.sending
    assert kernel.now == ["frame-1", "frame-2"]
    socket.reading.set()
    conn.deliver(batch(5))
    await drained(socket, 5)
    assert socket.sent == [f"frame-{s}" for s in (1, 2, 3, 4, 5)]


async def test_a_socket_that_breaks_under_a_direct_send_stops_only_its_connection() -> None:
    stopped: list[BaseException] = []

    def broken(frame: str) -> bool:
        raise ConnectionResetError("gone")

    socket = Socket()
    conn = Connection(
        "c", "u", socket.send, max_frames=100, max_bytes=10_000, send_now=broken,
        on_stop=stopped.append,
    )  # fmt: skip
    conn.deliver(batch(1))  # raises nothing into the fan-out
    assert [type(e) for e in stopped] == [ConnectionResetError]
    conn.deliver(batch(2))
    assert socket.sent == []
