"""Steps from a worker far from Redis, run by a worker near it.

Every step is compare-and-set: a worker runs it on the session's state as it
knows it, and writes the result if nobody wrote in between. From a worker whose
link to Redis is slow that window is long — what it knows is a one-way trip
old, and its write a one-way trip away — so in a room it shares with busy
members on other workers its steps often lose, and each loss costs another
round trip; some lose twice. Everyone else waits for those messages.

So a worker that finds its link slow (even its quickest recent ping to Redis takes
over ``slow_ms``, and a live peer's under a quarter of that) hands its members'
room commands to that peer: the command goes there over pub/sub, runs there as if
sent there (the same parsing, the same rules, the same client id), and the answer
comes back the same way, after the command's events. The sender waits one round
trip, as before; everyone else gets the message a one-way trip after it was sent,
and nothing is retried over the slow link. Requests leave in the order they were
made and the peer takes them in that order. Each worker says how near it is with
its heartbeat. Joining, leaving and the ticks still run where they are: they hold
this worker's connections.

If the peer stops answering, the command's outcome is unknown (the app sends it
again with the same client id, so it is applied once), and once the peer misses
its heartbeats the commands run here again.

A peer runs only what the sender's worker already authenticated, as the user it
names. That trusts nothing Redis doesn't already hold: whoever can publish on it
can rewrite any session's state anyway.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Mapping
from typing import Any

import orjson
from redis.asyncio import RedisCluster

from holdspace.errors import OutcomeUnknown, Unavailable
from holdspace.live.base import HubStats, RunRelayed
from holdspace.live.redis.keys import Keys
from holdspace.live.redis.pipelined import AnswerLost
from holdspace.live.redis.sharded import script_calls
from holdspace.redis_connect import REDIS_ERRORS, Client

# Requests go out on a connection of their own, each written without waiting for the one
# before it to be answered, in the order they were asked: the order the peer runs them.
PUBLISH = "return redis.call('PUBLISH', KEYS[1], ARGV[1])"

log = logging.getLogger("holdspace.hub")

NEARER = 4  # a peer is worth relaying through when its link is this many times faster


class NotHeard(Exception):
    """Nobody was listening on the peer's channel: nothing was sent, run it here."""


