"""Calls to one Lua script, sent to Redis on one connection of their own, without
waiting for each other's answers.

Calls made in the same turn of the event loop are written together, and a call never
waits for answers to calls sent before it: Redis answers one connection's commands in
the order they came, so replies are read in order and matched to their calls. Under
load many sessions' steps share each write (and, with Redis on the same core, each
pair of context switches); on a slow link each call costs one round trip, however
many are out — a design with one pipeline in flight made a call wait for the one
before it to come back first, doubling latency on a distant Redis. The calls are
packed here and the replies read straight off the connection: redis-py's pipeline
and pool machinery cost more per call than the script itself takes to run.

Calls are never retried on a connection error: a script that ran but whose answer
was lost would run twice. The caller sees the error instead — :class:`AnswerLost`
when the call had been sent (it may have run), any other error when it had not. A
call not answered within ``timeout`` of being sent fails, with every call sent after
it, and the connection is dropped: replies still on their way would be read as
answers to the calls that follow. (A call refused with ``NOSCRIPT`` did not run: the
script is loaded and the call sent again.)
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from redis._parsers.hiredis import NOT_ENOUGH_DATA, _AsyncHiredisParser
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeout

log = logging.getLogger("holdspace.hub")

Args = Sequence[str | int | bytes]


class AnswerLost(RedisConnectionError):
    """The calls were sent but their answers never came: each may or may not have run."""


class NotReplicated(AnswerLost):
    """The call ran on the primary, but not enough replicas confirmed it in time: a
    failover now could lose it, so its outcome can't be promised either way."""


_RUN_ID = re.compile(r"^run_id:(\w+)", re.MULTILINE)
_HELD = object()  # a call's reply not read yet (see _Call.reply)


def _bulk(value: str | int | bytes) -> bytes:
    data = value if isinstance(value, bytes) else str(value).encode()
    return b"$%d\r\n%b\r\n" % (len(data), data)


def _closed_by_server(conn: AbstractConnection) -> bool:
    """Redis closed this idle connection (a restart, a timeout, a kill): the event loop
    has already seen its end, so no call needs to be lost finding out."""
    reader: asyncio.StreamReader | None = getattr(conn, "_reader", None)
    return reader is not None and (reader.at_eof() or reader.exception() is not None)


@dataclass(slots=True)
class _Call:
    """One command on the connection: a call of the script, or (``answer`` None) the
    script's source loaded ahead of calls sent again."""

    packed: bytes
    answer: asyncio.Future[Any] | None
    again: bool = False  # already sent once and refused with NOSCRIPT
    deadline: float = 0.0  # loop time by which its answer must have come
    # With replicas to wait for: the calls a WAIT after them confirms (on the WAIT), and
    # a call's reply, kept until then (on each call in the batch).
    confirms: list[_Call] | None = None
    reply: Any = _HELD
    held: bool = False


class _Pool(Protocol):
    async def get_connection(self) -> AbstractConnection: ...
    async def release(self, connection: AbstractConnection) -> None: ...


_ASKING = b"*1\r\n" + _bulk("ASKING")


class _Replies:
    """The answers on a connection, straight from its hiredis reader: every answer a read
    from the socket brought is taken without another await, and without the per-answer
    timeout and bookkeeping of ``read_response`` (the script's one timer bounds them)."""

    __slots__ = ("_gets", "_parser")

    def __init__(self, parser: _AsyncHiredisParser, gets: Callable[[], Any]) -> None:
        self._gets = gets
        self._parser = parser

    @staticmethod
    def of(conn: AbstractConnection) -> _Replies | None:
        """None unless the connection parses with hiredis (then ``read_response`` is used)."""
        parser = getattr(conn, "_parser", None)
        reader = getattr(parser, "_reader", None)
        if isinstance(parser, _AsyncHiredisParser) and reader is not None:
            return _Replies(parser, reader.gets)
        return None

    async def read(self) -> None:
        """Wait for more from the socket (ConnectionError at its end)."""
        await self._parser.read_from_socket()  # type: ignore[no-untyped-call]

    def next(self) -> Any:
        """The next answer (an error reply as its exception), or NOT_ENOUGH_DATA."""
        reply = self._gets()
        if isinstance(reply, RedisConnectionError):
            raise reply
        return reply


