"""What only a shared hub must do: several workers on one Redis, one room between them."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Sequence

import pytest
from redis.asyncio import Redis

from holdspace.core import commands as c
from holdspace.core.room import Transition, apply
from holdspace.core.state import RoomState
from holdspace.live.base import Delivery, Step
from holdspace.live.redis import HubTuning, RedisHub, following
from holdspace.live.redis.following import Channel
from holdspace.live.redis.keys import follower
from holdspace.live.redis.scripts import split_published
from holdspace.protocol import encode_event, encode_notice, encode_service
from tests.core.helpers import T0, config
from tests.hub.test_hub_contract import (
    KEY,
    command,
    expected_order,
    fresh,
    seat_facilitator,
    shape,
    with_notices,
)
from tests.redis_server import RedisServer

WIRE = (encode_event, encode_notice, encode_service)  # how a hub's frames are encoded


class Watcher:
    def __init__(self) -> None:
        self.got: list[Delivery] = []
        self.lost_track = asyncio.Event()
        self.alerts: list[str] = []
        self.changed = asyncio.Event()

    def deliver(self, batch: Sequence[Delivery]) -> None:
        self.got.extend(batch)
        self.changed.set()

    def lost(self) -> None:
        self.lost_track.set()

    def alert(self, frame: str) -> None:
        self.alerts.append(frame)

    async def hears(self, text: str) -> None:
        async with asyncio.timeout(10):
            while not any(text in d.frame for d in self.got):
                self.changed.clear()
                await self.changed.wait()

    async def until(self, count: int) -> list[int]:
        async with asyncio.timeout(10):
            while len(self.got) < count:
                self.changed.clear()
                await self.changed.wait()
        return [d.seq for d in self.got]


async def two_hubs(url: str, tuning: HubTuning) -> tuple[RedisHub, RedisHub]:
    """Two hubs, as two worker processes would have, on one keyspace of their own."""
    prefix = f"hs:w{secrets.token_hex(4)}:"
    a, b = [
        await RedisHub.open(
            url, encode_event, encode_notice, encode_service, prefix=prefix, tuning=tuning
        )
        for _ in range(2)
    ]
    return a, b


@pytest.fixture
async def workers(redis_server: RedisServer) -> AsyncIterator[tuple[RedisHub, RedisHub]]:
    hubs = await two_hubs(redis_server.url, HubTuning(probe_seconds=0.2, probe_timeout_seconds=1.0))
    yield hubs
    for hub in hubs:
        await hub.close()


async def test_two_workers_share_one_sequence(workers: tuple[RedisHub, RedisHub]) -> None:
    """Commands through either worker: both workers' subscribers get every event, in order."""
    a, b = workers
    on_a, on_b = Watcher(), Watcher()
    await a.subscribe(KEY, on_a)
    await b.subscribe(KEY, on_b)
    await seat_facilitator(a)
    await asyncio.gather(
        *((a if i % 2 else b).transact(KEY, command("fac", c.Post(f"m{i}"))) for i in range(40))
    )
    assert await on_a.until(42) == await on_b.until(42) == list(range(1, 43))
    assert [d.frame for d in on_a.got] == [d.frame for d in on_b.got]
    # Each worker counts only what its own commands published, and times every batch
    # from publishing to its own subscribers.
    assert a.stats.published + b.stats.published == 42
    assert a.stats.delivered == b.stats.delivered == 42
    for hub in (a, b):
        assert sum(hub.stats.latency) > 0
        assert 0 <= hub.stats.latency_sum < 10


async def test_an_answer_is_never_given_from_a_stale_state(
    workers: tuple[RedisHub, RedisHub],
) -> None:
    """A worker that remembers an old state must not refuse what the current one allows."""
    a, b = workers
    await seat_facilitator(a)
    await a.transact(KEY, command("fac", c.Post("A remembers the room as of now")))
    t = await b.transact(KEY, command("fac", c.Post("B adds a message A hasn't seen")))
    assert t is not None
    newest = t.events[-1].seq
    reacted = await a.transact(KEY, command("fac", c.React(newest, "heart")))
    assert reacted is not None
    assert reacted.error is None
    assert [ev.type for ev in reacted.events] == ["reaction"]


