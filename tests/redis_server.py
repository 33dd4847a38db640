"""A real redis-server for the tests, on a free loopback port, started and stopped here.

Never the machine's own Redis: a fresh process with no persistence in a temporary
directory, so the suite behaves the same on any machine.

It enforces the deployment's ACL (``deploy/redis/users.acl``): :attr:`RedisServer.url`
is the limited ``holdspace`` user, so every test that runs Holdspace on Redis
proves the ACL lets it do all it needs; :attr:`RedisServer.admin_url` is for what
only a test does (killing clients, reading every key, flushing scripts).
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

DEPLOY_ACL = Path(__file__).resolve().parents[1] / "deploy" / "redis" / "users.acl"
APP_PASSWORD = "app-password"  # a throwaway test server's
ADMIN_PASSWORD = "admin-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    def __init__(self, *args: str, appendonly: bool = False) -> None:
        """``appendonly``: keep an AOF, fsynced on every write, so a restart loses nothing."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is missing: run `make test` (it installs it)")
        self.binary = binary
        self.appendonly = appendonly
        self.args = args  # more redis-server options
        self.dir = Path(tempfile.mkdtemp(prefix="holdspace-redis-"))
        rules = re.sub(r">\S+", f">{APP_PASSWORD}", DEPLOY_ACL.read_text())
        (self.dir / "users.acl").write_text(
            rules + f"user admin on >{ADMIN_PASSWORD} ~* &* +@all\n"
        )
        self.port = free_port()
        self._drainer: threading.Thread | None = None
        self.start()

    def start(self) -> None:
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.appendonly else [
            "--appendonly", "no",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            [
                self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                *persistence, "--dir", str(self.dir), "--protected-mode", "yes",
                "--aclfile", str(self.dir / "users.acl"), *self.args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        self._wait_ready()

    def restart(self) -> None:
        """Stop (as an operator would: SIGTERM, so the AOF is flushed) and start again on
        the same port and directory."""
        self.halt()
        self.start()

    def crash(self) -> None:
        """Kill the server outright (SIGKILL): nothing is flushed on the way out."""
        if self.process.poll() is None:
            self.process.kill()
        self.halt()

    @property
    def aof_dir(self) -> Path:
        """Where the append-only file's parts and manifest are kept."""
        return self.dir / "appendonlydir"

    def pause(self) -> None:
        """Freeze the server: connections stay open but nothing answers (SIGSTOP)."""
        self.process.send_signal(signal.SIGSTOP)

    def unpause(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    @property
    def url(self) -> str:
        """As the app: the deployment's ``holdspace`` user, limited to ``hs:*``."""
        return f"redis://holdspace:{APP_PASSWORD}@127.0.0.1:{self.port}/0"

    @property
    def admin_url(self) -> str:
        return f"redis://admin:{ADMIN_PASSWORD}@127.0.0.1:{self.port}/0"

    def _wait_ready(self) -> None:
        try:
            self._drainer = read_until(self.process, "Ready to accept connections")
        except RuntimeError:
            self.stop()
            raise

    def stop(self) -> None:
        self.halt()
        shutil.rmtree(self.dir, ignore_errors=True)

    def halt(self) -> None:
        end(self.process, self._drainer)
        self._drainer = None


def end(process: subprocess.Popen[str], drainer: threading.Thread | None) -> None:
    """Stop a Redis process (SIGTERM, then SIGKILL if it lingers) and its log's reader."""
    if process.poll() is None:
        process.send_signal(signal.SIGCONT)  # a paused server can't hear SIGTERM
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    if drainer is not None:
        drainer.join(10)  # it ends at the pipe's end, now the server has gone
    if process.stdout is not None and not process.stdout.closed:
        process.stdout.close()


def read_until(
    process: subprocess.Popen[str], marker: str, timeout: float = 15.0
) -> threading.Thread:
    """Read a Redis process's own log until a line holds ``marker``, then keep reading it
    in a thread (returned), so its later lines can never fill the pipe; raises
    ``RuntimeError`` with the log's last lines if the marker doesn't come."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    seen = []
    for line in process.stdout:
        seen.append(line)
        if marker in line:
            drainer = threading.Thread(target=_drain, args=(process,), daemon=True)
            drainer.start()
            return drainer
        if time.monotonic() > deadline:
            break
    raise RuntimeError("redis-server did not start:\n" + "".join(seen[-20:]))


def _drain(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    for _ in process.stdout:
        pass


async def written(primary: RedisServer) -> int:
    """How far a primary's replication stream has got: every write it has made so far."""
    async with Redis.from_url(primary.admin_url, decode_responses=True) as admin:
        return int((await admin.info("replication"))["master_repl_offset"])


async def has_up_to(replica: RedisServer, offset: int) -> bool:
    """Whether a replica has its primary's writes up to ``offset``."""
    async with Redis.from_url(replica.admin_url, decode_responses=True) as admin:
        return int((await admin.info("replication")).get("slave_repl_offset", -1)) >= offset


async def everything_in(redis: Redis, match: str = "*") -> str:
    """Every key (matching ``match``) and its whole value, read by type, as one text: what
    a privacy check searches. (``DUMP`` would compress long values and hide what is in
    them.) ``redis`` must decode responses."""
    parts: list[str] = []
    async for key in redis.scan_iter(match=match, count=500):
        parts.append(key)
        kind = await redis.type(key)
        value: Any
        if kind == "string":
            value = await redis.get(key)
        elif kind == "hash":
            value = await redis.hgetall(key)
        elif kind == "list":
            value = await redis.lrange(key, 0, -1)
        elif kind == "set":
            value = sorted(await redis.smembers(key))
        elif kind == "zset":
            value = await redis.zrange(key, 0, -1)
        elif kind == "stream":
            value = await redis.xrange(key)
        else:
            raise AssertionError(f"unexpected type {kind!r} of {key!r}")
        parts.append(json.dumps(value, ensure_ascii=False))
    return "\n".join(parts)
