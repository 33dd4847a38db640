"""The worker's own edge, against ``holdspace serve`` with nothing in front of it: sockets
that never finish their headers are closed at the deadline; one address holds only so
many connections and opens only so many WebSockets a minute (HTTP 429 with Retry-After);
one account keeps only so many sockets, the oldest making way (close 4010); and a
trusted proxy, which carries everyone, is capped by the people behind it, not as one.

Raw sockets stand in for the misbehaving clients: asyncio streams that send half a
request, or nothing. Every wait is for something the server does (an end of file, an
answer, a close), bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from starlette.types import ASGIApp, Receive, Scope, Send
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus

from holdspace.edge import EdgeGuard, GuardedH11, GuardedHttpTools, GuardedWebSockets
from holdspace.limits import OpenCounts, TrustedProxies
from holdspace.protocol import CloseCode
from holdspace.serving import Config
from holdspace_client import register
from tests.live import PASSWORD
from tests.processes import Worker, eventually

pytestmark = pytest.mark.integration

DEADLINE = 0.5  # seconds: the header deadline these workers run with
PARTIAL = b"GET /healthz HTTP/1.1\r\nHost: holdspace.test\r\n"  # no blank line: unfinished
REQUEST = PARTIAL + b"\r\n"
Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def dial(port: int, source: str = "127.0.0.1") -> Stream:
    """A raw TCP connection to the worker, from ``source`` (any 127.x.y.z is this host)."""
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def closed_by_server(stream: Stream, timeout: float = 5.0) -> bytes:
    """Everything the server sent before closing the connection (b"": it said nothing)."""
    reader, _ = stream
    try:
        async with asyncio.timeout(timeout):
            return await reader.read()
    except ConnectionResetError:
        return b""


async def ask(stream: Stream, request: bytes = REQUEST) -> bytes:
    """Send a request; the status line and headers of the answer, b"" if closed instead."""
    reader, writer = stream
    try:
        writer.write(request)
        async with asyncio.timeout(5):
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.lower().split(b"\r\n")
                if line.startswith(b"content-length:")
            )
            await reader.readexactly(length)  # the body, so the next request can follow
            return head
    except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError):
        return b""


async def answered(port: int, source: str = "127.0.0.1") -> bool:
    """A new connection from ``source`` gets an answer (it was not refused)."""
    stream = await dial(port, source)
    try:
        return (await ask(stream)).startswith(b"HTTP/1.1 200")
    finally:
        stream[1].close()


def close(*streams: Stream) -> None:
    for _, writer in streams:
        writer.close()


async def metrics(worker: Worker, source: str = "127.0.0.1") -> str:
    transport = httpx.AsyncHTTPTransport(local_address=source)
    async with httpx.AsyncClient(base_url=worker.url, timeout=10, transport=transport) as http:
        return (await http.get("/metrics")).text


def ws(url: str, **headers: str) -> websockets.connect:
    return websockets.connect(url, additional_headers=headers, compression=None, open_timeout=5)


async def hello(socket: ClientConnection, token: str) -> dict[str, Any]:
    await socket.send(json.dumps({"type": "auth", "token": token}))
    frame: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), 5))
    assert frame["type"] == "hello", frame
    return frame


async def pong(socket: ClientConnection) -> None:
    await socket.send(json.dumps({"type": "ping", "id": 1}))
    assert json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] == "pong"


# -- the header deadline ----------------------------------------------------------------------


@pytest.mark.parametrize("worker", [{"header_timeout_seconds": str(DEADLINE)}], indirect=True)
async def test_sockets_that_never_finish_their_headers_are_closed(worker: Worker) -> None:
    """Fifty slowloris sockets — one of them trickling a header line every 0.1 s — are all
    closed without an answer once the deadline passes; a prompt request is answered."""
    slow = [await dial(worker.port) for _ in range(50)]
    started = time.monotonic()
    for _, writer in slow:
        writer.write(PARTIAL)

    async def trickle(writer: asyncio.StreamWriter) -> None:
        for n in range(100):
            writer.write(b"X-Still-Here: %d\r\n" % n)
            await asyncio.sleep(0.1)

    trickler = asyncio.create_task(trickle(slow[0][1]))
    try:
        said = await asyncio.gather(*(closed_by_server(s) for s in slow))
    finally:
        trickler.cancel()
        close(*slow)
    assert said == [b""] * 50
    assert time.monotonic() - started >= DEADLINE * 0.8
    assert await answered(worker.port)
    assert "holdspace_header_timeouts_total 50.0" in await metrics(worker)


@pytest.mark.parametrize("worker", [{"header_timeout_seconds": str(DEADLINE)}], indirect=True)
async def test_each_request_on_a_kept_alive_connection_meets_the_deadline(worker: Worker) -> None:
    """After an answer the deadline starts again: the next request's headers, begun and
    never finished, don't hold the connection open."""
    stream = await dial(worker.port)
    try:
        assert (await ask(stream)).startswith(b"HTTP/1.1 200")
        assert (await ask(stream)).startswith(b"HTTP/1.1 200")  # kept alive
        stream[1].write(PARTIAL)
        assert await closed_by_server(stream) == b""
    finally:
        close(stream)


