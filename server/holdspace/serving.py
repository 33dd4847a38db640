"""Running the app under uvicorn: one process, or several sharing one listening socket.

The listening socket is bound here, not by uvicorn, so that it carries
``TCP_USER_TIMEOUT`` and a bounded ``SO_SNDBUF`` (accepted sockets inherit
both): a peer that stops acknowledging data is dropped by the kernel, and until
then holds a bounded buffer. Without them a client that stops reading pins its
socket and megabytes of kernel send buffer long after the server has given up
on it.
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from holdspace.app import create_app
from holdspace.protocol import TRANSPORT_MAX_BYTES
from holdspace.settings import Settings


class Config(uvicorn.Config):
    def __init__(
        self, *args: Any, tcp_user_timeout: float = 0.0, send_buffer: int = 0, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.tcp_user_timeout = tcp_user_timeout
        self.send_buffer = send_buffer

    def bind_socket(self) -> socket.socket:
        """The listening socket; connections it accepts inherit both options."""
        sock = super().bind_socket()
        millis = int(self.tcp_user_timeout * 1000)
        if millis > 0 and hasattr(socket, "TCP_USER_TIMEOUT"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, millis)
        if self.send_buffer > 0:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer)
        return sock


def options(settings: Settings) -> dict[str, Any]:
    """How Holdspace runs uvicorn: compression only if set (it costs memory per
    connection), frame size capped, no access log (client addresses stay out of the
    logs), no server header."""
    return {
        "host": settings.host,
        "port": settings.port,
        "ws": "websockets-sansio",
        "ws_max_size": TRANSPORT_MAX_BYTES,
        "ws_per_message_deflate": settings.ws_compression,
        "log_config": None,
        "access_log": False,
        "lifespan": "on",
        "server_header": False,
        "timeout_graceful_shutdown": settings.shutdown_seconds,
        "tcp_user_timeout": settings.tcp_user_timeout_seconds,
        "send_buffer": settings.socket_send_buffer_bytes,
    }


def serve(settings: Settings) -> None:
    where = f"http://{settings.host}:{settings.port}"
    if settings.workers == 1:
        config = Config(create_app(settings), **options(settings))
        sock = config.bind_socket()
        print(f"Holdspace is listening on {where}", flush=True)
        uvicorn.Server(config).run(sockets=[sock])
        return
    # Each worker imports the app and builds it from the environment.
    config = Config(
        "holdspace.app:from_env", factory=True, workers=settings.workers, **options(settings)
    )
    sock = config.bind_socket()
    print(f"Holdspace is listening on {where} with {settings.workers} workers", flush=True)
    Multiprocess(config, sockets=[sock]).run()
