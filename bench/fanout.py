"""The fan-out benchmark: R rooms x M members, every message to the other members of
its room, run against each target with the same load generator.

    .venv/bin/python -m bench.fanout [--quick] [--targets embedded,redis-w1,...]

For each target it starts a fresh redis-server and the target's server process(es)
pinned to core 0 and the load generator (``bench/loadgen``) pinned to core 1, waits
for the machine to be quiet, seeds accounts and rooms with the server's own services,
measures memory per idle joined connection, ramps the offered rate until p99 delivery
latency passes the limit or anything is lost, measures resume latency, and stops
everything it started. Results go to stdout and to ``bench/results/<date>.md``.

The peers (``bench/peers``: python-socketio with its Redis manager, Node socket.io
with the Redis adapter) run the same fan-out over socket.io's protocol, driven by
the same load generator; they have no accounts (rooms are just names) and nothing
to resume. The report ends with Holdspace's (Redis, W=1) max sustainable rate over
each peer's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import plots

HERE = Path(__file__).parent
ROOT = HERE.parent
LOADGEN = HERE / "loadgen" / "loadgen.mjs"
PEERS = HERE / "peers"
RESULTS = HERE / "results"
CHARTS = ROOT / "docs" / "performance"  # the charts of each run written, for the docs
SERVER_CORE, LOADGEN_CORE = "0", "1"
PASSWORD = "bench password, not secret"
P99_LIMIT_MS = 50.0


@dataclass
class Target:
    name: str
    redis: bool
    workers: int
    peer: str | None = None  # a socket.io peer ("python" or "node"); None: Holdspace
    shards: int = 0  # on a Redis Cluster of this many primaries (0: one Redis)


TARGETS = {
    "embedded": Target("Holdspace, embedded", redis=False, workers=1),
    "redis-w1": Target("Holdspace, Redis, W=1", redis=True, workers=1),
    "redis-w2": Target("Holdspace, Redis, W=2", redis=True, workers=2),
    "cluster-w1": Target("Holdspace, Redis Cluster (3 shards), W=1", redis=True, workers=1,
                         shards=3),
    "python-socketio": Target("python-socketio, Redis manager", redis=True, workers=1,
                              peer="python"),
    "socketio-node": Target("socket.io (Node), Redis adapter", redis=True, workers=1,
                            peer="node"),
}  # fmt: skip
# The report's last lines: Holdspace on Redis with one worker against each peer.
BASELINE = "redis-w1"
# Rates every target is offered in the ramp, whose CPU per delivery the summary compares.
FIXED_RATES = (6000, 12000)
DEFAULT_BODY_CHARS = 100
DEFAULT_ROOMS = 200
RATIOS = {"python-socketio": "ratio_vs_python_socketio", "socketio-node": "ratio_vs_socketio_node"}


@dataclass
class Plan:
    rooms: int
    members: int
    steps: list[dict[str, float]]
    resume_missed: int = 300
    resume_trials: int = 20
    stalled: int = 0  # members (one per room, from the first) that stop reading
    body_chars: int = 100  # each message's text, padded to this length (the limit: 2,000)
    # Everyone joined and nobody speaking: the servers' CPU over this long (long enough
    # to take in the edge's sign-in checks, every 15 s by default).
    idle_seconds: float = 32.0
    repeats: int = 1  # every target run this many times, interleaved


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def pinned(core: str, argv: Sequence[str]) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", core, *argv] if taskset else list(argv)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def steal_seconds() -> float:
    """CPU time the hypervisor took from this machine's cores so far (all cores): on a
    shared machine, how much of a step's time the servers never had."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()
    return int(fields[8]) / os.sysconf("SC_CLK_TCK") if len(fields) > 8 else 0.0


