"""One socket's outgoing side: a bounded queue drained by a single writer.

Fan-out never awaits a member's socket: the hub calls :meth:`Connection.deliver`,
which only queues. A member whose queue grows past its limits (a phone in a
tunnel, a tab in the background that stopped reading) is cut off with
:data:`CloseCode.TOO_SLOW` and resumes by ``seq`` later; the room never waits.

The writer is a task only while frames wait: most sockets are idle most of the
time, and a parked task with its coroutine and wake-up event costs about 3 KiB
per socket. And while nothing waits, a frame goes out at once through ``send_now``
when the server offers it (a socket whose kernel buffer has room takes it there and
then): no task, no coroutine, for most frames to most members.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from holdspace.live.base import Delivery


class Overflow(Exception):
    """The queue passed its limits."""


class Lost(Exception):
    """The hub can't prove this connection has every event: it must rejoin."""


class Revoked(Exception):
    """The connection's sign-in was revoked: nothing said after that reaches it."""


class Connection:
    def __init__(
        self,
        conn_id: str,
        user_id: str,
        send: Callable[[str], Awaitable[None]],
        *,
        max_frames: int,
        max_bytes: int,
        on_stop: Callable[[BaseException], Any] | None = None,
        sign_in: frozenset[str] = frozenset(),
        send_now: Callable[[str], bool] | None = None,
    ) -> None:
        """``on_stop`` hears why sending stopped for good: :class:`Overflow`,
        :class:`Lost`, :class:`Revoked`, or the error a send raised (the peer has gone).
        ``sign_in``: the names a sign-out of this connection's sign-in is addressed to
        (:func:`holdspace.auth.tokens.device_key` and ``every_device_key``).
        ``send_now`` sends a frame at once if it can go without waiting (False: it
        can't, and ``send`` is awaited instead)."""
        self.id = conn_id
        self.user_id = user_id
        self.sign_in = sign_in
        # Shut off from room events: waiting at the door, or removed from the session.
        self.gated = False
        self._send = send
        self._send_now = send_now
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        # A list, not a deque: an empty deque takes 760 bytes, and most queues are empty.
        self._queue: list[str] = []
        self._bytes = 0
        self._on_stop = on_stop
        self.stopped: BaseException | None = None
        self._writer: asyncio.Task[None] | None = None  # only while frames wait
        self.session_over = False  # the room's session ended; this socket is in no room now
        self.seq = 0  # last room event queued: anything at or below it is a duplicate
        # While joining, events are held here until the snapshot's seq is known.
        self._held: list[Delivery] | None = None
        self._then_stop: BaseException | None = None  # once what is queued has gone out

    def deliver(self, batch: Sequence[Delivery]) -> None:
        if self._held is not None:
            self._held.extend(batch)
            return
        for d in batch:
            if d.to is not None:
                if self.user_id in d.to:
                    self._notice(d)
                elif not self.sign_in.isdisjoint(d.to):
                    self._signed_out(d.frame)
                    return  # nothing after it in the room's order reaches this connection
            elif not self.gated and d.seq > self.seq:
                self.seq = d.seq
                self.send(d.frame)
                self.session_over = self.session_over or d.final

    def lost(self) -> None:
        self._stop(Lost())

    @property
    def overflowed(self) -> bool:
        return isinstance(self.stopped, Overflow)

    @property
    def sending(self) -> bool:
        """A writer task exists: frames are waiting or going out."""
        return self._writer is not None

    def _stop(self, reason: BaseException) -> None:
        """Stop sending for good, and end a send in progress: a peer that stopped reading
        blocks its send for as long as the kernel holds the connection, and must not
        hold us too."""
        if self.stopped is not None:
            return
        self.stopped = reason
        self._queue.clear()
        writer = self._writer
        if writer is not None and writer is not asyncio.current_task():
            writer.cancel()
        if self._on_stop is not None:
            self._on_stop(reason)

    def alert(self, frame: str) -> None:
        self.send(frame)

    def _notice(self, d: Delivery) -> None:
        if d.gate is True:
            self.gated = True
        elif d.gate is False:  # let in: the notice holds a snapshot as of ``d.seq``
            self.gated = False
            self.seq = d.seq
        self.send(d.frame)

    def _signed_out(self, frame: str) -> None:
        """Say so, then stop: room events and notices that follow are dropped, and the
        socket is closed once the frame is out (or at once if it can't go out)."""
        self.gated = True
        self.send(frame)
        self._then_stop = Revoked()
        if self._writer is None:
            self._stop(self._then_stop)

    def hold(self) -> None:
        """Buffer room events until :meth:`release`: subscribe first, then read state."""
        self._held = []

    def release(self, seq: int, catch_up: Sequence[Delivery] = ()) -> None:
        """Everything up to ``seq`` has been sent (or is in ``catch_up``); flush the rest."""
        held, self._held = self._held or [], None
        self.seq = seq
        self.session_over = False
        self.deliver(catch_up)
        self.deliver(held)

    def drop_held(self) -> None:
        self._held = None

    def send(self, frame: str) -> None:
        if self.stopped is not None or self._then_stop is not None:
            return
        if self._writer is None and self._send_now is not None:
            try:
                if self._send_now(frame):
                    return  # nothing was waiting, and it has gone: order kept
            except Exception as error:  # the socket broke under it: as a failed send
                self._stop(error)
                return
        self._queue.append(frame)
        self._bytes += len(frame)
        if len(self._queue) > self._max_frames or self._bytes > self._max_bytes:
            self._stop(Overflow())
        elif self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        """Send what is queued, in order, then end: the next frame starts a new writer."""
        try:
            while self._queue:
                frame = self._queue.pop(0)
                self._bytes -= len(frame)
                await self._send(frame)
        except Exception as error:  # the send failed: the peer has gone
            self._stop(error)
        finally:
            self._writer = None
        if self._then_stop is not None:
            self._stop(self._then_stop)

    async def close(self) -> None:
        """The socket is closing: drop what is queued and end a send in progress. Nothing
        is reported to ``on_stop`` from here on."""
        self._on_stop = None
        if self.stopped is None:
            self.stopped = asyncio.CancelledError()
        self._queue.clear()
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
