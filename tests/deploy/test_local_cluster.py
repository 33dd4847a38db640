"""The production topology on loopback: ``deploy/local-cluster`` starts Redis (with the
deployment's redis.conf and ACL), two workers and nginx (with the deployment's
proxy configuration). A group session runs through nginx with its members spread
over both workers, the workers are restarted one at a time in the middle of it,
and nobody loses or repeats a message. Then every log of the run is searched for
what must never be in one."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from holdspace_client import Client, CommandError
from holdspace_client.client import ConnectionLost
from tests.redis_server import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "deploy" / "local-cluster"
HOLDSPACE = ROOT / ".venv" / "bin" / "holdspace"
# Clients reach nginx from this loopback address; no log may ever show it.
CLIENT_ADDRESS = "127.0.0.3"
PASSWORD = "correct horse battery staple"


@dataclass
class Cluster:
    url: str
    run: Path
    process: subprocess.Popen[str]
    state: dict[str, Any]
    lines: list[str]

    @property
    def ws(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"

    def worker_ports(self) -> list[int]:
        return [int(p) for p in self.state["workers"]]

    async def wait_line(self, pattern: str, timeout: float) -> str:
        """Until local-cluster prints a line matching ``pattern`` (read by a thread)."""
        async with asyncio.timeout(timeout):
            while True:
                for line in self.lines:
                    if re.search(pattern, line):
                        return line
                await asyncio.sleep(0.05)


def _read_lines(process: subprocess.Popen[str], lines: list[str], changed: Any) -> None:
    """Collect the cluster's output; ``changed`` (a threading.Event) is set on each line
    and when the output ends."""
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        changed.set()
    changed.set()


@pytest.fixture(params=["redis", "redis-cluster"])
def cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """The topology on one Redis, and on a Redis Cluster (``--redis-cluster``)."""
    import threading

    run = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLDSPACE_")}
    env["HOLDSPACE_PASSWORD_PROFILE"] = "test"
    process = subprocess.Popen(
        [
            sys.executable,
            str(CLUSTER),
            "--port",
            str(free_port()),
            "--run-dir",
            str(run),
            *(["--redis-cluster"] if request.param == "redis-cluster" else []),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    changed = threading.Event()
    reader = threading.Thread(target=_read_lines, args=(process, lines, changed), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 90
        while True:
            changed.clear()  # before looking: a line that comes after sets it again
            if any("running at" in line for line in lines):
                break
            ended = process.poll() is not None or not reader.is_alive()  # output over
            if ended or time.monotonic() > deadline:
                raise AssertionError("local-cluster did not start:\n" + "\n".join(lines))
            changed.wait(timeout=max(0.0, deadline - time.monotonic()))
        state = json.loads((run / "cluster.json").read_text())
        yield Cluster(state["url"], run, process, state, lines)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(5)
        if process.stdout is not None:
            process.stdout.close()
    assert process.returncode == 0, "\n".join(lines)
    assert lines[-1] == "stopped"


def create_user(cluster: Cluster, username: str, name: str, role: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLDSPACE_")}
    env["HOLDSPACE_PASSWORD_PROFILE"] = "test"
    subprocess.run(
        [str(HOLDSPACE), "admin", "--redis", cluster.state["redis_url"], "create-user",
         username, "--display-name", name, "--role", role, "--password-stdin"],
        input=PASSWORD + "\n", text=True, check=True, env=env, capture_output=True,
    )  # fmt: skip


@pytest.fixture
async def http(cluster: Cluster) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.AsyncHTTPTransport(local_address=CLIENT_ADDRESS)
    async with httpx.AsyncClient(
        base_url=cluster.url, transport=transport, headers={"origin": cluster.url}
    ) as client:
        yield client


async def sign_in(http: httpx.AsyncClient, username: str) -> str:
    response = await http.post(
        "/api/auth/login", json={"username": username, "password": PASSWORD, "bearer": True}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


async def connections_per_worker(cluster: Cluster) -> list[int]:
    counts = []
    async with httpx.AsyncClient() as direct:
        for port in cluster.worker_ports():
            text = (await direct.get(f"http://127.0.0.1:{port}/metrics")).text
            found = re.search(r"^holdspace_connections (\S+)$", text, re.MULTILINE)
            assert found is not None
            counts.append(int(float(found[1])))
    return counts


def resumed(event: dict[str, Any]) -> bool:
    """The client's marker: it reconnected and rejoined (or gave up, which fails)."""
    assert event.get("type") != "_resume_failed", event
    return event.get("type") == "_resumed"


