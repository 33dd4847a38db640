"""Script calls sent in pipelines: each caller gets its own answer, whatever shares
its round trip."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeout

from holdspace.live.redis.pipelined import AnswerLost, PipelinedScript
from tests.fault_proxy import FaultProxy
from tests.redis_server import RedisServer

# Append ARGV[1] to a list and answer with its new length; refuse "boom".
APPEND = """
if ARGV[1] == 'boom' then return redis.error_reply('refused') end
return redis.call('RPUSH', KEYS[1], ARGV[1])
"""


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[Redis]:
    redis = Redis.from_url(
        redis_server.admin_url, decode_responses=True, retry=Retry(NoBackoff(), 0)
    )
    yield redis
    await redis.aclose()


@pytest.fixture
async def loaded(client: Redis) -> AsyncIterator[tuple[PipelinedScript, str]]:
    """A script Redis has loaded (its first call did), and its list, one entry long."""
    script = PipelinedScript(client, APPEND)
    key = f"t{secrets.token_hex(4)}"
    assert await script([key], ["warm"]) == 1
    yield script, key
    await script.close()


async def test_calls_made_together_share_a_pipeline_and_each_gets_its_answer(
    client: Redis, loaded: tuple[PipelinedScript, str]
) -> None:
    script, key = loaded
    warmed = script.round_trips
    answers = await asyncio.gather(*(script([key], [str(n)]) for n in range(50)))
    assert answers == list(range(2, 52))  # each its own answer, in call order
    assert await client.lrange(key, 1, -1) == [str(n) for n in range(50)]
    assert script.round_trips == warmed + 1


async def test_calls_made_while_others_are_out_go_at_once_together(
    loaded: tuple[PipelinedScript, str],
) -> None:
    script, key = loaded
    warmed = script.round_trips
    first = asyncio.create_task(script([key], ["first"]))
    for _ in range(100):  # a few turns of the loop, until the first call has gone out
        if script.round_trips > warmed:
            break
        await asyncio.sleep(0)
    assert script.round_trips == warmed + 1
    # These are made before the first answer is read: they don't wait for it, and the
    # answers still come back each to its own call, in order.
    later = [asyncio.create_task(script([key], [str(n)])) for n in range(20)]
    assert await first == 2
    assert [await t for t in later] == list(range(3, 23))
    assert script.round_trips == warmed + 2


async def test_on_a_slow_link_a_call_costs_one_round_trip_however_many_are_out(
    redis_server: RedisServer,
) -> None:
    """200 ms each way between the worker and Redis: a call sent while another is on its
    way comes back one round trip after it was made, not after waiting for the first to
    return (which doubled every latency when one pipeline at a time was out)."""
    proxy = await FaultProxy(redis_server.admin_url).start()
    proxy.latency = 0.2
    redis = Redis.from_url(proxy.url, decode_responses=True, retry=Retry(NoBackoff(), 0))
    script = PipelinedScript(redis, APPEND, timeout=5)
    key = f"t{secrets.token_hex(4)}"
    try:
        await script([key], ["warm"])  # connected, and the script loaded
        loop = asyncio.get_running_loop()

        async def timed(value: str) -> float:
            started = loop.time()
            await script([key], [value])
            return loop.time() - started

        calls = []
        for n in range(10):  # one every 80 ms: always some out when the next is made
            calls.append(asyncio.create_task(timed(str(n))))
            await asyncio.sleep(0.08)
        took = await asyncio.gather(*calls)
    finally:
        await script.close()
        await redis.aclose()
        await proxy.close()
    assert min(took) >= 0.4  # each really crossed the slow link both ways
    assert max(took) < 0.4 + 0.15, took  # and none waited for another's answer


async def test_calls_whose_answers_are_lost_fail_and_are_not_sent_again() -> None:
    """A connection that drops after the calls went out: they may have run, so they fail
    rather than run twice. (A socket that reads the calls, then hangs up: the one way to
    lose an answer on purpose.)"""
    received: list[bytes] = []

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read(65536))
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    redis = Redis(
        port=port, retry=Retry(NoBackoff(), 0), driver_info=None, protocol=2
    )  # no handshake
    try:
        script = PipelinedScript(redis, APPEND, timeout=5)
        results = await asyncio.gather(
            *(script(["k"], [str(n)]) for n in range(3)), return_exceptions=True
        )
    finally:
        await redis.aclose()
        server.close()
        await server.wait_closed()
    assert all(isinstance(r, AnswerLost) for r in results), results  # they may have run
    sent = b"".join(received)
    assert sent.count(b"EVALSHA") == 3  # once each, never again


async def test_one_call_refused_leaves_the_others_alone(client: Redis) -> None:
    script = PipelinedScript(client, APPEND)
    key = f"t{secrets.token_hex(4)}"
    results = await asyncio.gather(
        script([key], ["a"]), script([key], ["boom"]), script([key], ["b"]),
        return_exceptions=True,
    )  # fmt: skip
    assert results[0] == 1
    assert isinstance(results[1], ResponseError)
    assert "refused" in str(results[1])
    assert results[2] == 2


async def test_a_flushed_script_cache_is_reloaded_without_running_anything_twice(
    client: Redis,
) -> None:
    script = PipelinedScript(client, APPEND)
    key = f"t{secrets.token_hex(4)}"
    assert await script([key], ["first"]) == 1
    await client.script_flush()
    assert list(await asyncio.gather(script([key], ["x"]), script([key], ["y"]))) == [2, 3]
    assert await client.lrange(key, 0, -1) == ["first", "x", "y"]


async def test_an_unreachable_redis_fails_every_call() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))  # a port nothing listens on
        port = held.getsockname()[1]
        redis = Redis(port=port, retry=Retry(NoBackoff(), 0), socket_connect_timeout=2)
        try:
            script = PipelinedScript(redis, APPEND)
            results = await asyncio.gather(
                *(script(["k"], ["v"]) for _ in range(3)), return_exceptions=True
            )
        finally:
            await redis.aclose()
    assert len(results) == 3
    # Nothing was sent: the calls certainly did not run.
    assert all(isinstance(r, ConnectionError) and not isinstance(r, AnswerLost) for r in results)


async def test_a_redis_that_stops_answering_fails_the_calls_within_the_limit() -> None:
    """The limit bounds the whole pipeline; the client has no socket timeout of its own.
    Here the connection's own handshake never gets an answer, so no call was sent: they
    fail as timeouts, not as answers lost."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # the kernel accepts connections; nothing ever answers
        port = silent.getsockname()[1]
        redis = Redis(port=port, retry=Retry(NoBackoff(), 0), socket_timeout=None)
        try:
            script = PipelinedScript(redis, APPEND, timeout=0.5)
            async with asyncio.timeout(10):
                results = await asyncio.gather(
                    *(script(["k"], ["v"]) for _ in range(3)), return_exceptions=True
                )
        finally:
            await redis.aclose()
    assert all(isinstance(r, RedisTimeout) and not isinstance(r, AnswerLost) for r in results)


