"""Server memory per idle WebSocket connection, with per-message compression off and on.

Starts a real ``holdspace serve`` worker for each setting of
``HOLDSPACE_WS_COMPRESSION``, opens N authenticated sockets that each exchange one
ping/pong, and reports the growth of the worker's resident set size (VmRSS).

    .venv/bin/python -m bench.connection_memory [--connections N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from holdspace_client import register

BATCH = 100
SETTLE_SECONDS = 2.0
AFTER_SECONDS = 1.0
READY_SECONDS = 30.0
STOP_SECONDS = 15.0


@dataclass
class Result:
    compression: bool
    connections: int
    extension: str
    before_kib: int
    after_kib: int

    @property
    def per_connection_kib(self) -> float:
        return (self.after_kib - self.before_kib) / self.connections


def raise_open_files_limit() -> None:
    """Up to the hard limit: each open socket is a file in the worker and in this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        # An unlimited hard limit can be more than the kernel allows: keep the soft one.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])  # "VmRSS:   12345 kB"
    raise RuntimeError(f"no VmRSS for pid {pid}")


class Worker:
    """``holdspace serve`` on a free loopback port, in its own process."""

    def __init__(self, data_dir: Path, compression: bool) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"
        self.log = data_dir / "worker.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOLDSPACE_")}
        env.update(
            HOLDSPACE_PASSWORD_PROFILE="test",
            HOLDSPACE_WS_COMPRESSION="1" if compression else "0",
            HOLDSPACE_LOG_LEVEL="WARNING",
            # One account's thousands of sockets, all from this address: limits off.
            HOLDSPACE_CONNECTIONS_PER_ADDRESS="0",
            HOLDSPACE_HANDSHAKE_BURST="0",
            HOLDSPACE_SOCKETS_PER_ACCOUNT="0",
        )
        command = [sys.executable, "-m", "holdspace", "serve"]
        command += ["--port", str(self.port), "--data-dir", str(data_dir)]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_SECONDS
        with httpx.Client() as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the worker exited early:\n{self.log.read_text()}")
                try:
                    if http.get(f"{self.url}/readyz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        raise RuntimeError(f"the worker was not ready in {READY_SECONDS:.0f} s")

    def stop(self) -> None:
        """SIGTERM this worker (by its pid); kill it if it hasn't exited in time."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def open_one(url: str, token: str, compression: bool) -> ClientConnection:
    ws = await websockets.connect(
        url, compression="deflate" if compression else None, open_timeout=30
    )
    await ws.send(json.dumps({"type": "auth", "token": token}))
    hello = json.loads(await ws.recv())
    if hello.get("type") != "hello":
        raise RuntimeError(f"expected hello, got {hello!r}")
    return ws


async def ping(ws: ClientConnection) -> None:
    await ws.send(json.dumps({"type": "ping", "id": 1}))
    while True:
        frame: dict[str, Any] = json.loads(await ws.recv())
        if frame.get("type") == "pong" and frame.get("id") == 1:
            return


async def in_batches(items: list[Any], step: Any) -> list[Any]:
    results: list[Any] = []
    for start in range(0, len(items), BATCH):
        results += await asyncio.gather(*(step(item) for item in items[start : start + BATCH]))
    return results


async def measure(worker: Worker, compression: bool, connections: int) -> Result:
    token = await register(worker.url, "bench", "a long enough password", "Bench")
    await asyncio.sleep(SETTLE_SECONDS)
    before = rss_kib(worker.pid)
    sockets: list[ClientConnection] = await in_batches(
        list(range(connections)), lambda _: open_one(worker.ws_url, token, compression)
    )
    try:
        response = sockets[0].response
        extension = response.headers.get("Sec-WebSocket-Extensions", "") if response else ""
        if compression != bool(extension):
            raise RuntimeError(f"compression={compression} but extensions {extension!r}")
        await in_batches(sockets, ping)
        await asyncio.sleep(AFTER_SECONDS)
        after = rss_kib(worker.pid)
    finally:
        await in_batches(sockets, lambda ws: ws.close())
    return Result(compression, connections, extension or "-", before, after)


def run(compression: bool, connections: int) -> Result:
    with tempfile.TemporaryDirectory(prefix="holdspace-bench-") as tmp:
        worker = Worker(Path(tmp), compression)
        try:
            worker.wait_ready()
            result = asyncio.run(measure(worker, compression, connections))
        finally:
            worker.stop()
    label = "on" if compression else "off"
    print(
        f"compression {label}: extension {result.extension}; "
        f"RSS before {result.before_kib} KiB, after {result.after_kib} KiB, "
        f"{result.per_connection_kib:.1f} KiB per connection",
        flush=True,
    )
    return result


def table(results: list[Result]) -> str:
    header = (
        "compression",
        "connections",
        "RSS before MiB",
        "RSS after MiB",
        "KiB per connection",
    )
    rows = [
        (
            "on" if r.compression else "off",
            str(r.connections),
            f"{r.before_kib / 1024:.1f}",
            f"{r.after_kib / 1024:.1f}",
            f"{r.per_connection_kib:.1f}",
        )
        for r in results
    ]
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.connection_memory", description=__doc__)
    parser.add_argument("--connections", type=int, default=1000, help="sockets to open (1000)")
    args = parser.parse_args(argv)
    if args.connections < 1:
        parser.error("--connections must be at least 1")
    raise_open_files_limit()
    results = [run(compression, args.connections) for compression in (False, True)]
    print()
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
