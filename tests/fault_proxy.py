"""A TCP proxy to put between a worker and a real redis-server, to break the link on
purpose:

* lose an answer: armed, it forwards the next request carrying a marker (the step
  script's SHA) to Redis, then cuts that connection before the answer comes back — the
  fault in which a command is applied and its sender never hears so;
* a partition: while blackholed nothing crosses either way and no connection is
  refused or reset, as when a network path silently drops packets; healed, what was
  held goes through (as TCP's retransmissions would deliver it);
* latency: every chunk is relayed that much later, in order.
"""

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
        self._open = asyncio.Event()  # cleared while blackholed
        self._open.set()
        self.latency = 0.0  # seconds added to each direction
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

    def blackhole(self) -> None:
        """From now on nothing crosses, either way, until :meth:`heal`."""
        self._open.clear()

    def heal(self) -> None:
        self._open.set()

    async def _relay(self, data: bytes, writer: asyncio.StreamWriter) -> None:
        await self._open.wait()
        writer.write(data)
        await writer.drain()

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
                    await self._relay(data, up_writer)
                    return
                await self._relay(data, up_writer)

        async def redis_to_client() -> None:
            while data := await up_reader.read(65536):
                if cut.is_set():
                    return
                await self._relay(data, writer)

        if self.latency:
            sending = asyncio.create_task(self._delayed(reader, up_writer))
            answering = asyncio.create_task(self._delayed(up_reader, writer))
        else:
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

    async def _delayed(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Relay each chunk ``latency`` seconds after it arrived, in order (the links
        made while a latency is set carry it)."""
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def read() -> None:
            while data := await reader.read(65536):
                chunks.put_nowait((loop.time() + self.latency, data))
            chunks.put_nowait((0.0, b""))

        reading = asyncio.create_task(read())
        try:
            while True:
                due, data = await chunks.get()
                if not data:
                    return
                await asyncio.sleep(max(0.0, due - loop.time()))
                await self._relay(data, writer)
        finally:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)

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
