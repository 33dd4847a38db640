"""What the guarded WebSocket protocol holds per socket instead of uvicorn's own: a
lighter receive queue and ``writable`` flag, and no handshake once it is done. Each
must behave exactly as what it replaces."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest
from websockets.datastructures import Headers
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import Protocol, Side, State
from websockets.server import ServerProtocol

from holdspace.edge import _forget_handshake, _Gate, _Inbox

HANDSHAKE = (
    b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    b"Cookie: holdspace_session=not-a-real-one\r\n\r\n"
)


def _client_frame(text: str) -> bytes:
    """A text frame as a client sends it (masked)."""
    client = Protocol(Side.CLIENT, state=State.OPEN)
    client.send_text(text.encode())
    return b"".join(client.data_to_send())


def _accepted() -> tuple[ServerProtocol, weakref.ref[Request]]:
    server = ServerProtocol()
    server.receive_data(HANDSHAKE)
    [request] = server.events_received()
    assert isinstance(request, Request)
    server.send_response(server.accept(request))
    assert server.state is State.OPEN
    return server, weakref.ref(request)


def _texts(server: ServerProtocol) -> list[str]:
    frames = server.events_received()
    assert all(isinstance(f, Frame) and f.opcode is Opcode.TEXT for f in frames)
    return [bytes(f.data).decode() for f in frames if isinstance(f, Frame)]


def test_the_handshake_is_let_go_once_accepted_and_frames_still_parse() -> None:
    server, request = _accepted()
    old = server.parser
    _forget_handshake(server)
    assert server.parser is not old
    gc.collect()
    assert request() is None  # nothing holds the request or its headers any more
    second = _client_frame("second")  # masked at random: made once
    server.receive_data(_client_frame("first") + second[:3])
    assert _texts(server) == ["first"]
    server.receive_data(second[3:])
    assert _texts(server) == ["second"]


def test_a_frame_half_read_keeps_the_parser_it_is_in() -> None:
    """A client that sent frames before it saw the handshake's answer: the parser may be
    inside one, and replacing it would lose what it has read."""
    server, request = _accepted()
    frame = _client_frame("early " * 40)
    server.receive_data(frame[:2])  # the header: read, the rest still to come
    old = server.parser
    _forget_handshake(server)
    assert server.parser is old
    server.receive_data(frame[2:])
    assert _texts(server) == ["early " * 40]
    assert request() is not None  # kept, as before: nothing lost for memory's sake


def test_a_closed_stream_is_left_to_the_protocol() -> None:
    server, _ = _accepted()
    server.receive_eof()
    old = server.parser
    _forget_handshake(server)
    assert server.parser is old


async def test_the_inbox_hands_messages_over_in_order() -> None:
    inbox = _Inbox()
    assert inbox.empty()
    assert inbox.qsize() == 0
    inbox.put_nowait({"n": 1})
    inbox.put_nowait({"n": 2})
    assert inbox.qsize() == 2
    assert await inbox.get() == {"n": 1}
    waiting = asyncio.ensure_future(inbox.get())
    assert await waiting == {"n": 2}
    waiting = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)  # let it start waiting: nothing is there yet
    assert not waiting.done()
    inbox.put_nowait({"n": 3})
    assert await asyncio.wait_for(waiting, 5) == {"n": 3}
    assert inbox.empty()


async def test_a_cancelled_get_loses_nothing() -> None:
    inbox = _Inbox()
    waiting = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    inbox.put_nowait("kept")
    assert await asyncio.wait_for(inbox.get(), 5) == "kept"


async def test_the_gate_holds_senders_while_the_transport_is_full() -> None:
    gate = _Gate()
    assert gate.is_set()
    await asyncio.wait_for(gate.wait(), 5)  # open: no wait
    gate.clear()
    assert not gate.is_set()
    senders = [asyncio.ensure_future(gate.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(s.done() for s in senders)
    gate.set()
    await asyncio.wait_for(asyncio.gather(*senders), 5)  # every one let through
    assert gate.is_set()


def test_headers_are_what_the_handshake_held() -> None:
    """The test's request is a real one: its headers are what would be let go."""
    _server, request = _accepted()
    kept = request()
    assert kept is not None
    assert isinstance(kept.headers, Headers)
    assert kept.headers["Cookie"].startswith("holdspace_session=")


def test_a_signed_in_socket_lets_go_of_its_handshake_headers() -> None:
    from starlette.websockets import WebSocket

    from holdspace.web.ws import _let_go_of_headers

    async def nothing() -> None:
        raise AssertionError("not called")

    scope = {
        "type": "websocket",
        "path": "/ws",
        "headers": [(b"cookie", b"holdspace_session=abc"), (b"origin", b"https://x.example")],
    }
    websocket = WebSocket(scope, nothing, nothing)  # type: ignore[arg-type]
    assert websocket.cookies == {"holdspace_session": "abc"}
    assert websocket.headers["origin"] == "https://x.example"
    _let_go_of_headers(websocket)
    assert scope["headers"] == []
    assert "_headers" not in vars(websocket)
    assert "_cookies" not in vars(websocket)
    assert websocket.cookies == {}  # read again, they would be empty: nothing kept


async def test_arrival_is_one_future_the_receiving_task_awaits() -> None:
    """The connection's task awaits the inbox's future itself: done at once when a message
    already waits, the same future while nothing has come, and a cancelled wait loses
    nothing."""
    inbox = _Inbox()
    first = inbox.arrival()
    assert inbox.arrival() is first  # one wait, however often it is asked for
    assert not first.done()
    inbox.put_nowait("one")
    assert first.done()
    assert inbox.arrival().done()  # "one" is waiting
    assert inbox.take() == "one"
    waiting = asyncio.ensure_future(asyncio.wait_for(inbox.arrival(), 5))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    inbox.put_nowait("two")
    await asyncio.wait_for(inbox.arrival(), 5)
    assert inbox.take() == "two"
    assert inbox.empty()
