"""Real Holdspace worker processes for the tests: started, probed, stopped or killed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import httpx

from tests.redis_server import free_port

HOLDSPACE = [sys.executable, "-m", "holdspace"]


async def wait_ready(base_url: str, timeout: float = 30.0) -> None:
    """Until ``/readyz`` says yes (a refused connection means: not listening yet)."""
    async with asyncio.timeout(timeout), httpx.AsyncClient() as http:
        while True:
            try:
                if (await http.get(f"{base_url}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)


async def eventually(check: Callable[[], bool | Awaitable[bool]], timeout: float) -> None:
    """Until ``check()`` holds, for state outside this process that nothing can signal
    (another process's log, the kernel's socket table); fail after ``timeout``."""
    async with asyncio.timeout(timeout):
        while True:
            result = check()
            if result if isinstance(result, bool) else await result:
                return
            await asyncio.sleep(0.05)


def environment(**extra: str) -> dict[str, str]:
    """The test's environment without any HOLDSPACE_* settings it happens to carry."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLDSPACE_")}
    env.update(extra)
    return env


class Worker:
    """``holdspace serve`` as a separate process on a free loopback port."""

    def __init__(self, data_dir: Path, settings: Mapping[str, str], *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"
        self.lines: list[str] = []
        env = environment(
            HOLDSPACE_PASSWORD_PROFILE="test",
            **{f"HOLDSPACE_{k.upper()}": v for k, v in settings.items()},
        )
        self.process = subprocess.Popen(
            [*HOLDSPACE, "serve", "--port", str(self.port), "--data-dir", str(data_dir), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    async def ready(self) -> Worker:
        try:
            await wait_ready(self.url)
        except TimeoutError:
            raise AssertionError("worker did not start:\n" + self.log()) from None
        return self

    def log(self) -> str:
        return "\n".join(self.lines)

    def kill(self) -> None:
        """``kill -9``: no goodbyes."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self._finish()

    def _finish(self) -> None:
        self._reader.join(10)
        if self.process.stdout is not None and not self.process.stdout.closed:
            self.process.stdout.close()

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
                self._finish()
                tail = "\n".join(self.lines[-15:])
                raise AssertionError(f"worker ignored SIGTERM:\n{tail}") from None
        self._finish()
        return self.process.returncode
