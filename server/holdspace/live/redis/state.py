"""Sessions' state in Redis: a step read, run and written back by compare-and-set.

The rules stay in Python. A command reads the session's hash, runs the pure step
on it, and writes the result with ``write.lua``, which checks the version it read,
appends the step's events and notices to the log and publishes them — one atomic
step, so the log order is the publish order. A conflict means another worker got
there first: the script hands back the newer state and the step runs again on it.

Only the parts a step changed are written (see :mod:`.codec`). What changed is
derived, not declared by the step: the core part and the whispers by their
encoding, and messages as the message buffer noted them being written or dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from holdspace.core.events import SessionEnded
from holdspace.core.room import Transition
from holdspace.core.state import RoomState
from holdspace.errors import OutcomeUnknown, Unavailable
from holdspace.live.base import (
    Delivery,
    Encoder,
    HubStats,
    NoticeEncoder,
    Step,
    merge,
    new_epoch,
    relayed_outcome,
)
from holdspace.live.redis import codec
from holdspace.live.redis.keys import Keys, follower
from holdspace.live.redis.listing import Listing
from holdspace.live.redis.pipelined import AnswerLost
from holdspace.live.redis.scripts import WRITE, StepParts, due_ms, row, write_args
from holdspace.live.redis.sharded import script_calls
from holdspace.redis_connect import REDIS_ERRORS, Client

log = logging.getLogger("holdspace.hub")

MAX_ATTEMPTS = 50  # compare-and-set retries before a command is refused as unavailable
HEARD_KEPT = 64  # other workers' steps kept for one of this worker's under way
ENDED = "0"  # the version a step that ends the session leaves

# After a write: hand the step's batch to this worker's subscribers (session key,
# epoch, the log entry before the batch, the batch's entry ids, the batch).
OwnDelivery = Callable[[str, str, str, Sequence[str], list[Delivery]], Awaitable[None]]
# A step written: its epoch, the script's answer, its batch, whether it ended the session.
Written = tuple[str, list[Any], list[Delivery], asyncio.Future[None] | None]


@dataclass(slots=True)
class Stored:
    """A session's hash at ``version`` as far as a step needs it: the state it holds
    (None if there is no session) and the marks of the parts most steps change. Parts
    other workers' steps wrote since ``state`` was decoded wait in ``pending`` (None for
    one deleted), and are decoded only when a step here needs the state."""

    version: str
    state: RoomState | None
    core: str = ""
    whispers: tuple[int, str | None] = (0, None)
    pending: dict[str, str | None] = field(default_factory=dict)

    def current(self) -> Stored:
        """This, with the parts other workers wrote applied to its state."""
        if not self.pending or self.state is None:
            return self
        written = {name: text for name, text in self.pending.items() if text is not None}
        deleted = [name for name, text in self.pending.items() if text is None]
        state = codec.advance(self.state, written, deleted)
        return Stored(self.version, state, self.core, codec.whispers_mark(state))


def _advance(current: Stored, published: str) -> str | None:
    """Bring ``current`` up to a step another worker published, if it is the very next
    one (versions never repeat, so the same version is the same state); returns the
    version it is now at, or None if the step wasn't the next."""
    if published[: published.find(" ")] != current.version or current.state is None:
        return None
    step = StepParts.parse(published)
    if step.after == ENDED:
        return ENDED  # left as it was: the caller forgets it, or its compare-and-set fails
    current.version = step.after
    current.core = step.parts.get(codec.CORE, current.core)
    current.pending.update(step.parts)
    current.pending.update(dict.fromkeys(step.deleted))
    return step.after


