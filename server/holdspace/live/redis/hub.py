"""The scale-out hub: live sessions in Redis, shared by every worker.

Four concepts, a module each, composed here:

* :mod:`.state` — a step read, run on the pure core and written back by
  compare-and-set (``lua/write.lua``), which also logs and publishes its events;
* :mod:`.following` — the sessions this worker listens to, and delivering their
  events to its subscribers in order, exactly once, catching up from the log;
* :mod:`.liveness` — heartbeats, the end-to-end probe, and the tick lease;
* :mod:`.relay` — a worker far from Redis hands its members' commands to a near one.

Key names live in :mod:`.keys`, the scripts' arguments in :mod:`.scripts`, and the
state's encoding in :mod:`.codec`.

Keys (``P`` is the prefix; all of one session's keys carry its room's hash tag, so
the scripts touch one slot and run unchanged on Redis Cluster):

=================================  =======================================================
``P{room:<id>}:live:<starts>``     hash: ``v`` (version), the state's parts (``config``,
                                   ``core``, ``whispers``, ``m:<seq>`` per recent
                                   message: see :mod:`.codec`; a step
                                   rewrites only the parts it changed), ``epoch``,
                                   ``seq``, ``last`` (newest log entry id)
``P{room:<id>}:live:<starts>:log`` stream: one entry per event or notice — ``p`` (the
                                   previous entry's id: a chain that proves nothing is
                                   missing), ``s`` (seq), ``f`` (frame), ``t``
                                   (recipients of a notice, space-separated; empty for
                                   a room event), ``g`` (gate), ``x`` (final event)
``P{room:<id>}:live:<starts>``     pub/sub channel: ``<prev id>\\n<entry ids>\\n<JSON>``, then
                                   the parts the step wrote when every follower
                                   keeps a copy of the state (``scripts.StepParts``)
``P{room:<id>}:live:<starts>:fol`` set: the workers following the session, as
                                   ``<worker>+`` (see :mod:`.following`)
``Plive``                          set: live session keys, for the ticker's reviews
``Pdue``                           sorted set: live session key -> when time next acts on
                                   it (ms; never later: see ``SessionStates.tick``)
``Pticker``                        string: the worker holding the tick lease
``Pworkers``                       sorted set: worker id -> last heartbeat (ms)
``Pprobe:<worker>``                pub/sub channel: the worker's end-to-end probe
``Prelay:<worker>``                pub/sub channel: commands relayed to the worker, and
                                   their answers (see :mod:`.relay`)
``Plinks``                         hash: worker id -> its quickest recent ping (ms)
=================================  =======================================================

Message text lives here only while its session does: ending a session deletes
its whole state and log keys (trimming or ``XDEL`` would leave the bytes behind),
and a redaction rewrites the log into a fresh key. Every key also expires a few
hours after its session's scheduled end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript

from holdspace.clock import Clock, SystemClock
from holdspace.core.room import Transition
from holdspace.core.state import RoomState
from holdspace.errors import Unavailable
from holdspace.live.base import (
    Delivery,
    Due,
    Encoder,
    HubStats,
    NoticeEncoder,
    Portable,
    RunRelayed,
    ServiceEncoder,
    Step,
    Subscriber,
)
from holdspace.live.redis.following import Following
from holdspace.live.redis.health import Health
from holdspace.live.redis.keys import Keys
from holdspace.live.redis.liveness import Liveness
from holdspace.live.redis.relay import NotHeard, Relay
from holdspace.live.redis.scripts import SINCE, since_args
from holdspace.live.redis.state import Limits, SessionStates
from holdspace.redis_connect import REDIS_ERRORS, UNREACHABLE, Client, connect

log = logging.getLogger("holdspace.hub")


@dataclass(slots=True)
class HubTuning:
    """Timings and limits; tests shorten the probe so faults show up quickly."""

    log_size: int = 1000
    log_seconds: float = 3600.0
    probe_seconds: float = 5.0  # a deaf subscriber is found within probe + timeout
    probe_timeout_seconds: float = 5.0
    worker_ttl_seconds: float = 20.0  # a worker silent this long is presumed dead
    lease_seconds: float = 5.0
    command_timeout_seconds: float = 5.0
    # Redis taking longer than this to answer a ping counts as stalled: members are told,
    # /readyz fails, steps are refused at once. A subscriber rebuilt within it is silent.
    stall_seconds: float = 1.5
    # A worker whose pings to Redis all take longer than this (ms) hands its members' room
    # commands to a live worker at least four times nearer (0: never; see .relay).
    relay_ms: float = 25.0
    # Replicas that must have each step before it is answered (WAIT; 0: none): with
    # them, a failover never loses an acknowledged message.
    wait_replicas: int = 0


class RedisHub:
    def __init__(
        self,
        client: Client,
        writer: Client,
        listener: Client,
        encode: Encoder,
        encode_notice: NoticeEncoder,
        encode_service: ServiceEncoder,
        *,
        pinger: Client,
        relayer: Client,
        prefix: str = "hs:",
        tuning: HubTuning | None = None,
        clock: Clock | None = None,
    ) -> None:
        """Use :meth:`open`. ``writer`` and ``listener`` are clients that never retry on
        their own: a step resent after its answer was lost would be applied twice, and
        every pub/sub disconnect must be seen (and caught up after)."""
        self._redis = client
        self._writer_client = writer
        self._listener_client = listener
        self.tuning = tuning = tuning or HubTuning()
        self.keys = keys = Keys(prefix)
        self.worker_id = secrets.token_hex(4)
        self.stats = HubStats()
        clock = clock or SystemClock()
        timeout = tuning.command_timeout_seconds
        self.liveness = Liveness(
            client, keys, self.worker_id, clock, self.stats,
            worker_ttl_seconds=tuning.worker_ttl_seconds, lease_seconds=tuning.lease_seconds,
            probe_timeout_seconds=tuning.probe_timeout_seconds,
        )  # fmt: skip
        limits = Limits(
            tuning.log_size, int(tuning.log_seconds * 1000), timeout, tuning.wait_replicas
        )
        self.states = SessionStates(
            client, writer, keys, self.worker_id, encode, encode_notice, limits, self.stats
        )
        self._relayer_client = relayer
        self.relay = Relay(
            client, relayer, keys, self.worker_id, self.stats, slow_ms=tuning.relay_ms,
            timeout=timeout,
        )  # fmt: skip
        self.following = Following(
            client, listener, keys, self.worker_id, self.liveness, encode_service, clock,
            self.stats, self.states.heard, self.relay.received, timeout=timeout,
            grace=tuning.stall_seconds,
        )  # fmt: skip
        self._clock = clock
        self.health = Health(pinger, stall_seconds=tuning.stall_seconds, on_change=self._answers)
        self._since: AsyncScript = client.register_script(SINCE)
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    @classmethod
    async def open(
        cls,
        url: str,
        encode: Encoder,
        encode_notice: NoticeEncoder,
        encode_service: ServiceEncoder,
        *,
        prefix: str = "hs:",
        tuning: HubTuning | None = None,
        clock: Clock | None = None,
    ) -> RedisHub:
        """Connect, start listening, and return once the pub/sub connection is up."""
        tuning = tuning or HubTuning()
        timeout = tuning.command_timeout_seconds
        # A blocking pool: under load a command waits for a free connection instead of
        # failing outright when the pool is exhausted (redis-py's default raises).
        client = connect(
            url,
            pool_size=64,
            wait=timeout,
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
        writer, relayer = [
            connect(
                url,
                pool_size=1,  # the script's own connection
                wait=timeout,
                decode_responses=True,
                socket_timeout=None,  # each pipeline as a whole is bounded instead
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 0),
            )
            for _ in range(2)  # the step script's, and the relay's (see .relay)
        ]
        listener = connect(
            url, decode_responses=True, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
        )
        stall = tuning.stall_seconds
        pinger = connect(
            url, socket_timeout=stall, socket_connect_timeout=stall, retry=Retry(NoBackoff(), 0)
        )
        hub = cls(
            client, writer, listener, encode, encode_notice, encode_service,
            pinger=pinger, relayer=relayer, prefix=prefix, tuning=tuning, clock=clock,
        )  # fmt: skip
        try:
            for c in (client, writer, relayer, listener, pinger):
                if isinstance(c, RedisCluster):
                    await c.initialize()  # the slot map, before any call is routed
            await client.ping()
            await hub._start()
        except BaseException:
            await hub.close()
            raise
        return hub

    # -- the contract -----------------------------------------------------------------

    async def transact(
        self,
        key: str,
        step: Step,
        create: Callable[[], RoomState] | None = None,
        *,
        ticking: bool = False,
    ) -> Transition | None:
        if ticking:
            return await self.states.tick(key, step, self._clock.now(), self.following.deliver_own)
        peer = self.relay.peer
        if peer is not None and create is None and isinstance(step, Portable):
            request = step.request
            try:
                t = await self.states.relayed(key, lambda: self.relay.ask(peer, key, request))
            except NotHeard:
                pass  # the peer isn't listening: nothing ran there, so it runs here
            else:
                await self.following.settled(key)  # its events before its answer
                return t
        return await self.states.transact(key, step, create, self.following.deliver_own)

    def take_relayed(self, run: RunRelayed) -> None:
        self.relay.serve(run)

    async def since(self, key: str, epoch: str, seq: int) -> list[Delivery] | None:
        if not self.health.ok:
            raise Unavailable("Redis is not answering")
        try:
            found = await self._since(
                keys=[self.keys.state(key), self.keys.log(key)], args=since_args(epoch, seq)
            )
        except REDIS_ERRORS as error:
            self.stats.errors += 1
            raise Unavailable("the live hub is out of reach") from error
        if found is None:
            return None
        out = [
            Delivery(int(found[i]), found[i + 1], final=found[i + 2] == "1")
            for i in range(0, len(found), 3)
        ]
        out.reverse()
        return out

    async def subscribe(self, key: str, subscriber: Subscriber) -> None:
        await self.following.subscribe(key, subscriber)

    async def unsubscribe(self, key: str, subscriber: Subscriber) -> None:
        await self.following.unsubscribe(key, subscriber)

    async def live_sessions(self) -> list[str]:
        return await self.liveness.live_sessions()

    async def due(self, now: float) -> Due | None:
        return await self.liveness.due(now)

    async def live_workers(self) -> frozenset[str] | None:
        return await self.liveness.live_workers()

    @property
    def ready(self) -> bool:
        """Redis answers, and this worker hears it (a subscriber being rebuilt within the
        grace still counts: nothing is lost meanwhile, and it is back in moments)."""
        f = self.following
        return self.health.ok and self.liveness.probe_ok and not f.deaf and not f.outage

    def _answers(self, ok: bool) -> None:
        self.states.redis_answers(ok)
        self.following.redis_answers(ok)

    @property
    def followed(self) -> int:
        return self.following.followed

    # -- running ----------------------------------------------------------------------

    async def _start(self) -> None:
        # Seen alive before it serves anyone: a worker that dies having seated members is
        # then always among those the ticker saw, so its going is noticed (see tick).
        await self.liveness.beat()
        self._tasks = [
            asyncio.create_task(self.following.listen(), name="hub-listener"),
            asyncio.create_task(self._heartbeat(), name="hub-probe"),
            asyncio.create_task(self.health.run(), name="hub-health"),
        ]
        async with asyncio.timeout(self.tuning.command_timeout_seconds * 2):
            await self.following.connected.wait()

    async def _heartbeat(self) -> None:
        """Every few seconds: say this worker is alive, and probe the listener through
        pub/sub. A probe that doesn't come back means the subscriber is deaf."""
        while not self._closing:
            await asyncio.sleep(self.tuning.probe_seconds)
            if self.following.listening and not await self.liveness.probe(
                self.following.send_probe
            ):
                self.following.deaf = True  # the listener rebuilds its connection
            elif self.health.rtt_ms is not None:
                since_ms = int(self._clock.now() * 1000) - int(
                    self.tuning.worker_ttl_seconds * 1000
                )
                with contextlib.suppress(*UNREACHABLE):
                    await self.relay.heartbeat(self.health.rtt_ms, since_ms)

    async def close(self) -> None:
        """Stop listening and let go of Redis; each step is bounded, so a connection
        that died mid-read can't hold up a worker's shutdown."""
        self._closing = True
        self.following.stop()
        for task in self._tasks:
            task.cancel()
        steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("tasks", lambda: asyncio.gather(*self._tasks, return_exceptions=True)),
            ("relayed", self.relay.close),
            ("pubsub", self.following.drop_pubsub),
            ("unfollow", self.following.unfollow_all),
            ("deregister", self.liveness.leave),
            ("writes", self.states.close),
            ("client", self._redis.aclose),
            ("writer", self._writer_client.aclose),
            ("relayer", self._relayer_client.aclose),
            ("listener", self._listener_client.aclose),
            ("health", self.health.close),
        ]
        for name, step in steps:
            try:
                async with asyncio.timeout(2):
                    await step()
            except TimeoutError:
                log.warning("hub close step timed out", extra={"step": name})
            except UNREACHABLE:
                pass
        self._tasks = []
        self.following.forget()
