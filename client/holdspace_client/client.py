"""The WebSocket client: one connection, one room, resuming by ``seq``."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

Event = dict[str, Any]


class _NoPayloads(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(("< ", "> ")))


# At DEBUG websockets logs each frame and header; what members write is not for logs.
_log = logging.getLogger("holdspace_client.ws")
_log.addFilter(_NoPayloads())


# Frames that carry the whole room as of their seq: an `admitted` notice is one too.
_SNAPSHOTS = ("snapshot", "resync", "admitted")
# Refusals that promise nothing changed and ask to try again shortly.
_TRY_AGAIN = ("unavailable", "outcome_unknown")

# Closes after which reconnecting cannot help: a normal close, the sign-in is gone, or the
# account opened another socket in this one's place (reconnecting would close that one).
_FINAL_CLOSES = (1000, 4001, 4010)


class CommandError(Exception):
    """The server refused a command; ``code`` is stable, ``message`` is for people."""

    def __init__(self, frame: Event) -> None:
        super().__init__(f"{frame.get('code')}: {frame.get('message')}")
        self.code: str = frame.get("code", "")
        self.message: str = frame.get("message", "")
        self.frame = frame


class ConnectionLost(Exception):
    """The connection dropped before the reply came; the command may or may not have run."""


class Client:
    """Connect with a bearer token; ``join`` a room; ``request`` commands; read ``events``.

    Room events (frames with a ``seq``) arrive on :meth:`next_event` in order,
    exactly once, across reconnects. With ``reconnect=True`` a dropped connection
    is re-established and the room resumed from the last ``seq`` seen; the client
    then queues a ``{"type": "_resumed", "via": "reply" | "resync", "reply": ...}``
    marker, or
    ``{"type": "_resume_failed", "error": ...}`` when it gave up (the server
    refused the handshake, the sign-in was revoked, or the account opened another socket
    in this one's place: close ``4010``). A handshake refused with 429 is tried again
    after its ``Retry-After``.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        cookie: bool = False,
        reconnect: bool = True,
        origin: str | None = None,
        max_backoff: float = 5.0,
        local_address: str | None = None,
    ) -> None:
        self.url = url
        self._token = token
        self._cookie = cookie  # present the token as the browser session cookie
        self._reconnect = reconnect
        self._origin = origin
        self._max_backoff = max_backoff
        self._local_address = local_address  # connect from this address (tests)
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._resumer: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        # Client ids for commands: unique to this client, so a command sent again after a
        # lost answer is recognised (and never applied twice) on any worker.
        self._cid_prefix = secrets.token_hex(6)
        self._cids = itertools.count(1)
        self.in_room = asyncio.Event()  # joined, or rejoined after a drop
        self._pending: dict[int, asyncio.Future[Event]] = {}
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._closing = False
        self.hello: Event | None = None
        self.room: str | None = None
        self.session: str | None = None
        self.epoch: str | None = None
        self.seq = 0
        self.snapshot: Event | None = None  # the latest snapshot or resync
        self.connected = asyncio.Event()
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.reconnects = 0
        # What the protocol promises never happens; counted so tests (and apps) can check.
        self.duplicates = 0
        self.gaps = 0
        self.history: list[Event] = []  # every room event taken, in order, across reconnects
        self._snapshot_at = 0  # where in the history the latest snapshot came
        self._online = asyncio.Event()
        self._online.set()

    # -- connection -----------------------------------------------------------

    async def connect(self) -> Event:
        """Open the socket and authenticate; returns the server's ``hello``."""
        await self._open()
        assert self.hello is not None
        return self.hello

    async def _open(self) -> None:
        headers = {"Origin": self._origin} if self._origin else {}
        if self._cookie:
            headers["Cookie"] = f"holdspace_session={self._token}"
        extra: dict[str, Any] = {}
        if self._local_address:
            extra["local_addr"] = (self._local_address, 0)  # passed on to create_connection
        ws = await websockets.connect(
            self.url,
            additional_headers=headers,
            compression=None,
            max_size=2**20,
            logger=_log,
            **extra,
        )
        try:
            if not self._cookie:
                await ws.send(json.dumps({"type": "auth", "token": self._token}))
            self.hello = json.loads(await ws.recv())
        except websockets.ConnectionClosed as closed:
            self.close_code = closed.rcvd.code if closed.rcvd else None
            raise
        except BaseException:
            await ws.close()  # cancelled mid-handshake: don't leave the socket behind
            raise
        self._ws = ws
        self._reader = asyncio.create_task(self._read(ws))
        self.connected.set()

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        for task in (self._reader, self._resumer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def __aenter__(self) -> Client:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def go_offline(self) -> None:
        """Lose the network: the socket dies abruptly and no reconnect happens until
        :meth:`go_online`."""
        self._online.clear()
        if self._ws is not None:
            self._ws.transport.abort()
        await self.wait_disconnected()

    async def wait_disconnected(self, timeout: float = 5.0) -> None:
        """Wait until the current connection has ended (a reconnect may follow)."""
        if self._reader is not None:
            await asyncio.wait_for(asyncio.shield(self._reader), timeout)

    def go_online(self) -> None:
        self._online.set()

    # -- commands -------------------------------------------------------------

    async def request(self, kind: str, /, timeout: float = 10.0, **fields: Any) -> Event:
        """Send a command and wait for its reply; raise :class:`CommandError` if refused."""
        await asyncio.wait_for(self.connected.wait(), timeout)
        ws = self._ws
        assert ws is not None
        frame_id = next(self._ids)
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._pending[frame_id] = future
        try:
            try:
                await ws.send(json.dumps({"type": kind, "id": frame_id, **fields}))
            except websockets.ConnectionClosed:
                # The socket closed as we sent (a worker restarting, say): the same as a
                # drop before the answer, which the reconnect and resume take care of.
                raise ConnectionLost(f"{kind}: the connection closed as it was sent") from None
            reply = await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(frame_id, None)
        if reply["type"] == "error":
            raise CommandError(reply)
        return reply

    async def command(self, kind: str, /, timeout: float = 30.0, **fields: Any) -> Event:
        """Send a command that changes something until its outcome is known. It carries a
        client id (``cid``); an answer lost — ``outcome_unknown``, or the connection
        dropping first — means sending it again with the same id, after the rejoin: the
        server applies it at most once, and answers a repeat as it did the first time."""
        cid = f"{self._cid_prefix}-{next(self._cids)}"
        async with asyncio.timeout(timeout):
            while True:
                if self.room is not None and self._reconnect:
                    # A rejoin under way: sent now, the command would find us not in the
                    # room yet (``not_joined``). It goes once we are back.
                    await self.in_room.wait()
                try:
                    return await self.request(kind, cid=cid, **fields)
                except CommandError as error:
                    if error.code != "outcome_unknown":
                        raise
                    await asyncio.sleep(float(error.frame.get("detail", {}).get("retry_after", 1)))
                except ConnectionLost:
                    if not self._reconnect or self._closing:
                        raise
                    await self.in_room.wait()

    async def send_raw(self, data: str | bytes) -> None:
        """Send a frame as-is (for testing how the server treats bad input)."""
        assert self._ws is not None
        await self._ws.send(data)

    async def join(self, room: str) -> Event:
        """Join ``room``; returns its snapshot."""
        reply = await self.request("join", room=room)
        self.room = room
        if reply["type"] in ("snapshot", "resync"):
            self.in_room.set()
        return reply

    async def post(self, text: str, *, sensitive: bool = False) -> int:
        fields = {"sensitive": True} if sensitive else {}
        return int((await self.command("post", text=text, **fields))["message"])

    async def agree(self) -> Event:
        return await self.command("agree")

    async def set_mode(self, mode: str) -> Event:
        return await self.command("set_mode", mode=mode)

    async def react(self, message: int, kind: str) -> Event:
        return await self.command("react", message=message, kind=kind)

    async def leave(self) -> Event:
        reply = await self.request("leave")
        self.room = self.session = self.epoch = None
        return reply

    # -- events -----------------------------------------------------------------

    async def next_event(self, timeout: float = 5.0) -> Event:
        return await asyncio.wait_for(self._events.get(), timeout)

    async def wait_for(self, match: str | Callable[[Event], bool], timeout: float = 5.0) -> Event:
        """Skip events until one matches (a ``type`` or a predicate); fail after ``timeout``."""
        test = (lambda ev: ev.get("type") == match) if isinstance(match, str) else match
        async with asyncio.timeout(timeout):
            while True:
                event = await self._events.get()
                if test(event):
                    return event

    def pending_events(self) -> list[Event]:
        """Everything received and not yet read, without waiting."""
        out = []
        while not self._events.empty():
            out.append(self._events.get_nowait())
        return out

    @property
    def since_snapshot(self) -> list[Event]:
        """The room events taken after the latest snapshot or resync: with it, what the
        room looks like now (a resync replaces everything before it, whatever its seqs)."""
        return self.history[self._snapshot_at :]

    async def events(self) -> AsyncIterator[Event]:
        while True:
            yield await self._events.get()

    # -- internals ----------------------------------------------------------------

    def _handle(self, frame: Event) -> None:
        kind = frame.get("type")
        if kind in _SNAPSHOTS:
            self.snapshot = frame
            self._snapshot_at = len(self.history)
            self.session = frame["session"]["key"]
            self.epoch = frame["epoch"]
            self.seq = frame["seq"]
        elif kind == "reply" and frame.get("resumed"):
            self.epoch = frame.get("epoch", self.epoch)
        seq = frame.get("seq")
        if kind not in (*_SNAPSHOTS, "reply") and isinstance(seq, int):
            if seq <= self.seq:
                self.duplicates += 1
                return
            if seq != self.seq + 1:
                self.gaps += 1
            self.seq = seq
            self.history.append(frame)
        frame_id = frame.get("id")
        future = self._pending.get(frame_id) if isinstance(frame_id, int) else None
        if future is not None and not future.done() and kind in (
            "reply", "error", "snapshot", "resync", "pong",
        ):  # fmt: skip
            future.set_result(frame)
            if kind != "resync":
                return
        self._events.put_nowait(frame)

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                self._handle(json.loads(raw))
        except websockets.ConnectionClosed:
            pass
        finally:
            self.connected.clear()
            self.in_room.clear()
            if ws.close_code is not None:
                self.close_code = ws.close_code
                self.close_reason = ws.close_reason
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionLost())
        if self._reconnect and not self._closing and self.close_code not in _FINAL_CLOSES:
            # Keep a reference: the loop holds tasks only weakly.
            self._resumer = asyncio.get_running_loop().create_task(self._resume())

    async def _resume(self) -> None:
        """Reconnect with backoff, then rejoin the room from the last ``seq`` seen."""
        delay = 0.05
        await self._online.wait()
        while not self._closing:
            try:
                await self._open()
                break
            except websockets.InvalidStatus as refused:
                status = refused.response.status_code
                if status == 429:  # too many from this address just now: wait as told
                    await asyncio.sleep(_retry_after(refused.response.headers, delay))
                    delay = min(delay * 2, self._max_backoff)
                    continue
                if status < 500:
                    # The server answered and said no (a foreign origin, say): retrying
                    # won't help.
                    self._give_up(f"handshake refused: HTTP {status}")
                    return
                # A proxy with no worker to send us to just now (a restart): try again.
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff)
            except (OSError, websockets.WebSocketException):
                if self.close_code in _FINAL_CLOSES:
                    self._give_up(f"closed {self.close_code}: {self.close_reason or ''}")
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff)
        if self._closing or self.room is None:
            return
        self.reconnects += 1
        resume = None
        if self.session and self.epoch is not None:
            resume = {"session": self.session, "epoch": self.epoch, "seq": self.seq}
        fields: dict[str, Any] = {"room": self.room}
        if resume:
            fields["resume"] = resume
        delay = 0.05
        while True:
            try:
                reply = await self.request("join", **fields)
                break
            except CommandError as error:
                # Briefly unavailable (Redis reconnecting): the rejoin is tried again.
                if error.code not in _TRY_AGAIN or self._closing:
                    self._give_up(repr(error))
                    return
            except ConnectionLost:
                return  # the reader has already started the next attempt
            except TimeoutError as error:
                self._give_up(repr(error))
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_backoff)
        self.in_room.set()
        self._events.put_nowait({"type": "_resumed", "via": reply["type"], "reply": reply})

    def _give_up(self, why: str) -> None:
        self._events.put_nowait({"type": "_resume_failed", "error": why})


def _retry_after(headers: Any, default: float) -> float:
    """A refusal's ``Retry-After`` in seconds (whole seconds, as the server sends it)."""
    try:
        return max(default, float(headers.get("Retry-After", "")))
    except ValueError:
        return default