def _pairs(flat: Sequence[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def stored(version: str, fields: dict[str, str]) -> Stored:
    if version == "0" or codec.CORE not in fields:
        return Stored("0", None)
    state = codec.from_parts(fields)
    return Stored(version, state, fields[codec.CORE], codec.whispers_mark(state))


def changed_parts(
    before: Stored,
    state: RoomState,
    core: str,
    whispers: tuple[int, str | None],
    t: Transition,
) -> tuple[dict[str, str], list[str]]:
    """The parts a step changed, to write, and the messages it let go of, to delete (the
    message buffer noted both while the step ran)."""
    written, dropped = state.messages.changes()
    kept, forgotten = state.receipts.changes()
    if t.ended:
        return {}, []
    if before.state is None:
        return codec.to_parts(state), []
    write: dict[str, str] = {}
    if core != before.core:
        write[codec.CORE] = core
    if whispers != before.whispers:
        write[codec.WHISPERS] = codec.whispers_json(state)
    messages = state.messages
    for seq in written:
        write[codec.message_part(seq)] = codec.message_json(messages[seq])
    for key in kept:
        write[codec.receipt_part(key)] = codec.receipt_json(state, state.receipts[key])
    gone = [codec.message_part(seq) for seq in dropped]
    return write, gone + [codec.receipt_part(key) for key in forgotten]


@dataclass(frozen=True, slots=True)
class Limits:
    log_size: int
    log_ms: int
    timeout: float
    replicas: int = 0  # replicas that must have a step before it is answered (WAIT)


class SessionStates:
    """Runs steps against sessions' state in Redis, for one worker."""

    def __init__(
        self,
        client: Client,
        writer: Client,
        keys: Keys,
        worker_id: str,
        encode: Encoder,
        encode_notice: NoticeEncoder,
        limits: Limits,
        stats: HubStats,
    ) -> None:
        """``writer`` is a client of its own that never retries: a step resent after its
        answer was lost would be applied twice."""
        self._redis = client
        self._keys = keys
        self._worker_id = worker_id
        self._encode = encode
        self._encode_notice = encode_notice
        self._limits = limits
        self._stats = stats
        self._write = script_calls(
            writer, WRITE, timeout=limits.timeout, replicas=limits.replicas, run_id=True
        )
        # What this worker last wrote or read of each session: reused while still current.
        self._cache: dict[str, Stored] = {}
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        # Other workers' steps heard while one of this worker's was under way, for it to
        # bring the state it read (or is answered) up to: see :meth:`heard`.
        self._heard_meanwhile: dict[str, list[str]] = {}
        self.listing = Listing(client, keys, stats)
        self._redis_ok = True  # as the health check last found it

    def redis_answers(self, ok: bool) -> None:
        """What the health check found: while Redis is stalled, steps are refused at once
        and the calls already waiting on it fail now (see :mod:`.health`)."""
        self._redis_ok = ok
        if not ok:
            self._write.abandon("Redis is not answering")

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
                self._heard_meanwhile.pop(key, None)
            else:
                self._locks[key] = (lock, users - 1)

    async def transact(
        self,
        key: str,
        step: Step,
        create: Callable[[], RoomState] | None,
        deliver_own: OwnDelivery,
    ) -> Transition | None:
        t, _ = await self._run(key, step, create, deliver_own)
        return t

    async def tick(
        self, key: str, step: Step, now: float, deliver_own: OwnDelivery
    ) -> Transition | None:
        """The ticker's step on a session that was due (or under review): run like any
        other, then the session's entry in the due index set to the deadline it leaves.
        Steps only ever move an entry earlier (``ZADD LT``), and the one this overwrites
        may have come from a step written since this one: so if the session's version
        has moved on by the time the entry is set, it is made due at once, to be looked
        at again (Redis Cluster keeps the index and the session on different nodes, so
        the two can't be one script)."""
        t, version = await self._run(key, step, None, deliver_own)
        deadline = None if t is None or t.ended else t.deadline
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                if deadline is None:
                    pipe.zrem(self._keys.due, key)
                else:
                    pipe.zadd(self._keys.due, {key: due_ms(deadline)})
                pipe.hget(self._keys.session(key)[0], "v")
                _, now_version = await pipe.execute()
            if deadline is not None and str(now_version or "0") != version:
                await self._redis.zadd(self._keys.due, {key: due_ms(now)}, lt=True)
        except REDIS_ERRORS as error:
            self._stats.errors += 1
            raise Unavailable("the live hub is out of reach") from error
        self._stats.ticked += 1
        return t

    async def _run(
        self,
        key: str,
        step: Step,
        create: Callable[[], RoomState] | None,
        deliver_own: OwnDelivery,
    ) -> tuple[Transition | None, str]:
        """A step, and the version of the session it found (if it wrote nothing) or wrote."""
        if not self._redis_ok:
            raise Unavailable("Redis is not answering")
        async with self._serial(key):
            try:
                if not self._redis_ok:  # it stalled while this step waited its turn
                    raise Unavailable("Redis is not answering")
                t, written, version = await self._transact(key, step, create)
            except AnswerLost as error:
                self._cache.pop(key, None)
                self._stats.errors += 1
                raise OutcomeUnknown("the live hub's answer was lost") from error
            except REDIS_ERRORS as error:
                self._cache.pop(key, None)
                self._stats.errors += 1
                raise Unavailable("the live hub is out of reach") from error
        # Handed over once the session's next step may go: delivering may have to read
        # the log first (a round trip on a slow link), and the next step need not wait
        # for that — following puts every batch in its place by the log's own order.
        if written is not None:
            await self._after_write(key, *written, deliver_own)
        return t, version

    async def relayed(
        self, key: str, ask: Callable[[], Awaitable[Mapping[str, Any]]]
    ) -> Transition:
        """A step run by another worker (see :mod:`.relay`): sent in its turn among this
        worker's steps of the session (once those before it are written), and not
        waited for by those after it — the worker that runs it takes them in the order
        they were sent."""
        if not self._redis_ok:
            raise Unavailable("Redis is not answering")
        async with self._serial(key):
            if not self._redis_ok:
                raise Unavailable("Redis is not answering")
            answer = ask()
        return relayed_outcome(await answer)

    async def _transact(
        self, key: str, step: Step, create: Callable[[], RoomState] | None
    ) -> tuple[Transition | None, Written | None, str]:
        state_key = self._keys.session(key)[0]
        current = self._cache.pop(key, None)  # the step may change its state: taken out
        fresh = current is None  # read from Redis just now, not remembered from earlier
        renew = False  # the state was written by an earlier Redis: start a new epoch
        if current is None:
            current = self._up_to_date(key, await self.read(state_key))
        current = current.current()
        for _ in range(MAX_ATTEMPTS):
            if current.state is None:
                if create is None:
                    await self._unlist(key)
                    return None, None, "0"
                state = create()
            else:
                state = current.state
                if renew:
                    state.epoch = new_epoch()
            state.messages.track()
            state.receipts.track()
            t = step(state)
            core = codec.core_json(state)
            whispers = codec.whispers_mark(state)
            parts = changed_parts(current, state, core, whispers, t)
            quiet = not (t.events or t.notices or t.replaced or t.ended or parts[0] or parts[1])
            if quiet and current.state is not None:
                # Nothing to write (a refusal, a read, a quiet tick): only an answer
                # computed on the current state counts, so a remembered one is checked.
                if fresh or str(await self._redis.hget(state_key, "v") or "0") == current.version:
                    self._cache[key] = current
                    return t, None, current.version
                current, fresh = self._up_to_date(key, await self.read(state_key)).current(), True
                continue
            result, batch = await self._write_step(
                key, current.version, state, parts, t, renew=renew
            )
            if result[0] == 1:
                self._stats.published += len(t.events)
                if not t.ended:
                    self._cache[key] = self._up_to_date(
                        key, Stored(result[1], state, core, whispers)
                    )
                listed = None  # the ticker's set and index, written in the background
                if t.ended:
                    listed = self.listing.ended(key)
                elif t.deadline is not None and current.state is None:
                    listed = self.listing.begun(key, t.deadline)
                elif t.deadline is not None and t.sooner:
                    listed = self.listing.sooner(key, t.deadline)
                return t, (state.epoch, result, batch, listed), str(result[1])
            if result[0] == 2 and not renew:
                # Redis restarted, was restored or failed over since this session was
                # last written, and may have come back without its last writes: the
                # seqs members saw after them would be handed out again. A new epoch
                # makes every member resume from what Redis still holds (a resync).
                renew = True
                self._stats.renewed += 1
                log.warning("hub: a new epoch for a session an earlier Redis wrote")
            if result[0] == 0:
                self._stats.conflicts += 1
            current = self._up_to_date(key, stored(result[1], _pairs(result[2:]))).current()
            fresh = True
        raise Unavailable("too many concurrent changes to one session")

    def heard(self, key: str, published: str) -> None:
        """Another worker wrote a step of this session, and published the parts it wrote:
        bring what this worker remembers of the session up to that step, so its next
        step here is written at the first try instead of losing the compare-and-set to
        it (a round trip more, which a slow link to Redis makes long). While a step of
        the session is under way here, it is also kept for that step: the state it is
        answered with (or writes) may be just before it."""
        if key in self._locks:
            meanwhile = self._heard_meanwhile.setdefault(key, [])
            if len(meanwhile) < HEARD_KEPT:
                meanwhile.append(published)
        cached = self._cache.get(key)
        if cached is not None and _advance(cached, published) == ENDED:
            del self._cache[key]

    def _up_to_date(self, key: str, current: Stored) -> Stored:
        """``current`` with the steps heard meanwhile that follow it (a step heard at any
        other version is an earlier one, or this worker's own, and is passed over)."""
        for published in self._heard_meanwhile.get(key, ()):
            _advance(current, published)
        return current

    async def _after_write(
        self,
        key: str,
        epoch: str,
        result: list[Any],
        batch: list[Delivery],
        listed: asyncio.Future[None] | None,
        deliver_own: OwnDelivery,
    ) -> None:
        """What follows a step that was written: the step stands whatever happens here, so
        a failure is logged and made good later, never reported as the command's (a batch
        not handed over is caught up by the probe; the ticker's index is written again)."""
        try:
            if batch:
                await deliver_own(key, epoch, result[2], result[3:], batch)
        except REDIS_ERRORS:
            self._stats.errors += 1
            log.warning("hub: after a written step", exc_info=True)
        if listed is not None:
            await asyncio.shield(listed)

    async def _unlist(self, key: str) -> None:
        """The session is over: out of the ticker's set and its index."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.srem(self._keys.live, key)
            pipe.zrem(self._keys.due, key)
            await pipe.execute()

    async def read(self, state_key: str) -> Stored:
        fields: dict[str, str] = await self._redis.hgetall(state_key)  # type: ignore[assignment]
        return stored(str(fields.get("v") or "0"), fields)

    async def _write_step(
        self,
        key: str,
        version: str,
        state: RoomState,
        parts: tuple[dict[str, str], list[str]],
        t: Transition,
        *,
        renew: bool,
    ) -> tuple[list[Any], list[Delivery]]:
        batch = [
            Delivery(ev.seq, self._encode(ev), final=isinstance(ev, SessionEnded))
            for ev in t.events
        ]
        if t.notices:
            batch = merge(batch, t.notices, self._encode_notice, state.seq)
        rows = [row(d) for d in batch]
        written, deleted = parts
        args = write_args(
            version=version,
            ends=t.ended,
            epoch=state.epoch,
            seq=state.seq,
            published=orjson.dumps([state.epoch, rows]),  # encoded here: cheaper than in Lua
            log_size=self._limits.log_size,
            log_ms=self._limits.log_ms,
            expire_at_ms=int((state.config.ends_at + 6 * 3600) * 1000),
            follower=follower(self._worker_id),
            renew=renew,
            rows=rows,
            replaced=[(ev.seq, self._encode(ev)) for ev in t.replaced],
            written=written,
            deleted=deleted,
        )
        result: list[Any] = await self._write(self._keys.session(key), args)
        return result, batch

    async def close(self) -> None:
        await self.listing.close()
        await self._write.close()
