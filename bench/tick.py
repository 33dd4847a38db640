"""What ticking a session costs: the worker holding the tick lease lets time act on the
sessions whose moment has come, and on every live session in a review (when it takes
the lease, or a worker has gone: ``LiveSessions.tick``), one after another. This
measures the time and CPU per session ticked, on Redis, for sessions another worker
wrote (each read from Redis first) and for sessions as the ticker left them
(remembered), and so how many sessions one ticking worker covers a second: how long
a review of them all takes.

    .venv/bin/python -m bench.tick [--sessions 2000] [--members 10]

It starts a fresh redis-server on a free loopback port and stops it at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import shutil
import socket
import tempfile
import time
from collections.abc import Sequence

from holdspace.core import commands as c
from holdspace.core.room import Transition, apply
from holdspace.core.state import RoomConfig, RoomState
from holdspace.live.redis import RedisHub
from holdspace.protocol import encode_event, encode_notice, encode_service


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _session(i: int, now: float) -> tuple[str, RoomConfig]:
    key = f"room_bench{i:06d}:{int(now)}"
    config = RoomConfig(
        room_id=f"room_bench{i:06d}", session_key=key, name=f"Room {i}", capacity=16,
        starts_at=now - 60, ends_at=now + 3600,
    )  # fmt: skip
    return key, config


def _fresh(config: RoomConfig) -> RoomState:
    return RoomState(config=config, epoch="bench")


async def _measure(sessions: int, members: int) -> dict[str, float]:
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="holdspace-tick-") as workdir:
        redis = await asyncio.create_subprocess_exec(
            "redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
            "--appendonly", "no", "--dir", workdir, stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            url = f"redis://127.0.0.1:{port}/0"
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.1).close()
                    break
                except OSError:
                    await asyncio.sleep(0.05)  # another process starting: nothing to wait on
            writer = await RedisHub.open(url, encode_event, encode_notice, encode_service)
            ticker = await RedisHub.open(url, encode_event, encode_notice, encode_service)
            try:
                now = time.time()
                keys = []
                for i in range(sessions):
                    key, config = _session(i, now)
                    keys.append(key)
                    for m in range(members):
                        role = "facilitator" if m == 0 else "member"

                        def join(s: RoomState, m: int = m, role: str = role) -> Transition:
                            return apply(s, f"u{m}", c.Join(f"c{m}", f"M{m}", role), now)  # type: ignore[arg-type]

                        await writer.transact(key, join, functools.partial(_fresh, config))

                def tick(s: RoomState) -> Transition:
                    return apply(s, None, c.Tick(), time.time())

                out = {}
                # The ticking worker didn't write these: its first pass reads each from
                # Redis; its second finds each as it left it (a quiet tick writes nothing).
                for name in ("read first", "remembered"):
                    cpu, wall = time.process_time(), time.perf_counter()
                    for key in keys:
                        await ticker.transact(key, tick)
                    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                    out[f"{name}: µs of the worker's CPU per session"] = cpu * 1e6 / sessions
                    out[f"{name}: µs per session"] = wall * 1e6 / sessions
                return out
            finally:
                await ticker.close()
                await writer.close()
        finally:
            redis.terminate()
            await redis.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--members", type=int, default=10)
    args = parser.parse_args(argv)
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is missing (scripts/ensure-redis installs it)")
    out = asyncio.run(_measure(args.sessions, args.members))
    print(f"{args.sessions} live sessions of {args.members} members, ticked by a worker:")
    for name, value in out.items():
        print(f"  {name}: {value:.1f}")
    for name in ("read first", "remembered"):
        per = out[f"{name}: µs per session"]
        print(f"  one ticking worker covers about {int(1e6 / per):,} live sessions a second "
              f"({name})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
