"""The live hub contract.

A hub owns every live session's :class:`RoomState`, its bounded event log and
its subscribers. The rules themselves are not here: :meth:`LiveHub.transact`
runs a pure step (usually :func:`holdspace.core.room.apply`) atomically against
a session's state, then appends what it emitted to the log and fans it out.
Two implementations satisfy it — :mod:`holdspace.live.memory` (one process) and
a Redis hub (many workers) — and both run through one contract test suite.
"""

from __future__ import annotations

import bisect
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from holdspace.core.events import Event, Notice
from holdspace.core.room import Transition
from holdspace.core.state import RoomState
from holdspace.errors import ClientError, Code, OutcomeUnknown, Unavailable


def connection_id(worker_id: str) -> str:
    """A new connection's id: it starts with its worker's, so that when a worker dies its
    connections can be swept from the rooms it served."""
    return f"{worker_id}.{secrets.token_hex(6)}"


def worker_of(conn_id: str) -> str | None:
    """The worker a connection id names (None for an id no hub made)."""
    worker, dot, _ = conn_id.partition(".")
    return worker if dot else None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One room event, encoded once, as every subscriber receives it — or a notice.

    A notice (``to`` set) is for those people only, is never replayed, and sits in the
    batch right after the event whose ``seq`` it carries. ``gate`` tells the
    recipients' connections to stop (True) or resume, after ``seq`` (False),
    receiving room events.
    """

    seq: int
    frame: str
    final: bool = False  # the session ended with this event
    to: frozenset[str] | None = None
    gate: bool | None = None


# Upper bounds (seconds) of the fan-out latency histogram's buckets.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass(slots=True)
class HubStats:
    """What a hub counts, as plain integers bumped on the hot path; ``/metrics`` reads
    them when scraped. Counts only: nothing about who or which room."""

    published: int = 0  # events this worker's commands appended to a session's log
    delivered: int = 0  # frames handed to this worker's connections (one per recipient)
    catch_ups: int = 0  # gaps this worker filled from a session's log
    resyncs: int = 0  # connections told to rejoin: the log could not prove continuity
    errors: int = 0  # commands and reads that failed to reach the backend
    reconnects: int = 0  # times the pub/sub subscriber was lost and rebuilt
    renewed: int = 0  # sessions given a new epoch: an earlier Redis wrote their state
    conflicts: int = 0  # steps run again: another worker changed the session first
    relayed: int = 0  # this worker's commands run by a worker nearer Redis
    relayed_here: int = 0  # commands run here for a worker far from Redis
    ticked: int = 0  # sessions this worker let time act on (only those whose moment came)
    reviews: int = 0  # passes over every live session (a new ticker, a worker gone)
    # Publish to delivery on this worker, per batch: counts per bucket (the last one
    # unbounded) and their sum. Stays empty for a hub with nothing in between.
    latency: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    latency_sum: float = 0.0

    def observe(self, seconds: float) -> None:
        self.latency[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.latency_sum += seconds


def new_epoch() -> str:
    """A fresh epoch: a session's sequence is only ever compared within one."""
    return secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class Due:
    """What the worker that ticks should tick now (see :meth:`LiveHub.due`)."""

    sessions: list[str]  # whose deadline has come, claimed for this worker
    # Look at every live session instead: this worker has just begun ticking, or the
    # index may have lost entries (the Redis that holds it restarted or failed over).
    review: bool = False


class Subscriber(Protocol):
    def deliver(self, batch: Sequence[Delivery]) -> None:
        """Take events in ``seq`` order. Must not block or await: queue and return."""
        ...

    def lost(self) -> None:
        """The hub can no longer prove this subscriber has every event (the room's
        state or log was lost, or trimmed past a gap): it must rejoin and resync."""
        ...

    def alert(self, frame: str) -> None:
        """A frame from the hub itself, outside the room's sequence (an outage began
        or ended). Must not block or await."""
        ...


Encoder = Callable[[Event], str]
NoticeEncoder = Callable[[Notice], str]
ServiceEncoder = Callable[[bool], str]  # the frame telling everyone the backend is (un)available
Step = Callable[[RoomState], Transition]
# Runs a command another worker handed to this one (see :class:`Portable`): its outcome.
RunRelayed = Callable[[Mapping[str, Any]], Awaitable[Mapping[str, Any]]]


