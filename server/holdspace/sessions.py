"""Live sessions: the one owner of a session's life on this worker.

A socket's commands come here already parsed and authenticated; what goes back is
a value — the frame that answers the command — never an exception for the edge to
catch. Everything between the edge and the hub happens here, in one place:

* **seat** — may this person enter now, and as what (:meth:`Rooms.seat`, durable);
* **subscribe and hold, then read, then release** — the join rule: the connection
  is subscribed before the session's state is read, holding what arrives meanwhile,
  so no event can fall between the snapshot and the first event after it; then
  released from the snapshot's ``seq`` (or from a resume point, with the events
  missed in between);
* **commands** — run on the pure core through the hub, refusals answered as frames;
* **leave and drop** — a departure that meets an outage is applied on a later tick;
* **ticks** — time acting on every live session, and connections of a worker that
  died let go;
* **effects** — what the core asks to keep (agreements, bars, the moderation
  record) written to the store.

It never looks at message text.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from holdspace import protocol as p
from holdspace.clock import Clock
from holdspace.core import commands as c
from holdspace.core.events import BarMember, RecordAgreement, RecordModeration
from holdspace.core.room import Transition, apply
from holdspace.core.state import Rate, RoomConfig, RoomState
from holdspace.core.views import snapshot
from holdspace.errors import (
    ClientError,
    Code,
    OutcomeUnknown,
    Rejected,
    Unavailable,
    outcome_unknown,
    unavailable,
)
from holdspace.live.base import (
    LiveHub,
    Portable,
    connection_id,
    new_epoch,
    relayed_answer,
    relayed_failure,
    worker_of,
)
from holdspace.live.connection import Connection
from holdspace.records import ModerationEntry, Room, User, split_session_key
from holdspace.rooms import Rooms, Seat
from holdspace.schedule import current_session
from holdspace.settings import Settings
from holdspace.storage.base import Store

log = logging.getLogger("holdspace.sessions")

# What notices would have said while a resuming connection was away (they aren't
# replayed): the resume's answer carries these parts of a snapshot instead.
PRIVATE_PARTS = ("whispers", "waiting", "round", "post")


@dataclass(slots=True)
class Presence:
    """One signed-in socket as the live sessions see it: who, its outgoing side, and the
    session it is in, if any."""

    user: User
    conn: Connection
    seat: Seat | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """What goes back for one command: a frame (None when it is already queued: a snapshot
    goes out ahead of the events held behind it), and the code if it was refused."""

    frame: str | None
    refused: Code | None = None


def refusal(error: ClientError, frame_id: Any) -> Answer:
    return Answer(p.error_frame(error, frame_id), error.code)


class LiveSessions:
    def __init__(
        self, rooms: Rooms, store: Store, hub: LiveHub, clock: Clock, settings: Settings
    ) -> None:
        self.rooms = rooms
        self.store = store
        self.hub = hub
        self.clock = clock
        self.settings = settings
        # Departures that met an outage, applied once the backend answers again.
        self._deferred: list[tuple[str, str, str, c.Command]] = []
        self._seen_alive: frozenset[str] | None = None  # the workers alive at the last tick
        self._review = False  # every live session is to be looked at (see tick)
        hub.take_relayed(self._relayed)

    def new_connection_id(self) -> str:
        return connection_id(self.hub.worker_id)

    # -- one socket's commands ------------------------------------------------------

    async def handle(self, presence: Presence, frame: p.Frame) -> Answer:
        """Answer one room command (``join_room``, ``leave`` or any command of the core)."""
        try:
            return await self._handle(presence, frame)
        except ClientError as error:  # refused before the core: access, or the wrong moment
            return refusal(error, frame.id)
        except OutcomeUnknown:
            return refusal(outcome_unknown(), frame.id)
        except Unavailable:
            return refusal(unavailable(), frame.id)

    async def _handle(self, presence: Presence, frame: p.Frame) -> Answer:
        cmd = frame.command
        if presence.conn.session_over and presence.seat is not None:
            await self.part(presence, leaving=False)  # the session ended: in no room now
        if isinstance(cmd, p.JoinRoom):
            return await self._join(presence, frame.id, cmd)
        if isinstance(cmd, c.Leave):
            if presence.seat is None:
                raise Rejected("You're not in a room.", code=Code.NOT_JOINED)
            await self.part(presence, leaving=True)
            return Answer(p.encode("reply", id=frame.id, ok=True))
        seat = presence.seat
        if seat is None:
            if presence.conn.session_over:
                raise Rejected("This session has ended.", code=Code.SESSION_ENDED)
            raise Rejected("Join a room first.", code=Code.NOT_JOINED)
        assert isinstance(cmd, c.Command)
        t = await self.command(
            seat.room.id, seat.window.key, presence.user.id, cmd, frame.cid, as_sent=frame.text
        )
        if t.error is not None:
            return refusal(t.error, frame.id)
        return Answer(p.encode("reply", id=frame.id, ok=True, **t.reply))

    async def _join(self, presence: Presence, frame_id: Any, cmd: p.JoinRoom) -> Answer:
        if presence.seat is not None:
            raise Rejected("You're already in a room on this connection.", code=Code.ALREADY_JOINED)
        seat = await self.rooms.seat(presence.user, cmd.room)
        conn, key = presence.conn, seat.window.key
        # Subscribe and hold first, then read: nothing can fall between the two.
        conn.hold()
        try:
            await self.hub.subscribe(key, conn)
        except BaseException:
            conn.drop_held()
            raise
        try:
            t, view = await self._enter(seat, presence.user, conn.id)
        except BaseException:
            conn.drop_held()
            await self.hub.unsubscribe(key, conn)
            raise
        if t.error is not None:
            conn.drop_held()
            await self.hub.unsubscribe(key, conn)
            return refusal(t.error, frame_id)
        presence.seat = seat
        if "waiting" in t.reply:  # outside the door: no room events until let in
            conn.gated = True
            conn.release(0)
            log.info("waiting", extra={"conn": conn.id, "room_id": seat.room.id})
            return Answer(p.encode("reply", id=frame_id, ok=True, **t.reply))
        assert view is not None  # a join that was not refused has a snapshot
        log.info("joined", extra={"conn": conn.id, "room_id": seat.room.id, "role": seat.role})
        resume = cmd.resume
        if resume is not None and resume.session == key:
            missed = await self.hub.since(key, resume.epoch, resume.seq)
            if missed is not None:
                conn.release(resume.seq, missed)
                private = {k: view[k] for k in PRIVATE_PARTS if k in view}
                return Answer(
                    p.encode(
                        "reply", id=frame_id, ok=True, resumed=True, seq=conn.seq,
                        epoch=view["epoch"], **private,
                    )
                )  # fmt: skip
        kind = "snapshot" if resume is None else "resync"
        # Sent before the held events go out: release queues them behind it.
        conn.send(p.encode(kind, id=frame_id, **view))
        conn.release(view["seq"])
        return Answer(None)

    async def part(self, presence: Presence, *, leaving: bool) -> None:
        """Take the socket out of its session: ``leave`` (leaving) or a dropped socket."""
        seat, presence.seat = presence.seat, None
        if seat is None:
            return
        conn, key = presence.conn, seat.window.key
        await self.hub.unsubscribe(key, conn)
        if conn.session_over:
            return
        cmd: c.Command = c.Leave(conn.id) if leaving else c.Disconnect(conn.id)
        try:
            await self.command(seat.room.id, key, presence.user.id, cmd)
        except Unavailable:  # an outage must not strand them: applied on a later tick
            self._deferred.append((seat.room.id, key, presence.user.id, cmd))
        log.info("left" if leaving else "dropped", extra={"conn": conn.id})

    # -- the session's state ----------------------------------------------------------

    def _create(self, seat: Seat) -> RoomState:
        room, settings = seat.room, self.settings
        config = RoomConfig(
            room_id=room.id,
            session_key=seat.window.key,
            name=room.name,
            capacity=room.capacity,
            starts_at=seat.window.starts_at,
            ends_at=seat.window.ends_at,
            grace_seconds=settings.grace_seconds,
            guidelines=room.guidelines,
            crisis_resources=room.crisis_resources or settings.crisis_resources,
            waiting_room=room.waiting_room,
            show_passes=room.show_passes,
            post_rate=Rate(settings.post_burst, settings.posts_per_minute / 60),
        )
        return RoomState(config=config, epoch=new_epoch())

    async def _enter(
        self, seat: Seat, user: User, conn: str
    ) -> tuple[Transition, dict[str, Any] | None]:
        """Join (or rejoin) the session; the transition and the joiner's snapshot."""
        agreed = seat.role != "member" or await self.store.has_agreed(
            seat.room.id, seat.window.key, user.id
        )
        join = c.Join(conn=conn, name=user.display_name, role=seat.role, agreed=agreed)
        view: dict[str, Any] | None = None

        def step(state: RoomState) -> Transition:
            nonlocal view
            now = self.clock.now()
            t = apply(state, user.id, join, now)
            # Someone waiting outside sees nothing of the room until let in.
            view = None if t.error or "waiting" in t.reply else snapshot(state, user.id, now)
            return t

        t = await self.hub.transact(seat.window.key, step, lambda: self._create(seat))
        assert t is not None  # create was given, so a state exists
        await self._persist(seat.room.id, seat.window.key, t)
        return t, view

    async def command(
        self,
        room_id: str,
        key: str,
        user_id: str,
        cmd: c.Command,
        cid: str | None = None,
        *,
        as_sent: str | None = None,
    ) -> Transition:
        """Run one command (sent with client id ``cid``, if any); a refusal comes back as
        ``Transition.error``. With the frame ``as_sent``, the hub may have a worker nearer
        its backend run it instead (see :meth:`_relayed`)."""

        def step(state: RoomState) -> Transition:
            return apply(state, user_id, cmd, self.clock.now(), cid)

        request = {"room": room_id, "user": user_id, "frame": as_sent}
        t = await self.hub.transact(key, step if as_sent is None else Portable(step, request))
        if t is None:
            t = Transition(error=Rejected("This session has ended.", code=Code.SESSION_ENDED))
        await self._persist(room_id, key, t)
        return t

    async def _relayed(self, request: Mapping[str, Any]) -> Mapping[str, Any]:
        """A member's room command that their worker, far from the backend, handed to this
        one: parsed as it was sent and run as theirs, here. Their worker authenticated
        them and checked they are in the room; the rules check the rest."""
        try:
            frame = p.parse(str(request["frame"]))
            cmd = frame.command
            if not isinstance(cmd, c.Command) or isinstance(cmd, c.Join | c.Leave):
                raise Rejected("Only room commands are relayed.", code=Code.BAD_FRAME)
            t = await self.command(
                str(request["room"]), str(request["key"]), str(request["user"]), cmd, frame.cid
            )
        except ClientError as error:
            t = Transition(error=error)
        except Unavailable as error:
            return relayed_failure(error)
        return relayed_answer(t)

    async def reconfigure(self, room: Room, actor: User) -> None:
        """A setting that applies to a session already live (the waiting room), from now."""
        window = current_session(room, self.clock.now())
        if window is None:
            return
        cmd = c.Reconfigure(waiting_room=room.waiting_room)

        def step(state: RoomState) -> Transition:
            return apply(state, actor.id, cmd, self.clock.now())

        t = await self.hub.transact(window.key, step)  # None: the session isn't live
        if t is not None:
            await self._persist(room.id, window.key, t)

    async def sign_out(self, user: User, device: str) -> None:
        """A sign-in of ``user`` was revoked: in every session they could be in, its
        connections hear nothing said after now, on whichever worker they are (the
        sign-out takes its place in each room's order; see ``core.events.SignedOut``).
        A session out of reach is left to the edge's checks, which close the socket
        within ``reauth_seconds``."""
        rooms = (
            await self.store.all_rooms()
            if user.role == "admin"
            else await self.store.rooms_for_user(user.id)
        )
        now = self.clock.now()
        cmd = c.SignOut(device)
        for room in rooms:
            window = current_session(room, now)
            if window is None:
                continue

            def step(state: RoomState) -> Transition:
                return apply(state, user.id, cmd, self.clock.now())

            try:
                await self.hub.transact(window.key, step)  # None: the session isn't live
            except Unavailable:
                log.warning("sign-out not sequenced", extra={"room_id": room.id})

    # -- time -------------------------------------------------------------------------

    async def tick(self) -> None:
        """Let time act on the live sessions whose moment has come (a start, an expiry, a
        held seat, a turn timer, the scheduled end): each session's next deadline is
        indexed by the hub, so sessions where nothing is due cost nothing. Every live
        session is looked at once when this worker begins ticking, and when a worker
        has gone (its connections are let go of: no ghosts in the room)."""
        while self._deferred:
            await self.command(*self._deferred[0])
            self._deferred.pop(0)
        due = await self.hub.due(self.clock.now())
        if due is None:  # another worker ticks
            self._seen_alive = None
            return
        alive = await self.hub.live_workers()
        gone = self._seen_alive is not None and alive is not None and self._seen_alive - alive
        if due.review or gone:
            self._review = True
        self._seen_alive = alive
        if self._review:
            self.hub.stats.reviews += 1
            for key in await self.hub.live_sessions():
                await self._tick_one(key, alive)
            self._review = False  # (an outage on the way: all of it again next tick)
        for key in due.sessions:
            await self._tick_one(key, None)

    async def _tick_one(self, key: str, alive: frozenset[str] | None) -> None:
        t = await self.hub.transact(key, lambda s: self._time_passes(s, alive), ticking=True)
        if t is not None and (t.effects or t.ended):
            room_id, _ = split_session_key(key)
            await self._persist(room_id, key, t)

    def _time_passes(self, state: RoomState, alive: frozenset[str] | None) -> Transition:
        now = self.clock.now()
        t = apply(state, None, c.Tick(), now)
        if alive is None or t.ended:
            return t
        for user_id, conns in _connections(state):
            for conn in conns:
                worker = worker_of(conn)
                if worker is not None and worker not in alive:
                    gone = apply(state, user_id, c.Disconnect(conn), now)
                    t.events += gone.events
                    t.effects += gone.effects
                    t.notices += gone.notices
                    t.sooner = t.sooner or gone.sooner
                    t.deadline = gone.deadline
        return t

    # -- effects ----------------------------------------------------------------------

    async def _persist(self, room_id: str, key: str, t: Transition) -> None:
        now = self.clock.now()
        if t.ended:
            await self.store.end_session(room_id, key, now)
            log.info("session ended", extra={"room_id": room_id, "session": key})
        for effect in t.effects:
            if isinstance(effect, RecordAgreement):
                await self.store.record_agreement(room_id, key, effect.user_id, now)
            elif isinstance(effect, BarMember):
                await self.store.bar(
                    room_id, effect.user_id, by=effect.by, reason=effect.reason, now=now
                )
            elif isinstance(effect, RecordModeration):
                await self.store.append_moderation(
                    ModerationEntry(
                        room_id=room_id,
                        at=now,
                        actor_id=effect.actor_id,
                        action=effect.action,
                        target_id=effect.target_id,
                        session_key=key,
                        reason=effect.reason,
                        detail=dict(effect.detail or {}),
                    )
                )


def _connections(state: RoomState) -> list[tuple[str, list[str]]]:
    """Everyone's open connections, inside and at the door."""
    people = [(p.user_id, sorted(p.conns)) for p in state.participants.values()]
    return people + [(w.user_id, sorted(w.conns)) for w in state.waiting.values()]