async def test_a_worker_steps_from_what_other_workers_wrote_without_a_conflict(
    workers: tuple[RedisHub, RedisHub], redis_server: RedisServer
) -> None:
    """Each step publishes the parts it wrote, and the other worker brings its copy of
    the state up to it: members on two workers taking turns in one room are written at
    the first try (a lost compare-and-set costs a round trip, long on a slow link).
    With a worker of an older version listening, steps go back to conflicting, and
    stay correct."""
    a, b = workers
    on_a, on_b = Watcher(), Watcher()
    await a.subscribe(KEY, on_a)
    await b.subscribe(KEY, on_b)
    await seat_facilitator(a)
    await b.transact(KEY, command("ana", c.Join("c2", "Ana", "member", agreed=True)))
    await b.transact(KEY, command("ana", c.SetMode("sharer")))
    await a.transact(KEY, command("fac", c.Post("fac remembers the room")))
    await on_b.hears("fac remembers the room")
    conflicts = a.stats.conflicts, b.stats.conflicts
    newest = 0
    for i in range(6):
        hub, who = (b, "ana") if i % 2 == 0 else (a, "fac")
        t = await hub.transact(KEY, post(who, f"turn {i}", cid=f"cid-{i}"))
        assert t is not None
        assert t.error is None
        newest = t.events[-1].seq
        for watcher in (on_a, on_b):
            await watcher.hears(f"turn {i}")  # each hears the step (and its parts) first
    react = await b.transact(KEY, command("ana", c.React(newest, "heart")))
    assert react is not None
    assert react.error is None
    assert (a.stats.conflicts, b.stats.conflicts) == conflicts
    await on_a.hears("heart")
    # What each remembers is exactly what Redis holds.
    for hub in (a, b):
        remembered = hub.states._cache[KEY].current()
        assert remembered.state == (await hub.states.read(hub.keys.state(KEY))).state

    # An older worker follows too (listed bare): the parts are no longer published, so
    # what b remembers falls behind, and the compare-and-set catches it.
    admin = Redis.from_url(redis_server.admin_url, decode_responses=True)
    older = admin.pubsub()
    try:
        await admin.sadd(a.keys.followers(KEY), "older-worker")
        await older.subscribe(a.keys.state(KEY))
        await a.transact(KEY, post("fac", "fac again"))
        await on_b.hears("fac again")
        t = await b.transact(KEY, post("ana", "ana again"))
        assert t is not None
        assert t.error is None
        assert b.stats.conflicts == conflicts[1] + 1
        await on_a.hears("ana again")
        assert [d.frame for d in on_a.got if d.to is None] == [
            d.frame for d in on_b.got if d.to is None
        ]
    finally:
        await older.aclose()  # type: ignore[no-untyped-call]
        await admin.aclose()


def post(actor: str, text: str, cid: str | None = None) -> Step:
    def step(state: RoomState) -> Transition:
        return apply(state, actor, c.Post(text), T0 + 1, cid)

    return step


async def test_losing_the_room_state_makes_subscribers_rejoin(
    workers: tuple[RedisHub, RedisHub], redis_server: RedisServer
) -> None:
    """If Redis loses a live session while a worker isn't listening, the worker can't prove
    its members have everything: it says so instead of going on as if nothing happened."""
    a, _ = workers
    watcher = Watcher()
    await a.subscribe(KEY, watcher)
    await a.transact(KEY, command("fac", c.Join("c1", "Fac", "facilitator")), fresh)
    await watcher.until(2)
    admin = Redis.from_url(redis_server.admin_url, decode_responses=True)
    try:
        keys = [k async for k in admin.scan_iter(match=f"{a.keys.prefix}*live:*")]
        assert keys
        await admin.delete(*keys)  # the data is gone...
        await admin.client_kill_filter(_type="pubsub")  # ...while the worker wasn't listening
    finally:
        await admin.aclose()
    async with asyncio.timeout(10):
        await watcher.lost_track.wait()
    assert not watcher.alerts  # a subscriber rebuilt at once is no outage to report
    assert a.stats.reconnects >= 1
    assert a.stats.resyncs >= 1


