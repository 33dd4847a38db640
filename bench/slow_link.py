"""The slow-link benchmark: how a slow link between one worker and Redis delays delivery.

    .venv/bin/python -m bench.slow_link [--latency-ms 100] [--rooms 4] [--members 4]
                                        [--seconds 20] [--interval 1.0] [--json]

Starts a fresh redis-server and two ``holdspace serve`` workers on free loopback ports:
worker 0 ("normal") talks to Redis directly, worker 1 ("slowed") through a relay in
this process that holds every chunk ``--latency-ms`` in each direction
(``bench/latency_relay.py``). Seeds rooms open now, each with a facilitator (on the
normal worker) and members split between the two workers; every member agrees to the
group's guidelines, chooses to share, and posts about once per ``--interval`` (at a
random phase, with some jitter) for ``--seconds`` after a warm-up. Each message
carries its send time and a unique id. Reports delivery latency by where sender and
receiver sit, what was lost, how long each worker took to acknowledge a post, and the
change in the workers' ``conflict`` counters from ``/metrics``. Stops everything it
started; touches no other Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.fanout import (
    LOADGEN_CORE,
    SERVER_CORE,
    Plan,
    Processes,
    _wait_ready,
    _wait_redis,
    free_port,
    pinned,
    seed,
)
from bench.latency_relay import LatencyRelay
from holdspace_client import Client, CommandError, ConnectionLost

NORMAL, SLOWED = "normal", "slowed"
WORKERS = (NORMAL, SLOWED)  # worker 0, worker 1
PAIRS = [f"{sender}->{receiver}" for sender in WORKERS for receiver in WORKERS]
WATCHED = ("conflict", "catch_ups", "relayed")  # /metrics counters whose change is reported
TAG, WARMUP_TAG = "slowlink", "warmup"  # the first word of each message
SETUP_SECONDS = 120.0  # bound on starting, seeding and joining
ACK_WAIT_SECONDS = 35.0  # bound on posts still unanswered when the run ends (above the
# client's own 30 s per command)


@dataclass
class Options:
    rooms: int = 4
    members: int = 4
    seconds: float = 20.0
    interval: float = 1.0
    latency_ms: float = 100.0
    warmup: float = 2.0
    grace: float = 5.0
    pin: bool = False
    seed: int | None = None


@dataclass
class Person:
    """One connection: a member (who posts and whose receipts count) or a facilitator."""

    client: Client
    room: int
    index: int  # 0: the room's facilitator; members from 1
    worker: int

    @property
    def where(self) -> str:
        return WORKERS[self.worker]

    @property
    def key(self) -> str:
        return f"r{self.room}m{self.index}"


@dataclass
class Post:
    sender: Person
    sent: float  # this process's monotonic clock
    acked: float | None = None
    error: str | None = None


@dataclass
class Run:
    people: list[Person] = field(default_factory=list)
    posts: dict[str, Post] = field(default_factory=dict)  # by message id (measured only)
    # message id -> receiving member's key -> latency in seconds
    received: dict[str, dict[str, float]] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)  # set on each receipt

    def members(self) -> list[Person]:
        return [p for p in self.people if p.index > 0]

    def receivers(self, sender: Person) -> list[Person]:
        return [p for p in self.members() if p.room == sender.room and p is not sender]

    def missing(self) -> int:
        """Deliveries of acknowledged messages that some member has not received yet."""
        return sum(
            1
            for msg, post in self.posts.items()
            if post.acked is not None
            for receiver in self.receivers(post.sender)
            if receiver.key not in self.received.get(msg, {})
        )


def worker_env(workdir: Path, redis_url: str, members: int) -> dict[str, str]:
    """As ``bench.fanout`` runs its workers: cheap password hashing, post limits raised
    (still checked on every post), the edge's per-address and per-account limits off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLDSPACE_")}
    env.update(
        HOLDSPACE_PASSWORD_PROFILE="test",
        HOLDSPACE_LOG_LEVEL="WARNING",
        HOLDSPACE_POST_BURST="1000",
        HOLDSPACE_POSTS_PER_MINUTE="1000000",
        HOLDSPACE_MAX_CAPACITY=str(max(16, members + 1)),
        HOLDSPACE_CONNECTIONS_PER_ADDRESS="0",
        HOLDSPACE_HANDSHAKE_BURST="0",
        HOLDSPACE_SOCKETS_PER_ACCOUNT="0",
        HOLDSPACE_DATA_DIR=str(workdir / "data"),
        HOLDSPACE_REDIS_URL=redis_url,
    )
    return env


