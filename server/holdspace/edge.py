"""The worker's own edge, beneath the app: a deadline for each request's headers (and a
WebSocket's upgrade), and a cap on the connections one address holds open.

Workers often run behind load balancers that guard neither, or with nothing in front.
uvicorn starts no timer before a request's headers are in — its keep-alive timeout runs
only while a connection is idle *between* requests, and the first byte of the next one
cancels it — so a client that sends a header line now and then holds its socket, and a
file descriptor, for as long as it likes. And nothing stops one address opening
thousands of sockets.

Both guards live in uvicorn's own protocol classes, subclassed here, because only they
see a connection before its request is whole: the app never hears of a connection that
never finishes its headers. :func:`http_protocol` picks the class for the HTTP parser
that is installed (httptools, else h11); :class:`GuardedWebSockets` takes a connection
over once it is upgraded. The per-address counts and the app's metrics reach them through
:class:`EdgeGuard` (on :class:`holdspace.serving.Config`) and the lifespan state.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, cast

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import Protocol, State
from websockets.streams import StreamReader

from holdspace.limits import OpenCounts, TrustedProxies
from holdspace.metrics import EDGE_STATS, EdgeStats
from holdspace.settings import Settings

__all__ = [
    "RECEIVER",
    "SEND_NOW",
    "EdgeGuard",
    "GuardedH11",
    "GuardedWebSockets",
    "Receiver",
    "http_protocol",
    "text_frame",
]

# The ASGI scope extension through which :class:`GuardedWebSockets` offers its
# :meth:`~GuardedWebSockets.send_now` to the app.
SEND_NOW = "holdspace.send_now"
# ... and its :class:`Receiver`.
RECEIVER = "holdspace.receiver"


@dataclass(slots=True)
class EdgeGuard:
    """One worker's guard beneath the app: the header deadline and the open connections
    per peer address. :class:`holdspace.serving.Config` carries it to the protocols (with
    several workers, each process gets a copy of its own: the counts are per worker)."""

    header_timeout: float  # seconds for a request's headers, and a WebSocket's upgrade
    per_address: OpenCounts[asyncio.BaseTransport]
    trusted: TrustedProxies  # their peers carry many people: never capped here

    @classmethod
    def from_settings(cls, settings: Settings) -> EdgeGuard:
        return cls(
            settings.header_timeout_seconds,
            OpenCounts(settings.connections_per_address),
            TrustedProxies(settings.trusted_proxies),
        )

    def admit(self, transport: asyncio.BaseTransport, address: str | None) -> bool:
        """Count a new connection from ``address``; False if it is one too many. (A
        connection with no address — a Unix socket — is not counted.)"""
        if address is None or address in self.trusted:
            return True
        return self.per_address.take(transport, address)

    def release(self, transport: asyncio.BaseTransport) -> None:
        self.per_address.give_back(transport)


def _guard(config: object) -> EdgeGuard | None:
    guard = getattr(config, "edge_guard", None)
    return guard if isinstance(guard, EdgeGuard) else None


def _count(app_state: dict[str, Any], counter: str) -> None:
    """Bump one of the app's :class:`EdgeStats` counters, which its lifespan put in the
    state uvicorn shares with every protocol (there are none before the app starts)."""
    stats = app_state.get(EDGE_STATS)
    if isinstance(stats, EdgeStats):
        setattr(stats, counter, getattr(stats, counter) + 1)


def _let_go(protocol: Any) -> None:
    """A guarded connection ended: stop its deadline, give back its place in its
    address's count (whichever protocol had it last)."""
    if protocol._deadline is not None:
        protocol._deadline.cancel()
        protocol._deadline = None
    guard = _guard(protocol.config)
    if guard is not None:
        guard.release(protocol.transport)


