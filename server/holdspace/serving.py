"""Running the app under uvicorn: one process, or several sharing one listening socket.

The listening socket is bound here, not by uvicorn, so that it carries
``TCP_USER_TIMEOUT`` and a bounded ``SO_SNDBUF`` (accepted sockets inherit
both): a peer that stops acknowledging data is dropped by the kernel, and until
then holds a bounded buffer. Without them a client that stops reading pins its
socket and megabytes of kernel send buffer long after the server has given up
on it. uvicorn's protocol classes are named here too, guarded
(:mod:`holdspace.edge`): a deadline for request headers, a cap per address.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from holdspace.app import create_app
from holdspace.edge import EdgeGuard, GuardedWebSockets, http_protocol
from holdspace.protocol import TRANSPORT_MAX_BYTES
from holdspace.seed import DEMO_FILE, demo_accounts
from holdspace.settings import Settings


class Config(uvicorn.Config):
    def __init__(
        self,
        *args: Any,
        tcp_user_timeout: float = 0.0,
        send_buffer: int = 0,
        edge_guard: EdgeGuard | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.tcp_user_timeout = tcp_user_timeout
        self.send_buffer = send_buffer
        # Read by the guarded protocol classes (holdspace.edge); each worker has its own.
        self.edge_guard = edge_guard

    def bind_socket(self) -> socket.socket:
        """The listening socket; connections it accepts inherit its options: TCP
        keep-alive (the kernel finds a peer that vanished in about two minutes of silence,
        at no cost to the worker), and the two below."""
        sock = super().bind_socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 6)):
            if hasattr(socket, name):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
        millis = int(self.tcp_user_timeout * 1000)
        if millis > 0 and hasattr(socket, "TCP_USER_TIMEOUT"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, millis)
        if self.send_buffer > 0:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer)
        return sock


def options(settings: Settings) -> dict[str, Any]:
    """How Holdspace runs uvicorn: compression only if set (it costs memory per
    connection), frame size capped, no access log (client addresses stay out of the
    logs), no server header, forwarded headers believed from configured proxies only; the
    HTTP parser uvicorn would choose and its sans-I/O WebSockets, both guarded."""
    return {
        "host": settings.host,
        "port": settings.port,
        "http": http_protocol(),
        "ws": GuardedWebSockets,  # uvicorn's "websockets-sansio", guarded
        "edge_guard": EdgeGuard.from_settings(settings),
        "ws_max_size": TRANSPORT_MAX_BYTES,
        "ws_per_message_deflate": settings.ws_compression,
        "ws_ping_interval": settings.ws_ping_seconds or None,
        "ws_ping_timeout": settings.ws_ping_seconds or None,
        "log_config": None,
        "access_log": False,
        "lifespan": "on",
        # Said, not guessed: the app's __call__ hands over the endpoint's coroutine
        # without being one itself (web.ws.EdgeApp), which uvicorn would take for ASGI 2.
        "interface": "asgi3",
        "server_header": False,
        "timeout_graceful_shutdown": settings.shutdown_seconds,
        "tcp_user_timeout": settings.tcp_user_timeout_seconds,
        "send_buffer": settings.socket_send_buffer_bytes,
        # X-Forwarded-* only from the proxies named (uvicorn trusts loopback by default).
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": list(settings.trusted_proxies) or None,
    }


class _AnnouncedServer(uvicorn.Server):
    """Says the server is ready once it is — after start-up, not before."""

    def __init__(self, config: uvicorn.Config, announce: Callable[[], None]) -> None:
        super().__init__(config)
        self._announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._announce()


def banner(settings: Settings, seeded: bool) -> str:
    """What a person who started the server needs to see once it is ready."""
    lines = ["", f"Holdspace is ready: http://{settings.host}:{settings.port}"]
    accounts = demo_accounts(settings.data_dir) if settings.demo else None
    if accounts is not None:
        intro = "Demo seeded. Sign in with:" if seeded else "The demo's accounts:"
        lines += [intro, accounts.rstrip("\n")]
        lines.append(f"(Kept in {settings.data_dir / DEMO_FILE}. Start afresh: {_me()} demo reset)")
    lines += ["Stop with Ctrl+C.", ""]
    return "\n".join(lines)


def _me() -> str:
    """How this command was run, so the hints printed can be copied as they are."""
    path = Path(sys.argv[0])
    if path.name == "holdspace" and path.exists():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
    return "holdspace"


def serve(settings: Settings) -> None:
    if settings.workers == 1:
        app = create_app(settings)
        config = Config(app, **options(settings))
        sock = config.bind_socket()

        def announce() -> None:
            print(banner(settings, getattr(app.state, "demo_seeded", False)), flush=True)

        _AnnouncedServer(config, announce).run(sockets=[sock])
        return
    # Each worker imports the app and builds it from the environment.
    config = Config(
        "holdspace.app:from_env", factory=True, workers=settings.workers, **options(settings)
    )
    sock = config.bind_socket()
    where = f"http://{settings.host}:{settings.port}"
    print(f"Holdspace is starting {settings.workers} workers on {where}", flush=True)
    Multiprocess(config, sockets=[sock]).run()