class PipelinedScript:
    def __init__(
        self,
        client: Redis | None,
        source: str,
        *,
        pool: _Pool | None = None,
        timeout: float | None = None,
        replicas: int = 0,
        replica_wait_ms: int = 1000,
        run_id: bool = False,
    ) -> None:
        """``client``'s pool (or ``pool``) lends one connection for good; ``timeout``
        bounds each call from the moment it is sent (see the module's docstring). With
        ``replicas``, each write is followed by ``WAIT replicas replica_wait_ms``, and its
        calls are answered only once that many replicas have them (:class:`NotReplicated`
        when they don't within the wait): one WAIT for all the calls written together.
        With ``run_id``, every call's last argument is the server's run id (``INFO``),
        learned once each time the connection is made rather than by each call: a
        connection is to one run of one server, so it is that run's id for as long as
        the connection lasts."""
        if pool is None and client is not None:
            pool = client.connection_pool
        self._pool: _Pool | None = pool
        self._replicas = replicas
        self._wait = b"*3\r\n" + _bulk("WAIT") + _bulk(replicas) + _bulk(replica_wait_ms)
        self._source = source
        self._timeout = timeout
        # Redis names scripts by SHA-1; not a security use.
        self._sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()
        self._head = _bulk("EVALSHA") + _bulk(self._sha)
        self._load = b"*3\r\n" + _bulk("SCRIPT") + _bulk("LOAD") + _bulk(source)
        self._outbox: list[_Call] = []  # to be written
        self._sent: deque[_Call] = deque()  # written, answers due in this order
        self._writer: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._conn: AbstractConnection | None = None
        # One timer, at the first unanswered call's deadline: calls written together share
        # it, so it moves once per write rather than once per answer.
        self._watch: asyncio.TimerHandle | None = None
        self._watched = 0.0  # the deadline it is set for
        self._expired = False  # it went off: the reader was cancelled for it
        self._generation = 0  # bumped each time the connection is dropped
        self.round_trips = 0  # writes to the connection, for tests and tuning
        self._with_run = run_id
        self._run: bytes | None = None  # the server's run id, as an argument
        self._run_on: object = None  # the connection's stream it was learned on

    async def __call__(self, keys: Sequence[str], args: Args) -> Any:
        return await self.send(keys, args)

    def send(self, keys: Sequence[str], args: Args, *, asking: bool = False) -> asyncio.Future[Any]:
        """Queue a call now — calls go out in the order they are queued — and return its
        answer to come. ``asking``: a cluster node importing the slot is told to take
        it (``ASKING`` just before it)."""
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if asking:
            self._outbox.append(_Call(_ASKING, None))
        self._outbox.append(_Call(self._pack(keys, args), answer))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_all(), name="script-writer")
        return answer

    def abandon(self, why: str) -> None:
        """Redis has stopped answering: fail every call now rather than at its timeout —
        those not yet written with an error that says they never were, those sent as
        :class:`AnswerLost`."""
        waiting, self._outbox = self._outbox, []
        for call in waiting:
            if call.answer is not None and not call.answer.done():
                call.answer.set_exception(RedisConnectionError(why))
        if self._sent:
            self._expire()

    def _pack(self, keys: Sequence[str], args: Args) -> bytes:
        count = 3 + len(keys) + len(args) + self._with_run  # the run id goes on when written
        parts = [b"*%d\r\n" % count, self._head, _bulk(len(keys))]
        parts += [_bulk(k) for k in keys]
        parts += [_bulk(a) for a in args]
        return b"".join(parts)

    # -- writing ------------------------------------------------------------------------

    async def _write_all(self) -> None:
        """Write what is waiting, then what gathered meanwhile, until nothing is left."""
        try:
            while self._outbox:
                calls, self._outbox = self._outbox, []
                await self._write(calls)
        finally:
            self._writer = None

    async def _write(self, calls: list[_Call]) -> None:
        conn = self._conn
        try:
            if conn is None or not self._ready(conn):
                conn = await self._connection()
        except Exception as error:  # nothing was written: none of them ran
            for call in calls:
                if call.answer is not None and not call.answer.done():
                    call.answer.set_exception(error)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self._timeout if self._timeout is not None else 1e9)
        if self._replicas:
            batch = [c for c in calls if c.answer is not None]
            for call in batch:
                call.held = True
            calls = [*calls, _Call(self._wait, None, confirms=batch)]
        for call in calls:
            call.deadline = deadline
        self._sent.extend(calls)  # before writing: an answer may come back at once
        self.round_trips += 1
        try:
            if self._run is None:
                data = b"".join(c.packed for c in calls)
            else:  # the run id learned on this very connection (see _connection)
                run = self._run
                data = b"".join(c.packed + run if c.answer is not None else c.packed for c in calls)
            await conn.send_packed_command(data, check_health=False)
        except Exception as error:  # from the first byte on, the calls may have run
            await self._broken(self._generation, str(error) or type(error).__name__)
            return
        if self._reader is None:
            self._reader = asyncio.create_task(self._read_all(), name="script-reader")

    def _ready(self, conn: AbstractConnection) -> bool:
        """Connected, not closed by Redis meanwhile, its run id known: write at once."""
        if not conn.is_connected or (not self._sent and _closed_by_server(conn)):
            return False
        return not self._with_run or getattr(conn, "_writer", None) is self._run_on

    async def _connection(self) -> AbstractConnection:
        """The connection, connected; replaced first if Redis closed it while idle."""
        conn = self._conn
        try:
            async with asyncio.timeout(self._timeout):
                if conn is None:
                    assert self._pool is not None, "a client or a pool lends the connection"
                    conn = self._conn = await self._pool.get_connection()
                elif not self._sent and _closed_by_server(conn):
                    await conn.disconnect()  # nothing written on it: safe to send anew
                if not conn.is_connected:
                    await conn.connect()  # type: ignore[no-untyped-call]
                if self._with_run and getattr(conn, "_writer", None) is not self._run_on:
                    await self._learn_run(conn)
        except TimeoutError:
            if conn is not None:
                await conn.disconnect(nowait=True)
            raise RedisTimeout(f"no answer from Redis within {self._timeout} s") from None
        return conn

    async def _learn_run(self, conn: AbstractConnection) -> None:
        """The run id of the server at the other end of ``conn``, asked before any call is
        written on it. Calls still out on it mean it was made again beneath them: their
        answers are lost."""
        self._run, self._run_on = None, None  # until this connection has said its own
        if self._sent:
            await self._broken(self._generation, "the connection was made again")
            raise RedisConnectionError("the connection was made again")
        await conn.send_command("INFO", "server", check_health=False)
        info = await conn.read_response()
        text = info.decode() if isinstance(info, bytes) else str(info)
        match = _RUN_ID.search(text)
        if match is None:
            raise RedisConnectionError("the server did not say its run id")
        self._run = _bulk(match.group(1))
        self._run_on = getattr(conn, "_writer", None)

    # -- reading ------------------------------------------------------------------------

    async def _read_all(self) -> None:
        """Read answers in order while calls are out, each within its deadline: as many
        as have come, one after another, for each read from the socket."""
        conn, generation = self._conn, self._generation
        assert conn is not None
        replies = _Replies.of(conn)
        try:
            while self._sent and generation == self._generation:
                head = self._sent[0]
                if self._watch is None or head.deadline != self._watched:
                    self._watch_until(head.deadline)
                if replies is None:
                    try:
                        reply: Any = await conn.read_response()
                    except ResponseError as refused:  # this call only; the rest stand
                        reply = refused
                else:
                    reply = replies.next()
                    if reply is NOT_ENOUGH_DATA:
                        await replies.read()
                        continue
                self._sent.popleft()
                self._settle(head, reply)
        except asyncio.CancelledError:
            if not self._expired:  # cancelled (the hub is closing): so are its callers
                await self._broken(generation, "the hub is closing")
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            await self._broken(generation, f"no answer from Redis within {self._timeout} s")
        except (OSError, RedisConnectionError, RedisTimeout) as error:
            await self._broken(generation, str(error) or type(error).__name__)
        except BaseException:
            await self._broken(generation, "the hub is closing")
            raise
        finally:
            if self._watch is not None:
                self._watch.cancel()
                self._watch = None
            self._expired = False
            self._reader = None
        if self._sent and self._reader is None:
            # Written after the loop above saw the queue empty, or on a new connection.
            self._reader = asyncio.create_task(self._read_all(), name="script-reader")

    def _watch_until(self, deadline: float) -> None:
        if self._watch is not None:
            self._watch.cancel()
        self._watched = deadline
        self._watch = asyncio.get_running_loop().call_at(deadline, self._expire)

    def _expire(self) -> None:
        """An answer is overdue (or Redis was found stalled): the reader stops, and every
        call out on the connection fails (see :meth:`_broken`)."""
        self._watch = None
        if self._reader is not None and not self._reader.done() and not self._expired:
            self._expired = True
            self._reader.cancel()

    def _settle(self, call: _Call, reply: Any) -> None:
        if call.confirms is not None:  # the WAIT after a batch: answer its calls now
            self._confirm(call.confirms, reply)
            return
        if call.answer is None:  # the script loaded ahead of calls sent again, or ASKING
            if isinstance(reply, Exception):
                log.warning("hub: loading the step script failed", extra={"error": str(reply)})
            return
        if isinstance(reply, NoScriptError) and not call.again:
            # Redis restarted or its script cache was flushed. A call refused with NOSCRIPT
            # did not run, so sending it again after loading the script is safe.
            if not any(c.packed is self._load for c in self._outbox):
                self._outbox.insert(0, _Call(self._load, None))
            self._outbox.append(_Call(call.packed, call.answer, again=True))
            if self._writer is None:
                self._writer = asyncio.create_task(self._write_all(), name="script-writer")
            return
        if call.held and not isinstance(reply, Exception):
            call.reply = reply  # answered once the WAIT after it says where it stands
            return
        self._answer(call, reply)

    def _confirm(self, batch: list[_Call], replicas: Any) -> None:
        confirmed = isinstance(replicas, int) and replicas >= self._replicas
        for call in batch:
            if call.reply is _HELD:
                continue  # refused (answered already), or sent again
            if confirmed:
                self._answer(call, call.reply)
            else:
                self._answer(call, NotReplicated(f"{replicas!r} replicas confirmed the write"))

    @staticmethod
    def _answer(call: _Call, reply: Any) -> None:
        if call.answer is None or call.answer.done():
            return  # its caller gave up waiting
        if isinstance(reply, Exception):
            call.answer.set_exception(reply)
        else:
            call.answer.set_result(reply)

    async def _broken(self, generation: int, why: str) -> None:
        """The connection is out of step with its answers: fail every call out on it, and
        drop it (the next write connects afresh). ``generation`` is the connection's as
        the caller knew it: one already dropped and replaced is left alone."""
        if generation != self._generation:
            return
        self._generation += 1
        self._run, self._run_on = None, None
        sent, self._sent = self._sent, deque()
        lost = AnswerLost(why)
        for call in sent:
            if call.answer is not None and not call.answer.done():
                call.answer.set_exception(lost)
        conn = self._conn
        if conn is not None:
            await conn.disconnect(nowait=True)

    async def close(self) -> None:
        """Wait for the calls written or waiting (their callers want answers), then give
        the connection back."""
        while tasks := [t for t in (self._writer, self._reader) if t is not None and not t.done()]:
            await asyncio.gather(*tasks, return_exceptions=True)
        conn, self._conn = self._conn, None
        if conn is not None and self._pool is not None:
            await self._pool.release(conn)