@pytest.mark.parametrize("worker", [{"header_timeout_seconds": str(DEADLINE)}], indirect=True)
async def test_an_accepted_websocket_outlives_the_deadline(worker: Worker) -> None:
    """The deadline ends with the upgrade: after it, the socket's time to sign in is
    HOLDSPACE_AUTH_TIMEOUT_SECONDS (10 s), and then it lasts as long as it is used."""
    token = await register(worker.url, "sam", PASSWORD, "Sam")
    async with ws(worker.ws_url) as socket:
        # Past the deadline, before signing in: a connection opened after the socket,
        # its headers never finished, is closed by the server when its deadline fires.
        late = await dial(worker.port)
        try:
            late[1].write(PARTIAL)
            assert await closed_by_server(late) == b""
        finally:
            close(late)
        await hello(socket, token)
        await pong(socket)


# -- connections per address ------------------------------------------------------------------


@pytest.mark.parametrize("worker", [{"connections_per_address": "3"}], indirect=True)
async def test_an_address_holds_only_so_many_connections(worker: Worker) -> None:
    """The fourth connection from one address is closed as it opens, unanswered; once one
    of the three closes, the address may connect again. Other addresses are not held up."""
    held = [await dial(worker.port) for _ in range(3)]
    try:
        for stream in held:  # each answered: each counted
            assert (await ask(stream)).startswith(b"HTTP/1.1 200")
        fourth = await dial(worker.port)
        held.append(fourth)  # closed in the end, whatever happens
        assert await ask(fourth) == b""
        assert await answered(worker.port, source="127.0.0.2")
        close(held.pop(0))
        # The worker learns of the close when its kernel passes it on: try until it has.
        await eventually(lambda: answered(worker.port), timeout=5)
        text = await metrics(worker, source="127.0.0.3")  # this address may be full again
        assert _sample(text, "holdspace_connections_refused_total") >= 1
    finally:
        close(*held)


# -- handshakes per address -------------------------------------------------------------------


@pytest.mark.parametrize(
    "worker", [{"handshake_burst": "3", "handshakes_per_minute": "1"}], indirect=True
)
async def test_a_burst_of_handshakes_from_one_address_gets_429(worker: Worker) -> None:
    """Three WebSockets at once, then one a minute: the fourth handshake is answered 429
    with Retry-After and the `rate_limited` code. Plain HTTP is not held up."""
    for _ in range(3):
        async with ws(worker.ws_url):
            pass
    with pytest.raises(InvalidStatus) as refused:
        async with ws(worker.ws_url):
            pass
    response = refused.value.response
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert json.loads(response.body or b"")["error"]["code"] == "rate_limited"
    assert await answered(worker.port)
    assert _sample(await metrics(worker), 'holdspace_rate_limited_total{surface="handshake"}') == 1


# -- sockets per account ----------------------------------------------------------------------


@pytest.mark.parametrize("worker", [{"sockets_per_account": "2"}], indirect=True)
async def test_one_socket_too_many_closes_the_accounts_oldest(worker: Worker) -> None:
    """A member's third socket opens; their first — the one they left longest ago — is
    closed with 4010 "opened elsewhere", and the other two carry on."""
    token = await register(worker.url, "sam", PASSWORD, "Sam")
    other = await register(worker.url, "kim", PASSWORD, "Kim")
    async with (
        ws(worker.ws_url) as first,
        ws(worker.ws_url) as second,
        ws(worker.ws_url) as third,
        ws(worker.ws_url) as kims,
    ):
        await hello(kims, other)  # another account's socket counts apart
        await hello(first, token)
        await hello(second, token)
        await hello(third, token)
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(first.recv(), 5)
        assert first.close_code == CloseCode.REPLACED == 4010
        assert first.close_reason == "opened elsewhere"
        for socket in (second, third, kims):
            await pong(socket)
    assert _sample(await metrics(worker), "holdspace_sockets_replaced_total") == 1


# -- behind a trusted proxy -------------------------------------------------------------------

BEHIND_PROXY = {
    "trusted_proxies": "127.0.0.1",
    "connections_per_address": "2",
    "header_timeout_seconds": "5",
}


