"""A TCP relay that holds every chunk for a while, in each direction, in order: a slow
network link, run inside the benchmark's own event loop.

    relay = await LatencyRelay("127.0.0.1", redis_port, delay=0.1).start()
    ...  # connect to 127.0.0.1:relay.port instead of Redis
    await relay.close()

Each connection accepted gets its own connection upstream. Whatever arrives on one
side is written to the other ``delay`` seconds after it arrived, chunks keeping
their order; an end of stream is passed on after the data before it. Nothing is
dropped, reordered or throttled: only late.
"""

from __future__ import annotations

import asyncio
import contextlib

CHUNK = 65536


class LatencyRelay:
    def __init__(self, upstream_host: str, upstream_port: int, delay: float) -> None:
        """``delay``: seconds added to each direction (so a round trip gains twice that)."""
        self.upstream = (upstream_host, upstream_port)
        self.delay = delay
        self.port = 0
        self.connections = 0  # accepted so far
        self._server: asyncio.Server | None = None
        self._closing = False
        self._links: set[asyncio.Task[None]] = set()  # the server's, one per connection
        self._pipes: set[asyncio.Task[None]] = set()  # ours, one per direction of each

    async def start(self) -> LatencyRelay:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop listening and cut every link still open (data still held is dropped)."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        for pipe in list(self._pipes):
            pipe.cancel()  # each link then ends by itself, without being cancelled
        await asyncio.gather(*self._links, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._links.add(task)
        self.connections += 1
        pipes: list[asyncio.Task[None]] = []
        up_writer: asyncio.StreamWriter | None = None
        try:
            try:
                up_reader, upstream = await asyncio.wait_for(
                    asyncio.open_connection(*self.upstream), 5
                )
            except (OSError, TimeoutError):
                return
            up_writer = upstream
            if self._closing:
                return
            pipes = [
                asyncio.create_task(self._pipe(reader, upstream)),
                asyncio.create_task(self._pipe(up_reader, writer)),
            ]
            self._pipes.update(pipes)
            # Both directions run to their end of stream; a reset on either ends both.
            await asyncio.wait(pipes, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for pipe in pipes:
                pipe.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            self._pipes.difference_update(pipes)
            writer.transport.abort()
            if up_writer is not None:
                up_writer.transport.abort()
            self._links.discard(task)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy ``reader`` to ``writer``, each chunk ``delay`` seconds after it arrived."""
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def read() -> None:
            try:
                while data := await reader.read(CHUNK):
                    chunks.put_nowait((loop.time() + self.delay, data))
            finally:
                chunks.put_nowait((loop.time() + self.delay, b""))  # the end, just as late

        reading = asyncio.create_task(read())
        try:
            while True:
                due, data = await chunks.get()
                await asyncio.sleep(max(0.0, due - loop.time()))
                if not data:
                    break
                writer.write(data)
                await writer.drain()
            error = reading.exception() if reading.done() and not reading.cancelled() else None
            if error is not None:
                raise error  # a reset: the other direction is cut too
            if writer.can_write_eof():
                with contextlib.suppress(OSError):
                    writer.write_eof()
        finally:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
