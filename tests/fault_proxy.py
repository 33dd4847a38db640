"""A TCP proxy to put between a worker and a real redis-server, that can lose an answer
on purpose: armed, it forwards the next request carrying a marker (the step script's
SHA) to Redis, then cuts that connection before the answer comes back — the fault in
which a command is applied and its sender never hears so."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit


class FaultProxy:
    def __init__(self, upstream_url: str) -> None:
        """``upstream_url``: the real Redis, as the app would reach it (its credentials are
        kept; only host and port change)."""
        parts = urlsplit(upstream_url)
        assert parts.port is not None
        self.upstream_port = parts.port
        self._credentials = parts.netloc.rpartition("@")[0]
        self.port = 0
        self._server: asyncio.Server | None = None
        self._cut_after: bytes | None = None
        self.cut = asyncio.Event()  # set once an armed cut has happened
        self._links: set[asyncio.Task[None]] = set()
        self._upstream: set[asyncio.StreamWriter] = set()  # our connections to Redis

    @property
    def url(self) -> str:
        at = f"{self._credentials}@" if self._credentials else ""
        return f"redis://{at}127.0.0.1:{self.port}/0"

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def lose_next_answer(self, marker: bytes) -> None:
        """Forward the next request containing ``marker`` (say, one script's SHA: other
        scripts run all the time), then cut its connection before any answer is relayed."""
        self.cut.clear()
        self._cut_after = marker

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._links.add(task)  # ended by close(), whatever it is doing
        try:
            await self._link(reader, writer)
        finally:
            self._links.discard(task)
            writer.transport.abort()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self._upstream.add(up_writer)
        cut = asyncio.Event()

        async def client_to_redis() -> None:
            while data := await reader.read(65536):
                if self._cut_after is not None and self._cut_after in data:
                    self._cut_after = None
                    cut.set()  # before Redis can answer: no answer gets through
                    up_writer.write(data)
                    await up_writer.drain()
                    return
                up_writer.write(data)
                await up_writer.drain()

        async def redis_to_client() -> None:
            while data := await up_reader.read(65536):
                if cut.is_set():
                    return
                writer.write(data)
                await writer.drain()

        sending = asyncio.create_task(client_to_redis())
        answering = asyncio.create_task(redis_to_client())
        try:
            await asyncio.wait([sending, answering], return_when=asyncio.FIRST_COMPLETED)
            if cut.is_set():
                await asyncio.gather(sending, return_exceptions=True)  # the request is in Redis
                self.cut.set()  # the link is reset (by _accept) with no answer relayed
        finally:
            for task in (sending, answering):
                task.cancel()
            await asyncio.gather(sending, answering, return_exceptions=True)
            up_writer.transport.abort()
            self._upstream.discard(up_writer)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        links = list(self._links)
        for task in links:
            task.cancel()
        await asyncio.gather(*links, return_exceptions=True)
        for up in self._upstream:  # any a cancelled link left open
            up.transport.abort()
        self._upstream.clear()
        if self._server is not None:
            await self._server.wait_closed()
