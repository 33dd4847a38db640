"""One socket's outgoing side: a bounded queue drained by a single writer.

Fan-out never awaits a member's socket: the hub calls :meth:`Connection.deliver`,
which only queues. A member whose queue grows past its limits (a phone in a
tunnel, a tab in the background that stopped reading) is cut off with
:data:`CloseCode.TOO_SLOW` and resumes by ``seq`` later; the room never waits.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from holdspace.live.base import Delivery


class Overflow(Exception):
    """The queue passed its limits."""


class Lost(Exception):
    """The hub can't prove this connection has every event: it must rejoin."""


class Connection:
    def __init__(
        self,
        conn_id: str,
        user_id: str,
        send: Callable[[str], Awaitable[None]],
        *,
        max_frames: int,
        max_bytes: int,
    ) -> None:
        self.id = conn_id
        self.user_id = user_id
        # Shut off from room events: waiting at the door, or removed from the session.
        self.gated = False
        self._send = send
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._queue: deque[str] = deque()
        self._bytes = 0
        self._wake = asyncio.Event()
        self.overflowed = False
        self.lost_track = False
        self._writer: asyncio.Task[None] | None = None
        self.session_over = False  # the room's session ended; this socket is in no room now
        self.seq = 0  # last room event queued: anything at or below it is a duplicate
        # While joining, events are held here until the snapshot's seq is known.
        self._held: list[Delivery] | None = None

    def deliver(self, batch: Sequence[Delivery]) -> None:
        if self._held is not None:
            self._held.extend(batch)
            return
        for d in batch:
            if d.to is not None:
                if self.user_id in d.to:
                    self._notice(d)
            elif not self.gated and d.seq > self.seq:
                self.seq = d.seq
                self.send(d.frame)
                self.session_over = self.session_over or d.final

    def lost(self) -> None:
        self.lost_track = True
        self._stop_writer()

    def _stop_writer(self) -> None:
        """End the writer now, even mid-send: a peer that stopped reading blocks its send
        for as long as the kernel holds the connection, and must not hold us too."""
        self._wake.set()
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()

    def alert(self, frame: str) -> None:
        self.send(frame)

    def _notice(self, d: Delivery) -> None:
        if d.gate is True:
            self.gated = True
        elif d.gate is False:  # let in: the notice holds a snapshot as of ``d.seq``
            self.gated = False
            self.seq = d.seq
        self.send(d.frame)

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
        if self.overflowed:
            return
        self._queue.append(frame)
        self._bytes += len(frame)
        if len(self._queue) > self._max_frames or self._bytes > self._max_bytes:
            self.overflowed = True
            self._stop_writer()
        self._wake.set()

    async def writer(self) -> None:
        """Drain the queue until the connection ends, the queue overflows (:class:`Overflow`)
        or the hub loses track of the room (:class:`Lost`). Either of those also cancels a
        send in progress, so a peer that stopped reading can't hold the writer."""
        self._writer = asyncio.current_task()
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue and not (self.overflowed or self.lost_track):
                    frame = self._queue.popleft()
                    self._bytes -= len(frame)
                    await self._send(frame)
                self._raise_if_stopped()
        except asyncio.CancelledError:
            self._raise_if_stopped()
            raise

    def _raise_if_stopped(self) -> None:
        if self.overflowed:
            raise Overflow from None
        if self.lost_track:
            raise Lost from None
