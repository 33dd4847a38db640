"""A real Holdspace under uvicorn on a free loopback port, for integration tests.

The server runs in a thread with its own event loop, so a test can drive it with
real WebSocket clients, move its injected clock, and read every log record it
wrote.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import socket
import threading
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

from holdspace.app import create_app
from holdspace.auth.passwords import PasswordService
from holdspace.clock import ManualClock
from holdspace.edge import GuardedWebSockets
from holdspace.logs import JsonFormatter
from holdspace.protocol import TRANSPORT_MAX_BYTES
from holdspace.records import Room, User
from holdspace.settings import Settings
from holdspace.web.services import Services
from holdspace_client import Client, login

T = TypeVar("T")
PASSWORD = "correct horse battery"


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


class LogCapture(logging.Handler):
    """Every record the server side wrote, as the JSON line the server would write.

    The server runs in its own threads (its event loop, the store's thread, the
    hashing pool); the test and its clients run in the main thread, and what they
    log (an HTTP client's debug lines with cookies, say) is not the server's.
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []
        self._written = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        if record.threadName != "MainThread":
            line = self.format(record)
            with self._written:
                self.lines.append(line)
                self._written.notify_all()

    def wait_for(self, check: Callable[[list[str]], bool], timeout: float = 5.0) -> None:
        """Until ``check(lines)`` holds: the server may log a request after answering it."""
        with self._written:
            if not self._written.wait_for(lambda: check(self.lines), timeout):
                raise AssertionError(f"not logged in {timeout} s:\n{self.text()}")

    def text(self) -> str:
        return "\n".join(self.lines)


class LiveServer:
    def __init__(
        self,
        data_dir: Path,
        clock: ManualClock,
        *,
        passwords: PasswordService | None = None,
        ws: Any = GuardedWebSockets,
        **overrides: Any,
    ) -> None:
        """``overrides``: settings; ``passwords``: a hashing service the test can observe;
        ``ws``: uvicorn's WebSocket protocol (Holdspace's own, as served, by default)."""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        values: dict[str, Any] = {
            "port": self.port,
            "data_dir": data_dir,
            "password_profile": "test",
            "tick_seconds": 0.02,
            "auth_timeout_seconds": 2.0,
            "reauth_seconds": 0.05,
            "gc_tuning": False,  # the test process's collector is pytest's business
        }
        values.update(overrides)
        self.settings = Settings(**values)
        self.clock = clock
        self.app = create_app(self.settings, clock=clock, passwords=passwords)
        config = uvicorn.Config(
            self.app,
            ws=ws,  # as served: frames go out (and come in) without a coroutine each
            ws_max_size=TRANSPORT_MAX_BYTES,
            ws_per_message_deflate=False,
            interface="asgi3",  # as served (see holdspace.serving.options)
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        self.server = _Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True, name="holdspace-test")
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.server.serve(sockets=[self.sock]))
        finally:
            self.loop.close()

    def start(self) -> None:
        self.thread.start()
        if not self.server.ready.wait(15):
            raise RuntimeError("the server did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.sock.close()

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the server's loop (for setting up records) and await it."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return await asyncio.wrap_future(future)

    def call_sync(self, coro: Coroutine[Any, Any, T]) -> T:
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(15)


def bearer(token: str) -> dict[str, str]:
    """The header that signs an HTTP request in with ``token``."""
    return {"Authorization": f"Bearer {token}"}


def open_now_schedule(now: float, minutes_ago: int = 5, duration: int = 120) -> dict[str, Any]:
    start = datetime.fromtimestamp(now, UTC) - timedelta(minutes=minutes_ago)
    return {
        "timezone": "UTC",
        "one_off": [{"start": start.strftime("%Y-%m-%dT%H:%M"), "duration_minutes": duration}],
    }


class Community:
    """People and a room on a live server, and clients signed in as them."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.users: dict[str, User] = {}
        self.tokens: dict[str, str] = {}
        self.clients: list[Client] = []

    async def person(self, username: str, name: str, role: str = "member") -> User:
        accounts = self.server.services.accounts
        user = await self.server.call(accounts.create(username, PASSWORD, name, role))  # type: ignore[arg-type]
        self.users[username] = user
        self.tokens[username] = await login(self.server.base, username, PASSWORD)
        return user

    async def room(self, owner: str, members: list[str], **spec: Any) -> Room:
        rooms = self.server.services.rooms
        body = {
            "name": "Thursday evening circle",
            "schedule": open_now_schedule(self.server.clock.now()),
        }
        body.update(spec)
        room = await self.server.call(rooms.create(self.users[owner], body))
        for member in members:
            await self.server.call(
                rooms.store.enrol(room.id, self.users[member].id, self.server.clock.now())
            )
        return room

    async def client(self, username: str, **options: Any) -> Client:
        client = Client(self.server.ws_url, self.tokens[username], **options)
        await client.connect()
        self.clients.append(client)
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