def saying(text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda event: event.get("text") == text


class Poster:
    """Posts numbered messages until stopped. A post whose answer was lost to a restart
    is checked against what the room shows after resuming, and sent again only if it
    isn't there: every message is meant to appear exactly once."""

    def __init__(self, client: Client, name: str) -> None:
        self.client = client
        self.name = name
        self.sent: list[str] = []
        self.stop = asyncio.Event()

    def landed(self, text: str) -> bool:
        return any(ev.get("text") == text for ev in self.client.history)

    async def run(self, pause: float) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            text = f"{self.name} message {n}"
            while not self.landed(text):
                try:
                    await self.client.post(text)
                except ConnectionLost:
                    # Back in the room, with whatever landed while the answer was lost.
                    await self.client.wait_for(resumed, 30)
                except CommandError as error:
                    if error.code == "not_joined":  # reconnected, not yet rejoined
                        await self.client.wait_for(resumed, 30)
                    elif error.code == "unavailable":
                        await asyncio.sleep(0.1)  # backing off before trying again
                    else:
                        raise
                else:
                    break
            self.sent.append(text)
            with contextlib.suppress(TimeoutError):  # the pace of posting, until stopped
                await asyncio.wait_for(self.stop.wait(), pause)


async def test_a_session_through_nginx_survives_a_rolling_restart(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    create_user(cluster, "robin", "Robin Sentinelname", "facilitator")
    members = ["kim", "lee", "sam"]
    for username in members:
        create_user(cluster, username, f"{username.title()} Sentinelname", "member")
    tokens = {u: await sign_in(http, u) for u in ["robin", *members]}

    # A room whose session is on now, and an invite the members redeem.
    response = await http.post(
        "/api/rooms",
        headers={"authorization": f"Bearer {tokens['robin']}"},
        json={
            "name": "Evening circle",
            "capacity": 8,
            "schedule": {
                "timezone": "UTC",
                "one_off": [
                    {
                        "start": time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() - 300)),
                        "duration_minutes": 240,
                    }
                ],
            },
        },
    )
    assert response.status_code in (200, 201), response.text
    room = response.json()["room"]["id"]
    invite = await http.post(
        f"/api/rooms/{room}/invites",
        headers={"authorization": f"Bearer {tokens['robin']}"},
        json={"max_uses": 10, "expires_in_hours": 1},
    )
    assert invite.status_code in (200, 201), invite.text
    code = invite.json()["code"]
    for username in members:
        redeemed = await http.post(
            "/api/invites/redeem",
            headers={"authorization": f"Bearer {tokens[username]}"},
            json={"code": code},
        )
        assert redeemed.status_code == 200, redeemed.text

    clients: dict[str, Client] = {}
    try:
        for username in ["robin", *members]:
            client = Client(
                cluster.ws, tokens[username], origin=cluster.url, local_address=CLIENT_ADDRESS,
                max_backoff=0.5,
            )  # fmt: skip
            await client.connect()
            await client.join(room)
            clients[username] = client
        for username in members:
            await clients[username].agree()
            await clients[username].set_mode("sharer")
        per_worker = await connections_per_worker(cluster)
        assert sum(per_worker) == 4
        assert all(count >= 1 for count in per_worker), per_worker  # spread over both

        posters = [Poster(clients["robin"], "robin"), Poster(clients["kim"], "kim")]
        tasks = [
            asyncio.create_task(posters[0].run(pause=0.05)),
            asyncio.create_task(posters[1].run(pause=4.0)),  # within a member's rate limit
        ]
        await clients["lee"].wait_for(lambda ev: ev.get("text") == "robin message 5", 10)
        cluster.process.send_signal(signal.SIGHUP)
        await cluster.wait_line("rolling restart done", timeout=90)
        assert not any("killed" in line for line in cluster.lines)  # each stopped in time
        last = len(posters[0].sent)
        await clients["lee"].wait_for(lambda ev: ev.get("text") == f"robin message {last + 5}", 20)
        for poster in posters:
            poster.stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)

        sent = [text for poster in posters for text in poster.sent]
        for client in clients.values():
            for text in sent:
                if not any(ev.get("text") == text for ev in client.history):
                    await client.wait_for(saying(text), 20)
        histories = {}
        for username, client in clients.items():
            assert client.duplicates == 0, username
            assert client.gaps == 0, username
            assert client.reconnects >= 1, username  # every worker was restarted
            assert client.close_code == 1012, username  # told: the worker is restarting
            texts = [ev["text"] for ev in client.history if ev.get("type") == "message"]
            for text in sent:
                assert texts.count(text) == 1, (username, text)
            histories[username] = [ev["seq"] for ev in client.history]
        # Each saw every room event from its first, without a jump (a resume, never a
        # resync), and all saw the same ones.
        for username, seqs in histories.items():
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), username
        start = max(seqs[0] for seqs in histories.values())
        end = min(seqs[-1] for seqs in histories.values())
        assert end - start > 20
        per_worker = await connections_per_worker(cluster)
        assert sum(per_worker) == 4
    finally:
        for client in clients.values():
            await client.close()

    # What must never reach a log: message text, names, tokens, passwords, the
    # clients' address.
    cluster.process.send_signal(signal.SIGTERM)
    cluster.process.wait(60)
    logs = sorted(p for p in cluster.run.rglob("*.log") if p.is_file())
    assert {p.name for p in logs} >= {"nginx.access.log", "nginx.error.log"}
    assert sum(1 for p in logs if p.name.startswith("worker-")) == 2
    redis_logs = [p.name for p in logs if p.name.startswith("redis")]
    if cluster.state["redis_cluster_pids"]:  # --redis-cluster: a log per node
        assert len(redis_logs) == 6
        assert cluster.state["redis_url"].startswith("redis+cluster://")
    else:
        assert redis_logs == ["redis.log"]
    text = "\n".join(p.read_text(errors="replace") for p in logs)
    secrets = ["Sentinelname", "robin message", "kim message", PASSWORD, CLIENT_ADDRESS]
    secrets += list(tokens.values())
    for secret in secrets:
        assert secret not in text, secret
    # The workers' lines are JSON and carry connection and request ids.
    worker_lines = [
        json.loads(line)
        for p in logs
        if p.name.startswith("worker-")
        for line in p.read_text().splitlines()
        if line.startswith("{")
    ]
    connected = [line for line in worker_lines if line.get("event") == "connected"]
    assert len(connected) >= 8  # four members, each connected at least twice
    assert all(line.get("conn") and line.get("request_id") for line in connected)
    access = (cluster.run / "nginx.access.log").read_text()
    assert any(line["request_id"] in access for line in connected)
