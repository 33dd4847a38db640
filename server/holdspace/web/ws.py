"""The WebSocket endpoint: the connection's own task receives and handles commands, a
writer task sends while frames wait, and one task per worker checks every socket's
sign-in.

Authentication happens on the upgrade (the session cookie, with ``Origin``
checked against an exact allow-list *before* accepting — nothing in Starlette or
uvicorn does this) or by an ``auth`` frame carrying a bearer token as the first
frame. Tokens never travel in the URL. Everything after that is: parse, hand the
command to :class:`holdspace.sessions.LiveSessions`, send what comes back. Nothing
here touches the hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from holdspace import protocol as p
from holdspace.accounts import Accounts
from holdspace.auth.tokens import device_key, every_device_key
from holdspace.edge import RECEIVER, SEND_NOW, Receiver
from holdspace.errors import ClientError, Code, InvalidInput, Rejected, Unavailable, unavailable
from holdspace.limits import AccountSockets
from holdspace.live.connection import Connection, Lost, Overflow, Revoked
from holdspace.metrics import EdgeStats
from holdspace.records import User
from holdspace.sessions import LiveSessions, Presence
from holdspace.settings import Settings
from holdspace.web.access import request_id
from holdspace.web.admission import Admission
from holdspace.web.refusals import error_response
from holdspace.web.services import Services

log = logging.getLogger("holdspace.ws")

COOKIE = "holdspace_session"
# Over HTTPS the cookie takes the __Host- prefix: browsers then keep it only if it is
# Secure, for this host alone (no Domain) and the whole site (Path=/), so no other
# site under the same domain can plant or overwrite it.
SECURE_COOKIE = "__Host-holdspace_session"


def cookie_name(settings: Settings) -> str:
    """The session cookie's name as this server sets and reads it."""
    return SECURE_COOKIE if settings.cookie_secure else COOKIE


RAW_SEND = "holdspace.raw_send"