def start_redis(procs: Processes, workdir: Path, pin: bool) -> int:
    """A fresh redis-server on a free port, nothing saved; returns its port once it
    listens."""
    port = free_port()
    argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
            "--appendonly", "no", "--dir", str(workdir)]  # fmt: skip
    try:
        redis = procs.start(pinned(SERVER_CORE, argv) if pin else argv, stdout=subprocess.DEVNULL)
    except FileNotFoundError:
        raise RuntimeError("redis-server is missing: run ./scripts/ensure-redis") from None
    _wait_redis(port, redis)
    return port


async def measure(options: Options, procs: Processes, workdir: Path) -> dict[str, Any]:
    redis_port = start_redis(procs, workdir, options.pin)
    direct = f"redis://127.0.0.1:{redis_port}/0"
    # Accounts and rooms open now, written with the server's own services; seed() counts
    # the facilitator among a room's members.
    rooms = await seed(
        worker_env(workdir, direct, options.members),
        Plan(rooms=options.rooms, members=options.members + 1, steps=[]),
    )
    relay = await LatencyRelay("127.0.0.1", redis_port, options.latency_ms / 1000).start()
    run = Run()
    urls: list[str] = []
    try:
        async with asyncio.timeout(SETUP_SECONDS):
            for worker, redis_url in enumerate([direct, f"redis://127.0.0.1:{relay.port}/0"]):
                port = free_port()
                argv = [sys.executable, "-m", "holdspace", "serve", "--port", str(port)]
                data = workdir / f"worker{worker}"
                procs.start(
                    pinned(SERVER_CORE, argv) if options.pin else argv,
                    log=workdir / f"worker{worker}.log",
                    env=worker_env(data, redis_url, options.members),
                )
                urls.append(f"http://127.0.0.1:{port}")
            for worker, url in enumerate(urls):
                try:
                    # In a thread: the relay, in this loop, carries worker 1's start-up.
                    await asyncio.to_thread(_wait_ready, url)
                except RuntimeError as error:
                    log = (workdir / f"worker{worker}.log").read_text()[-4000:]
                    raise RuntimeError(f"worker {worker}: {error}:\n{log}") from None
            before = await scrape(urls)
            await join_everyone(run, rooms, urls, options)
        started = time.monotonic()
        await post_and_collect(run, options)
        elapsed = time.monotonic() - started
        after = await scrape(urls)
        return results(run, options, elapsed, before, after, relay.connections)
    finally:
        for task in run.tasks:
            task.cancel()
        await asyncio.gather(*run.tasks, return_exceptions=True)
        await asyncio.gather(*(p.client.close() for p in run.people), return_exceptions=True)
        await asyncio.to_thread(procs.stop)  # worker 1 goes through the relay as it stops
        await relay.close()


async def join_everyone(
    run: Run, rooms: list[dict[str, Any]], urls: list[str], options: Options
) -> None:
    """Facilitators first (a room without one is paused), on the normal worker; then the
    members, alternately on each worker: join, agree to the guidelines, choose to share."""
    ws = [u.replace("http://", "ws://") + "/ws" for u in urls]

    async def enter(room: int, index: int, worker: int) -> None:
        token = rooms[room]["members"][index]
        person = Person(Client(ws[worker], token, reconnect=False), room, index, worker)
        run.people.append(person)
        await person.client.connect()
        snapshot = await person.client.join(rooms[room]["id"])
        if snapshot["type"] != "snapshot":
            raise RuntimeError(f"{person.key} could not join: {snapshot}")
        if index > 0:
            await person.client.agree()
            await person.client.set_mode("sharer")
        task = asyncio.create_task(read(run, person))
        run.tasks.add(task)

    await asyncio.gather(*(enter(r, 0, 0) for r in range(options.rooms)))
    await asyncio.gather(*(
        enter(r, m, (m - 1) % 2)
        for r in range(options.rooms)
        for m in range(1, options.members + 1)
    ))  # fmt: skip


async def read(run: Run, person: Person) -> None:
    """Take every event; note when each measured message reached a member."""
    async for event in person.client.events():
        if event.get("type") != "message":
            continue
        now = time.monotonic()
        words = str(event.get("text", "")).split()
        if person.index == 0 or len(words) != 3 or words[0] != TAG:
            continue
        msg, sent = words[1], float(words[2])
        if not msg.startswith(person.key + "n"):  # not its own
            run.received.setdefault(msg, {})[person.key] = now - sent
            run.arrived.set()


