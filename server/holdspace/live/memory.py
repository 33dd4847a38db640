"""The embedded hub: live sessions in this process's memory.

Atomicity comes from the event loop: ``step`` runs with no ``await`` between
reading state, applying it and publishing, so no other command can interleave.
Nothing here survives the process, by design: what is said in the room stays
in the room.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from holdspace.core.events import SessionEnded
from holdspace.core.room import Transition
from holdspace.core.state import RoomState
from holdspace.live.base import (
    Delivery,
    Due,
    Encoder,
    HubStats,
    NoticeEncoder,
    RunRelayed,
    Step,
    Subscriber,
    merge,
)
from holdspace.live.due import DueIndex

# A room event as the log keeps it: (seq, frame, final). A plain tuple of a number, a
# string and a flag, which the collector stops tracking the first time it sees it: a
# log holds up to a thousand events per session, and as ``Delivery`` objects they stayed
# on the collector's lists, walked again by every older-generation pass for as long as
# they were kept (docs/PERFORMANCE.md).
Logged = tuple[int, str, bool]


@dataclass(slots=True)
class _Session:
    state: RoomState
    log: deque[Logged]


class MemoryHub:
    def __init__(
        self, encode: Encoder, encode_notice: NoticeEncoder, *, log_size: int = 1000
    ) -> None:
        self._encode = encode
        self._encode_notice = encode_notice
        self._log_size = log_size
        self._sessions: dict[str, _Session] = {}
        self._subscribers: dict[str, set[Subscriber]] = {}
        self.worker_id = "w0"
        self.stats = HubStats()
        self._due = DueIndex()
        self._ticking = False

    async def transact(
        self,
        key: str,
        step: Step,
        create: Callable[[], RoomState] | None = None,
        *,
        ticking: bool = False,
    ) -> Transition | None:
        session = self._sessions.get(key)
        created = session is None
        if session is None:
            if create is None:
                if ticking:
                    self._due.ticked(key, None)
                return None
            session = _Session(create(), deque(maxlen=self._log_size))
            self._sessions[key] = session
        t = step(session.state)
        if ticking or t.ended:
            self.stats.ticked += ticking
            self._due.ticked(key, None if t.ended else t.deadline)
        elif t.deadline is not None and (created or t.sooner):
            self._due.sooner(key, t.deadline)
        if t.replaced:
            self._rewrite(session, t)
        if t.events or t.notices:
            batch = [
                Delivery(ev.seq, self._encode(ev), final=isinstance(ev, SessionEnded))
                for ev in t.events
            ]
            session.log.extend([(d.seq, d.frame, d.final) for d in batch])
            if t.notices:
                batch = merge(batch, t.notices, self._encode_notice, session.state.seq)
            self.stats.published += len(t.events)
            subscribers = list(self._subscribers.get(key, ()))
            for subscriber in subscribers:
                subscriber.deliver(batch)
            self.stats.delivered += len(batch) * len(subscribers)
        if t.ended:
            del self._sessions[key]
        return t

    def _rewrite(self, session: _Session, t: Transition) -> None:
        log = session.log
        if not log:
            return
        first = log[0][0]
        for ev in t.replaced:
            index = ev.seq - first
            if 0 <= index < len(log):
                log[index] = (ev.seq, self._encode(ev), False)

    async def since(self, key: str, epoch: str, seq: int) -> list[Delivery] | None:
        session = self._sessions.get(key)
        if session is None or session.state.epoch != epoch or seq > session.state.seq:
            return None
        log = session.log
        if seq == session.state.seq:
            return []
        if not log or log[0][0] > seq + 1:
            return None  # trimmed past what the client saw
        return [Delivery(s, frame, final) for s, frame, final in log if s > seq]

    async def subscribe(self, key: str, subscriber: Subscriber) -> None:
        self._subscribers.setdefault(key, set()).add(subscriber)

    async def unsubscribe(self, key: str, subscriber: Subscriber) -> None:
        subscribers = self._subscribers.get(key)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self._subscribers[key]

    async def live_sessions(self) -> list[str]:
        return list(self._sessions)

    async def due(self, now: float) -> Due:
        review, self._ticking = not self._ticking, True  # one worker: always this one
        return Due(self._due.due(now), review)

    async def live_workers(self) -> frozenset[str] | None:
        return None

    @property
    def ready(self) -> bool:
        return True

    def take_relayed(self, run: RunRelayed) -> None:
        """One process: nothing is ever relayed to it."""

    @property
    def followed(self) -> int:
        return len(self._subscribers)

    async def close(self) -> None:
        self._sessions.clear()
        self._subscribers.clear()
        self._due = DueIndex()
