"""The slow-link benchmark keeps working: one room, a few seconds, a short delay.

Figures come from running ``bench.slow_link`` by hand, never from tests: this only
checks that it runs as a command, stops, and that what it reports adds up.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from bench.latency_relay import LatencyRelay
from bench.slow_link import PAIRS

ROOT = Path(__file__).resolve().parents[2]
LATENCY_MS = 20


async def test_the_slow_link_relay_delays_each_direction_in_order() -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1024):
            writer.write(data)
            await writer.drain()
        writer.close()  # after the end of the stream, passed on after the data

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    relay = await LatencyRelay("127.0.0.1", server.sockets[0].getsockname()[1], 0.05).start()
    loop = asyncio.get_running_loop()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
        started = loop.time()
        for i in range(20):
            writer.write(f"{i:03d},".encode())
            await asyncio.sleep(0.002)
        writer.write_eof()
        back = await asyncio.wait_for(reader.read(), 5)  # to the end of the stream
        elapsed = loop.time() - started
        writer.close()
    finally:
        await relay.close()
        server.close()
        await server.wait_closed()
    assert back == b"".join(f"{i:03d},".encode() for i in range(20))
    assert 0.1 <= elapsed < 1.0  # there and back, 50 ms each way
    assert relay.connections == 1


@pytest.mark.integration
def test_slow_link_runs_end_to_end() -> None:
    # Four members, two on each worker: the fewest for a sender and another member to
    # receive on each side of every pair (slowed -> slowed needs two on the slowed worker).
    argv = [sys.executable, "-m", "bench.slow_link", "--rooms", "1", "--members", "4",
            "--seconds", "3", "--latency-ms", str(LATENCY_MS), "--json"]  # fmt: skip
    process = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)  # it stops the processes it started
        try:
            out, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        pytest.fail(f"bench.slow_link did not finish in 60 s:\n{err}")
    assert process.returncode == 0, err
    result = json.loads(out)
    delivered = {pair: result["delivery"][pair]["count"] for pair in PAIRS}
    assert all(count > 0 for count in delivered.values()), delivered
    assert result["lost"] == 0
    assert result["acknowledged"] == result["sent"] > 0
    # Every acknowledged message reached the room's three other members, once.
    assert sum(delivered.values()) == result["expected_deliveries"] == result["sent"] * 3
    assert result["duplicates"] == result["gaps"] == 0
    # The relay really is in the way: a post on the slowed worker waits for at least one
    # round trip to Redis, and what it hears from the other worker comes a leg late.
    assert result["ack"]["slowed"]["p50_ms"] >= 2 * LATENCY_MS
    assert result["delivery"]["normal->slowed"]["p50_ms"] >= LATENCY_MS
    assert result["ack"]["normal"]["count"] > 0