async def test_a_state_an_earlier_redis_wrote_gets_a_new_epoch(
    workers: tuple[RedisHub, RedisHub], redis_server: RedisServer
) -> None:
    """A session's hash names the Redis run that last wrote it. After a restart, a restore
    or a failover another run holds it, perhaps without its last writes, so the next step
    starts a new epoch rather than hand out seqs members may already have seen; every
    subscriber rejoins, and a position from the old epoch is never replayed."""
    a, b = workers
    on_a, on_b = Watcher(), Watcher()
    await a.subscribe(KEY, on_a)
    await b.subscribe(KEY, on_b)
    await seat_facilitator(a)
    await on_b.until(2)
    state_key = a.keys.state(KEY)
    admin = Redis.from_url(redis_server.admin_url, decode_responses=True)
    try:
        before = await admin.hgetall(state_key)
        assert before["run"] == (await admin.info("server"))["run_id"]
        await admin.hset(state_key, "run", "an-earlier-run")  # as a restored file would hold
        t = await b.transact(KEY, command("fac", c.Post("after the restore")))
        after = await admin.hgetall(state_key)
    finally:
        await admin.aclose()
    assert t is not None
    assert t.error is None
    assert after["epoch"] != before["epoch"]
    assert after["run"] == before["run"]
    assert int(after["seq"]) == int(before["seq"]) + 1  # seqs go on; only the epoch is new
    async with asyncio.timeout(10):
        await on_a.lost_track.wait()
        await on_b.lost_track.wait()
    assert await a.since(KEY, str(before["epoch"]), int(before["seq"])) is None
    assert await a.since(KEY, str(after["epoch"]), int(before["seq"])) is not None
    assert b.stats.renewed == 1
    # Written by this run now: the next step keeps the epoch.
    await a.transact(KEY, command("fac", c.Post("and again")))
    assert a.stats.renewed == 0


async def test_redis_holds_exactly_the_state_with_only_changed_parts_written(
    workers: tuple[RedisHub, RedisHub], redis_server: RedisServer
) -> None:
    """Steps write only the parts they change: after posts that overflow the message
    buffer, reactions, a redaction and a whisper, from both workers in turn, the hash
    decodes to exactly the state the same commands give in process, and holds no
    message the buffer let go of."""
    a, b = workers

    def small() -> RoomState:
        return RoomState(config=config(message_buffer=3), epoch="epoch-1")

    here = small()
    script: list[tuple[str, c.Command]] = [("fac", c.Join("c1", "Fac", "facilitator"))]
    script += [("fac", c.Post(f"note {n}")) for n in range(5)]
    script += [("fac", c.React(6, "heart")), ("fac", c.React(7, "me_too"))]
    script += [("fac", c.Redact(7)), ("fac", c.Whisper("a note to self")), ("fac", c.Post("six"))]
    for i, (actor, cmd) in enumerate(script):
        hub = a if i % 2 else b
        t = await hub.transact(KEY, command(actor, cmd), small)
        assert t is not None
        assert t.error is None, t.error
        expected = apply(here, actor, cmd, T0 + 1)
        assert [ev.seq for ev in t.events] == [ev.seq for ev in expected.events]
        stored = await a.states.read(a.keys.state(KEY))
        assert stored.state == here
    admin = Redis.from_url(redis_server.admin_url, decode_responses=True)
    try:
        fields = [str(f) for f in await admin.hkeys(a.keys.state(KEY))]
    finally:
        await admin.aclose()
    assert {f for f in fields if f.startswith("m:")} == {f"m:{s}" for s in here.messages}
    assert len(here.messages) == 3


