"""The scale-out hub: live sessions in Redis, shared by every worker.

The rules stay in Python. A command reads the session's state, runs the pure
step on it, and writes the result back with one Lua script that checks the
version it read (optimistic compare-and-set), appends the step's events and
notices to the session's log and publishes them — all in one atomic step, so the
log order is the publish order. A conflict means another worker got there
first: the script hands back the newer state and the step runs again on it.

Keys (``P`` is the prefix; all of one session's keys carry its room's hash tag, so
the scripts touch one slot and run unchanged on Redis Cluster):

=================================  =======================================================
``P{room:<id>}:live:<starts>``     hash: ``v`` (version), the state's parts (``config``,
                                   ``core``, ``whispers``, ``m:<seq>`` per recent
                                   message: see :mod:`holdspace.core.codec`; a step
                                   rewrites only the parts it changed), ``epoch``,
                                   ``seq``, ``last`` (newest log entry id)
``P{room:<id>}:live:<starts>:log`` stream: one entry per event or notice — ``p`` (the
                                   previous entry's id: a chain that proves nothing is
                                   missing), ``s`` (seq), ``f`` (frame), ``t``
                                   (recipients of a notice, space-separated; empty for
                                   a room event), ``g`` (gate), ``x`` (final event)
``P{room:<id>}:live:<starts>``     pub/sub channel: ``<prev id>\\n<entry ids>\\n<JSON>``
``P{room:<id>}:live:<starts>:fol`` set: the workers following the session (see below)
``Plive``                          set: live session keys, for the ticker
``Pticker``                        string: the worker holding the tick lease
``Pworkers``                       sorted set: worker id -> last heartbeat (ms)
``Pprobe:<worker>``                pub/sub channel: the worker's end-to-end probe
=================================  =======================================================

Each worker subscribes only to sessions with local subscribers, and says so in the
session's ``fol`` set before reading where the log stands. A worker hands its own
events to its own subscribers when the script answers, so a step publishes only
when someone else may be listening: another worker in ``fol``, or a subscriber
that set doesn't account for (a worker of an older version). With one worker,
nothing goes through pub/sub at all. Each worker remembers the
last entry it delivered for each session, and catches up from the log whenever a
message's ``prev`` isn't that entry, after a reconnect, and when its periodic
probe finds it behind. When the log can't prove continuity it says so
(:meth:`Subscriber.lost`) rather than deliver a partial history.

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
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from holdspace.core import codec
from holdspace.core.events import SessionEnded
from holdspace.core.room import Transition
from holdspace.core.state import RoomState
from holdspace.errors import Unavailable
from holdspace.live.base import (
    Delivery,
    Encoder,
    HubStats,
    NoticeEncoder,
    ServiceEncoder,
    Step,
    Subscriber,
    merge,
)
from holdspace.live.pipelined import PipelinedScript

log = logging.getLogger("holdspace.hub")

# Write a step's result. KEYS: state, log, followers.
# ARGV: 1 expected version ("0": the session must not exist yet), 2 "1" if the step
# ends the session, 3 epoch, 4 seq, 5 what to publish after the ids (the batch as JSON:
# [epoch, [[s, f, t, g, x], ...]]), 6 max log entries, 7 max log age (ms),
# 8 expire-at (ms), 9 n entries, 10 r replaced, 11 h parts written, 12 d parts
# deleted, 13 the calling worker's id, then n x (s, f, t, g, x), r x (seq, frame),
# h x (part, JSON), d x part.
# Returns {1, new version, previous entry id, new entry ids...} or, on a version
# conflict, {0, version, the hash's fields and values...}.
_WRITE = """
local current = redis.call('HGET', KEYS[1], 'v') or '0'
if current ~= ARGV[1] then
  return {0, current, unpack(redis.call('HGETALL', KEYS[1]))}
