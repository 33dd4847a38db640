"""Calls to one Lua script, sent to Redis in pipelines on one connection of their own.

One pipeline is in flight at a time. Calls made while it is out wait for it and go
together in the next one: under load, many sessions' steps share each round trip
(and, with Redis on the same core, each pair of context switches), and a lone call
costs what a plain ``EVALSHA`` does. The calls are packed here and the replies read
straight off the connection: redis-py's pipeline and pool machinery (a connection
checked out and back, per-socket-operation timeouts, event dispatch) cost more per
call than the script itself takes to run.

Calls are never retried on a connection error: a script that ran but whose
answer was lost would run twice. The caller sees the error instead — and
:class:`AnswerLost` when the calls had been sent (they may have run), any other
error when they had not. A pipeline that takes longer than ``timeout`` fails, and
its connection is dropped: replies still on their way would be read as the next
pipeline's.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeout

Args = Sequence[str | int | bytes]
_Call = tuple[Sequence[str], Args, asyncio.Future[Any]]


class AnswerLost(RedisConnectionError):
    """The calls were sent but their answers never came: each may or may not have run."""


def _bulk(value: str | int | bytes) -> bytes:
    data = value if isinstance(value, bytes) else str(value).encode()
    return b"$%d\r\n%b\r\n" % (len(data), data)


def _closed_by_server(conn: AbstractConnection) -> bool:
    """Redis closed this idle connection (a restart, a timeout, a kill): the event loop
    has already seen its end, so no call needs to be lost finding out."""
    reader: asyncio.StreamReader | None = getattr(conn, "_reader", None)
    return reader is not None and (reader.at_eof() or reader.exception() is not None)


class PipelinedScript:
    def __init__(self, client: Redis, source: str, *, timeout: float | None = None) -> None:
        """``client``'s pool lends one connection for good; ``timeout`` bounds each
        pipeline (see the module's docstring)."""
        self._client = client
        self._source = source
        self._timeout = timeout
        # Redis names scripts by SHA-1; not a security use.
        self._sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()
        self._head = _bulk("EVALSHA") + _bulk(self._sha)
        self._pending: list[_Call] = []
        self._sender: asyncio.Task[None] | None = None
        self._conn: AbstractConnection | None = None
        self._deadline: asyncio.Timeout | None = None  # the pipeline in flight's
        self.round_trips = 0  # pipelines sent, for tests and tuning

    async def __call__(self, keys: Sequence[str], args: Args) -> Any:
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((keys, args, answer))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_all(), name="script-pipeline")
        return await answer

    def abandon(self, why: str) -> None:
        """Redis has stopped answering: fail every call now rather than at the timeout —
        those waiting to be sent with an error that says they never were, the pipeline
        in flight as :class:`AnswerLost`."""
        waiting, self._pending = self._pending, []
        for _, _, answer in waiting:
            if not answer.done():
                answer.set_exception(RedisConnectionError(why))
        if self._deadline is not None:
            self._deadline.reschedule(asyncio.get_running_loop().time())

    async def _send_all(self) -> None:
        """Send what is pending, then what gathered meanwhile, until nothing is left."""
        try:
            while self._pending:
                calls, self._pending = self._pending, []
                await self._send(calls)
        finally:
            self._sender = None

    async def _send(self, calls: list[_Call]) -> None:
        try:
            results = await self._execute([(keys, args) for keys, args, _ in calls])
        except Exception as error:
            for _, _, answer in calls:
                if not answer.done():
                    answer.set_exception(error)
            return
        except BaseException:  # cancelled (the hub is closing): so are its callers
            for _, _, answer in [*calls, *self._pending]:
                answer.cancel()
            self._pending = []
            raise
        for (_, _, answer), result in zip(calls, results, strict=True):
            if answer.done():
                continue  # its caller gave up waiting
            if isinstance(result, Exception):
                answer.set_exception(result)
            else:
                answer.set_result(result)

    async def _execute(self, calls: list[tuple[Sequence[str], Args]]) -> list[Any]:
        packed = [self._pack(keys, args) for keys, args in calls]
        results = await self._pipeline(b"".join(packed), len(calls))
        missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if missing:
            # Redis restarted or its script cache was flushed. A call refused with
            # NOSCRIPT did not run, so running it again after loading is safe: the
            # script goes first in the same pipeline, on the same connection.
            load = b"*3\r\n" + _bulk("SCRIPT") + _bulk("LOAD") + _bulk(self._source)
            loaded, *again = await self._pipeline(
                load + b"".join(packed[i] for i in missing), 1 + len(missing)
            )
            if isinstance(loaded, Exception):
                raise loaded
            for i, result in zip(missing, again, strict=True):
                results[i] = result
        return results

    def _pack(self, keys: Sequence[str], args: Args) -> bytes:
        parts = [b"*%d\r\n" % (3 + len(keys) + len(args)), self._head, _bulk(len(keys))]
        parts += [_bulk(k) for k in keys]
        parts += [_bulk(a) for a in args]
        return b"".join(parts)

    async def _pipeline(self, packed: bytes, replies: int) -> list[Any]:
        self.round_trips += 1
        results: list[Any] = []
        conn = self._conn
        sent = False
        try:
            async with asyncio.timeout(self._timeout) as self._deadline:
                if conn is None:
                    pool = self._client.connection_pool
                    conn = self._conn = await pool.get_connection()  # type: ignore[no-untyped-call]
                elif _closed_by_server(conn):
                    await conn.disconnect()  # nothing written on it: safe to send anew
                sent = True  # from the first byte on, the calls may run
                await conn.send_packed_command(packed, check_health=False)
                for _ in range(replies):
                    try:
                        results.append(await conn.read_response())
                    except ResponseError as refused:  # this call only; the rest stand
                        results.append(refused)
        except TimeoutError:
            if conn is not None:
                await conn.disconnect(nowait=True)
            if sent:
                raise AnswerLost(f"no answer from Redis within {self._timeout} s") from None
            raise RedisTimeout(f"no answer from Redis within {self._timeout} s") from None
        except (OSError, RedisConnectionError, RedisTimeout) as error:
            if conn is not None:
                await conn.disconnect(nowait=True)  # out of step with its replies now
            if sent:
                raise AnswerLost(str(error) or type(error).__name__) from error
            raise
        except BaseException:
            if conn is not None:
                await conn.disconnect(nowait=True)
            raise
        finally:
            self._deadline = None
        return results

    async def close(self) -> None:
        """Wait for the pipeline in flight (its callers are waiting for answers), then
        give the connection back."""
        if self._sender is not None:
            await asyncio.gather(self._sender, return_exceptions=True)
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._client.connection_pool.release(conn)