async def post_and_collect(run: Run, options: Options) -> None:
    rng = random.Random(options.seed)  # noqa: S311 (timing jitter, no secret)
    start = time.monotonic()
    measured_from = start + options.warmup
    stop = measured_from + options.seconds
    posting: set[asyncio.Task[None]] = set()

    async def member(person: Person, phase: float) -> None:
        due, n = start + phase, 0
        while due < stop:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            measured = due >= measured_from
            msg = f"{person.key}n{n}"
            task = asyncio.create_task(post(run, person, msg, measured))
            posting.add(task)
            n += 1
            due += options.interval * rng.uniform(0.9, 1.1)  # jitter: no lockstep

    await asyncio.gather(*(member(p, rng.uniform(0, options.interval)) for p in run.members()))
    if posting:
        await asyncio.wait(posting, timeout=ACK_WAIT_SECONDS)
    # Stragglers: wait, boundedly, until every acknowledged message reached every member.
    deadline = time.monotonic() + options.grace
    while run.missing() and (left := deadline - time.monotonic()) > 0:
        run.arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.arrived.wait(), left)


async def post(run: Run, person: Person, msg: str, measured: bool) -> None:
    sent = time.monotonic()
    record = Post(person, sent)
    if measured:
        run.posts[msg] = record
    text = f"{TAG if measured else WARMUP_TAG} {msg} {sent:.6f}"
    try:
        await person.client.post(text)
        record.acked = time.monotonic()
    except CommandError as error:
        record.error = error.code
    except (ConnectionLost, TimeoutError) as error:
        record.error = type(error).__name__


async def scrape(urls: list[str]) -> list[dict[str, float]]:
    """Each worker's counters whose name contains a watched word, by sample."""
    async with httpx.AsyncClient(timeout=10) as http:
        texts = [(await http.get(f"{url}/metrics")).text for url in urls]
    return [watched_counters(text) for text in texts]


