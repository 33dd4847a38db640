"""Calls to one Lua script, sent to Redis in pipelines.

Every call made during one turn of the event loop goes out in one pipeline: one
connection checkout, one write, one read for all of them. Under load, many
sessions' steps share a round trip (and, with Redis on the same core, a pair of
context switches); a lone call costs what a plain ``EVALSHA`` does.

Calls are never retried on a connection error: a script that ran but whose
answer was lost would run twice. The caller sees the error instead.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

Args = Sequence[str | int | bytes]


class PipelinedScript:
    def __init__(self, client: Redis, source: str) -> None:
        """``client`` must not retry on its own (see the module's docstring)."""
        self._client = client
        self._source = source
        # Redis names scripts by SHA-1; not a security use.
        self._sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()
        self._pending: list[tuple[Sequence[str], Args, asyncio.Future[Any]]] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def __call__(self, keys: Sequence[str], args: Args) -> Any:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()
        self._pending.append((keys, args, answer))
        if len(self._pending) == 1:
            loop.call_soon(self._flush)
        return await answer

    def _flush(self) -> None:
        calls, self._pending = self._pending, []
        task = asyncio.get_running_loop().create_task(self._send(calls))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, calls: list[tuple[Sequence[str], Args, asyncio.Future[Any]]]) -> None:
        try:
            results = await self._execute([(keys, args) for keys, args, _ in calls])
        except Exception as error:
            for _, _, answer in calls:
                if not answer.done():
                    answer.set_exception(error)
            return
        except BaseException:  # cancelled (the hub is closing): so are its callers
            for _, _, answer in calls:
                answer.cancel()
            raise
        for (_, _, answer), result in zip(calls, results, strict=True):
            if answer.done():
                continue  # its caller gave up waiting
            if isinstance(result, Exception):
                answer.set_exception(result)
            else:
                answer.set_result(result)

    async def _execute(self, calls: list[tuple[Sequence[str], Args]]) -> list[Any]:
        results = await self._pipeline(calls)
        missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if missing:
            # Redis restarted or its script cache was flushed. A call refused with
            # NOSCRIPT did not run, so running it again after loading is safe.
            await self._client.script_load(self._source)
            again = await self._pipeline([calls[i] for i in missing])
            for i, result in zip(missing, again, strict=True):
                results[i] = result
        return results

    async def _pipeline(self, calls: list[tuple[Sequence[str], Args]]) -> list[Any]:
        async with self._client.pipeline(transaction=False) as pipe:
            for keys, args in calls:
                pipe.evalsha(self._sha, len(keys), *keys, *args)
            results: list[Any] = await pipe.execute(raise_on_error=False)
        return results

    async def close(self) -> None:
        """Wait for pipelines already sent (their callers are waiting for answers)."""
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