async def test_every_key_of_a_session_expires_hours_after_its_end(
    workers: tuple[RedisHub, RedisHub], redis_server: RedisServer
) -> None:
    """A session's state and log expire six hours after its scheduled end, so a session
    nobody ends still goes: set when the session begins, and kept through steps that
    don't move it and through a log rewritten by a redaction. Its followers set goes
    then too, or a day after a worker last joined it, whichever is later."""
    a, b = workers
    expected = int((T0 + 90 * 60 + 6 * 3600) * 1000)  # config(): ends 90 minutes after T0
    admin = Redis.from_url(redis_server.admin_url, decode_responses=True)

    async def expiries() -> list[int]:
        return [int(await admin.pexpiretime(k)) for k in a.keys.session(KEY)]

    try:
        await seat_facilitator(a)
        assert (await expiries())[:2] == [expected, expected]
        joined = time.time()
        await b.subscribe(KEY, Watcher())  # a follower from the other worker
        await a.transact(KEY, command("fac", c.Post("one")))
        await b.transact(KEY, command("fac", c.Post("two")))
        await a.transact(KEY, command("fac", c.Redact(3)))  # the log is written afresh
        state, log, followers = await expiries()
        assert state == log == expected
        a_day_on = (joined + 24 * 3600) * 1000
        assert max(expected, a_day_on) <= followers <= max(expected, a_day_on + 60_000)
    finally:
        await admin.aclose()


async def _publishes(admin: Redis) -> int:
    stats = await admin.info("commandstats")
    return int(stats.get("cmdstat_publish", {}).get("calls", 0))


async def test_steps_publish_only_when_someone_else_may_be_listening(
    redis_server: RedisServer,
) -> None:
    """A worker hands its own events to its own subscribers, so with nobody else following
    a session its steps put nothing through pub/sub. Once another worker follows, they
    do; and a subscriber no worker registered (a worker of an older version) is never
    left out."""
    prefix = f"hs:w{secrets.token_hex(4)}:"
    quiet = HubTuning(probe_seconds=3600)  # no probes: they publish too
    a, b = [
        await RedisHub.open(
            redis_server.url,
            encode_event,
            encode_notice,
            encode_service,
            prefix=prefix,
            tuning=quiet,
        )
        for _ in range(2)
    ]
    admin = Redis.from_url(redis_server.admin_url, decode_responses=True)
    try:
        on_a, on_b = Watcher(), Watcher()
        await a.subscribe(KEY, on_a)
        await seat_facilitator(a)
        before = await _publishes(admin)
        for i in range(3):
            await a.transact(KEY, command("fac", c.Post(f"only A follows {i}")))
        assert await on_a.until(5) == [1, 2, 3, 4, 5]
        assert await _publishes(admin) == before

        await b.subscribe(KEY, on_b)
        await a.transact(KEY, command("fac", c.Post("B follows now")))
        await b.transact(KEY, command("fac", c.Post("and posts")))
        assert await on_b.until(2) == [6, 7]
        assert await on_a.until(7) == [1, 2, 3, 4, 5, 6, 7]
        assert await _publishes(admin) == before + 2

        await b.unsubscribe(KEY, on_b)
        await a.transact(KEY, command("fac", c.Post("A alone again")))
        assert await on_a.until(8) == list(range(1, 9))
        assert await _publishes(admin) == before + 2

        # A subscriber outside the followers set still hears every step.
        older = a._listener_client.pubsub()
        await older.subscribe(a.keys.state(KEY))
        async with asyncio.timeout(5):
            while (await older.get_message(timeout=1)) is None:
                pass  # the subscribe confirmation
        await a.transact(KEY, command("fac", c.Post("heard by an older worker")))
        async with asyncio.timeout(5):
            message = None
            while message is None:
                message = await older.get_message(timeout=1)
        assert "heard by an older worker" in message["data"]
        # ...as a batch alone: the parts the step wrote would be more than it can read.
        assert split_published(message["data"])[1] is None
        await older.aclose()  # type: ignore[no-untyped-call]

        # A worker that shuts down leaves the sessions it followed.
        await b.subscribe(KEY, on_b)
        followers = a.keys.followers(KEY)
        assert await admin.smembers(followers) == {follower(a.worker_id), follower(b.worker_id)}
        await b.close()
        assert await admin.smembers(followers) == {follower(a.worker_id)}
    finally:
        await admin.aclose()
        for hub in (a, b):
            await hub.close()