@pytest.mark.parametrize("worker", [BEHIND_PROXY], indirect=True)
async def test_a_trusted_proxy_is_not_capped_but_those_behind_it_are(worker: Worker) -> None:
    """The proxy's own address holds as many connections as it likes; each member behind
    it, named in X-Forwarded-For, holds two WebSockets and gets 429 (too_many_connections)
    for a third. Anyone else connecting directly is capped at two connections."""
    from_proxy = [await dial(worker.port) for _ in range(5)]
    try:
        for stream in from_proxy:
            assert (await ask(stream)).startswith(b"HTTP/1.1 200")
    finally:
        close(*from_proxy)

    amy = {"X-Forwarded-For": "203.0.113.7"}
    async with ws(worker.ws_url, **amy) as one, ws(worker.ws_url, **amy):
        with pytest.raises(InvalidStatus) as refused:
            async with ws(worker.ws_url, **amy):
                pass
        response = refused.value.response
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) >= 1
        assert json.loads(response.body or b"")["error"]["code"] == "too_many_connections"
        async with ws(worker.ws_url, **{"X-Forwarded-For": "203.0.113.8"}):
            pass  # someone else behind the same proxy
        await one.close()

        async def amy_again() -> bool:
            try:
                async with ws(worker.ws_url, **amy):
                    return True
            except InvalidStatus:
                return False

        await eventually(amy_again, timeout=5)

    direct = [await dial(worker.port, source="127.0.0.2") for _ in range(2)]
    try:
        for stream in direct:
            assert (await ask(stream)).startswith(b"HTTP/1.1 200")
        assert not await answered(worker.port, source="127.0.0.2")
    finally:
        close(*direct)


def _sample(text: str, name: str) -> float:
    """One sample's value from Prometheus text."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name} in:\n{text}")


# -- both of uvicorn's HTTP parsers -----------------------------------------------------------


async def tiny_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers every HTTP request at once, and never accepts a WebSocket: it waits until
    the connection is gone."""
    if scope["type"] == "websocket":
        while (await receive())["type"] != "websocket.disconnect":
            pass
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: holdspace.test\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)


@contextlib.asynccontextmanager
async def guarded_server(
    app: ASGIApp, protocol: type[asyncio.Protocol], guard: EdgeGuard
) -> AsyncIterator[int]:
    """uvicorn in this process with the guarded ``protocol`` for HTTP and the guarded
    WebSocket protocol, serving ``app`` on a loopback port (yielded) until the block
    ends."""
    config = Config(
        app, http=protocol, ws=GuardedWebSockets, edge_guard=guard,
        lifespan="off", log_config=None, access_log=False,
    )  # fmt: skip
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await eventually(lambda: server.started, timeout=5)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)
        sock.close()


@pytest.mark.parametrize("protocol", [GuardedHttpTools, GuardedH11], ids=["httptools", "h11"])
async def test_both_http_parsers_are_guarded(protocol: type[asyncio.Protocol]) -> None:
    """Whichever parser uvicorn runs, the guard is the same: slow headers are cut off at the
    deadline, so is an upgrade the app never accepts, and one connection past an
    address's cap is refused."""
    guard = EdgeGuard(DEADLINE, OpenCounts(3), TrustedProxies([]))
    async with guarded_server(tiny_app, protocol, guard) as port:
        streams: list[Stream] = []
        try:
            streams += [slow := await dial(port), upgrading := await dial(port)]
            slow[1].write(PARTIAL)
            upgrading[1].write(UPGRADE)
            streams.append(prompt := await dial(port))
            assert (await ask(prompt)).startswith(b"HTTP/1.1 200")
            streams.append(fourth := await dial(port))  # the address holds three already
            assert await ask(fourth) == b""
            assert await closed_by_server(slow) == b""
            assert await closed_by_server(upgrading) == b""  # no 101, nor anything else
            close(*streams)
            await eventually(lambda: answered(port), timeout=5)
        finally:
            close(*streams)


async def accepting_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Accepts every WebSocket and holds it until the client goes."""
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while (await receive())["type"] != "websocket.disconnect":
            pass


@pytest.mark.parametrize("protocol", [GuardedHttpTools, GuardedH11], ids=["httptools", "h11"])
async def test_an_upgraded_connection_leaves_no_http_protocol_behind(
    protocol: type[asyncio.Protocol],
) -> None:
    """Once the WebSocket protocol takes a connection over, the HTTP protocol that read its
    upgrade is freed there and then, not left in a reference cycle for the collector to
    find: with the collector off, none of the five is left."""
    guard = EdgeGuard(DEADLINE, OpenCounts(10), TrustedProxies([]))
    async with guarded_server(accepting_app, protocol, guard) as port:
        sockets: list[ClientConnection] = []
        try:
            gc.collect()
            gc.disable()
            try:
                for _ in range(5):
                    sockets.append(await ws(f"ws://127.0.0.1:{port}/ws"))
                await asyncio.wait_for(await sockets[-1].ping(), 5)  # open and served
                left = [o for o in gc.get_objects() if type(o) is protocol]
            finally:
                gc.enable()
            assert left == []
        finally:
            for s in sockets:
                await s.close()