end
local n, r = tonumber(ARGV[9]), tonumber(ARGV[10])
local at = 14 + n * 5
if r > 0 then
  -- Rewrite the log into a fresh key: an edited entry's old bytes must not linger.
  local new = {}
  for k = 0, r - 1 do new[ARGV[at + 2 * k]] = ARGV[at + 2 * k + 1] end
  local entries = redis.call('XRANGE', KEYS[2], '-', '+')
  redis.call('DEL', KEYS[2])
  for _, entry in ipairs(entries) do
    local f = entry[2]
    local m = {}
    for k = 1, #f, 2 do m[f[k]] = f[k + 1] end
    if m.t == '' and new[m.s] then m.f = new[m.s] end
    redis.call('XADD', KEYS[2], entry[1], 'p', m.p, 's', m.s, 'f', m.f, 't', m.t, 'g', m.g,
      'x', m.x)
  end
end
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local prev = redis.call('HGET', KEYS[1], 'last') or '0-0'
-- Ids grow from the session's own last id, not the stream's: the stream may have
-- been trimmed empty or rewritten, and an id must never repeat or go back.
local ms, sq = string.match(prev, '^(%d+)-(%d+)$')
ms, sq = tonumber(ms), tonumber(sq)
local last, ids = prev, {}
for k = 0, n - 1 do
  local i = 14 + k * 5
  if now_ms > ms then ms, sq = now_ms, 0 else sq = sq + 1 end
  last = string.format('%d-%d', ms, sq)
  redis.call('XADD', KEYS[2], last, 'p', ids[#ids] or prev, 's', ARGV[i], 'f', ARGV[i + 1],
    't', ARGV[i + 2], 'g', ARGV[i + 3], 'x', ARGV[i + 4])
  ids[#ids + 1] = last
end
if n > 0 then
  -- The caller delivers to its own subscribers: publish only if someone else listens.
  local listening = redis.call('PUBSUB', 'NUMSUB', KEYS[1])[2]
  local alone = listening == 0 or (listening == 1 and redis.call('SCARD', KEYS[3]) == 1
    and redis.call('SISMEMBER', KEYS[3], ARGV[13]) == 1)
  if not alone then
    redis.call('PUBLISH', KEYS[1], prev .. '\\n' .. table.concat(ids, ' ') .. '\\n' .. ARGV[5])
  end
end
if ARGV[2] == '1' then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
  return {1, '0', prev, unpack(ids)}
end
local version = tostring(tonumber(current) + 1)
local h, d = tonumber(ARGV[11]), tonumber(ARGV[12])
local parts = at + r * 2
local set = {'v', version, 'epoch', ARGV[3], 'seq', ARGV[4], 'last', last}
for k = parts, parts + h * 2 - 1 do set[#set + 1] = ARGV[k] end
redis.call('HSET', KEYS[1], unpack(set))
if d > 0 then
  redis.call('HDEL', KEYS[1], unpack(ARGV, parts + h * 2, parts + h * 2 + d - 1))
end
if n > 0 then
  redis.call('XTRIM', KEYS[2], 'MAXLEN', ARGV[6])
  redis.call('XTRIM', KEYS[2], 'MINID', tostring(now_ms - tonumber(ARGV[7])))
end
local expire = math.max(tonumber(ARGV[8]), now_ms + 3600000)
redis.call('PEXPIREAT', KEYS[1], expire)
redis.call('PEXPIREAT', KEYS[2], expire)
redis.call('PEXPIREAT', KEYS[3], expire)
return {1, version, prev, unpack(ids)}
"""

# Room events after a seq, for a resuming client. KEYS: state, log. ARGV: epoch, seq.
# Returns false when the log can't prove it has them all, else a flat list of
# (seq, frame, final) triples, newest first.
_SINCE = """
local st = redis.call('HMGET', KEYS[1], 'epoch', 'seq')
if not st[1] or st[1] ~= ARGV[1] then return false end
local have, want = tonumber(st[2]), tonumber(ARGV[2])
if want > have then return false end
local out = {}
if want == have then return out end
local oldest = nil
local upper = '+'
while true do
  local batch = redis.call('XREVRANGE', KEYS[2], upper, '-', 'COUNT', (have - want) * 2 + 16)
  if #batch == 0 then break end
  for _, entry in ipairs(batch) do
    local f = entry[2]
    local m = {}
    for k = 1, #f, 2 do m[f[k]] = f[k + 1] end
    if m.t == '' then
      local s = tonumber(m.s)
      if s <= want then return out end
      out[#out + 1] = m.s
      out[#out + 1] = m.f
      out[#out + 1] = m.x
      oldest = s
    end
    upper = '(' .. entry[1]
  end
end
if oldest == want + 1 then return out end
return false
"""

# Hold or renew the tick lease. KEYS: lease. ARGV: worker id, ttl ms. Returns 1 if held.
_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

# A followers set outlives a session that is never written to again by at most this.
FOLLOWERS_TTL_MS = 24 * 3600 * 1000

MAX_ATTEMPTS = 50  # compare-and-set retries before a command is refused as unavailable


class _Deaf(Exception):
    """The pub/sub connection stopped answering the probe."""


def _id(entry_id: str) -> tuple[int, int]:
    ms, _, n = entry_id.partition("-")
    return int(ms), int(n or 0)


def _delivery(s: str, f: str, t: str, g: str, x: str) -> Delivery:
    return Delivery(
        int(s),
        f,
        final=x == "1",
        to=frozenset(t.split()) if t else None,
        gate=None if g == "" else g == "1",
    )


@dataclass(slots=True)
class _Channel:
    """One session this worker follows: who here wants it, and how far it got."""

    key: str
    name: str
    subscribers: set[Subscriber] = field(default_factory=set)
    last_id: str | None = None  # None until the position is read after subscribing
    epoch: str | None = None
    early: list[str] = field(default_factory=list)  # messages before the position was known
    own_pending: bool = False  # our own steps answered before the position was known
    ready: asyncio.Future[None] | None = None


@dataclass(slots=True)
class _Stored:
    """A session's hash at ``version`` as far as a step needs it: the state it holds
    (None if there is no session) and the marks of the parts most steps change."""

    version: str
    state: RoomState | None
    core: str = ""
    whispers: tuple[int, str | None] = (0, None)

    @property
    def marks(self) -> tuple[str, tuple[int, str | None]]:
        return self.core, self.whispers


def _pairs(flat: Sequence[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _stored(version: str, fields: dict[str, str]) -> _Stored:
    if version == "0" or codec.CORE not in fields:
        return _Stored("0", None)
    state = codec.from_parts(fields)
    return _Stored(version, state, fields[codec.CORE], codec.whispers_mark(state))


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


class RedisHub:
    def __init__(
        self,
        client: Redis,
        writer: Redis,
        listener: Redis,
        encode: Encoder,
        encode_notice: NoticeEncoder,
        encode_service: ServiceEncoder,
        *,
        prefix: str = "hs:",
        tuning: HubTuning | None = None,
    ) -> None:
        """Use :meth:`open`. ``writer`` and ``listener`` are clients that never retry on
        their own: a step resent after its answer was lost would be applied twice, and
        every pub/sub disconnect must be seen (and caught up after)."""
        self._redis = client
        self._writer_client = writer
        self._listener_client = listener
        self._encode = encode
        self._encode_notice = encode_notice
        self._encode_service = encode_service  # what everyone is told in an outage, and after
        self._p = prefix
        self.tuning = tuning or HubTuning()
        self.worker_id = secrets.token_hex(4)
        self.stats = HubStats()
        self._write = PipelinedScript(writer, _WRITE, timeout=self.tuning.command_timeout_seconds)
        self._since = client.register_script(_SINCE)
        self._lease = client.register_script(_LEASE)
        # What this worker last wrote or read of each session: reused while still current.
        self._cache: dict[str, _Stored] = {}
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._channels: dict[str, _Channel] = {}  # by session key
        self._by_name: dict[str, _Channel] = {}  # by channel name
        self._pubsub: PubSub | None = None
        self._listening = False  # the pub/sub connection is up and subscribed
        self._deaf = False
        self._probe: tuple[str, asyncio.Future[None]] | None = None
        self._probe_ok = True
        self._outage = False  # subscribers were told of an outage
        self._tasks: list[asyncio.Task[None]] = []
        self._connected = asyncio.Event()
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
    ) -> RedisHub:
        """Connect, start listening, and return once the pub/sub connection is up."""
        tuning = tuning or HubTuning()
        timeout = tuning.command_timeout_seconds
        # A blocking pool: under load a command waits for a free connection instead of
        # failing outright when the pool is exhausted (redis-py's default raises).
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=64,
            timeout=timeout,
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
        client: Redis = Redis.from_pool(pool)  # owns the pool: closing the client closes it
        writer: Redis = Redis.from_pool(
            BlockingConnectionPool.from_url(
                url,
                max_connections=1,  # the script's own connection
                timeout=timeout,
                decode_responses=True,
                socket_timeout=None,  # each pipeline as a whole is bounded instead
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 0),
            )
        )
        listener: Redis = Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
        hub = cls(
            client, writer, listener, encode, encode_notice, encode_service,
            prefix=prefix, tuning=tuning,
        )  # fmt: skip
        try:
            await client.ping()
            await hub._start()
        except BaseException:
            await hub.close()
            raise
        return hub

    # -- keys -------------------------------------------------------------------

    def _state_key(self, key: str) -> str:
        room_id, _, starts = key.partition(":")
        return f"{self._p}{{room:{room_id}}}:live:{starts}"

    def _log_key(self, key: str) -> str:
        return self._state_key(key) + ":log"

    def _followers_key(self, key: str) -> str:
        return self._state_key(key) + ":fol"

    @property
    def _probe_channel(self) -> str:
        return f"{self._p}probe:{self.worker_id}"

    # -- commands ---------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _serial(self, key: str) -> AsyncIterator[None]:
        """One command per session at a time in this worker: the compare-and-set then
        only ever races other workers, not this one's own queue."""
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def transact(
        self, key: str, step: Step, create: Callable[[], RoomState] | None = None
    ) -> Transition | None:
        async with self._serial(key):
            try:
                return await self._transact(key, step, create)
            except RedisError as error:
                self._cache.pop(key, None)
                self.stats.errors += 1
                raise Unavailable("the live hub is out of reach") from error

    async def _transact(
        self, key: str, step: Step, create: Callable[[], RoomState] | None
    ) -> Transition | None:
        state_key = self._state_key(key)
        stored = self._cache.pop(key, None)  # the step may change its state: taken out
        fresh = stored is None  # read from Redis just now, not remembered from earlier
        if stored is None:
            stored = await self._read(state_key)
        for _ in range(MAX_ATTEMPTS):
            if stored.state is None:
                if create is None:
                    await self._redis.srem(self._p + "live", key)
                    return None
                state = create()
            else:
                state = stored.state
            before = list(state.messages)
            t = step(state)
            core = codec.core_json(state)
            whispers = codec.whispers_mark(state)
            quiet = not (t.events or t.notices or t.replaced or t.touched or t.ended)
            if quiet and stored.state is not None and (core, whispers) == stored.marks:
                # Nothing to write (a refusal, a read, a quiet tick): only an answer
                # computed on the current state counts, so a remembered one is checked.
                if fresh or str(await self._redis.hget(state_key, "v") or "0") == stored.version:
                    self._cache[key] = stored
                    return t
                stored, fresh = await self._read(state_key), True
                continue
            parts = self._changed(stored, state, core, whispers, before, t)
            result, batch = await self._write_step(key, stored.version, state, parts, t)
            if result[0] == 1:
                self.stats.published += len(t.events)
                if batch:
                    await self._deliver_own(key, state.epoch, result[2], result[3:], batch)
                if t.ended:
                    await self._redis.srem(self._p + "live", key)
                else:
                    self._cache[key] = _Stored(result[1], state, core, whispers)
                    if stored.state is None:
                        await self._redis.sadd(self._p + "live", key)
                return t
            stored, fresh = _stored(result[1], _pairs(result[2:])), True
        raise Unavailable("too many concurrent changes to one session")

    @staticmethod
    def _changed(
        stored: _Stored,
        state: RoomState,
        core: str,
        whispers: tuple[int, str | None],
        before: list[int],
        t: Transition,
    ) -> tuple[dict[str, str], list[str]]:
        """The parts a step changed, to write, and the messages it let go of, to delete."""
        if t.ended:
            return {}, []
        if stored.state is None:
            return codec.to_parts(state), []
        write: dict[str, str] = {}
        if core != stored.core:
            write[codec.CORE] = core
        if whispers != stored.whispers:
            write[codec.WHISPERS] = codec.whispers_json(state)
        messages = state.messages
        for seq in t.touched:
            if seq in messages:
                write[codec.message_part(seq)] = codec.message_json(messages[seq])
        gone = [codec.message_part(seq) for seq in before if seq not in messages]
        return write, gone

    async def _read(self, state_key: str) -> _Stored:
        fields: dict[str, str] = await self._redis.hgetall(state_key)  # type: ignore[assignment]
        return _stored(str(fields.get("v") or "0"), fields)

    async def _write_step(
        self,
        key: str,
        version: str,
        state: RoomState,
        parts: tuple[dict[str, str], list[str]],
        t: Transition,
    ) -> tuple[list[Any], list[Delivery]]:
        batch = [
            Delivery(ev.seq, self._encode(ev), final=isinstance(ev, SessionEnded))
            for ev in t.events
        ]
        if t.notices:
            batch = merge(batch, t.notices, self._encode_notice, state.seq)
        write, gone = parts
        rows = [
            (
                str(d.seq),
                d.frame,
                " ".join(sorted(d.to)) if d.to is not None else "",
                "" if d.gate is None else "1" if d.gate else "0",
                "1" if d.final else "",
            )
            for d in batch
        ]
        args: list[str | int | bytes] = [
            version,
            "1" if t.ended else "",
            state.epoch,
            state.seq,
            orjson.dumps([state.epoch, rows]),  # encoded here: cheaper than in the script
            self.tuning.log_size,
            int(self.tuning.log_seconds * 1000),
            int((state.config.ends_at + 6 * 3600) * 1000),
            len(batch),
            len(t.replaced),
            len(write),
            len(gone),
            self.worker_id,
        ]
        for row in rows:
            args += row
        for ev in t.replaced:
            args += [ev.seq, self._encode(ev)]
        for item in write.items():
            args += item
        args += gone
        keys = [self._state_key(key), self._log_key(key), self._followers_key(key)]
        result: list[Any] = await self._write(keys, args)
        return result, batch

    async def _deliver_own(
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
        if _id(ids[-1]) <= _id(ch.last_id):
            return
        if prev == ch.last_id and (ch.epoch is None or ch.epoch == epoch):
            ch.epoch, ch.last_id = epoch, ids[-1]
            self._deliver(ch, batch, ids[-1])
        else:
            await self._catch_up(ch)  # others' events came first, or a new epoch: read the log

    async def since(self, key: str, epoch: str, seq: int) -> list[Delivery] | None:
        try:
            found = await self._since(
                keys=[self._state_key(key), self._log_key(key)], args=[epoch, seq]
            )
        except RedisError as error:
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

    async def live_sessions(self) -> list[str]:
        """Every live session, if this worker holds the tick lease; none otherwise."""
        try:
            held = await self._lease(
                keys=[self._p + "ticker"],
                args=[self.worker_id, int(self.tuning.lease_seconds * 1000)],
            )
            if held != 1:
                return []
            return sorted(str(k) for k in await self._redis.smembers(self._p + "live"))
        except RedisError as error:
            self.stats.errors += 1
            raise Unavailable("the live hub is out of reach") from error

    async def live_workers(self) -> frozenset[str] | None:
        try:
            now_ms = int(time.time() * 1000)
            since = now_ms - int(self.tuning.worker_ttl_seconds * 1000)
            alive = await self._redis.zrangebyscore(self._p + "workers", since, "+inf")
        except RedisError as error:
            self.stats.errors += 1
            raise Unavailable("the live hub is out of reach") from error
        return frozenset(str(w) for w in alive) | {self.worker_id}

    @property
    def ready(self) -> bool:
        return self._listening and self._probe_ok and not self._deaf

    @property
    def followed(self) -> int:
        return len(self._channels)

    # -- subscriptions ----------------------------------------------------------

    async def subscribe(self, key: str, subscriber: Subscriber) -> None:
        ch = self._channels.get(key)
        if ch is not None:
            ch.subscribers.add(subscriber)
            if ch.ready is not None:
                await self._await_ready(ch, subscriber)
            return
        if not self._listening or self._pubsub is None:
            raise Unavailable("the live hub is reconnecting")
        ch = _Channel(key, self._state_key(key), {subscriber})
        ch.ready = asyncio.get_running_loop().create_future()
        self._channels[key] = ch
        self._by_name[ch.name] = ch
        try:
            await self._pubsub.subscribe(ch.name)
        except RedisError as error:
            await self.unsubscribe(key, subscriber)
            raise Unavailable("the live hub is reconnecting") from error
        await self._await_ready(ch, subscriber)

    async def _await_ready(self, ch: _Channel, subscriber: Subscriber) -> None:
        """Wait until the listener knows where this session's log stands."""
        assert ch.ready is not None
        try:
            async with asyncio.timeout(self.tuning.command_timeout_seconds):
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
        if ch.ready is not None and not ch.ready.done():
            ch.ready.cancel()
        if self._listening and self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.unsubscribe(ch.name)
        with contextlib.suppress(RedisError, OSError):
            # After unsubscribing: a step in between still publishes, to nobody.
            await self._redis.srem(self._followers_key(key), self.worker_id)

    # -- the listener -------------------------------------------------------------

    async def _start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="hub-listener"),
            asyncio.create_task(self._heartbeat(), name="hub-probe"),
        ]
        async with asyncio.timeout(self.tuning.command_timeout_seconds * 2):
            await self._connected.wait()

    async def _listen(self) -> None:
        """Own the pub/sub connection: (re)build it, catch up, then route messages."""
        pause = 0.05
        while not self._closing:
            try:
                await self._connect()
                pause = 0.05
                while not self._closing:
                    assert self._pubsub is not None
                    message = await self._pubsub.get_message(timeout=0.5)
                    if self._deaf:
                        raise _Deaf
                    if message is not None:
                        await self._route(message)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, _Deaf) as error:
                self._listening = False
                self.stats.reconnects += 1
                reason = "deaf" if isinstance(error, _Deaf) else type(error).__name__
                log.warning("hub subscriber lost", extra={"reason": reason})
                self._tell_all(self._encode_service(False), outage=True)
                await self._drop_pubsub()
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)
            except Exception:
                self._listening = False
                log.exception("hub listener failed")
                await self._drop_pubsub()
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)

    async def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _connect(self) -> None:
        pubsub = self._listener_client.pubsub()
        self._pubsub = pubsub
        self._deaf = False
        names = [self._probe_channel, *self._by_name]
        await pubsub.subscribe(*names)
        waiting, early = set(names), []
        async with asyncio.timeout(self.tuning.command_timeout_seconds):
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
        await self._beat()
        self._listening = True
        self._probe_ok = True
        self._connected.set()
        if self._outage:
            self._tell_all(self._encode_service(True), outage=False)
        log.info("hub subscriber ready", extra={"sessions": len(self._by_name)})

    async def _route(self, message: dict[str, Any]) -> None:
        kind, name = message["type"], message["channel"]
        if name == self._probe_channel:
            if kind == "message":
                await self._probed(message["data"])
            return
        ch = self._by_name.get(name)
        if ch is None:
            return
        if kind == "subscribe" and ch.last_id is None:
            await self._position(ch)
        elif kind == "message":
            if ch.last_id is None:
                ch.early.append(message["data"])
            else:
                await self._receive(ch, message["data"])

    async def _follow(self, ch: _Channel) -> None:
        """Join the session's followers, so other workers' steps publish to us. Nothing
        in the set is secret (worker ids); it goes with the session's other keys."""
        fol = self._followers_key(ch.key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(fol, self.worker_id)
            pipe.pexpire(fol, FOLLOWERS_TTL_MS)
            await pipe.execute()

    async def _position(self, ch: _Channel) -> None:
        """Where the session's log stands now that we're subscribed and following: every
        later step will be published to us after this point."""
        await self._follow(ch)
        epoch, last = await self._redis.hmget(ch.name, ["epoch", "last"])
        await self._positioned(ch, epoch, last)

    async def _positioned(
        self, ch: _Channel, epoch: str | bytes | None, last: str | bytes | None
    ) -> None:
        ch.epoch = None if epoch is None else str(epoch)
        ch.last_id = str(last or "0-0")
        early, ch.early = ch.early, []
        for data in early:
            await self._receive(ch, data)
        if ch.own_pending:
            ch.own_pending = False
            await self._catch_up(ch)  # whatever of ours came after the position
        if ch.ready is not None and not ch.ready.done():
            ch.ready.set_result(None)
        ch.ready = None

    async def _receive(self, ch: _Channel, data: str) -> None:
        assert ch.last_id is not None
        prev, ids_text, body = data.split("\n", 2)
        ids = ids_text.split(" ")
        if _id(ids[-1]) <= _id(ch.last_id):
            return  # caught up past it already
        epoch, rows = orjson.loads(body)
        if ch.epoch is not None and epoch != ch.epoch:
            self._lose(ch, epoch, ids[-1])
            return
        ch.epoch = epoch
        if prev != ch.last_id and _id(prev) > _id(ch.last_id):
            await self._catch_up(ch)  # a gap: something was published we didn't hear
            return
        last = _id(ch.last_id)
        batch = [_delivery(*row) for i, row in zip(ids, rows, strict=True) if _id(i) > last]
        ch.last_id = ids[-1]
        self._deliver(ch, batch, ids[-1])

    async def _catch_up(self, ch: _Channel, *, reconnected: bool = False) -> None:
        """Deliver, in order, whatever the log holds after the last entry we delivered."""
        assert ch.last_id is not None
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hmget(ch.name, ["epoch", "last"])
            pipe.xrange(self._log_key(ch.key), f"({ch.last_id}", "+")
            (epoch, last), entries = await pipe.execute()
        if epoch is None:
            if reconnected and ch.epoch is not None:
                self._lose(ch, None, "0-0")  # ended or lost while we weren't listening
            return
        if ch.epoch is not None and epoch != ch.epoch:
            self._lose(ch, epoch, last or "0-0")
            return
        ch.epoch = epoch
        if ch.last_id is None:
            return
        # The listener or a command may have delivered some of these while we read.
        entries = [(i, m) for i, m in entries if _id(i) > _id(ch.last_id)]
        if not entries:
            if last is not None and _id(last) > _id(ch.last_id):
                self._lose(ch, epoch, last)  # trimmed away under us
            return
        if entries[0][1].get("p") != ch.last_id:
            self._lose(ch, epoch, last or entries[-1][0])
            return
        log.info("hub caught up", extra={"entries": len(entries)})
        self.stats.catch_ups += 1
        ch.last_id = entries[-1][0]
        batch = [_delivery(m["s"], m["f"], m["t"], m["g"], m["x"]) for _, m in entries]
        self._deliver(ch, batch, ch.last_id)

    def _lose(self, ch: _Channel, epoch: str | None, last: str) -> None:
        log.warning("hub lost continuity", extra={"subscribers": len(ch.subscribers)})
        self.stats.resyncs += len(ch.subscribers)
        ch.epoch, ch.last_id = epoch, last
        for subscriber in list(ch.subscribers):
            subscriber.lost()

    def _deliver(self, ch: _Channel, batch: Sequence[Delivery], last_id: str) -> None:
        """Hand a batch to this worker's subscribers; ``last_id`` (the batch's last log
        entry, stamped with Redis's clock when published) gives the fan-out latency."""
        if batch:
            subscribers = list(ch.subscribers)
            for subscriber in subscribers:
                subscriber.deliver(batch)
            self.stats.delivered += len(batch) * len(subscribers)
            self.stats.observe(max(0.0, time.time() - _id(last_id)[0] / 1000))

    def _tell_all(self, frame: str, *, outage: bool) -> None:
        if self._outage == outage:
            return
        self._outage = outage
        for ch in self._channels.values():
            for subscriber in list(ch.subscribers):
                subscriber.alert(frame)

    # -- the probe ---------------------------------------------------------------

    async def _heartbeat(self) -> None:
        """Every few seconds: say this worker is alive, and send a probe through pub/sub
        to ourselves. A probe that doesn't come back means the subscriber is deaf."""
        while not self._closing:
            await asyncio.sleep(self.tuning.probe_seconds)
            if not self._listening:
                continue
            nonce = secrets.token_hex(8)
            arrived = asyncio.get_running_loop().create_future()
            self._probe = (nonce, arrived)
            try:
                async with asyncio.timeout(self.tuning.probe_timeout_seconds):
                    await self._beat()
                    await self._redis.publish(self._probe_channel, nonce)
                    await arrived
                self._probe_ok = True
            except (TimeoutError, RedisError, OSError):
                log.warning("hub probe failed")
                self._probe_ok = False
                self._deaf = True  # the listener rebuilds its connection
            finally:
                self._probe = None

    async def _beat(self) -> None:
        now_ms = int(time.time() * 1000)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self._p + "workers", {self.worker_id: now_ms})
            pipe.zremrangebyscore(self._p + "workers", 0, now_ms - 86_400_000)
            await pipe.execute()

    async def _probed(self, nonce: str) -> None:
        """Our probe came back. Everything published before it has reached us too; check
        no session moved on without us (a message lost on the way)."""
        if self._probe is not None and self._probe[0] == nonce and not self._probe[1].done():
            self._probe[1].set_result(None)
        channels = [ch for ch in self._by_name.values() if ch.last_id is not None]
        if not channels:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for ch in channels:
                pipe.hget(ch.name, "last")
            lasts = await pipe.execute()
        for ch, last in zip(channels, lasts, strict=True):
            if last is not None and ch.last_id is not None and _id(last) > _id(ch.last_id):
                await self._catch_up(ch)

    async def _unfollow_all(self) -> None:
        """Leave every followers set, so the workers that stay stop publishing to us (a
        worker that dies instead stays listed until its sessions end: harmless, it only
        costs publishes nobody reads)."""
        if self._channels:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in self._channels:
                    pipe.srem(self._followers_key(key), self.worker_id)
                await pipe.execute()

    async def close(self) -> None:
        """Stop listening and let go of Redis; each step is bounded, so a connection
        that died mid-read can't hold up a worker's shutdown."""
        self._closing = True
        for task in self._tasks:
            task.cancel()
        steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("tasks", lambda: asyncio.gather(*self._tasks, return_exceptions=True)),
            ("pubsub", self._drop_pubsub),
            ("unfollow", self._unfollow_all),
            ("deregister", lambda: self._redis.zrem(self._p + "workers", self.worker_id)),
            ("writes", self._write.close),
            ("client", self._redis.aclose),
            ("writer", self._writer_client.aclose),
            ("listener", self._listener_client.aclose),
        ]
        for name, step in steps:
            try:
                async with asyncio.timeout(2):
                    await step()
            except TimeoutError:
                log.warning("hub close step timed out", extra={"step": name})
            except (RedisError, OSError):
                pass
        self._tasks = []
        self._channels.clear()
        self._by_name.clear()