class Relay:
    def __init__(
        self,
        client: Client,
        publisher: Client,
        keys: Keys,
        worker_id: str,
        stats: HubStats,
        *,
        slow_ms: float,
        timeout: float,
    ) -> None:
        """``slow_ms``: a link whose quickest recent ping takes longer relays (0: never).
        ``publisher`` lends the connection requests go out on, for good."""
        self._redis = client
        self._publisher = script_calls(publisher, PUBLISH, timeout=timeout)
        self._keys = keys
        self._worker_id = worker_id
        self._stats = stats
        self._slow_ms = slow_ms
        self._timeout = timeout
        self.peer: str | None = None  # where this worker's steps go, if anywhere
        self._serve: RunRelayed | None = None
        self._pending: dict[str, asyncio.Future[Mapping[str, Any]]] = {}
        self._running: set[asyncio.Task[None]] = set()

    def serve(self, serve: RunRelayed) -> None:
        self._serve = serve

    async def heartbeat(self, own_ms: float, alive_since_ms: int) -> None:
        """Say how near Redis this worker is, and choose again where its steps go."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(self._keys.links, self._worker_id, f"{own_ms:.1f}")
            pipe.hgetall(self._keys.links)
            pipe.zrangebyscore(self._keys.workers, alive_since_ms, "+inf")
            _, links, alive = await pipe.execute()
        live = {str(w) for w in alive}
        gone = [w for w in links if w not in live]
        if gone:
            await self._redis.hdel(self._keys.links, *gone)
        self.choose(own_ms, {str(w): float(ms) for w, ms in links.items() if w in live})

    def choose(self, own_ms: float, links: Mapping[str, float]) -> None:
        """The nearest live peer, if this worker is far from Redis and that peer near.
        Kept while this worker stays over half the threshold, so a session's commands
        don't hop between workers with every ping."""
        peers = {w: ms for w, ms in links.items() if w != self._worker_id}
        if not self._slow_ms or not peers:
            self._set(None)
            return
        kept = self.peer in peers and own_ms > self._slow_ms / 2
        if kept and peers[self.peer] * NEARER <= own_ms:  # type: ignore[index]
            return
        nearest = min(peers, key=lambda w: (peers[w], w))
        near = own_ms > self._slow_ms and peers[nearest] * NEARER <= own_ms
        self._set(nearest if near else None)

    def _set(self, peer: str | None) -> None:
        if peer != self.peer:
            if peer is None:
                log.info("hub: steps run here again")
            else:
                log.warning("hub: the link to Redis is slow; steps go to a nearer worker")
            self.peer = peer

    def ask(self, peer: str, key: str, request: Mapping[str, Any]) -> Awaitable[Mapping[str, Any]]:
        """Send ``request`` to ``peer`` now — requests go out in the order asked, and the
        peer runs them in that order — and return its answer to await. Awaited, it raises
        :class:`NotHeard` when the peer isn't listening (nothing ran), ``Unavailable``
        when the request couldn't be sent, and ``OutcomeUnknown`` when the answer
        doesn't come back in time (it may have run)."""
        call = secrets.token_hex(8)
        answer: asyncio.Future[Mapping[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[call] = answer
        message = orjson.dumps(
            {"call": call, "from": self._worker_id, "key": key, "request": request}
        )
        sent = self._publisher.send([self._keys.relay(peer)], [message])
        return self._answer(call, sent, answer)

    async def _answer(
        self, call: str, sent: asyncio.Future[Any], answer: asyncio.Future[Mapping[str, Any]]
    ) -> Mapping[str, Any]:
        try:
            try:
                heard = await sent
            except AnswerLost as error:
                raise OutcomeUnknown("a relayed command may have been sent") from error
            except REDIS_ERRORS as error:
                raise Unavailable("the live hub is out of reach") from error
            if heard == 0:
                raise NotHeard
            self._stats.relayed += 1
            try:
                async with asyncio.timeout(self._timeout):
                    return await answer
            except TimeoutError:
                raise OutcomeUnknown("the nearer worker's answer didn't come") from None
        finally:
            self._pending.pop(call, None)

    def received(self, data: str) -> None:
        """A message on this worker's relay channel: a command to run, or an answer."""
        try:
            message = orjson.loads(data)
            if "answer" in message:
                answer = self._pending.get(message["re"])
                if answer is not None and not answer.done():
                    answer.set_result(message["answer"])
                return
            call, sender = str(message["call"]), str(message["from"])
            key, request = str(message["key"]), message["request"]
        except (ValueError, KeyError, TypeError):
            log.warning("hub: a relay message that can't be read")
            return
        task = asyncio.create_task(self._run(call, sender, key, request), name="hub-relayed")
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, call: str, sender: str, key: str, request: Mapping[str, Any]) -> None:
        answer: Mapping[str, Any]
        if self._serve is None:
            answer = {"failed": "unavailable"}  # not taking any yet: nothing ran
        else:
            try:
                answer = await self._serve({**request, "key": key})
            except Exception:
                log.exception("hub: a relayed command failed")
                answer = {"failed": "outcome_unknown"}  # it may have got as far as Redis
            self._stats.relayed_here += 1
        try:
            channel = self._keys.relay(sender)
            message = orjson.dumps({"re": call, "answer": answer})
            if isinstance(self._redis, RedisCluster):
                await self._redis.spublish(channel, message)
            else:
                await self._redis.publish(channel, message)
        except REDIS_ERRORS:
            log.warning("hub: a relayed command's answer couldn't be sent")

    async def close(self) -> None:
        """Stop running commands for others (their workers hear nothing: an unknown
        outcome, which their clients send again with the same client id)."""
        for task in self._running:
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        await self._publisher.close()
