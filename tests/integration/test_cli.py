"""The ``holdspace`` command as an operator uses it: a real process, real signals."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from holdspace_client import login, register
from tests.processes import Worker, eventually, wait_ready

pytestmark = pytest.mark.integration

HOLDSPACE = [sys.executable, "-m", "holdspace"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLDSPACE_")}
    env.update(extra)
    return env


@asynccontextmanager
async def serving(data: Path, *args: str) -> AsyncIterator[tuple[str, list[str]]]:
    """Start ``holdspace serve``; yield its URL once it is listening, and its output."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *HOLDSPACE, "serve", "--port", str(port), "--data-dir", str(data), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=environment(),
    )  # fmt: skip
    assert process.stdout is not None
    assert process.stderr is not None
    logs: list[str] = []
    try:
        async with asyncio.timeout(30):
            while True:
                line = (await process.stderr.readline()).decode()
                assert line, "the server exited before starting"
                logs.append(line)
                if json.loads(line).get("event") == "started":
                    break  # the app is up; the socket listens right after
            await wait_ready(f"http://127.0.0.1:{port}")
        yield f"http://127.0.0.1:{port}", logs
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            out, err = await process.communicate()
        logs.extend(err.decode().splitlines())
        logs.insert(0, out.decode())
        # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells
        # a supervisor how the process ended.
        assert process.returncode in (0, -signal.SIGTERM)
        assert any('"event": "stopped"' in line for line in logs)


async def test_demo_is_seeded_once_and_its_credentials_work(tmp_path: Path) -> None:
    """The first start seeds the demo and, once ready, shows its accounts; a restart keeps
    the data, seeds nothing, and shows the same accounts again. Passwords are never logged;
    they are kept beside the data, for their owner only."""
    data = tmp_path / "data"
    async with serving(data, "--demo") as (url, first), httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/healthz")).json()["ok"] is True
    printed = first[0]  # stdout, in first place once the process has exited
    assert "Holdspace is ready: http://127.0.0.1:" in printed
    assert "Demo seeded. Sign in with:" in printed
    credentials = {
        parts[0]: parts[1]
        for line in printed.splitlines()
        if (parts := line.split()) and parts[0] in ("facilitator", "member1", "member2")
    }
    assert set(credentials) == {"facilitator", "member1", "member2"}
    kept = data / "demo-accounts.txt"
    assert kept.stat().st_mode & 0o777 == 0o600
    async with serving(data, "--demo") as (url, again):
        token = await login(url, "member1", credentials["member1"])
        async with httpx.AsyncClient(base_url=url) as http:
            rooms = await http.get("/api/rooms", headers={"authorization": f"Bearer {token}"})
        [room] = rooms.json()["rooms"]
        assert room["open_now"] is True
    assert "Demo seeded" not in again[0]
    assert "The demo's accounts:" in again[0]
    assert credentials["member1"] in again[0]
    for line in first[1:] + again[1:]:
        for password in credentials.values():
            assert password not in line  # shown on the terminal, never logged


async def test_the_demo_is_shown_again_and_reset_by_one_command(tmp_path: Path) -> None:
    """`holdspace demo show` prints the accounts; `reset` removes the demo (and nothing
    that isn't one), so the next start seeds it afresh."""
    data = tmp_path / "data"
    async with serving(data, "--demo"):
        pass
    shown = await run_cli("demo", "--data-dir", str(data), "show")
    assert shown.returncode == 0
    assert "member1" in shown.out
    reset = await run_cli("demo", "--data-dir", str(data), "reset")
    assert reset.returncode == 0
    assert not (data / "holdspace.sqlite3").exists()
    assert (await run_cli("demo", "--data-dir", str(data), "show")).returncode == 1
    elsewhere = tmp_path / "real"
    elsewhere.mkdir()
    (elsewhere / "holdspace.sqlite3").write_bytes(b"a real community")
    refused = await run_cli("demo", "--data-dir", str(elsewhere), "reset")
    assert refused.returncode == 1
    assert "no demo" in refused.err
    assert (elsewhere / "holdspace.sqlite3").read_bytes() == b"a real community"


@dataclass
class Ran:
    returncode: int
    out: str
    err: str


async def run_cli(*args: str) -> Ran:
    process = await asyncio.create_subprocess_exec(
        *HOLDSPACE, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=environment(),
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


async def test_admin_creates_a_facilitator_who_can_sign_in(tmp_path: Path) -> None:
    """``holdspace admin create-user`` makes a facilitator account from a password on stdin."""
    data = tmp_path / "data"
    process = await asyncio.create_subprocess_exec(
        *HOLDSPACE, "admin", "--data-dir", str(data), "create-user", "robin",
        "--display-name", "Robin", "--role", "facilitator", "--password-stdin",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        env=environment(HOLDSPACE_PASSWORD_PROFILE="test"),
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(b"a long enough password\n"), 30)
    assert process.returncode == 0
    assert b"created facilitator robin" in out
    async with serving(data) as (url, _):
        token = await login(url, "robin", "a long enough password")
        async with httpx.AsyncClient(base_url=url) as http:
            me = await http.get("/api/auth/me", headers={"authorization": f"Bearer {token}"})
    assert me.json()["user"]["role"] == "facilitator"


async def test_bad_settings_stop_the_server_with_a_clear_message(tmp_path: Path) -> None:
    """A malformed setting is named on stderr and the process exits non-zero."""
    process = await asyncio.create_subprocess_exec(
        *HOLDSPACE, "serve", "--data-dir", str(tmp_path),
        stderr=asyncio.subprocess.PIPE,
        env=environment(HOLDSPACE_MAX_CAPACITY="lots"),
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert b"HOLDSPACE_MAX_CAPACITY='lots' is not a valid value" in err


async def test_several_workers_need_redis(tmp_path: Path) -> None:
    """More than one worker without Redis is refused, saying why and what to do."""
    process = await asyncio.create_subprocess_exec(
        *HOLDSPACE, "serve", "--workers", "2", "--data-dir", str(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=environment(),
    )  # fmt: skip
    async with asyncio.timeout(30):
        _, err = await process.communicate()
    assert process.returncode == 2
    assert "needs Redis" in err.decode()
    assert "HOLDSPACE_REDIS_URL" in err.decode()


async def test_workers_share_one_port_and_one_redis(tmp_path: Path, redis_server: Any) -> None:
    """`--workers 2 --redis …`: two processes behind one port, both serving."""
    worker = Worker(tmp_path, {"log_format": "json"}, "--workers", "2", "--redis", redis_server.url)
    try:
        await worker.ready()
        token = await register(worker.url, "sam", "a long enough password", "Sam")
        async with httpx.AsyncClient() as http:
            me = await http.get(
                f"{worker.url}/api/auth/me", headers={"authorization": f"Bearer {token}"}
            )
        assert me.status_code == 200
        await eventually(lambda: worker.log().count('"event": "started"') == 2, timeout=20)
        assert '"backend": "redis"' in worker.log()
    finally:
        assert worker.stop() in (0, -signal.SIGTERM)