class EdgeApp(Starlette):
    """The Starlette app, except that WebSocket upgrades to ``ws_path`` go straight to
    ``ws_handler``, with the server's own ``send``.

    A socket lives for hours, and every layer its upgrade passes through — the app,
    its error middleware, the other middleware, the router, Starlette's exception
    wrappers — keeps a coroutine frame alive for as long: 5 KiB a socket once (28.6 →
    23.5 KiB per idle connection), and this hands over the endpoint's coroutine itself
    (not awaited here), so not even a frame of its own stays. None of them does
    anything for this endpoint: the access log and security headers are for HTTP, and
    the endpoint handles its own errors. Frames go out through the server's ``send``
    too, past Starlette's per-message checks: every delivery is one frame sent
    (docs/PERFORMANCE.md has the measurements).
    """

    def __init__(
        self,
        *args: Any,
        ws_path: str,
        ws_handler: Callable[[WebSocket], Coroutine[Any, Any, None]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.ws_path = ws_path
        self.ws_handler = ws_handler

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Coroutine[Any, Any, None]:
        if scope["type"] == "websocket" and _route_path(scope) == self.ws_path:
            scope["app"] = self
            scope[RAW_SEND] = send
            return self.ws_handler(WebSocket(scope, receive, send))
        return super().__call__(scope, receive, send)


def _let_go_of_headers(websocket: WebSocket) -> None:
    """The handshake's headers have been read for all they are needed for — the Origin
    check, the sign-in cookie, the request id — and nothing reads them again: a list
    of byte strings (about 0.9 KiB, with the cookies parsed from it) that would
    otherwise be kept for the socket's life."""
    websocket.scope["headers"] = []
    for cached in ("_headers", "_cookies"):  # Starlette's, made from them when first read
        websocket.__dict__.pop(cached, None)


def _route_path(scope: Scope) -> str:
    """The path within the app, as Starlette's router matches it (without ``root_path``)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def frame_sender(websocket: WebSocket) -> Callable[[str], Awaitable[None]]:
    """How a connection sends a text frame: with the server's ``send`` when
    :class:`EdgeApp` kept it, else through Starlette."""
    raw: Send | None = websocket.scope.get(RAW_SEND)
    if raw is None:
        return websocket.send_text

    async def send(frame: str) -> None:
        try:
            await raw({"type": "websocket.send", "text": frame})
        except OSError:  # the peer has gone (as Starlette reports it)
            raise WebSocketDisconnect(code=1006) from None

    return send


def _quietly(check: asyncio.Future[None]) -> None:
    """A late check's outcome is no one's to report any more."""
    if not check.cancelled():
        check.exception()


class SignedOut(Exception):
    """The socket's token is no longer valid."""


class Unchecked(Exception):
    """The socket's sign-in could not be checked for too long: it is closed, fail-safe."""


class Replaced(Exception):
    """The account opened one socket too many here, and this was its oldest."""


CHECK_BATCH = 500  # sockets whose sign-in one store call re-checks


class Endpoint:
    def __init__(self, services: Services, settings: Settings) -> None:
        self.services = services
        self.settings = settings
        self._sessions: set[_Session] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._late_checks: set[asyncio.Future[None]] = set()
        self.stats = EdgeStats()
        # Handshakes per client address (docs/OPERATIONS.md, "The worker's own edge").
        self.admission = Admission(settings, self.stats)
        # Each account's sockets here, oldest first; one too many closes the oldest (4010).
        self._per_account: AccountSockets[_Session] = AccountSockets(settings.sockets_per_account)

    @property
    def open(self) -> int:
        """Sockets currently open (and signed in) on this worker."""
        return len(self._sessions)

    @property
    def accounts(self) -> Accounts:
        return self.services.accounts

    @property
    def sessions(self) -> LiveSessions:
        return self.services.sessions

    async def handle(self, websocket: WebSocket) -> None:
        # One coroutine for the socket's whole life (a frame more would cost ~1 KiB a socket).
        refused = self.admission.admit(websocket, websocket.scope)
        if refused is not None:  # too many, or too fast, from one address: HTTP 429
            await websocket.send_denial_response(error_response(refused))
            return
        try:
            origin = websocket.headers.get("origin")
            if origin is not None and origin not in self.settings.origins:
                log.info("websocket refused", extra={"reason": "origin"})
                await websocket.close(code=p.CloseCode.POLICY)  # before accept: HTTP 403
                return
            token = websocket.cookies.get(cookie_name(self.settings))
            try:
                user = await self.accounts.authenticate(token)
            except Unavailable:  # the store is out of reach: try again shortly
                self.stats.ws_unavailable += 1
                await websocket.send_denial_response(error_response(unavailable()))
                return
            try:
                await websocket.accept()
            except WebSocketDisconnect:  # gone meanwhile, or cut at the handshake deadline
                return
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
            oldest = self._per_account.add(user.id, session)
            if oldest is not None:
                # Ended as if it had gone away (its seat is held; the newer one may take it
                # back), and closed with REPLACED.
                log.info("replaced", extra={"conn": oldest.conn.id, "user_id": user.id})
                self.stats.sockets_replaced += 1
                oldest._stop(Replaced())
            if self._sweeper is None or self._sweeper.done():
                self._sweeper = asyncio.create_task(self._sweep(), name="ws-sign-in-checks")
            try:
                await session.run()
            finally:
                self._sessions.discard(session)
                self._per_account.discard(user.id, session)
        finally:
            self.admission.release(websocket)

    async def _sweep(self) -> None:
        """Close sockets soon after their sign-in is revoked other than by signing out in
        the app (which reaches the rooms at once: see LiveSessions.sign_out) — a password
        or role change, a token expiring — and close those whose sign-in can't be checked
        at all: revocation fails closed. One task checks them all, every half
        ``reauth_seconds``, in batches of ``CHECK_BATCH`` sockets with one store call each
        (one round trip, not two per socket); a socket not checked for half of it more is
        closed, so either way none outlives ``reauth_seconds``. It ends when the last
        socket does."""
        half = self.settings.reauth_seconds / 2
        loop = asyncio.get_running_loop()
        while self._sessions:
            doubtful = any(s.unchecked_since is not None for s in self._sessions)
            await asyncio.sleep(min(1.0, half) if doubtful else half)
            out_of_reach: float | None = None  # when the check that found it so began
            sessions = list(self._sessions)
            for start in range(0, len(sessions), CHECK_BATCH):
                batch = [s for s in sessions[start : start + CHECK_BATCH] if s in self._sessions]
                if out_of_reach is not None:  # one check found the store out of reach
                    for session in batch:
                        session.unchecked(since=out_of_reach, within=half)
                    continue
                started = loop.time()
                try:
                    # A check may take a while (5 s at most), never less than a second.
                    await self._check_in_time(batch, min(max(half, 1.0), 5.0))
                except (Unavailable, TimeoutError):
                    out_of_reach = started
                    for session in batch:
                        session.unchecked(since=started, within=half)
                except Exception:
                    log.exception("sign-in check failed")

    async def _check_in_time(self, batch: list[_Session], within: float) -> None:
        """A store that doesn't answer is no better than one that refuses: past ``within``
        the check counts as failed, though it goes on (bounded by the store's own
        timeout) and still closes the sockets it finds signed out."""
        check = asyncio.ensure_future(self._check(batch))
        done, _ = await asyncio.wait({check}, timeout=within)
        if not done:
            self._late_checks.add(check)
            check.add_done_callback(self._late_checks.discard)
            check.add_done_callback(_quietly)
            raise TimeoutError
        check.result()

    async def _check(self, batch: list[_Session]) -> None:
        valid = await self.accounts.signed_in({s.token for s in batch})
        for session in batch:
            session.checked(session.token in valid)

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
        self.sessions = endpoint.sessions
        self.stats = endpoint.stats
        self.accounts = endpoint.accounts
        self.websocket = websocket
        self._token = token
        settings = endpoint.settings
        self._task: asyncio.Task[Any] | None = None
        self._stopped: BaseException | None = None  # why run() was ended, if it was
        self.conn = Connection(
            self.sessions.new_connection_id(),
            user.id,
            frame_sender(websocket),
            max_frames=settings.send_queue_frames,
            max_bytes=settings.send_queue_bytes,
            on_stop=self._stop,  # overflow, lost track, signed out, or a failed send
            sign_in=frozenset((device_key(token), every_device_key(user.id))),
            send_now=websocket.scope.get("extensions", {}).get(SEND_NOW),
        )
        self.presence = Presence(user, self.conn)
        self.unchecked_since: float | None = None  # when a sign-in check first failed

    @property
    def user(self) -> User:
        return self.presence.user

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
        _let_go_of_headers(self.websocket)
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
            if self._stopped is not None and self._task is not None:
                while self._task.cancelling():
                    self._task.uncancel()  # a stop whose cancellation was swallowed
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
            # Closed first: leaving the room may wait on Redis, and a device signed out
            # or unchecked must be let go of now, not once Redis answers.
            if close is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2):
                        await self.websocket.close(*close)
            await self.sessions.part(self.presence, leaving=False)

    def _close_for(self, reason: BaseException | None) -> tuple[int, str] | None:
        if reason is None or isinstance(reason, WebSocketDisconnect):
            return None
        if isinstance(reason, Overflow):
            self.stats.slow_disconnects += 1
            return (p.CloseCode.TOO_SLOW, "too slow: reconnect and resume")
        if isinstance(reason, Lost):
            return (p.CloseCode.RESYNC, "reconnect and rejoin")
        if isinstance(reason, SignedOut | Revoked):
            return (p.CloseCode.AUTH_FAILED, "signed out")
        if isinstance(reason, Unchecked):
            return (p.CloseCode.UNCHECKED, "sign-in not checked: reconnect")
        if isinstance(reason, Replaced):
            return (p.CloseCode.REPLACED, "opened elsewhere")
        log.error("connection failed", exc_info=reason, extra={"conn": self.conn.id})
        return (p.CloseCode.INTERNAL, "internal error")

    def _stop(self, reason: BaseException) -> None:
        """End :meth:`run` for ``reason``, even mid-command."""
        if self._stopped is None:
            self._stopped = reason
            if self._task is not None:
                self._task.cancel()

    @property
    def token(self) -> str:
        return self._token

    def checked(self, signed_in: bool) -> None:
        """What a sign-in check found. (A changed name or role is read at the next join,
        which authenticates afresh.)"""
        if signed_in:
            self.unchecked_since = None
        else:
            log.info("signed out", extra={"conn": self.conn.id, "user_id": self.user.id})
            self._stop(SignedOut())

    def unchecked(self, *, since: float, within: float) -> None:
        """A check begun at ``since`` couldn't be made: close the socket once checks have
        failed for ``within`` seconds. A device still signed in reconnects at once and is
        checked then."""
        if self.unchecked_since is None:
            self.unchecked_since = since
        if asyncio.get_running_loop().time() - self.unchecked_since >= within:
            log.info("sign-in unchecked", extra={"conn": self.conn.id, "user_id": self.user.id})
            self._stop(Unchecked())

    async def _reauthenticate(self) -> None:
        user = await self.accounts.authenticate(self._token)
        if user is None:
            log.info("signed out", extra={"conn": self.conn.id, "user_id": self.user.id})
            raise SignedOut
        self.presence.user = user  # a changed name or role applies from the next join

    async def _receive(self) -> None:
        # Until stopped: the cancellation that stops it mid-command can be swallowed by a
        # library on the way (Python 3.11's wait_for, for one, drops a cancellation that
        # arrives as what it waits for is done), and the socket must close regardless.
        receiver: Receiver | None = self.websocket.scope["extensions"].get(RECEIVER)
        while self._stopped is None:
            message: Message | None
            if receiver is None:
                message = await self.websocket.receive()
            else:
                message = receiver.take()
                if message is None:
                    await receiver.arrival()  # the connection's task waits on it itself
                    continue
            if message["type"] == "websocket.disconnect":
                self.websocket.client_state = WebSocketState.DISCONNECTED  # as Starlette's own
                if message.get("code") == p.CloseCode.RESTART:
                    self.stats.restart_closes += 1
                return
            await self._take(message)

    async def _take(self, message: Message) -> None:
        """One message from the client. Its own method, so that what it leaves behind —
        the parsed frame, its command — goes as soon as it is handled, not when the next
        message comes."""
        text = message.get("text")
        if text is None:
            self._error(
                InvalidInput("Send JSON text frames, not binary.", code=Code.BINARY_FRAME), None
            )
            return
        try:
            frame = p.parse(text)
        except p.BadFrame as bad:
            self._error(bad, bad.frame_id)
            return
        await self._handle(frame)

    def _error(self, error: ClientError, frame_id: Any) -> None:
        self.conn.send(p.error_frame(error, frame_id))

    async def _handle(self, frame: p.Frame) -> None:
        cmd = frame.command
        if isinstance(cmd, p.Ping):
            self.conn.send(p.encode("pong", id=frame.id))
            return
        if isinstance(cmd, p.Auth):
            self._error(
                Rejected(
                    "You're already signed in on this connection.",
                    code=Code.ALREADY_AUTHENTICATED,
                ),
                frame.id,
            )
            return
        if isinstance(cmd, p.JoinRoom):
            try:
                await self._reauthenticate()  # a name or role changed since applies now
            except Unavailable:
                self.stats.ws_unavailable += 1
                self._error(unavailable(), frame.id)
                return
        answer = await self.sessions.handle(self.presence, frame)
        if answer.refused is Code.RATE_LIMITED:
            self.stats.ws_rate_limited += 1
        elif answer.refused in (Code.UNAVAILABLE, Code.OUTCOME_UNKNOWN):
            self.stats.ws_unavailable += 1
        if answer.frame is not None:
            self.conn.send(answer.frame)
