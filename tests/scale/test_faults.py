"""Faults in a real two-worker deployment: Redis restarts, deaf subscribers, slow readers,
and what Redis still holds after a session ends."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import time
from pathlib import Path

import httpx
import pytest
import websockets
from redis.asyncio import Redis

from holdspace_client import Client, CommandError
from tests.cluster import Cluster
from tests.processes import eventually
from tests.redis_cluster import RedisClusterSetup
from tests.redis_server import RedisServer, everything_in
from tests.scale.test_workers import assert_one_history, is_, refused, seated, two_in_a_room

pytestmark = pytest.mark.integration


async def post_when_back(client: Client, text: str, timeout: float = 15.0) -> int:
    """Post, retrying while the service says it is unavailable (and only then)."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                return await client.post(text)
            except CommandError as error:
                if error.code != "unavailable":
                    raise
            await asyncio.sleep(0.1)


def view(client: Client) -> list[tuple[int, str]]:
    """The messages a member's client holds, as (id, text): its latest snapshot's (a
    resync replaces all before it), then each that arrived after."""
    snap = client.snapshot
    assert snap is not None
    held = [(m["id"], m["text"]) for m in snap["messages"]]
    later = [e for e in client.since_snapshot if e["type"] == "message"]
    return held + [(e["seq"], e["text"]) for e in later]


async def holds(client: Client, texts: list[str], timeout: float = 15.0) -> None:
    """Until the member's view is exactly ``texts``, in order (each once)."""

    def done() -> bool:
        return [text for _, text in view(client)] == texts

    try:
        await eventually(done, timeout)
    except TimeoutError:
        raise AssertionError(f"{[t for _, t in view(client)]} is not {texts}") from None


async def readiness(worker_url: str) -> int:
    async with httpx.AsyncClient() as http:
        return (await http.get(f"{worker_url}/readyz", timeout=10)).status_code


async def until_readiness(worker_url: str, status: int, timeout: float) -> float:
    """Seconds until ``/readyz`` answers ``status``."""
    started = time.monotonic()

    async def answered() -> bool:
        return await readiness(worker_url) == status

    await eventually(answered, timeout)
    return time.monotonic() - started