async def test_a_connection_redis_closed_while_idle_is_replaced_before_sending() -> None:
    """Redis restarts between calls: the script's connection is found closed before
    anything is written on it (so nothing can have run) and the call goes out on a new one."""
    server = RedisServer()
    try:
        redis = Redis.from_url(server.admin_url, decode_responses=True, retry=Retry(NoBackoff(), 0))
        script = PipelinedScript(redis, APPEND, timeout=5)
        key = f"t{secrets.token_hex(4)}"
        try:
            assert await script([key], ["before"]) == 1
            server.restart()  # nothing saved: the list is gone
            for _ in range(100):  # let the loop see the old connection's end of file
                await asyncio.sleep(0)
            assert await script([key], ["after"]) == 1
        finally:
            await script.close()
            await redis.aclose()
    finally:
        server.stop()


# Answer with the run id the call was given (its last argument) and the server's own.
RUN = """
local own = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
return {ARGV[#ARGV], own, ARGV[1]}
"""


async def test_each_call_is_given_the_run_id_of_the_server_it_runs_on() -> None:
    """With ``run_id``, a call's last argument is the run id of the server running it,
    learned once per connection: after a restart (a new run, a new connection) calls
    carry the new one, never the old."""
    server = RedisServer()
    try:
        redis = Redis.from_url(server.admin_url, decode_responses=True, retry=Retry(NoBackoff(), 0))
        script = PipelinedScript(redis, RUN, timeout=5, run_id=True)
        try:
            first = await asyncio.gather(*(script(["k"], [str(n)]) for n in range(3)))
            assert [args for _, _, args in first] == ["0", "1", "2"]
            assert all(given == own for given, own, _ in first)
            server.restart()
            for _ in range(100):  # let the loop see the old connection's end of file
                await asyncio.sleep(0)
            given, own, _ = await script(["k"], ["3"])
            assert given == own != first[0][1]
        finally:
            await script.close()
            await redis.aclose()
    finally:
        server.stop()


async def test_a_run_id_is_learned_again_on_every_new_connection(client: Redis) -> None:
    """The connection is dropped under the script (as a broken read drops it): the next
    call asks the run id again, on the new connection, before it is written."""

    async def asked() -> int:  # INFO calls so far; this one is counted in the next
        return int((await client.info("commandstats"))["cmdstat_info"]["calls"])

    script = PipelinedScript(client, "return ARGV[#ARGV]", timeout=5, run_id=True)
    try:
        own = (await client.info("server"))["run_id"]
        assert await script(["k"], ["a"]) == own
        before = await asked()
        assert await script(["k"], ["b"]) == own
        assert await asked() == before + 1  # only the count before
        assert script._conn is not None
        await script._conn.disconnect()
        assert await script(["k"], ["c"]) == own
        assert await asked() == before + 3  # the two counts, and the run id asked again
    finally:
        await script.close()


async def test_no_call_is_written_where_the_server_wont_say_its_run_id() -> None:
    """Calls that must carry the run id are never written without it: a server that
    refuses ``INFO`` gets none of them, and they fail as never sent."""
    server = RedisServer("--rename-command", "INFO", '""')
    try:
        redis = Redis.from_url(server.admin_url, decode_responses=True, retry=Retry(NoBackoff(), 0))
        script = PipelinedScript(redis, "return ARGV[#ARGV]", timeout=5, run_id=True)
        try:
            with pytest.raises(ResponseError) as refused:
                await script(["k"], ["a"])
            assert "unknown command" in str(refused.value)
            assert not isinstance(refused.value, AnswerLost)
            assert script.round_trips == 0
        finally:
            await script.close()
            await redis.aclose()
    finally:
        server.stop()
