"""The WebSocket endpoint: the connection's own task receives and handles commands, a
writer task sends while frames wait, and one task per worker checks every socket's
sign-in.

Authentication happens on the upgrade (the session cookie, with ``Origin``
checked against an exact allow-list *before* accepting — nothing in Starlette or
uvicorn does this) or by an ``auth`` frame carrying a bearer token as the first
frame. Tokens never travel in the URL. Everything after that is: parse, call
:class:`holdspace.rooms.Rooms`, queue what comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from holdspace import protocol as p
from holdspace.accounts import Accounts
from holdspace.core import commands as c
from holdspace.errors import ClientError, Code, InvalidInput, Rejected, Unavailable, unavailable
from holdspace.metrics import EdgeStats
from holdspace.records import User
from holdspace.rooms import Rooms, Seat
from holdspace.settings import Settings
from holdspace.web.access import request_id
from holdspace.web.connection import Connection, Lost, Overflow
from holdspace.web.refusals import error_response
from holdspace.web.services import Services

log = logging.getLogger("holdspace.ws")

COOKIE = "holdspace_session"


RAW_SEND = "holdspace.raw_send"


class WebSocketEdge:
    """Outermost middleware: WebSocket upgrades to ``path`` go straight to ``handler``,
    with the server's own ``send``; everything else goes on to the Starlette app.

    A socket lives for hours, and every layer its upgrade passes through — the
    middleware, the router, Starlette's exception wrappers — keeps a coroutine frame
    alive for as long: 5 KiB a socket (28.6 → 23.5 KiB per idle connection). None of
    them does anything for this endpoint: the access log and security headers are
    for HTTP, and the endpoint handles its own errors. Frames go out through the
    server's ``send`` too, past Starlette's per-message checks: every delivery is one
    frame sent (docs/PERFORMANCE.md has both measurements).
    """

    def __init__(
        self, app: ASGIApp, *, path: str, handler: Callable[[WebSocket], Awaitable[None]]
    ) -> None:
        self.app = app
        self.path = path
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and _route_path(scope) == self.path:
            scope[RAW_SEND] = send
            await self.handler(WebSocket(scope, receive, send))
            return
        await self.app(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The path within the app, as Starlette's router matches it (without ``root_path``)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def frame_sender(websocket: WebSocket) -> Callable[[str], Awaitable[None]]:
    """How a connection sends a text frame: with the server's ``send`` when
    :class:`WebSocketEdge` kept it, else through Starlette."""
    raw: Send | None = websocket.scope.get(RAW_SEND)
    if raw is None:
        return websocket.send_text

    async def send(frame: str) -> None:
        try:
            await raw({"type": "websocket.send", "text": frame})
        except OSError:  # the peer has gone (as Starlette reports it)
            raise WebSocketDisconnect(code=1006) from None

    return send


class SignedOut(Exception):
    """The socket's token is no longer valid."""


@dataclass(slots=True)
class _Joined:
    seat: Seat


class Endpoint:
    def __init__(self, services: Services, settings: Settings) -> None:
        self.services = services
        self.settings = settings
        self._sessions: set[_Session] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self.stats = EdgeStats()

    @property
    def open(self) -> int:
        """Sockets currently open (and signed in) on this worker."""
        return len(self._sessions)

    @property
    def accounts(self) -> Accounts:
        return self.services.accounts

    @property
    def rooms(self) -> Rooms:
        return self.services.rooms

    async def handle(self, websocket: WebSocket) -> None:
        origin = websocket.headers.get("origin")
        if origin is not None and origin not in self.settings.origins:
            log.info("websocket refused", extra={"reason": "origin"})
            await websocket.close(code=p.CloseCode.POLICY)  # before accept: HTTP 403
            return
        token = websocket.cookies.get(COOKIE)
        try:
            user = await self.accounts.authenticate(token)
        except Unavailable:  # the store is out of reach: try again shortly
            self.stats.ws_unavailable += 1
            await websocket.send_denial_response(error_response(unavailable()))
            return
        await websocket.accept()
        if user is None:
            try:
                user, token = await self._auth_frame(websocket)
            except Unavailable:
                self.stats.ws_unavailable += 1
                await websocket.close(p.CloseCode.TRY_AGAIN, "try again shortly")
                return
            if user is None or token is None:
                return
        assert token is not None
        session = _Session(self, websocket, user, token)
        self._sessions.add(session)
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.create_task(self._sweep(), name="ws-sign-in-checks")
        try:
            await session.run()
        finally:
            self._sessions.discard(session)

    async def _sweep(self) -> None:
        """Close sockets soon after their sign-in is revoked (logout, password or role
        change): one task checks them all, every ``reauth_seconds``, rather than a timer
        per socket. It ends when the last socket does."""
        while self._sessions:
            await asyncio.sleep(self.settings.reauth_seconds)
            for session in list(self._sessions):
                if session not in self._sessions:
                    continue  # gone while we checked others
                try:
                    await session.check_sign_in()
                except Unavailable:
                    pass  # checked again next time
                except Exception:
                    log.exception("sign-in check failed", extra={"conn": session.conn.id})

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)

    async def _auth_frame(self, websocket: WebSocket) -> tuple[User | None, str | None]:
        try:
            async with asyncio.timeout(self.settings.auth_timeout_seconds):
                message = await websocket.receive()
        except TimeoutError:
            await websocket.close(p.CloseCode.AUTH_TIMEOUT, "authentication timed out")
            return None, None
        text = message.get("text")
        user = token = None
        if message["type"] == "websocket.receive" and isinstance(text, str):
            with contextlib.suppress(ClientError):
                frame = p.parse(text)
                if isinstance(frame.command, p.Auth):
                    token = frame.command.token
                    user = await self.accounts.authenticate(token)
        if user is None:
            log.info("websocket refused", extra={"reason": "auth"})
            if message["type"] != "websocket.disconnect":
                await websocket.close(p.CloseCode.AUTH_FAILED, "authentication failed")
        return user, token


