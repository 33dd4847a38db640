"""Following sessions: which this worker listens to, and delivering every event of
them to its subscribers, in order, exactly once.

Each worker subscribes only to sessions with local subscribers, and says so in the
session's followers set before reading where the log stands. A worker hands its own
events to its own subscribers when the write script answers
(:meth:`Following.deliver_own`), so a step publishes only when someone else may be
listening: another worker in the set, or a subscriber that set doesn't account for
(a worker of an older version). With one worker, nothing goes through pub/sub at all.

Each worker remembers the last log entry it delivered for each session, and catches
up from the log whenever a message's ``prev`` isn't that entry, after a reconnect,
and when its probe comes back and finds it behind. When the log can't prove
continuity it says so (:meth:`Subscriber.lost`) rather than deliver a partial
history.

When every follower keeps a copy of the state (all list themselves as
``<worker>+``), a step also publishes the parts it wrote; they go to
:meth:`.SessionStates.heard`, so a worker's next step of a session shared across
workers starts from the state as it is, not as this worker last wrote it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.asyncio.client import PubSub

from holdspace.clock import Clock
from holdspace.errors import Unavailable
from holdspace.live.base import Delivery, HubStats, ServiceEncoder, Subscriber
from holdspace.live.redis.keys import Keys, follower
from holdspace.live.redis.liveness import Liveness
from holdspace.live.redis.scripts import delivery, split_published
from holdspace.live.redis.sharded import ShardedPubSub
from holdspace.live.redis.sharded import pubsub as listener_pubsub
from holdspace.redis_connect import REDIS_ERRORS, UNREACHABLE, Client

log = logging.getLogger("holdspace.hub")

# A followers set outlives a session that is never written to again by at most this.
FOLLOWERS_TTL_MS = 24 * 3600 * 1000
# How long a step's own batch waits for the batches before it to come off the channel
# (they were published before its answer was sent) before the log is read instead.
OWN_WAIT_SECONDS = 1.0


class Deaf(ConnectionError):
    """The pub/sub connection stopped answering the probe."""


def entry_id(text: str) -> tuple[int, int]:
    """A stream entry id as a comparable pair."""
    ms, _, n = text.partition("-")
    return int(ms), int(n or 0)


@dataclass(slots=True)
class Channel:
    """One session this worker follows: who here wants it, and how far it got."""

    key: str
    name: str
    subscribers: set[Subscriber] = field(default_factory=set)
    last_id: str | None = None  # None until the position is read after subscribing
    epoch: str | None = None
    early: list[str] = field(default_factory=list)  # messages before the position was known
    own_pending: bool = False  # our own steps answered before the position was known
    ready: asyncio.Future[None] | None = None
    # While the log is read to fill a gap, this session's next messages wait here (the
    # listener goes on with every other session's: one read never holds them up).
    catching: asyncio.Task[None] | None = None
    backlog: list[str] = field(default_factory=list)
    # Own steps' deliveries waiting for the channel to reach the entry before them.
    waiters: list[tuple[tuple[int, int], asyncio.Future[None]]] = field(default_factory=list)


class Following:
    def __init__(
        self,
        client: Client,
        listener: Client,
        keys: Keys,
        worker_id: str,
        liveness: Liveness,
        encode_service: ServiceEncoder,
        clock: Clock,
        stats: HubStats,
        heard: Callable[[str, str], None],
        relayed: Callable[[str], None],
        *,
        timeout: float,
        grace: float,
    ) -> None:
        """``listener`` is a client that never retries on its own: every pub/sub
        disconnect must be seen, and caught up after. Members hear of an outage when
        Redis stops answering, or when the subscriber can't be rebuilt within
        ``grace`` seconds; a rebuild that is quicker (a killed connection, a blip)
        loses nothing, and nobody is told. ``heard`` is given the parts another
        worker's step wrote, as published with its batch (see :meth:`.SessionStates.heard`);
        ``relayed``, what comes on this worker's relay channel (see :mod:`.relay`)."""
        self._redis = client
        self._listener_client = listener
        self._keys = keys
        self._worker_id = worker_id
        self._follower = follower(worker_id)  # our name in followers sets
        self._liveness = liveness
        self._encode_service = encode_service  # what everyone is told in an outage, and after
        self._clock = clock
        self._stats = stats
        self._heard = heard
        self._relayed = relayed
        self._relay_channel = keys.relay(worker_id)
        self._timeout = timeout
        self._probe_channel = keys.probe(worker_id)
        self._channels: dict[str, Channel] = {}  # by session key
        self._by_name: dict[str, Channel] = {}  # by channel name
        self._pubsub: PubSub | ShardedPubSub | None = None
        self.listening = False  # the pub/sub connection is up and subscribed
        self.deaf = False  # the probe found it deaf: the listener rebuilds it
        self._outage = False  # subscribers were told of an outage
        self._grace = grace
        self._redis_ok = True  # as the health check last found it
        self._lost_at: float | None = None  # when the subscriber went down (loop time)
        self._review_later: asyncio.TimerHandle | None = None
        self.connected = asyncio.Event()
        self._closing = False

    @property
    def followed(self) -> int:
        return len(self._channels)

    async def subscribe(self, key: str, subscriber: Subscriber) -> None:
        ch = self._channels.get(key)
        if ch is not None:
            ch.subscribers.add(subscriber)
            if ch.ready is not None:
                await self._await_ready(ch, subscriber)
            return
        if not self.listening or self._pubsub is None or not self._redis_ok:
            raise Unavailable("the live hub is reconnecting")
        ch = Channel(key, self._keys.state(key), {subscriber})
        ch.ready = asyncio.get_running_loop().create_future()
        self._channels[key] = ch
        self._by_name[ch.name] = ch
        try:
            await self._pubsub.subscribe(ch.name)
        except REDIS_ERRORS as error:
            await self.unsubscribe(key, subscriber)
            raise Unavailable("the live hub is reconnecting") from error
        await self._await_ready(ch, subscriber)

    async def _await_ready(self, ch: Channel, subscriber: Subscriber) -> None:
        """Wait until the listener knows where this session's log stands."""
        assert ch.ready is not None
        try:
            async with asyncio.timeout(self._timeout):
                await asyncio.shield(ch.ready)
        except TimeoutError:
            await self.unsubscribe(ch.key, subscriber)
            raise Unavailable("the live hub is reconnecting") from None

    async def unsubscribe(self, key: str, subscriber: Subscriber) -> None:
        ch = self._channels.get(key)
        if ch is None:
            return
        ch.subscribers.discard(subscriber)
        if ch.subscribers:
            return
        del self._channels[key]
        self._by_name.pop(ch.name, None)
        self._wake(ch)
        if ch.ready is not None and not ch.ready.done():
            ch.ready.cancel()
        if ch.catching is not None:
            ch.catching.cancel()
        if self.listening and self._pubsub is not None:
            with contextlib.suppress(*UNREACHABLE):
                await self._pubsub.unsubscribe(ch.name)
        with contextlib.suppress(*UNREACHABLE):
            # After unsubscribing: a step in between still publishes, to nobody.
            await self._redis.srem(self._keys.followers(key), self._follower)

    async def deliver_own(
        self, key: str, epoch: str, prev: str, ids: Sequence[str], batch: list[Delivery]
    ) -> None:
        """Hand a command's own events to this worker's subscribers before it returns, so
        the sender gets its events before its answer (a pub/sub copy, if the step was
        published, is then dropped as already delivered). This is the only way they
        arrive when no other worker follows the session: nothing is published then."""
        ch = self._channels.get(key)
        if ch is None:
            return  # not followed here
        if ch.last_id is None:
            # The position is being read: it may or may not include these (the reply to
            # that read and ours travel on different connections). Look once it is known.
            ch.own_pending = True
            return
        if entry_id(ids[-1]) <= entry_id(ch.last_id):
            return
        if ch.epoch == epoch and entry_id(prev) > entry_id(ch.last_id):
            # Others' steps came first, and their batches are still on the channel: they
            # come in the log's order, and reading the log instead is a round trip (long
            # on a slow link). Ours is next, unless the channel brings it too.
            await self._reached(ch, prev)
            if self._channels.get(key) is not ch or ch.last_id is None:
                return  # no longer followed here, or lost track (its members rejoin)
            if entry_id(ids[-1]) <= entry_id(ch.last_id):
                return
        if prev == ch.last_id and (ch.epoch is None or ch.epoch == epoch):
            ch.epoch, ch.last_id = epoch, ids[-1]
            self._deliver(ch, batch, ids[-1])
        else:
            await self._catch_up(ch)  # something was lost on the way, or a new epoch

    async def settled(self, key: str) -> None:
        """Until what the channel has brought so far is delivered: a batch waiting for the
        session's position or for a gap to be filled (a relayed command's answer comes
        on the channel right after its batch, and must not reach the sender first)."""
        ch = self._channels.get(key)
        if ch is None:
            return
        waits = [w for w in (ch.ready, ch.catching) if w is not None and not w.done()]
        if waits:
            await asyncio.wait(waits, timeout=OWN_WAIT_SECONDS)

    async def _reached(self, ch: Channel, entry: str) -> None:
        """Until the channel has delivered up to ``entry``, it lost track, it is no longer
        followed, or ``OWN_WAIT_SECONDS`` have passed."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        mark = (entry_id(entry), waiter)
        ch.waiters.append(mark)
        try:
            # Not wait_for: in Python 3.11 it swallows a cancellation that arrives as the
            # waiter is done — which is just what losing track does (it wakes every
            # waiter and stops the sender's connection, whose task may be this one).
            async with asyncio.timeout(OWN_WAIT_SECONDS):
                await waiter
        except TimeoutError:
            pass
        finally:
            with contextlib.suppress(ValueError):
                ch.waiters.remove(mark)

    @staticmethod
    def _wake(ch: Channel, upto: tuple[int, int] | None = None) -> None:
        """Wake the own deliveries waiting for the channel to reach ``upto`` or less (all
        of them without it: each then looks again)."""
        for mark, waiter in ch.waiters:
            if (upto is None or mark <= upto) and not waiter.done():
                waiter.set_result(None)

    async def listen(self) -> None:
        """Own the pub/sub connection: (re)build it, catch up, then route messages."""
        pause = 0.05
        while not self._closing:
            try:
                await self._connect()
                pause = 0.05
                while not self._closing:
                    assert self._pubsub is not None
                    message = await self._pubsub.get_message(timeout=0.5)
                    if self.deaf:
                        raise Deaf
                    if message is not None:
                        await self._route(message)
            except asyncio.CancelledError:
                raise
            except UNREACHABLE as error:  # Deaf too: a connection that stopped working
                self.listening = False
                self._stats.reconnects += 1
                reason = "deaf" if isinstance(error, Deaf) else type(error).__name__
                log.warning("hub subscriber lost", extra={"reason": reason})
                self._went_down()
                await self.drop_pubsub()
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)
            except Exception:
                self.listening = False
                log.exception("hub listener failed")
                self._went_down()
                await self.drop_pubsub()
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)

    async def drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def send_probe(self, nonce: str) -> None:
        """Send ``nonce`` to come back through the listener as a probe (see
        :meth:`.Liveness.probe`): published on the probe channel, or on a cluster sent
        through each shard this worker listens to."""
        if isinstance(self._pubsub, ShardedPubSub):
            await self._pubsub.ping(nonce)
        else:
            await self._redis.publish(self._probe_channel, nonce)

    async def _connect(self) -> None:
        pubsub = listener_pubsub(self._listener_client, self._probe_channel)
        self._pubsub = pubsub
        self.deaf = False
        names = [self._probe_channel, self._relay_channel, *self._by_name]
        await pubsub.subscribe(*names)
        waiting, early = set(names), []
        async with asyncio.timeout(self._timeout):
            while waiting:
                message = await pubsub.get_message(timeout=0.5)
                if message is None:
                    continue
                if message["type"] == "subscribe":
                    waiting.discard(message["channel"])
                else:
                    early.append(message)
        for ch in list(self._by_name.values()):
            ch.early.clear()
            if ch.last_id is None:
                await self._position(ch)
            else:
                await self._follow(ch)  # gone if the session's keys were lost meanwhile
                await self._catch_up(ch, reconnected=True)
        for message in early:
            await self._route(message)
        await self._liveness.beat()
        self.listening = True
        self._liveness.probe_ok = True
        self.connected.set()
        self._lost_at = None
        self._review()
        log.info("hub subscriber ready", extra={"sessions": len(self._by_name)})

    async def _route(self, message: dict[str, Any]) -> None:
        kind, name = message["type"], message["channel"]
        if kind == "pong":  # a probe come back through every shard (see .sharded)
            await self._probed(message["data"])
            return
        if name == self._probe_channel:
            if kind == "message":
                await self._probed(message["data"])
            return
        if name == self._relay_channel:
            if kind == "message":
                self._relayed(message["data"])
            return
        ch = self._by_name.get(name)
        if ch is None:
            return
        if kind == "subscribe" and ch.last_id is None:
            await self._position(ch)
        elif kind == "message":
            data, written = split_published(message["data"])
            if written is not None:
                self._heard(ch.key, written)
            if ch.last_id is None:
                ch.early.append(data)
            elif ch.catching is not None:
                ch.backlog.append(data)
            elif await self._receive(ch, data):
                self._catch_up_aside(ch)

    async def _follow(self, ch: Channel) -> None:
        """Join the session's followers, so other workers' steps publish to us. Nothing
        in the set is secret (worker ids); it goes with the session's other keys."""
        fol = self._keys.followers(ch.key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(fol, self._follower)
            pipe.pexpire(fol, FOLLOWERS_TTL_MS)
            await pipe.execute()

    async def _position(self, ch: Channel) -> None:
        """Where the session's log stands now that we're subscribed and following: every
        later step will be published to us after this point."""
        await self._follow(ch)
        epoch, last = await self._redis.hmget(ch.name, ["epoch", "last"])
        await self._positioned(ch, epoch, last)

    async def _positioned(
        self, ch: Channel, epoch: str | bytes | None, last: str | bytes | None
    ) -> None:
        ch.epoch = None if epoch is None else str(epoch)
        ch.last_id = str(last or "0-0")
        early, ch.early = ch.early, []
        for data in early:
            if await self._receive(ch, data):
                await self._catch_up(ch)
        if ch.own_pending:
            ch.own_pending = False
            await self._catch_up(ch)  # whatever of ours came after the position
        if ch.ready is not None and not ch.ready.done():
            ch.ready.set_result(None)
        ch.ready = None

    async def _receive(self, ch: Channel, data: str) -> bool:
        """Deliver one published batch in its place; True when it showed a gap, which
        the caller fills from the log (the batch is in it too)."""
        assert ch.last_id is not None
        prev, ids_text, body = data.split("\n", 2)
        ids = ids_text.split(" ")
        if entry_id(ids[-1]) <= entry_id(ch.last_id):
            return False  # caught up past it already
        epoch, rows = orjson.loads(body)
        if ch.epoch is not None and epoch != ch.epoch:
            self._lose(ch, epoch, ids[-1])
            return False
        ch.epoch = epoch
        if prev != ch.last_id:
            if entry_id(prev) > entry_id(ch.last_id):
                return True  # a gap: something was published we didn't hear
            # Entries are published a whole step at a time, and our position is always a
            # step's end: a step reaching back across it means the log was rewound.
            self._lose(ch, epoch, ids[-1])
            return False
        last = entry_id(ch.last_id)
        batch = [delivery(*row) for i, row in zip(ids, rows, strict=True) if entry_id(i) > last]
        ch.last_id = ids[-1]
        self._deliver(ch, batch, ids[-1])
        return False

    async def _catch_up(self, ch: Channel, *, reconnected: bool = False) -> None:
        """Deliver, in order, whatever the log holds after the last entry we delivered."""
        assert ch.last_id is not None
        before = ch.last_id
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hmget(ch.name, ["epoch", "last"])
            pipe.xrange(self._keys.log(ch.key), f"({before}", "+")
            (epoch, last), entries = await pipe.execute()
        if epoch is None:
            if reconnected and ch.epoch is not None:
                self._lose(ch, None, "0-0")  # ended or lost while we weren't listening
            return
        if ch.epoch is not None and epoch != ch.epoch:
            self._lose(ch, epoch, last or "0-0")
            return
        if entry_id(last or "0-0") < entry_id(before):
            # The log ends before what we already delivered: Redis came back without its
            # last writes (an older file, a replica that was behind). What members saw
            # after that point is gone from the log, and the next step starts a new epoch.
            self._lose(ch, epoch, last or "0-0")
            return
        ch.epoch = epoch
        if ch.last_id is None:
            return
        # The listener or a command may have delivered some of these while we read.
        entries = [(i, m) for i, m in entries if entry_id(i) > entry_id(ch.last_id)]
        if not entries:
            if last is not None and entry_id(last) > entry_id(ch.last_id):
                self._lose(ch, epoch, last)  # trimmed away under us
            return
        if entries[0][1].get("p") != ch.last_id:
            self._lose(ch, epoch, last or entries[-1][0])
            return
        log.info("hub caught up", extra={"entries": len(entries)})
        self._stats.catch_ups += 1
        ch.last_id = entries[-1][0]
        batch = [delivery(m["s"], m["f"], m["t"], m["g"], m["x"]) for _, m in entries]
        self._deliver(ch, batch, ch.last_id)

    def _catch_up_aside(self, ch: Channel) -> None:
        """Fill a gap in a task of its own: the listener goes on with other sessions,
        and this one's messages wait in its backlog until the log has been read."""
        if ch.catching is None:
            ch.catching = asyncio.create_task(self._fill_gap(ch), name="hub-catch-up")

    async def _fill_gap(self, ch: Channel) -> None:
        try:
            gap = True
            while gap and self._channels.get(ch.key) is ch:
                await self._catch_up(ch)
                gap = False
                while ch.backlog and ch.last_id is not None and not gap:
                    gap = await self._receive(ch, ch.backlog.pop(0))
        except UNREACHABLE:
            # What waited is in the log: the catch-up after the listener's reconnect (its
            # connection is likely failing too) or the next probe reads it.
            self._stats.errors += 1
            ch.backlog.clear()
        finally:
            ch.catching = None

    def _lose(self, ch: Channel, epoch: str | None, last: str) -> None:
        log.warning("hub lost continuity", extra={"subscribers": len(ch.subscribers)})
        self._stats.resyncs += len(ch.subscribers)
        ch.epoch, ch.last_id = epoch, last
        self._wake(ch)
        for subscriber in list(ch.subscribers):
            subscriber.lost()

    def _deliver(self, ch: Channel, batch: Sequence[Delivery], last_id: str) -> None:
        """Hand a batch to this worker's subscribers; ``last_id`` (the batch's last log
        entry, stamped with Redis's clock when published) gives the fan-out latency."""
        if batch:
            subscribers = list(ch.subscribers)
            for subscriber in subscribers:
                subscriber.deliver(batch)
            self._stats.delivered += len(batch) * len(subscribers)
            self._stats.observe(max(0.0, self._clock.now() - entry_id(last_id)[0] / 1000))
        if ch.waiters:
            self._wake(ch, entry_id(last_id))

    @property
    def outage(self) -> bool:
        """Redis isn't answering, or the subscriber has been down longer than the grace."""
        if not self._redis_ok:
            return True
        lost_at = self._lost_at
        return lost_at is not None and asyncio.get_running_loop().time() - lost_at >= self._grace

    def redis_answers(self, ok: bool) -> None:
        """What the health check found (see :mod:`.health`)."""
        self._redis_ok = ok
        self._review()

    def _went_down(self) -> None:
        if self._lost_at is None:
            loop = asyncio.get_running_loop()
            self._lost_at = loop.time()
            if self._review_later is not None:
                self._review_later.cancel()
            self._review_later = loop.call_later(self._grace, self._review)

    def _review(self) -> None:
        """Tell members of an outage, or of its end, when that changes."""
        outage = self.outage
        self._tell_all(self._encode_service(not outage), outage=outage)

    def _tell_all(self, frame: str, *, outage: bool) -> None:
        if self._outage == outage:
            return
        self._outage = outage
        for ch in self._channels.values():
            for subscriber in list(ch.subscribers):
                subscriber.alert(frame)

    async def _probed(self, nonce: str) -> None:
        """Our probe came back. Everything published before it has reached us too; check
        no session moved on without us (a message lost on the way)."""
        self._liveness.arrived(nonce)
        channels = [(ch, ch.last_id) for ch in self._by_name.values() if ch.last_id is not None]
        if not channels:
            return
        loop = asyncio.get_running_loop()
        asked = loop.time()
        async with self._redis.pipeline(transaction=False) as pipe:
            for ch, _ in channels:
                pipe.hget(ch.name, "last")
            lasts = await pipe.execute()
        # A step written while we asked may still be on its way to us, as long again as
        # the answer took: a log found ahead is looked at again after that.
        settle = 2 * (loop.time() - asked) + 0.05
        for (ch, before), last in zip(channels, lasts, strict=True):
            if last is None or ch.last_id is None:
                continue
            if entry_id(last) < entry_id(before):
                self._catch_up_aside(ch)  # behind what we had delivered: it was rewound
            elif entry_id(last) > entry_id(ch.last_id):
                loop.call_later(settle, self._still_behind, ch, str(last))

    def _still_behind(self, ch: Channel, last: str) -> None:
        """The log was found ahead of us a while ago: if we still haven't reached where it
        was, a message was lost on the way, and the catch-up reads it."""
        if (
            self._channels.get(ch.key) is ch
            and ch.last_id is not None
            and entry_id(ch.last_id) < entry_id(last)
        ):
            self._catch_up_aside(ch)

    async def unfollow_all(self) -> None:
        """Leave every followers set, so the workers that stay stop publishing to us (a
        worker that dies instead stays listed until its sessions end: harmless, it only
        costs publishes nobody reads)."""
        if self._channels:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in self._channels:
                    pipe.srem(self._keys.followers(key), self._follower)
                await pipe.execute()

    def stop(self) -> None:
        self._closing = True
        if self._review_later is not None:
            self._review_later.cancel()

    def forget(self) -> None:
        for ch in self._channels.values():
            if ch.catching is not None:
                ch.catching.cancel()
            self._wake(ch)
        self._channels.clear()
        self._by_name.clear()