async def test_a_redis_restart_loses_nothing_acknowledged(
    cluster: Cluster, own_redis: RedisServer
) -> None:
    """Redis goes down mid-session and comes back: senders are told, members are told,
    and every message that was acknowledged is still there, in order, for everyone."""
    robin, kim, _ = await two_in_a_room(cluster)
    acked = [await robin.post(f"before {i}") for i in range(3)]
    acked.append(await kim.post("mine, before"))

    own_redis.halt()
    # Refused: either it never left the worker, or it left just as Redis died and no answer
    # came (the worker can't tell whether it ran). It didn't: see the end of the test.
    assert await refused(robin, "post", text="into the outage") in (
        "unavailable", "outcome_unknown",
    )  # fmt: skip
    for member in (robin, kim):
        await member.wait_for(is_("service", available=False), timeout=10)
    assert await readiness(cluster.workers[1].url) == 503
    async with httpx.AsyncClient() as http:
        me = await http.get(
            f"{cluster.workers[0].url}/api/auth/me",
            headers={"authorization": f"Bearer {cluster.tokens['kim']}"},
        )
    assert me.status_code == 503
    assert me.json()["error"]["code"] == "unavailable"
    # Arriving meanwhile: a cookie handshake is answered 503, and a token sent in the
    # first frame gets close 1013; both mean "come back shortly", and nothing is logged
    # as a server failure.
    token = cluster.tokens["kim"]
    with pytest.raises(websockets.InvalidStatus) as turned_away:
        await websockets.connect(
            cluster.workers[0].ws_url, additional_headers={"Cookie": f"holdspace_session={token}"}
        )
    assert turned_away.value.response.status_code == 503
    async with websockets.connect(cluster.workers[1].ws_url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1013

    epoch = kim.epoch
    own_redis.start()
    for member in (robin, kim):
        await member.wait_for(is_("service", available=True), timeout=20)
    # The first step after the restart starts a new epoch (this Redis can't prove it kept
    # every write): each member is sent to rejoin once and gets a resync, which holds all
    # that was said, each message once, in order.
    after = await post_when_back(robin, "after the restart")
    mine = await post_when_back(kim, "mine, after")
    said = ["before 0", "before 1", "before 2", "mine, before", "after the restart", "mine, after"]
    for member in (robin, kim):
        await holds(member, said)
        assert member.epoch != epoch
        assert member.reconnects >= 1  # the new epoch; an unchecked sign-in may add one
    assert [i for i, _ in view(kim)][-6:] == [*acked, after, mine]
    assert robin.duplicates == kim.duplicates == robin.gaps == kim.gaps == 0
    for worker in cluster.workers:
        assert "Exception in ASGI application" not in worker.log()
    assert "into the outage" not in json.dumps(kim.history)


async def test_redis_back_from_an_older_file_never_hands_out_a_seq_twice(
    cluster: Cluster, own_redis: RedisServer, tmp_path: Path
) -> None:
    """Redis restarts from an append-only file taken earlier in the session: the messages
    written after it are gone from Redis, and members had seen them. New events must not
    take their seqs under the same epoch — a member who had seen them would skip the new
    ones without a sign. Everyone gets a resync under a new epoch instead, and a member
    away meanwhile who resumes from a position Redis no longer holds gets one too."""
    robin, kim, _ = await two_in_a_room(cluster)
    kept = [f"kept {i}" for i in range(3)]
    for text in kept:
        await robin.post(text)
    backup = tmp_path / "backup"
    shutil.copytree(own_redis.aof_dir, backup)  # fsynced on every write: a true backup
    lost = [await robin.post(f"lost {i}") for i in range(3)]
    for member in (robin, kim):
        await member.wait_for(is_("message", seq=lost[-1]), timeout=10)
    epoch, position = kim.epoch, kim.seq
    await kim.go_offline()

    own_redis.crash()
    shutil.rmtree(own_redis.aof_dir)
    shutil.copytree(backup, own_redis.aof_dir)
    own_redis.start()
    # Robin's worker finds the log behind what it had delivered and sends Robin to rejoin.
    new = [await post_when_back(robin, f"new {i}") for i in range(3)]
    assert new[0] <= lost[-1]  # the seqs members saw are handed out again: the hazard
    await holds(robin, [*kept, "new 0", "new 1", "new 2"])
    assert robin.epoch != epoch

    kim.go_online()
    resumed = await kim.wait_for("_resumed", timeout=20)
    assert resumed["via"] == "resync"  # not a replay from a position Redis never held
    await holds(kim, [*kept, "new 0", "new 1", "new 2"])
    assert kim.epoch == robin.epoch != epoch
    assert kim.seq >= new[-1]
    assert position == lost[-1]
    assert "hub: a new epoch for a session an earlier Redis wrote" in cluster.logs()


async def kill_subscribers(redis: RedisServer | RedisClusterSetup) -> int:
    """`CLIENT KILL TYPE pubsub` on the server, or on every primary of a cluster."""
    nodes = await redis.primaries() if isinstance(redis, RedisClusterSetup) else [redis]
    killed = 0
    for node in nodes:
        async with Redis.from_url(node.admin_url, decode_responses=True) as admin:
            killed += await admin.client_kill_filter(_type="pubsub")
    return killed


@pytest.mark.parametrize("cluster", ["redis", "redis-cluster"], indirect=True)
async def test_a_killed_subscription_is_rebuilt_and_caught_up(cluster: Cluster) -> None:
    """`CLIENT KILL` of every pub/sub connection while messages flow: each worker rebuilds
    its subscriber and catches up from the log; no one misses or repeats an event, and
    — nothing having been lost — nobody is told of trouble, and both workers stay ready.
    (On a cluster: every connection to every shard.)"""
    robin, kim, _ = await two_in_a_room(cluster)
    readiness_seen: set[int] = set()

    async def watch_readiness() -> None:
        while True:
            for worker in cluster.workers:
                readiness_seen.add(await readiness(worker.url))

    watching = asyncio.create_task(watch_readiness())
    try:

        async def send_all() -> list[int]:
            return list(await asyncio.gather(*[robin.post(f"cut {i}") for i in range(20)]))

        sending = asyncio.create_task(send_all())
        await asyncio.sleep(0)  # let the first posts go out
        killed = await kill_subscribers(cluster.redis)
        posted = await sending

        def untroubled_until_the_last(event: dict[str, object]) -> bool:
            assert event["type"] != "service", event
            return is_("message", seq=max(posted))(event)  # type: ignore[no-any-return]

        for member in (robin, kim):
            await member.wait_for(untroubled_until_the_last, timeout=15)
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
    assert killed >= 2  # one subscriber per worker (on a cluster, one per shard each)
    assert_one_history([robin, kim], max(posted))
    # Written by the workers as they notice: it may land after the last message did.
    await eventually(lambda: "hub subscriber lost" in cluster.logs(), timeout=10)
    assert readiness_seen == {200}


async def test_a_frozen_redis_is_seen_within_seconds_and_refused_at_once(
    cluster: Cluster, own_redis: RedisServer
) -> None:
    """Redis freezes (connections open, nothing answers): within the documented bound
    (1.5 × HOLDSPACE_REDIS_STALL_SECONDS, 2.25 s by default) members hear `service`, the
    worker reports not-ready, and a post is refused at once rather than left waiting.
    Once Redis thaws, members hear it is back and what they send goes through."""
    robin, kim, _ = await two_in_a_room(cluster)
    before = await robin.post("before the freeze")
    own_redis.pause()
    try:
        started = time.monotonic()
        for member in (robin, kim):
            await member.wait_for(is_("service", available=False), timeout=10)
        heard = time.monotonic() - started
        took = await until_readiness(cluster.workers[1].url, 503, timeout=10)
        sent = time.monotonic()
        assert await refused(robin, "post", text="into the freeze") == "unavailable"
        answered = time.monotonic() - sent
    finally:
        own_redis.unpause()
    assert heard < 1.5 * 1.5 + 1  # the bound, and a second for two busy processes
    assert took < 1.5 * 1.5 + 1
    assert answered < 0.5  # not queued behind the freeze
    for member in (robin, kim):
        await member.wait_for(is_("service", available=True), timeout=10)
    await until_readiness(cluster.workers[1].url, 200, timeout=30)
    await until_readiness(cluster.workers[0].url, 200, timeout=30)
    after = await post_when_back(robin, "after the thaw")
    for member in (robin, kim):
        await member.wait_for(is_("message", seq=after), timeout=10)
    assert_one_history([robin, kim], after)
    assert before < after
    assert "into the freeze" not in json.dumps(kim.history)
    assert "redis is not answering" in cluster.logs()


def _server_sockets(port: int) -> set[int]:
    """Remote ports of the TCP connections the kernel still holds on local ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, remote = line.split()[1:3]
            if int(local.rsplit(":", 1)[1], 16) == port:
                found.add(int(remote.rsplit(":", 1)[1], 16))
    return found


async def test_a_member_who_stops_reading_is_cut_off_and_released(
    tmp_path: Path, own_redis: RedisServer
) -> None:
    """A member's device stops reading. The room goes on at full speed for everyone
    else; the stalled connection is closed as too slow and its socket really released."""
    cluster = Cluster(
        tmp_path,
        own_redis,
        send_queue_frames="50",
        send_queue_bytes=str(64 * 1024),
        tcp_user_timeout_seconds="10",
        socket_send_buffer_bytes=str(64 * 1024),
    )
    await cluster.start(1)
    try:
        room, ids = await seated(cluster)
        robin = await cluster.client("robin", 0)
        await robin.join(room)
        kim = await cluster.client("kim", 0)
        await kim.join(room)

        # Lee's phone: a tiny receive buffer, and it stops reading after joining.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", cluster.workers[0].port))
        lee_port = sock.getsockname()[1]
        lee = await websockets.connect(cluster.workers[0].ws_url, sock=sock, compression=None)
        await lee.send(json.dumps({"type": "auth", "token": cluster.tokens["lee"]}))
        await lee.recv()
        await lee.send(json.dumps({"type": "join", "id": 1, "room": room}))
        assert json.loads(await lee.recv())["type"] == "snapshot"
        await robin.wait_for(
            lambda e: e["type"] == "joined" and e["participant"]["user_id"] == ids["lee"]
        )
        lee.transport.pause_reading()

        # Post long shares until the server gives up on Lee: once the kernel's and the
        # transport's buffers are full its sends block, and its queue fills behind them.
        text = "A long share, the kind people need room for. " * 40
        started = time.monotonic()
        last = sent = 0
        while '"close_code": 4008' not in cluster.logs():
            assert sent < 2000, "the stalled connection was never cut off"
            last = await robin.post(f"{sent} {text}")
            sent += 1
        acked = time.monotonic()
        await kim.wait_for(is_("message", seq=last), timeout=30)
        lag = time.monotonic() - acked
        assert lag < 2.0  # Kim keeps up: nobody waits for Lee
        await robin.wait_for(is_("away", user_id=ids["lee"]), timeout=30)
        print(f"cut off after {sent} posts in {acked - started:.2f} s; Kim's lag {lag:.3f} s")

        # TCP_USER_TIMEOUT lets the kernel let go of the socket and its buffers.
        await eventually(lambda: lee_port not in _server_sockets(cluster.workers[0].port), 30)
        async with httpx.AsyncClient() as http:
            health = (await http.get(f"{cluster.workers[0].url}/healthz")).json()
        assert health["connections"] == 2  # Robin and Kim
        assert kim.duplicates == kim.gaps == 0
        lee.transport.abort()
    finally:
        await cluster.close()


async def test_nothing_said_stays_in_redis_after_the_session(tmp_path: Path) -> None:
    """While a session runs its words live in Redis; once it ends, no key, no value and —
    after a rewrite — no byte of the append-only file holds them."""
    redis_server = RedisServer("--aof-use-rdb-preamble", "no", appendonly=True)
    cluster = Cluster(tmp_path, redis_server)
    redis = Redis.from_url(redis_server.admin_url, decode_responses=True)
    secret, whispered = "SENTINEL-shared-in-the-room", "SENTINEL-whispered"
    try:
        await cluster.start(2)
        robin, kim, _ = await two_in_a_room(cluster)
        await kim.post(f"{secret} — this stays here")
        await kim.request("whisper", text=f"{whispered}, for the facilitator")
        taken_back = await kim.post("SENTINEL-taken-back")
        await robin.request("redact", message=taken_back)
        await kim.wait_for(is_("redacted", message=taken_back), timeout=10)
        live = await everything_in(redis)
        assert secret in live  # the scan can see words while the session holds them
        assert "SENTINEL-taken-back" not in live  # a redaction rewrites the log too

        await robin.request("end_session")
        await kim.wait_for("session_ended", timeout=10)
        assert "SENTINEL" not in await everything_in(redis)

        await redis.bgrewriteaof()
        async with asyncio.timeout(30):
            while True:
                info = await redis.info("persistence")
                if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
                    break
                await asyncio.sleep(0.1)
        files = list(redis_server.dir.rglob("*.aof"))
        assert files
        for path in files:
            assert b"SENTINEL" not in path.read_bytes(), path.name
        assert "SENTINEL" not in cluster.logs()
    finally:
        await redis.aclose()
        await cluster.close()
        redis_server.stop()