def _version(argv: Sequence[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "absent"
    return out.split("\n")[0].strip() or "absent"


def machine() -> dict[str, str]:
    """What a run ran on. Figures from different days and machines differ by more than
    most changes do (on a shared host, the same server has taken twice the CPU per
    delivery from one day to the next): each result names its machine, and only the
    ratios within one run are compared."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
         if line.startswith("model name")),
        platform.processor() or "unknown",
    )  # fmt: skip
    commit = _version(["git", "-C", str(ROOT), "describe", "--always", "--dirty"])
    redis = _version(["redis-server", "--version"])
    return {
        "cpu": f"{model}, {os.cpu_count()} cores",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": _version(["node", "--version"]),
        "redis": redis.split(" v=")[1].split(" ")[0] if " v=" in redis else redis,
        "commit": commit,
    }


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def wait_quiet(threshold: float = 0.15, timeout: float = 30.0) -> float:
    """Wait until the machine's load settles (both cores mostly idle); return the idle share."""
    deadline = time.monotonic() + timeout
    idle = 0.0
    while time.monotonic() < deadline:
        a = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        time.sleep(0.5)
        b = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        delta = [y - x for x, y in zip(a, b, strict=True)]
        idle = (delta[3] + delta[4]) / max(1, sum(delta))
        if 1 - idle < threshold:
            break
    return idle


@dataclass
class Processes:
    """The processes a run started (and their log files), stopped in reverse order."""

    started: list[subprocess.Popen[bytes]] = field(default_factory=list)
    files: list[Any] = field(default_factory=list)
    redis_pids: list[int] = field(default_factory=list)
    redis_ports: list[int] = field(default_factory=list)  # to read each node's ops from

    def start(
        self, argv: list[str], log: Path | None = None, **kwargs: Any
    ) -> subprocess.Popen[bytes]:
        if log is not None:
            handle = log.open("wb")
            self.files.append(handle)
            kwargs.update(stdout=subprocess.DEVNULL, stderr=handle)
        process = subprocess.Popen(argv, **kwargs)
        self.started.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self.started):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(self.started):
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self.started.clear()
        for handle in self.files:
            handle.close()
        self.files.clear()


@contextlib.contextmanager
def holdspace(
    target: Target, workdir: Path, plan: Plan
) -> Iterator[tuple[list[str], list[int], list[dict[str, Any]], list[int], list[int]]]:
    """The target's processes; yields its base URLs, server pids, seeded rooms, every
    pid on the server core (servers and Redis) and the Redis nodes' ports."""
    procs = Processes()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLDSPACE_")}
    env.update(
        HOLDSPACE_PASSWORD_PROFILE="test",  # hashing is not what is measured
        HOLDSPACE_LOG_LEVEL="WARNING",
        HOLDSPACE_POST_BURST="1000",  # the limits are checked on every post, set high
        HOLDSPACE_POSTS_PER_MINUTE="1000000",
        HOLDSPACE_MAX_CAPACITY="16",
        # Every member connects from this one address: the edge's per-address limits off
        # (each account holds one socket, within the per-account limit, as in the field).
        HOLDSPACE_CONNECTIONS_PER_ADDRESS="0",
        HOLDSPACE_HANDSHAKE_BURST="0",
        HOLDSPACE_DATA_DIR=str(workdir / "data"),
    )
    try:
        if target.shards:
            env["HOLDSPACE_REDIS_URL"] = start_redis_cluster(procs, workdir, target.shards)
        elif target.redis:
            env["HOLDSPACE_REDIS_URL"] = start_redis(procs, workdir)
        holdspace_cli = [sys.executable, "-m", "holdspace"]
        rooms = asyncio.run(seed(env, plan))
        urls, pids = [], []
        for _ in range(target.workers):
            port = free_port()
            worker = procs.start(
                pinned(SERVER_CORE, [*holdspace_cli, "serve", "--port", str(port)]),
                log=workdir / f"w{port}.log", env=env,
            )  # fmt: skip
            urls.append(f"http://127.0.0.1:{port}")
            pids.append(worker.pid)
        for url in urls:
            _wait_ready(url)
        yield urls, pids, rooms, core_pids(procs, pids), procs.redis_ports
    finally:
        procs.stop()


def start_redis_cluster(procs: Processes, workdir: Path, shards: int) -> str:
    """A fresh Redis Cluster of ``shards`` primaries (no replicas: what is measured is
    how the work spreads), on core 0, nothing saved; returns its URL once it is up."""
    ports = []
    for _ in range(shards):
        port = free_port()
        node_dir = workdir / f"redis-{port}"
        node_dir.mkdir()
        node = procs.start(
            pinned(SERVER_CORE, ["redis-server", "--bind", "127.0.0.1", "--port", str(port),
                                 "--save", "", "--appendonly", "no", "--dir", str(node_dir),
                                 "--cluster-enabled", "yes", "--cluster-port", str(free_port())]),
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_redis(port, node)
        procs.redis_pids.append(node.pid)
        ports.append(port)
    subprocess.run(
        ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
         "--cluster-replicas", "0", "--cluster-yes"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not all("cluster_state:ok" in _redis_cli(p, "cluster", "info") for p in ports):
        if time.monotonic() > deadline:
            raise RuntimeError("the Redis Cluster did not settle")
        time.sleep(0.1)
    procs.redis_ports += ports
    return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports)


def _redis_cli(port: int, *args: str) -> str:
    return subprocess.run(
        ["redis-cli", "-p", str(port), *args], capture_output=True, text=True, check=False
    ).stdout


def commands_processed(ports: list[int]) -> list[int]:
    """Each Redis node's count of commands run so far (``INFO stats``)."""
    counts = []
    for port in ports:
        stats = _redis_cli(port, "info", "stats")
        found = [ln for ln in stats.splitlines() if ln.startswith("total_commands_processed:")]
        counts.append(int(found[0].split(":")[1]) if found else 0)
    return counts


def start_redis(procs: Processes, workdir: Path) -> str:
    """A fresh redis-server on core 0, nothing saved; returns its URL once it listens."""
    port = free_port()
    redis = procs.start(
        pinned(SERVER_CORE, ["redis-server", "--bind", "127.0.0.1", "--port", str(port),
                             "--save", "", "--appendonly", "no", "--dir", str(workdir)]),
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    _wait_redis(port, redis)
    procs.redis_pids.append(redis.pid)
    procs.redis_ports.append(port)
    return f"redis://127.0.0.1:{port}/0"


def core_pids(procs: Processes, servers: list[int]) -> list[int]:
    return servers + procs.redis_pids


@contextlib.contextmanager
def peer(
    target: Target, workdir: Path, plan: Plan
) -> Iterator[tuple[list[str], list[int], list[dict[str, Any]], list[int], list[int]]]:
    """A socket.io peer's process and its Redis; yields its base URL, pid, rooms (names
    only: the peers have no accounts, so the members' tokens are placeholders), the
    pids on the server core and Redis's port."""
    procs = Processes()
    try:
        env = dict(os.environ)
        env["REDIS_URL"] = start_redis(procs, workdir)
        port = free_port()
        env["PORT"] = str(port)
        if target.peer == "python":
            argv = [sys.executable, str(PEERS / "socketio_py.py"), str(port)]
            hint = "is python-socketio installed? `make bench` installs the bench extra"
        elif target.peer == "node":
            argv = ["node", str(PEERS / "node" / "server.mjs")]
            hint = "are its packages installed? `npm ci --prefix bench/peers/node`"
        else:
            raise ValueError(f"unknown peer: {target.peer}")
        log = workdir / f"{target.peer}-peer.log"
        server = procs.start(pinned(SERVER_CORE, argv), log=log, env=env)
        try:
            _wait_listening(port, server, target.name)
        except RuntimeError as error:
            raise RuntimeError(f"{error} ({hint}):\n{log.read_text()}") from None
        rooms = [
            {"id": f"r{r}", "members": [f"r{r}m{m}" for m in range(plan.members)]}
            for r in range(plan.rooms)
        ]
        yield (
            [f"http://127.0.0.1:{port}"], [server.pid], rooms,
            core_pids(procs, [server.pid]), procs.redis_ports,
        )  # fmt: skip
    finally:
        procs.stop()


def _wait_redis(port: int, process: subprocess.Popen[bytes]) -> None:
    _wait_listening(port, process, "redis-server", timeout=15)


def _wait_listening(
    port: int, process: subprocess.Popen[bytes], what: str, timeout: float = 30
) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start")


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready")


async def seed(env: dict[str, str], plan: Plan) -> list[dict[str, Any]]:
    """Accounts and rooms open now, written with the server's own services before it
    starts (the HTTP API would throttle thousands of sign-ups from one address)."""
    from holdspace.accounts import Accounts
    from holdspace.auth.passwords import PasswordService
    from holdspace.clock import SystemClock
    from holdspace.rooms import Rooms
    from holdspace.settings import Settings
    from holdspace.storage.base import Store
    from holdspace.storage.redis import RedisStore
    from holdspace.storage.sqlite import SQLiteStore

    settings = Settings.from_env(env)
    store: Store
    if settings.redis_url:
        store = await RedisStore.open(settings.redis_url)
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = await SQLiteStore.open(settings.database_path)
    passwords = PasswordService("test", max_concurrency=4)
    clock = SystemClock()
    try:
        accounts = Accounts(store, passwords, clock, token_ttl_seconds=86400)
        rooms_service = Rooms(store, clock, settings)
        start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
        schedule = {
            "timezone": "UTC",
            "one_off": [{"start": start.strftime("%Y-%m-%dT%H:%M"), "duration_minutes": 240}],
        }
        rooms = []
        for r in range(plan.rooms):
            # Each room its own facilitator, as a real community has: no account holds a
            # socket in every room.
            fac = await accounts.create(f"fac{r}", PASSWORD, f"Facilitator {r}", "facilitator")
            _, fac_token = await accounts.login(fac.username, PASSWORD, "127.0.0.1")
            room = await rooms_service.create(
                fac, {"name": f"Room {r}", "capacity": plan.members, "schedule": schedule}
            )
            tokens = [fac_token]
            for m in range(1, plan.members):
                user = await accounts.create(f"m{r}x{m}", PASSWORD, f"M{m}", "member")
                await store.enrol(room.id, user.id, clock.now())
                _, token = await accounts.login(user.username, PASSWORD, "127.0.0.1")
                tokens.append(token)
            rooms.append({"id": room.id, "members": tokens})
        return rooms
    finally:
        await store.close()
        passwords.close()


def run_target(key: str, plan: Plan) -> dict[str, Any]:
    target = TARGETS[key]
    servers = peer if target.peer else holdspace
    with (
        tempfile.TemporaryDirectory(prefix="holdspace-bench-") as tmp,
        servers(target, Path(tmp), plan) as (urls, pids, rooms, on_core, redis_ports),
    ):
        plan_file = Path(tmp) / "plan.json"
        if target.peer:
            spoken: dict[str, Any] = {"protocol": "socket.io", "urls": urls, "resume": None}
        else:
            spoken = {
                "protocol": "holdspace",
                "urls": [u.replace("http://", "ws://") + "/ws" for u in urls],
                "resume": {"missed": plan.resume_missed, "trials": plan.resume_trials},
            }
        plan_file.write_text(json.dumps({
            **spoken,
            "rooms": rooms,
            "steps": plan.steps,
            "stop_p99_ms": P99_LIMIT_MS,
            "pause_after_setup": True,
            "stalled": plan.stalled,
            "body_chars": plan.body_chars,
        }))  # fmt: skip
        idle_share = wait_quiet()
        rss_before = sum(rss_kib(p) for p in pids)
        loadgen = subprocess.Popen(
            pinned(LOADGEN_CORE, ["node", str(LOADGEN), str(plan_file)]),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert loadgen.stdin is not None
        assert loadgen.stderr is not None
        assert loadgen.stdout is not None
        line = loadgen.stderr.readline().decode()
        if not line.startswith("READY"):
            raise RuntimeError(f"the load generator failed: {line}{loadgen.stderr.read().decode()}")
        time.sleep(2)  # let the joined connections go idle
        rss_idle = sum(rss_kib(p) for p in pids)
        # What a community costs while nobody speaks: timers, sign-in checks, heartbeats.
        idle_cpu = sum(cpu_seconds(p) for p in pids)
        idle_core = sum(cpu_seconds(p) for p in on_core)
        idle_started = time.monotonic()
        time.sleep(plan.idle_seconds)
        idle_elapsed = time.monotonic() - idle_started
        idle_cpu = (sum(cpu_seconds(p) for p in pids) - idle_cpu) / idle_elapsed
        idle_core = (sum(cpu_seconds(p) for p in on_core) - idle_core) / idle_elapsed
        cpu_before = sum(cpu_seconds(p) for p in pids)
        core_before = sum(cpu_seconds(p) for p in on_core)
        ops_before = commands_processed(redis_ports)
        started = time.monotonic()
        loadgen.stdin.write(b"GO\n")
        loadgen.stdin.flush()
        progress = []
        steal_at, step_at = steal_seconds(), time.monotonic()
        steals: list[float] = []  # per step: cores the machine lost to steal time
        step_core: list[float] = []  # per step: the server core's CPU seconds
        core_at = core_before
        # Redis's work is read at each step's end: after the steps come the resume trials,
        # all in one room (so on one shard), which would skew how the work spreads.
        ops_after, steps_seconds = ops_before, 0.0
        for raw in loadgen.stderr:
            text = raw.decode().strip()
            progress.append(text)
            print(f"  {key}: {text}", flush=True)
            stolen, now_at = steal_seconds(), time.monotonic()
            steals.append(round((stolen - steal_at) / max(now_at - step_at, 1e-9), 2))
            steal_at, step_at = stolen, now_at
            core_now = sum(cpu_seconds(p) for p in on_core)
            step_core.append(core_now - core_at)
            core_at = core_now
            ops_after, steps_seconds = commands_processed(redis_ports), time.monotonic() - started
        out = loadgen.stdout.read().decode()
        loadgen.wait(60)
        for pipe in (loadgen.stdin, loadgen.stdout, loadgen.stderr):
            pipe.close()
        elapsed = time.monotonic() - started
        ops = [b - a for a, b in zip(ops_before, ops_after, strict=True)]
        cpu_used = sum(cpu_seconds(p) for p in pids) - cpu_before
        core_used = sum(cpu_seconds(p) for p in on_core) - core_before
        peak = sum(rss_kib(p) for p in pids)
        if not out.strip():
            raise RuntimeError("the load generator printed no results:\n" + "\n".join(progress))
        result: dict[str, Any] = json.loads(out)
        for step, stolen, used in zip(result["steps"], steals, step_core, strict=False):
            step["steal_cores"] = stolen
            step["core_us_per_delivery"] = round(used * 1e6 / max(1, step["deliveries"]), 1)
        connections = result["connections"]
        delivered = max(1, sum(s["deliveries"] for s in result["steps"]))
        result.update(
            key=key,
            target=target.name,
            machine_idle_before=round(idle_share, 2),
            rss_idle_kib_per_connection=round((rss_idle - rss_before) / connections, 1),
            idle_cores=round(idle_cpu, 4),
            idle_core_cores=round(idle_core, 4),
            idle_cores_per_1000_members=round(idle_core * 1000 / connections, 4),
            rss_peak_mib=round(peak / 1024, 1),
            server_cpu_share=round(cpu_used / elapsed, 2),
            # The server core's whole cost (servers and Redis) per delivery: steadier
            # from run to run than a latency-bound maximum, so changes are compared on it.
            core_us_per_delivery=round(core_used * 1e6 / delivered, 1),
            servers_us_per_delivery=round(cpu_used * 1e6 / delivered, 1),
            # Each Redis node's commands per second (those its scripts run included)
            # over the steps: how the work spreads.
            redis_ops_per_s=[round(n / max(steps_seconds, 1e-9)) for n in ops],
            redis_commands_per_delivery=round(sum(ops) / delivered, 3),
        )
        return result


def ramp(
    quick: bool, rates: list[int] | None = None, seconds: float | None = None
) -> list[dict[str, float]]:
    seconds = seconds or (2.0 if quick else 5.0)
    if rates is None:
        rates = [1000, 2000] if quick else [2000, 4000, 6000, 8000, 10000, 12000, 15000,
                                            18000, 21000, 25000, 30000, 35000, 40000,
                                            45000, 50000]  # fmt: skip
    return [{"rate": r, "seconds": seconds} for r in rates]


def report(results: list[dict[str, Any]], plan: Plan, host: dict[str, str] | None = None) -> str:
    lines = [
        f"# Fan-out benchmark, {datetime.date.today().isoformat()}",
        "",
        f"{plan.rooms} rooms x {plan.members} members ({plan.rooms * plan.members} connections), "
        f"messages of {plan.body_chars} characters; "
        f"servers and Redis on core {SERVER_CORE}, the load generator on core {LOADGEN_CORE}; "
        f"p99 limit {P99_LIMIT_MS:.0f} ms, no loss.",
        "",
    ]
    if host:
        lines += ["Machine: " + "; ".join(f"{k} {v}" for k, v in host.items()) + ".", ""]
    for r in results:
        passing = [s for s in r["steps"] if s["lost"] == 0 and s["p99_ms"] <= P99_LIMIT_MS]
        best = max((s["achieved"] for s in passing), default=0)
        saturated = any(s["loadgen_cpu"] >= 0.95 for s in r["steps"])
        r["max_sustainable"] = best
        lines += [
            f"## {r['target']}" + (f" (run {r['round'] + 1})" if plan.repeats > 1 else ""),
            "",
            f"- max sustainable deliveries/s: **{best}**"
            + (" (the load generator saturated: a lower bound)" if saturated else ""),
            f"- join latency: p50 {fmt(r['join_ms']['p50'])} ms, p99 {fmt(r['join_ms']['p99'])} ms",
            (
                f"- resume of {plan.resume_missed} missed events: "
                f"p50 {fmt(r['resume_ms']['p50'])} ms, p99 {fmt(r['resume_ms']['p99'])} ms"
                if r["resume_ms"]["count"]
                else "- resume: none (socket.io rooms keep no history)"
                if TARGETS[r["key"]].peer
                else "- resume: not measured"
            ),
            *([f"- errors seen by the load generator: {r['errors']}"] if r.get("errors") else []),
            f"- idle, everyone joined and nobody speaking ({plan.idle_seconds:.0f} s): "
            f"servers {r['idle_cores']:.3f} cores, with Redis {r['idle_core_cores']:.3f}; "
            f"{r['idle_cores_per_1000_members']:.4f} cores per 1,000 members",
            f"- RSS per idle joined connection: {r['rss_idle_kib_per_connection']} KiB; "
            f"peak RSS {r['rss_peak_mib']} MiB; server CPU {r['server_cpu_share']} cores",
            f"- server core CPU per delivery: {fmt(r['core_us_per_delivery'])} µs, "
            f"of which the servers {fmt(r['servers_us_per_delivery'])} µs "
            "(the rest is Redis)",
            *(
                [
                    f"- Redis commands/s per node: {r['redis_ops_per_s']} "
                    f"({r['redis_commands_per_delivery']} per delivery)"
                ]
                if r.get("redis_ops_per_s")
                else []
            ),
            "",
            "| offered/s | achieved/s | p50 ms | p99 ms | max ms | lost | core µs/delivery "
            "| loadgen CPU | steal (cores) |",
            "|---|---|---|---|---|---|---|---|---|",
            *(
                f"| {s['rate']}{' (again)' if s.get('retry') else ''} | {s['achieved']} | "
                f"{fmt(s['p50_ms'])} | {fmt(s['p99_ms'])} | "
                f"{fmt(s['max_ms'])} | {s['lost']} | {fmt(s.get('core_us_per_delivery'))} | "
                f"{s['loadgen_cpu']} | {s.get('steal_cores', '—')} |"
                for s in r["steps"]
            ),
            "",
        ]
    lines += [
        *summary(results, plan),
        "Where the time goes on each target, what was tried and what it gave: docs/PERFORMANCE.md.",
        "",
        *ratios(results),
    ]
    return "\n".join(lines)


def _span(values: Sequence[float | None], digits: int = 1) -> str:
    """The range of a figure over the runs: "a–b", or "a" when they agree."""
    kept = sorted(v for v in values if v is not None)
    if not kept:
        return "-"
    low, high = f"{kept[0]:,.{digits}f}", f"{kept[-1]:,.{digits}f}"
    return low if low == high else f"{low}–{high}"


def summary(results: list[dict[str, Any]], plan: Plan) -> list[str]:
    """Each target's figures as ranges over the runs, and the CPU per delivery at the
    fixed rates every target is offered (the same work for all, whatever each sustains)."""
    keys = list(dict.fromkeys(r["key"] for r in results))
    fixed = [rate for rate in FIXED_RATES if any(s["rate"] == rate for s in plan.steps)]
    lines = [
        f"## Over {plan.repeats} run{'s' if plan.repeats > 1 else ''} (ranges)",
        "",
        "| target | max sustainable/s | core µs/delivery (ramp) | "
        + "".join(f"at {rate:,}/s | " for rate in fixed)
        + "idle cores per 1,000 members | KiB per connection |",
        "|---|---|---|" + "---|" * len(fixed) + "---|---|",
    ]
    for key in keys:
        runs = [r for r in results if r["key"] == key]

        def at(rate: int, runs: list[dict[str, Any]] = runs) -> str:
            return _span([
                s.get("core_us_per_delivery")
                for r in runs for s in r["steps"] if s["rate"] == rate and not s.get("retry")
            ])  # fmt: skip

        lines.append(
            f"| {TARGETS[key].name} | {_span([r['max_sustainable'] for r in runs], 0)} | "
            f"{_span([r['core_us_per_delivery'] for r in runs])} | "
            + "".join(f"{at(rate)} | " for rate in fixed)
            + f"{_span([r['idle_cores_per_1000_members'] for r in runs], 4)} | "
            f"{_span([r['rss_idle_kib_per_connection'] for r in runs])} |"
        )
    return [*lines, ""]


def ratios(results: list[dict[str, Any]]) -> list[str]:
    """Holdspace's max sustainable deliveries/s over each peer's, taken within each run
    (the same machine, minutes apart): the lowest over the runs is the headline, and
    every run's is listed. "n/a" when either was not run or the peer sustained nothing.
    ``ratio_vs_*`` is Redis with one worker; ``embedded_ratio_vs_*`` the embedded server."""
    lines = []
    for ours, prefix in ((BASELINE, ""), ("embedded", "embedded_")):
        for key, label in RATIOS.items():
            each = []
            for run in sorted({r.get("round", 0) for r in results}):
                best = {r["key"]: r["max_sustainable"] for r in results if r.get("round", 0) == run}
                mine, theirs = best.get(ours), best.get(key)
                if mine is not None and theirs:
                    each.append(mine / theirs)
            value = "n/a" if not each else f"{min(each):.2f}"
            runs = "" if len(each) < 2 else "  # each run: " + ", ".join(f"{x:.2f}" for x in each)
            lines.append(f"{prefix}{label}={value}{runs}")
    return lines


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few rooms, a few seconds")
    parser.add_argument("--smoke", action="store_true", help="just check it all runs (CI)")
    parser.add_argument("--rooms", type=int, default=None)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--no-write", action="store_true", help="don't write bench/results")
    parser.add_argument(
        "--rates",
        help="offered rates to run instead of the ramp, e.g. 10000,10000 (compare "
        "changes on the CPU per delivery at a rate every version sustains)",
    )
    parser.add_argument("--seconds", type=float, default=None, help="per step")
    parser.add_argument(
        "--body-chars",
        type=int,
        default=DEFAULT_BODY_CHARS,
        help="each message's length in characters (the server takes up to 2,000); "
        "results of another length than the default go to <date>-<n>-chars.md (and of "
        "another number of members than 2,000 to <date>-<n>-members.md)",
    )
    parser.add_argument(
        "--idle-seconds", type=float, default=None, help="how long to measure the idle cost"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="run every target this many times (2 by default; 1 with --quick, --rates or "
        "--idle-only): the report gives each figure's range",
    )
    parser.add_argument(
        "--idle-only",
        action="store_true",
        help="join everyone, measure memory and the idle cost, send nothing",
    )
    parser.add_argument(
        "--stalled",
        type=int,
        default=0,
        help="this many members (the last of the first rooms) stop reading once the run "
        "starts; the others' latency shows whether one slow socket holds anyone else up",
    )
    args = parser.parse_args(argv)
    rooms = args.rooms or (10 if args.quick else DEFAULT_ROOMS)
    plan = Plan(
        rooms=rooms,
        members=args.members,
        steps=ramp(
            args.quick,
            [int(r) for r in args.rates.split(",")] if args.rates else None,
            args.seconds,
        ),
        resume_trials=3 if args.quick else 20,
        stalled=args.stalled,
        idle_seconds=args.idle_seconds or (5.0 if args.quick else 32.0),
        body_chars=args.body_chars,
        repeats=args.repeats or (1 if args.quick or args.rates or args.idle_only else 2),
    )
    if args.idle_only:
        plan.steps, plan.resume_trials = [], 0
    if args.smoke:
        plan = Plan(rooms=3, members=4, steps=[{"rate": 150, "seconds": 1}], resume_missed=20,
                    resume_trials=1, idle_seconds=0.5)  # fmt: skip
    results = []
    host = machine()
    # Runs interleave the targets (A B C, then A B C again), so each run compares them on
    # the machine as it was in those minutes.
    for run in range(plan.repeats):
        for key in args.targets.split(","):
            print(
                f"{TARGETS[key].name}: {plan.rooms} rooms x {plan.members} members"
                + (f" (run {run + 1} of {plan.repeats})" if plan.repeats > 1 else ""),
                flush=True,
            )
            results.append({**run_target(key, plan), "round": run})
    text = report(results, plan, host)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        size = "" if plan.body_chars == DEFAULT_BODY_CHARS else f"-{plan.body_chars}-chars"
        people = plan.rooms * plan.members
        crowd = "" if people == DEFAULT_ROOMS * 10 else f"-{people}-members"
        stem = f"{datetime.date.today().isoformat()}{crowd}{size}"
        if (RESULTS / f"{stem}.md").exists():  # another run the same day: kept beside it
            stem = next(
                f"{stem}-run{n}"
                for n in range(2, 1000)
                if not (RESULTS / f"{stem}-run{n}.md").exists()
            )
        path = RESULTS / f"{stem}.md"
        path.write_text(text + "\n")
        raw = RESULTS / f"{stem}.json"  # every figure, for the charts and for comparing
        raw.write_text(json.dumps({
            "plan": dataclasses.asdict(plan), "p99_limit_ms": P99_LIMIT_MS, "machine": host,
            "results": results,
        }, indent=1) + "\n")  # fmt: skip
        for written in (path, raw, *plots.write(results, P99_LIMIT_MS, CHARTS, stem)):
            print(f"written to {written.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