class _Guarded(asyncio.Protocol):
    """Mixed in before one of uvicorn's HTTP protocol classes (which set the attributes
    below). Refuses a connection one over its address's cap by closing it at once, before
    reading anything; otherwise closes it if a request's headers are not in within the
    deadline — counted from when it opened, or from the end of the previous response on
    a kept-alive connection. For a WebSocket upgrade the deadline runs on until the app
    has accepted or refused it."""

    config: Any
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    app_state: dict[str, Any]
    client: tuple[str, int] | None
    cycle: Any  # the request being answered, if any (uvicorn's RequestResponseCycle)

    _deadline: asyncio.TimerHandle | None = None
    _waiting_after: Any = None  # the cycle in place when the deadline was set

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        guard = _guard(self.config)
        if guard is None:
            return
        if not guard.admit(self.transport, self.client[0] if self.client else None):
            _count(self.app_state, "connections_refused")
            self.transport.close()  # nothing has been read: no request to answer
            return
        self._expect_headers(guard)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Parsing a request's headers starts a new cycle (an upgrade does not: the
        # deadline runs on until the WebSocket's handshake is over).
        if self._deadline is not None and self.cycle is not self._waiting_after:
            self._deadline.cancel()
            self._deadline = None

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]  # uvicorn's class, next in line
        guard = _guard(self.config)
        # Unless the next request (pipelined) is already being answered, wait for one.
        if guard is not None and (self.cycle is None or self.cycle.response_complete):
            self._expect_headers(guard)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        _let_go(self)

    def handle_websocket_upgrade(self, *args: Any) -> None:
        """Hand the deadline to the WebSocket protocol that takes the connection over: a
        timer left here would keep this object — its parser, its request — alive with it
        (6 KiB a socket, measured) until the deadline passed."""
        deadline, self._deadline, self._waiting_after = self._deadline, None, None
        super().handle_websocket_upgrade(*args)  # type: ignore[misc]  # uvicorn's, next in line
        if deadline is None:
            return
        deadline.cancel()
        taken_over = self.transport.get_protocol()
        if isinstance(taken_over, GuardedWebSockets):
            taken_over.expect_handshake(deadline.when())

    def _expect_headers(self, guard: EdgeGuard) -> None:
        if self.transport.is_closing():
            return
        if self._deadline is not None:
            self._deadline.cancel()
        self._waiting_after = self.cycle
        self._deadline = self.loop.call_later(guard.header_timeout, self._too_late)

    def _too_late(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.transport.get_protocol() is not self:
            return  # upgraded: the WebSocket protocol keeps the deadline now
        if self.cycle is not self._waiting_after:
            return  # its headers did come in
        _count(self.app_state, "header_timeouts")
        self.transport.close()


class GuardedH11(_Guarded, H11Protocol):
    """uvicorn's h11 (pure Python) HTTP protocol, guarded."""


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools comes with uvicorn[standard]; without it uvicorn uses h11
    _CHOSEN: type[asyncio.Protocol] = GuardedH11
else:

    class GuardedHttpTools(_Guarded, HttpToolsProtocol):
        """uvicorn's httptools HTTP protocol (the faster parser), guarded."""

        def handle_websocket_upgrade(self, *args: Any) -> None:
            """Let go of the parser once the WebSocket protocol has the connection: it
            holds this object's callbacks, and this object holds it, so without this the
            two (and the request they read, about 20 objects) outlive the upgrade until
            the collector finds them — by the thousand when a session begins, in
            collector passes of 10–35 ms under load (docs/PERFORMANCE.md)."""
            super().handle_websocket_upgrade(*args)
            if self.transport.get_protocol() is not self:
                self.parser = None  # type: ignore[assignment]  # uvicorn does so on close

    _CHOSEN = GuardedHttpTools


class _Waiters:
    """Tasks waiting for something to change, as futures made only while someone waits
    (``asyncio``'s queue and event keep a deque each, empty or not)."""

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] | None = None

    async def _park(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        await waiter

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)


class _Inbox:
    """uvicorn's receive queue, without ``asyncio.Queue``'s three deques and its event
    (2.5 KiB a socket, held for the socket's life). It holds at most a message or two:
    uvicorn stops reading the socket after each message until the app has taken it.
    Nothing is lost to a ``get`` cancelled while it waits: messages stay until taken.

    One task receives (the app's, as ASGI has it), so a wait is one future, made only
    while it waits: :meth:`arrival` lets that task await it directly, with no coroutine
    of its own between them (see :class:`Receiver`)."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def arrival(self) -> asyncio.Future[None]:
        """Done once a message is waiting (at once if one already is)."""
        waiter = self._waiter
        if waiter is None or waiter.done():
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            if self._items:
                waiter.set_result(None)
        return waiter

    def take(self) -> Any:
        return self._items.pop(0)

    async def get(self) -> Any:
        while not self._items:
            await self.arrival()
        return self.take()

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)


class _Gate(_Waiters):
    """uvicorn's ``writable`` flag (flow control from the transport), without
    ``asyncio.Event``'s deque of waiters."""

    __slots__ = ("_open",)

    def __init__(self) -> None:
        super().__init__()
        self._open = True

    def is_set(self) -> bool:
        return self._open

    def set(self) -> None:
        self._open = True
        self._wake()

    def clear(self) -> None:
        self._open = False

    async def wait(self) -> None:
        while not self._open:
            await self._park()


