"""The WebSocket endpoint: one task receives and handles commands, one writes.

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
from dataclasses import dataclass
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from holdspace import protocol as p
from holdspace.accounts import Accounts
from holdspace.core import commands as c
from holdspace.errors import ClientError, InvalidInput, Rejected, Unavailable
from holdspace.rooms import Rooms, Seat
from holdspace.settings import Settings
from holdspace.storage.models import User
from holdspace.web.connection import Connection, Lost, Overflow
from holdspace.web.services import Services

log = logging.getLogger("holdspace.ws")

COOKIE = "holdspace_session"


class SignedOut(Exception):
    """The socket's token is no longer valid."""


@dataclass(slots=True)
class _Joined:
    seat: Seat


class Endpoint:
    def __init__(self, services: Services, settings: Settings) -> None:
        self.services = services
        self.settings = settings
        self.open = 0  # sockets currently open on this worker

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
        user = await self.accounts.authenticate(token)
        await websocket.accept()
        if user is None:
            user, token = await self._auth_frame(websocket)
            if user is None or token is None:
                return
        assert token is not None
        session = _Session(self, websocket, user, token)
        self.open += 1
        try:
            await session.run()
        finally:
            self.open -= 1

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
        self.accounts = endpoint.accounts
        self.websocket = websocket
        self.user = user
        self._token = token
        settings = endpoint.settings
        self._reauth_seconds = settings.reauth_seconds
        self.conn = Connection(
            f"{self.rooms.hub.worker_id}.{secrets.token_hex(6)}",
            user.id,
            websocket.send_text,
            max_frames=settings.send_queue_frames,
            max_bytes=settings.send_queue_bytes,
        )
        self.joined: _Joined | None = None

    async def run(self) -> None:
        log.info("connected", extra={"conn": self.conn.id, "user_id": self.user.id})
        self.conn.send(
            p.encode(
                "hello",
                protocol=p.PROTOCOL_VERSION,
                user={"id": self.user.id, "name": self.user.display_name, "role": self.user.role},
            )
        )
        tasks = {
            asyncio.create_task(self._receive()),
            asyncio.create_task(self.conn.writer()),
            asyncio.create_task(self._guard()),
        }
        close: tuple[int, str] | None = None
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                error = None if task.cancelled() else task.exception()
                if isinstance(error, Overflow):
                    close = (p.CloseCode.TOO_SLOW, "too slow: reconnect and resume")
                elif isinstance(error, Lost):
                    close = (p.CloseCode.RESYNC, "reconnect and rejoin")
                elif isinstance(error, SignedOut):
                    close = (p.CloseCode.AUTH_FAILED, "signed out")
                elif error is not None and not isinstance(error, WebSocketDisconnect):
                    log.error("connection failed", exc_info=error, extra={"conn": self.conn.id})
                    close = (p.CloseCode.INTERNAL, "internal error")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._part(leaving=False)
            if close is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2):
                        await self.websocket.close(*close)
            log.info(
                "disconnected",
                extra={"conn": self.conn.id, "close_code": close[0] if close else None},
            )

    async def _guard(self) -> None:
        """Close the socket soon after its sign-in is revoked (logout, password or role change)."""
        while True:
            await asyncio.sleep(self._reauth_seconds)
            with contextlib.suppress(Unavailable):  # checked again next time
                await self._reauthenticate()

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
                return
            text = message.get("text")
            if text is None:
                self._error(
                    InvalidInput("Send JSON text frames, not binary.", code="binary_frame"), None
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
                self._error(refusal, frame.id)
            except Unavailable:
                self._error(
                    ClientError(
                        "The service is briefly unavailable; nothing was sent.", code="unavailable"
                    ),
                    frame.id,
                )

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
                "You're already signed in on this connection.", code="already_authenticated"
            )
        elif isinstance(cmd, p.JoinRoom):
            await self._join(frame.id, cmd)
        elif isinstance(cmd, c.Leave):
            await self._part(leaving=True)
            self._reply(frame.id)
        elif self.joined is None and self.conn.session_over:
            raise Rejected("This session has ended.", code="session_ended")
        else:
            if self.joined is None:
                raise Rejected("Join a room first.", code="not_joined")
            seat = self.joined.seat
            t = await self.rooms.command(seat.room.id, seat.window.key, self.user.id, cmd)
            if t.error is not None:
                raise t.error
            self._reply(frame.id, **t.reply)

    async def _join(self, frame_id: Any, cmd: p.JoinRoom) -> None:
        if self.joined is not None:
            raise Rejected("You're already in a room on this connection.", code="already_joined")
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
                # Notices aren't replayed; facilitators get what they hold instead.
                private = {k: view[k] for k in ("whispers", "waiting") if k in view}
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
                raise Rejected("You're not in a room.", code="not_joined")
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