@dataclass(frozen=True, slots=True)
class Portable:
    """A step that another worker could run as well as this one: a member's room command
    as they sent it. A hub may hand it to a worker nearer its backend (which runs
    ``request`` through its own :meth:`LiveHub.take_relayed`); the outcome then comes
    back as a :class:`Transition` holding only the reply or the refusal."""

    run: Step
    request: Mapping[str, Any]  # what the other worker needs: JSON

    def __call__(self, state: RoomState) -> Transition:
        return self.run(state)


def relayed_answer(t: Transition) -> dict[str, Any]:
    """A relayed command's outcome as the worker that ran it sends it back."""
    return {"error": t.error.to_dict()} if t.error is not None else {"reply": t.reply}


def relayed_failure(error: Unavailable) -> dict[str, Any]:
    return {"failed": "outcome_unknown" if isinstance(error, OutcomeUnknown) else "unavailable"}


def relayed_outcome(answer: Mapping[str, Any]) -> Transition:
    """The inverse of :func:`relayed_answer` and :func:`relayed_failure`."""
    failed = answer.get("failed")
    if failed == "outcome_unknown":
        raise OutcomeUnknown("the worker that ran the command lost its answer")
    if failed is not None:
        raise Unavailable("the worker that ran the command couldn't reach the backend")
    error = answer.get("error")
    if error is None:
        return Transition(reply=dict(answer.get("reply") or {}))
    # (A code this version doesn't know reads as a bad request.)
    code = next((c for c in Code if c.value == error["code"]), Code.BAD_REQUEST)
    return Transition(
        error=ClientError(str(error["message"]), code=code, **error.get("detail", {}))
    )


class LiveHub(Protocol):
    #: Names this process among the hub's workers; connection ids start with it, so a
    #: worker that dies can have its connections swept from the rooms it served.
    worker_id: str
    stats: HubStats

    @property
    def followed(self) -> int:
        """Sessions with subscribers on this worker."""
        ...

    async def transact(
        self,
        key: str,
        step: Step,
        create: Callable[[], RoomState] | None = None,
        *,
        ticking: bool = False,
    ) -> Transition | None:
        """Run ``step`` atomically on session ``key``'s state, then publish what it emitted
        (a :class:`Portable` step may be run by another worker instead).

        Each session's next deadline (``Transition.deadline``) is indexed for
        :meth:`due`: a step that brings it forward moves its entry earlier; the
        ticker's own step (``ticking``) sets it to what that step leaves.

        When the session has no state yet, ``create`` makes it (None: return None
        without calling ``step``). ``step`` may run more than once (optimistic
        concurrency): it must not have side effects beyond the state it is given.
        After it returns, its events are encoded once, appended to the log,
        replaced log entries rewritten, and its events and notices published to
        subscribers in order (each notice right after the event it follows) before
        this coroutine returns. An ended session's state and log are dropped.
        """
        ...

    async def since(self, key: str, epoch: str, seq: int) -> list[Delivery] | None:
        """Every logged event after ``seq``, or None if the log can't prove it has them all
        (another epoch, events already trimmed, or the session is gone)."""
        ...

    async def subscribe(self, key: str, subscriber: Subscriber) -> None: ...

    async def unsubscribe(self, key: str, subscriber: Subscriber) -> None: ...

    async def live_sessions(self) -> list[str]:
        """Every live session (for a review: see :class:`Due`)."""
        ...

    async def due(self, now: float) -> Due | None:
        """If this worker is the one that ticks (with many workers, one holds a lease):
        the sessions whose indexed deadline is at or before ``now`` (each stays due
        until a ``ticking`` step on it moves it on). None: another worker ticks."""
        ...

    async def live_workers(self) -> frozenset[str] | None:
        """Workers alive now, or None when this hub is the only one."""
        ...

    @property
    def ready(self) -> bool:
        """True while the hub can take commands and deliver every event."""
        ...

    def take_relayed(self, run: RunRelayed) -> None:
        """Commands other workers hand to this one (their :class:`Portable` steps' requests)
        run through ``run``. A hub that never relays ignores it."""
        ...

    async def close(self) -> None: ...


def merge(
    events: list[Delivery], notices: list[Notice], encode: NoticeEncoder, last_seq: int
) -> list[Delivery]:
    """Events and notices in one batch, each notice right after the event it follows
    (a notice without a position goes last)."""
    items = [(d.seq, 0, d) for d in events]
    for n in notices:
        at = last_seq if n.seq is None else n.seq
        items.append((at, 1, Delivery(at, encode(n), to=frozenset(n.to), gate=n.gate)))
    items.sort(key=lambda item: (item[0], item[1]))
    return [d for _, _, d in items]