def watched_counters(text: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if "}" in line:  # name{labels} value
            head, _, rest = line.rpartition("}")
            sample = head + "}"
        else:
            sample, _, rest = line.partition(" ")
        name = sample.split("{", 1)[0].strip()
        if any(word in name for word in WATCHED) and not name.endswith("_created"):
            with contextlib.suppress(ValueError, IndexError):
                found[sample.strip()] = float(rest.split()[0])
    return found


def summary(seconds: list[float]) -> dict[str, Any]:
    if not seconds:
        return {"count": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(seconds)

    def rank(q: float) -> float:  # nearest rank
        return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000, 1)

    return {"count": len(ordered), "p50_ms": rank(0.5), "p99_ms": rank(0.99),
            "max_ms": rank(1.0)}  # fmt: skip


def results(
    run: Run,
    options: Options,
    elapsed: float,
    before: list[dict[str, float]],
    after: list[dict[str, float]],
    relayed: int,
) -> dict[str, Any]:
    latency: dict[str, list[float]] = {pair: [] for pair in PAIRS}
    where = {p.key: p.where for p in run.people}
    for msg, receipts in run.received.items():
        post = run.posts.get(msg)
        if post is None:
            continue
        for receiver, seconds in receipts.items():
            latency[f"{post.sender.where}->{where[receiver]}"].append(seconds)
    acks: dict[str, list[float]] = {w: [] for w in WORKERS}
    for post in run.posts.values():
        if post.acked is not None:
            acks[post.sender.where].append(post.acked - post.sent)
    acknowledged = [m for m, p in run.posts.items() if p.acked is not None]
    expected = sum(len(run.receivers(run.posts[m].sender)) for m in acknowledged)
    lost_messages = sum(
        1
        for m in acknowledged
        if any(r.key not in run.received.get(m, {}) for r in run.receivers(run.posts[m].sender))
    )
    counters = {}
    for worker, (old, new) in zip(WORKERS, zip(before, after, strict=True), strict=True):
        counters[worker] = {k: new[k] - old.get(k, 0.0) for k in sorted(new)}
    per_worker = Counter(p.where for p in run.members())
    return {
        "rooms": options.rooms,
        "members": options.members,
        "members_per_worker": {w: per_worker[w] for w in WORKERS},
        "seconds": options.seconds,
        "interval": options.interval,
        "latency_ms": options.latency_ms,
        "pinned": options.pin,
        "elapsed_s": round(elapsed, 1),
        "relay_connections": relayed,
        "sent": len(run.posts),
        "acknowledged": len(acknowledged),
        "refused": dict(Counter(p.error for p in run.posts.values() if p.error is not None)),
        "delivery": {pair: summary(latency[pair]) for pair in PAIRS},
        "expected_deliveries": expected,
        "lost": run.missing(),
        "lost_messages": lost_messages,
        "ack": {w: summary(acks[w]) for w in WORKERS},
        "duplicates": sum(p.client.duplicates for p in run.people),
        "gaps": sum(p.client.gaps for p in run.people),
        "counters": counters,
    }


def report(result: dict[str, Any]) -> str:
    def row(label: str, s: dict[str, Any]) -> str:
        cells = [fmt(s[k]) for k in ("p50_ms", "p99_ms", "max_ms")]
        return f"| {label} | {s['count']} | " + " | ".join(cells) + " |"

    per = result["members_per_worker"]
    lines = [
        f"Slow link: worker 1's link to Redis +{result['latency_ms']:g} ms each way; "
        f"{result['rooms']} rooms x {result['members']} members ({per[NORMAL]} on the normal "
        f"worker, {per[SLOWED]} on the slowed one) + a facilitator each (normal worker); "
        f"a post per member every ~{result['interval']:g} s for {result['seconds']:g} s"
        + (f"; Redis and the workers pinned to core {SERVER_CORE}." if result["pinned"] else "."),
        "",
        "| sent on -> received on | count | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|",
        *(row(pair.replace("->", " -> "), result["delivery"][pair]) for pair in PAIRS),
        "",
        f"lost: {result['lost']} of {result['expected_deliveries']} deliveries "
        f"({result['lost_messages']} messages); {result['acknowledged']} of "
        f"{result['sent']} posts acknowledged"
        + (f", refused: {result['refused']}" if result["refused"] else "")
        + (f"; duplicates {result['duplicates']}" if result["duplicates"] else "")
        + (f"; gaps {result['gaps']}" if result["gaps"] else ""),
        "",
        "| acknowledgement (post -> reply) | count | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|",
        row("worker 0 (normal)", result["ack"][NORMAL]),
        row("worker 1 (slowed)", result["ack"][SLOWED]),
        "",
        "/metrics counters containing " + ", ".join(f'"{w}"' for w in WATCHED) + ", change:",
    ]
    for index, worker in enumerate(WORKERS):
        found = result["counters"][worker]
        changes = ", ".join(f"{k} +{v:g}" for k, v in found.items()) or "none exposed"
        lines.append(f"  worker {index} ({worker}): {changes}")
    return "\n".join(lines)


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--latency-ms", type=float, default=100.0,
        help="added to each direction of worker 1's link to Redis",
    )  # fmt: skip
    parser.add_argument("--rooms", type=int, default=4)
    parser.add_argument(
        "--members", type=int, default=4,
        help="per room, besides its facilitator; split between the workers",
    )  # fmt: skip
    parser.add_argument("--seconds", type=float, default=20.0, help="measured posting time")
    parser.add_argument("--interval", type=float, default=1.0, help="between a member's posts")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="posting first for this long, not measured"
    )
    parser.add_argument(
        "--grace", type=float, default=5.0, help="the longest wait for stragglers at the end"
    )
    parser.add_argument("--seed", type=int, default=None, help="for the posts' phase and jitter")
    parser.add_argument(
        "--pin",
        action="store_true",
        help=f"Redis and the workers on core {SERVER_CORE}, this process on core {LOADGEN_CORE}",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.rooms < 1 or args.members < 2:
        parser.error("needs at least one room and two members")
    if args.seconds <= 0 or args.interval <= 0 or args.latency_ms < 0:
        parser.error("--seconds and --interval must be positive, --latency-ms not negative")
    options = Options(rooms=args.rooms, members=args.members, seconds=args.seconds,
                      interval=args.interval, latency_ms=args.latency_ms, warmup=args.warmup,
                      grace=args.grace, pin=args.pin, seed=args.seed)  # fmt: skip
    if options.pin:
        with contextlib.suppress(AttributeError, OSError, ValueError):
            os.sched_setaffinity(0, {int(LOADGEN_CORE)})
    # Stopped from outside (a test's timeout, say): still stop what was started.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    procs = Processes()
    with tempfile.TemporaryDirectory(prefix="holdspace-slow-link-") as tmp:
        try:
            result = asyncio.run(measure(options, procs, Path(tmp)))
        except KeyboardInterrupt:
            print("interrupted; stopped what it started", file=sys.stderr)
            return 130
        finally:
            procs.stop()
    print(json.dumps(result, indent=2) if args.json else report(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