class _Session:
    """One authenticated socket, in at most one room at a time."""

    def __init__(self, endpoint: Endpoint, websocket: WebSocket, user: User, token: str) -> None:
        self.rooms = endpoint.rooms
        self.stats = endpoint.stats
        self.accounts = endpoint.accounts
        self.websocket = websocket
        self.user = user
        self._token = token
        settings = endpoint.settings
        self._task: asyncio.Task[Any] | None = None
        self._stopped: BaseException | None = None  # why run() was ended, if it was
        self.conn = Connection(
            f"{self.rooms.hub.worker_id}.{secrets.token_hex(6)}",
            user.id,
            frame_sender(websocket),
            max_frames=settings.send_queue_frames,
            max_bytes=settings.send_queue_bytes,
            on_stop=self._stop,  # overflow, lost track, or a failed send
        )
        self.joined: _Joined | None = None

    async def run(self) -> None:
        """Receive and handle frames in this (the connection's) task until the socket
        closes or :meth:`_stop` ends it: the writer failing, or the sign-in revoked."""
        log.info(
            "connected",
            extra={
                "conn": self.conn.id,
                "user_id": self.user.id,
                "request_id": request_id(self.websocket.scope),
            },
        )
        self._task = asyncio.current_task()
        self.conn.send(
            p.encode(
                "hello",
                protocol=p.PROTOCOL_VERSION,
                user={"id": self.user.id, "name": self.user.display_name, "role": self.user.role},
            )
        )
        close: tuple[int, str] | None = None
        try:
            await self._receive()
        except asyncio.CancelledError:
            if self._stopped is None or self._task is None:
                raise  # the server is shutting down
            self._task.uncancel()
        except WebSocketDisconnect:
            pass
        except Exception as error:
            self._stopped = self._stopped or error
        finally:
            self._task = None  # from here on, a late _stop only records its reason
            await self.conn.close()
            close = self._close_for(self._stopped)
            # Logged when decided: closing a peer that stopped reading waits out the timeout.
            log.info(
                "disconnected",
                extra={"conn": self.conn.id, "close_code": close[0] if close else None},
            )
            await self._part(leaving=False)
            if close is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2):
                        await self.websocket.close(*close)

    def _close_for(self, reason: BaseException | None) -> tuple[int, str] | None:
        if reason is None or isinstance(reason, WebSocketDisconnect):
            return None
        if isinstance(reason, Overflow):
            self.stats.slow_disconnects += 1
            return (p.CloseCode.TOO_SLOW, "too slow: reconnect and resume")
        if isinstance(reason, Lost):
            return (p.CloseCode.RESYNC, "reconnect and rejoin")
        if isinstance(reason, SignedOut):
            return (p.CloseCode.AUTH_FAILED, "signed out")
        log.error("connection failed", exc_info=reason, extra={"conn": self.conn.id})
        return (p.CloseCode.INTERNAL, "internal error")

    def _stop(self, reason: BaseException) -> None:
        """End :meth:`run` for ``reason``, even mid-command."""
        if self._stopped is None:
            self._stopped = reason
            if self._task is not None:
                self._task.cancel()

    async def check_sign_in(self) -> None:
        try:
            await self._reauthenticate()
        except SignedOut as signed_out:
            self._stop(signed_out)

    async def _reauthenticate(self) -> None:
        user = await self.accounts.authenticate(self._token)
        if user is None:
            log.info("signed out", extra={"conn": self.conn.id, "user_id": self.user.id})
            raise SignedOut
        self.user = user  # a changed name or role applies from the next join

    async def _receive(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                if message.get("code") == p.CloseCode.RESTART:
                    self.stats.restart_closes += 1
                return
            text = message.get("text")
            if text is None:
                self._error(
                    InvalidInput("Send JSON text frames, not binary.", code=Code.BINARY_FRAME), None
                )
                continue
            try:
                frame = p.parse(text)
            except p.BadFrame as bad:
                self._error(bad, bad.frame_id)
                continue
            try:
                await self._handle(frame)
            except ClientError as refusal:
                if refusal.code is Code.RATE_LIMITED:
                    self.stats.ws_rate_limited += 1
                self._error(refusal, frame.id)
            except Unavailable:
                self.stats.ws_unavailable += 1
                self._error(unavailable(), frame.id)

    def _error(self, error: ClientError, frame_id: Any) -> None:
        self.conn.send(p.error_frame(error, frame_id))

    def _reply(self, frame_id: Any, **body: Any) -> None:
        self.conn.send(p.encode("reply", id=frame_id, ok=True, **body))

    async def _handle(self, frame: p.Frame) -> None:
        cmd = frame.command
        if self.conn.session_over and self.joined is not None:
            await self._part(leaving=False)  # the session ended: this socket is in no room now
        if isinstance(cmd, p.Ping):
            self.conn.send(p.encode("pong", id=frame.id))
        elif isinstance(cmd, p.Auth):
            raise Rejected(
                "You're already signed in on this connection.", code=Code.ALREADY_AUTHENTICATED
            )
        elif isinstance(cmd, p.JoinRoom):
            await self._join(frame.id, cmd)
        elif isinstance(cmd, c.Leave):
            await self._part(leaving=True)
            self._reply(frame.id)
        elif self.joined is None and self.conn.session_over:
            raise Rejected("This session has ended.", code=Code.SESSION_ENDED)
        else:
            if self.joined is None:
                raise Rejected("Join a room first.", code=Code.NOT_JOINED)
            seat = self.joined.seat
            t = await self.rooms.command(seat.room.id, seat.window.key, self.user.id, cmd)
            if t.error is not None:
                raise t.error
            self._reply(frame.id, **t.reply)

    async def _join(self, frame_id: Any, cmd: p.JoinRoom) -> None:
        if self.joined is not None:
            raise Rejected("You're already in a room on this connection.", code=Code.ALREADY_JOINED)
        await self._reauthenticate()
        seat = await self.rooms.seat(self.user, cmd.room)
        key = seat.window.key
        # Subscribe and hold first, then read state: nothing can fall between the two.
        self.conn.hold()
        try:
            await self.rooms.hub.subscribe(key, self.conn)
        except BaseException:
            self.conn.drop_held()
            raise
        try:
            t, view = await self.rooms.enter(seat, self.user, self.conn.id)
        except BaseException:
            self.conn.drop_held()
            await self.rooms.hub.unsubscribe(key, self.conn)
            raise
        if t.error is not None:
            self.conn.drop_held()
            await self.rooms.hub.unsubscribe(key, self.conn)
            raise t.error
        self.joined = _Joined(seat)
        place = t.reply.get("waiting")
        if place is not None:  # outside the door: no room events until let in
            self.conn.gated = True
            self.conn.release(0)
            self._reply(frame_id, **t.reply)
            log.info("waiting", extra={"conn": self.conn.id, "room_id": seat.room.id})
            return
        assert view is not None  # a join that was not refused has a snapshot
        log.info("joined", extra={"conn": self.conn.id, "room_id": seat.room.id, "role": seat.role})
        resume = cmd.resume
        if resume is not None and resume.session == key:
            missed = await self.rooms.hub.since(key, resume.epoch, resume.seq)
            if missed is not None:
                self.conn.release(resume.seq, missed)
                # Notices aren't replayed: whispers, who is waiting and the round's true
                # outcomes (for facilitators) come with the answer instead.
                private = {k: view[k] for k in ("whispers", "waiting", "round") if k in view}
                self._reply(
                    frame_id, resumed=True, seq=self.conn.seq, epoch=view["epoch"], **private
                )
                return
        kind = "snapshot" if resume is None else "resync"
        self.conn.send(p.encode(kind, id=frame_id, **view))
        self.conn.release(view["seq"])

    async def _part(self, *, leaving: bool) -> None:
        joined, self.joined = self.joined, None
        if joined is None:
            if leaving:
                raise Rejected("You're not in a room.", code=Code.NOT_JOINED)
            return
        key = joined.seat.window.key
        await self.rooms.hub.unsubscribe(key, self.conn)
        if self.conn.session_over:
            return
        cmd: c.Command = c.Leave(self.conn.id) if leaving else c.Disconnect(self.conn.id)
        room_id = joined.seat.room.id
        try:
            await self.rooms.command(room_id, key, self.user.id, cmd)
        except Unavailable:
            self.rooms.later(room_id, key, self.user.id, cmd)  # an outage must not strand them
        log.info("left" if leaving else "dropped", extra={"conn": self.conn.id})