async def test_own_steps_answered_while_the_position_is_read_are_not_lost(
    redis_server: RedisServer,
) -> None:
    """The position read and a step's answer travel on different connections: the step
    can run after the read yet be answered first. Nothing is published (no one else
    follows), so the worker must find those events in the log once the position is known."""
    prefix = f"hs:w{secrets.token_hex(4)}:"
    a = await RedisHub.open(
        redis_server.url, encode_event, encode_notice, encode_service, prefix=prefix
    )
    try:
        await seat_facilitator(a)
        name = a.keys.state(KEY)
        epoch, last = await a._redis.hmget(name, ["epoch", "last"])  # the position, read...
        watcher = Watcher()
        ch = Channel(KEY, name, {watcher})
        a.following._channels[KEY], a.following._by_name[name] = ch, ch
        await a.transact(KEY, command("fac", c.Post("answered before the position")))
        assert watcher.got == []  # ...but known only now
        await a.following._positioned(ch, epoch, last)
        assert [d.seq for d in watcher.got] == [3]
    finally:
        await a.close()


@pytest.mark.parametrize("heard", [True, False])
async def test_an_own_step_after_anothers_waits_for_the_channel_not_the_log(
    workers: tuple[RedisHub, RedisHub],
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    heard: bool,
) -> None:
    """Worker A's step comes right after one of worker B's, and A's answer arrives before
    B's batch does (they travel apart). A's own batch waits for B's to come off the
    channel, then follows it — reading the log instead would cost a round trip. If B's
    never comes (lost on the way), A reads the log after a short wait."""
    monkeypatch.setattr(following, "OWN_WAIT_SECONDS", 0.3)
    a, b = workers
    await seat_facilitator(a)
    name = a.keys.state(KEY)
    epoch, last = await a._redis.hmget(name, ["epoch", "last"])
    watcher = Watcher()
    ch = Channel(KEY, name, {watcher}, last_id=str(last), epoch=str(epoch))  # A follows, by hand
    a.following._channels[KEY], a.following._by_name[name] = ch, ch
    admin = Redis.from_url(redis_server.admin_url, decode_responses=True)
    tap = admin.pubsub()  # hears what B publishes, for the test to hand A when it likes
    try:
        await tap.subscribe(name)
        await b.transact(KEY, command("fac", c.Post("B's step")))
        published = None
        async with asyncio.timeout(5):
            while published is None or published["type"] != "message":
                published = await tap.get_message(timeout=1)
        waiting = asyncio.Event()
        reached = a.following._reached

        async def noted(ch: Channel, entry: str) -> None:
            waiting.set()
            await reached(ch, entry)

        monkeypatch.setattr(a.following, "_reached", noted)
        own = asyncio.create_task(a.transact(KEY, command("fac", c.Post("A's step"))))
        await asyncio.wait_for(waiting.wait(), 5)  # A's answer is in; its batch waits for B's
        if heard:
            await a.following._route(published)
        await asyncio.wait_for(own, 5)
        frames = [d.frame for d in watcher.got]
        assert len(frames) == 2
        assert "B's step" in frames[0]
        assert "A's step" in frames[1]
        assert a.stats.catch_ups == (0 if heard else 1)
        assert not ch.waiters
    finally:
        await tap.aclose()  # type: ignore[no-untyped-call]
        await admin.aclose()


async def test_notices_keep_their_place_on_another_worker(
    workers: tuple[RedisHub, RedisHub],
) -> None:
    """A step on worker A: worker B's subscribers get its events and notices in the same
    order as A's own, each notice after the event it follows."""
    a, b = workers
    on_a, on_b = Watcher(), Watcher()
    await seat_facilitator(a)
    await a.subscribe(KEY, on_a)
    await b.subscribe(KEY, on_b)
    t = await a.transact(KEY, with_notices)
    assert t is not None
    await on_a.until(6)
    await on_b.until(6)
    assert shape(on_b.got) == shape(on_a.got) == expected_order(t.events[0].seq)
