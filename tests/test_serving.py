"""How a worker's listening socket and uvicorn are set up (real sockets, no server)."""

from __future__ import annotations

import socket

from holdspace.serving import Config, options
from holdspace.settings import Settings


def test_accepted_connections_get_tcp_keepalive() -> None:
    """Dead peers are found by the kernel, at no cost to the worker: the listening socket
    carries keep-alive, and a connection it accepts inherits it."""
    config = Config(app=None, **{**options(Settings(host="127.0.0.1", port=0)), "port": 0})
    server = config.bind_socket()
    try:
        server.listen()  # (the server does this when it starts)
        assert server.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        with socket.create_connection(server.getsockname()[:2]) as client:
            accepted, _ = server.accept()
            with accepted:
                assert accepted.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 60
            assert client.fileno() >= 0
    finally:
        server.close()


def test_keepalive_pings_follow_the_setting() -> None:
    assert options(Settings())["ws_ping_interval"] == 20.0
    quiet = options(Settings(ws_ping_seconds=0))
    assert (quiet["ws_ping_interval"], quiet["ws_ping_timeout"]) == (None, None)
    assert Settings.from_env({"HOLDSPACE_WS_PING_SECONDS": "45"}).ws_ping_seconds == 45.0