class Receiver:
    """What ASGI's ``receive`` does for an accepted socket, in two steps the app's task
    calls itself: :meth:`take` the next message if one is waiting, else await
    :meth:`arrival`. ``await receive()`` goes through Starlette's ``receive``, uvicorn's
    and the queue's, a coroutine each, made afresh for every message and alive until the
    next one comes: under load, 2,000 members' worth of them were a third of what each
    pass of the collector had to walk (docs/PERFORMANCE.md)."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: GuardedWebSockets) -> None:
        self._protocol = protocol

    def take(self) -> Any | None:
        """The next message, as uvicorn's ``receive`` hands it over (reading the socket
        again once the queue is empty), or None if none is waiting."""
        protocol = self._protocol
        inbox = cast(_Inbox, protocol.queue)
        if inbox.empty():
            return None
        message = inbox.take()
        if protocol.read_paused and inbox.empty():
            protocol.read_paused = False
            protocol.transport.resume_reading()
        return message

    def arrival(self) -> asyncio.Future[None]:
        """Done once :meth:`take` has a message."""
        return cast(_Inbox, self._protocol.queue).arrival()


class GuardedWebSockets(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O ``websockets`` protocol, which takes a connection over from the
    HTTP protocol when it is upgraded: gives the connection's place in its address's
    count back when it ends. (The HTTP protocol's deadline watches its handshake.)

    It also holds less for each open socket, which matters when a worker holds
    thousands: a lighter receive queue and ``writable`` flag, and once the handshake
    is done, neither its request and response nor their headers (``websockets``
    parsed them into objects uvicorn keeps for good) nor the handshake's deadline."""

    _deadline: asyncio.TimerHandle | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = _Inbox()  # type: ignore[assignment]
        self.writable = _Gate()  # type: ignore[assignment]

    async def send(self, message: Any) -> None:
        await super().send(message)
        if self.handshake_complete and getattr(self, "request", None) is not None:
            # Accepted (or refused): nothing reads the handshake again.
            self.request = self.response = None  # type: ignore[assignment]
            _forget_handshake(self.conn)
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

    def expect_handshake(self, when: float) -> None:
        """Close the connection if the app hasn't accepted or refused it by ``when`` (the
        deadline the HTTP protocol started for its headers)."""
        self._deadline = self.loop.call_at(when, self._too_late)

    def _too_late(self) -> None:
        self._deadline = None
        if self.handshake_complete or self.transport.is_closing():
            return
        _count(self.app_state, "header_timeouts")
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        _let_go(self)

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"][SEND_NOW] = self.send_now
            scope["extensions"][RECEIVER] = Receiver(self)

    def send_now(self, text: str) -> bool:
        """Send a text frame at once, if the socket can take it now — accepted, open, and
        not held back by the transport's flow control: what awaiting ASGI's
        ``websocket.send`` does then, without a coroutine and a task for every frame to
        every member. False: it can't go now; send it the ASGI way, which waits."""
        if (
            not self.handshake_complete
            or self.initial_response is not None
            or self.close_sent
            or self.disconnected
            or not self.writable.is_set()
            or self.transport.is_closing()
            or self.conn.state is not State.OPEN
        ):
            return False
        conn = self.conn
        if conn.extensions or conn.writes or conn.expect_continuation_frame:
            # Compressed (per connection), or something already waits to go: the
            # protocol's own path, which keeps both right.
            conn.send_text(text.encode())
            self.transport.write(b"".join(conn.data_to_send()))
        else:
            self.transport.write(text_frame(text))
        return True


# A server's text frame depends on its text alone (no mask, no extension): made once per
# event and written to every member's socket. Keyed by identity: the hub hands the same
# string to each subscriber, and the entry holds it, so its id can't be reused meanwhile.
_FRAMES: dict[int, tuple[str, bytes]] = {}
_FRAMES_KEPT = 256  # events delivered together; then the cache starts again


def text_frame(text: str) -> bytes:
    """``text`` as one unmasked, final text frame (RFC 6455, 5.2), as the ``websockets``
    protocol would serialize it with no extension, made once for all the sockets it
    goes to."""
    kept = _FRAMES.get(id(text))
    if kept is not None and kept[0] is text:
        return kept[1]
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 65536:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    frame = header + payload
    if len(_FRAMES) >= _FRAMES_KEPT:
        _FRAMES.clear()
    _FRAMES[id(text)] = (text, frame)
    return frame


def _forget_handshake(conn: Protocol) -> None:
    """Let go of the handshake request ``websockets`` keeps: its server parser reads the
    request into a local variable, then parses frames for the rest of the connection
    from inside that same generator, so the request and its headers (about 2 KiB) live
    as long as the socket. A frame parser of its own replaces it — only while the old
    one waits, between frames, for data that hasn't come (it keeps nothing else from
    one frame to the next: its state is the protocol's). Anything else, and it stays."""
    outer = conn.parser
    inner = getattr(outer, "gi_yieldfrom", None)  # Protocol.parse, under the server's
    waiting = getattr(inner, "gi_yieldfrom", None)  # what it waits in
    if (
        getattr(inner, "gi_code", None) is not _FRAMES_PARSE
        or getattr(waiting, "gi_code", None) is not _WAITING
        or conn.reader.buffer
        or conn.reader.eof
    ):
        return
    fresh = Protocol.parse(conn)
    next(fresh)  # to where the old one was: waiting for a frame's first byte
    conn.parser = fresh
    outer.close()


_FRAMES_PARSE = Protocol.parse.__code__
_WAITING = StreamReader.at_eof.__code__


def http_protocol() -> type[asyncio.Protocol]:
    """The guarded HTTP protocol for the parser uvicorn would pick itself ("auto"):
    httptools if it is installed, else h11."""
    return _CHOSEN
