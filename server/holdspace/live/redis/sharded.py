"""The hub on a Redis Cluster: sharded pub/sub, and step scripts sent to the shard
that owns their session.

Every key and channel of a session carries its room's hash tag, so one slot — one
shard — holds them all. A step's script runs there and publishes there with
``SPUBLISH``: fan-out traffic stays on that shard instead of crossing the cluster
bus to every node, as ``PUBLISH`` would. So on a cluster:

* :func:`sharded` turns a script that publishes into one that publishes on its slot;
* :class:`ClusterScript` keeps a :class:`.PipelinedScript` per primary and sends each
  call to the one serving its slot, following the cluster when a slot moves
  (``MOVED``: the map is read again and the call sent there; ``ASK``: sent to the
  importing node after ``ASKING``; ``TRYAGAIN``: sent again in a moment). A node
  refusing with one of these ran nothing, so sending again is safe;
* :class:`ShardedPubSub` subscribes each channel (``SSUBSCRIBE``) on the primary
  serving its slot, one connection per primary, each read by a task of its own, and
  gives the listener their messages as one server's pub/sub would. When a slot
  leaves a node (a reshard, a failover), the node drops its subscribers' shard
  channels (``SUNSUBSCRIBE`` pushed to them): the listener sees that as a lost
  connection, rebuilds on the cluster as it is now, and catches up from the logs.
  The listener's probe is published through every shard it listens to (on a probe
  channel of the worker's in a slot each serves) and counts as back once all have
  brought it: every connection carries what was published before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

from redis.asyncio import RedisCluster
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.connection import AbstractConnection
from redis.crc import key_slot
from redis.exceptions import (
    AskError,
    ClusterDownError,
    MovedError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError

from holdspace.live.redis.pipelined import Args, PipelinedScript
from holdspace.redis_connect import REDIS_ERRORS, UNREACHABLE, Client

log = logging.getLogger("holdspace.hub")

# How long a call waits for a slot in the middle of moving (TRYAGAIN, CLUSTERDOWN)
# before it is sent again.
MOVING_PAUSE = 0.02


class SlotMoved(RedisConnectionError):
    """A node stopped serving a channel this worker listened to: its slot moved."""


def sharded(source: str) -> str:
    """A script that publishes with ``PUBLISH``, publishing on its slot's shard instead."""
    out = source.replace("'PUBSUB', 'NUMSUB'", "'PUBSUB', 'SHARDNUMSUB'")
    out = out.replace("'PUBLISH'", "'SPUBLISH'")
    assert "'SPUBLISH'" in out, "the script doesn't publish"
    return out


class _NodePool:
    """One cluster node's connections, lent as a pool lends them (to a PubSub, or to a
    PipelinedScript). The cluster client owns them: closing it closes them."""

    def __init__(self, node: ClusterNode) -> None:
        self._node = node
        self.connection_kwargs = node.connection_kwargs

    def get_encoder(self) -> Any:
        return self._node.get_encoder()

    def get_protocol(self) -> Any:
        return self.connection_kwargs.get("protocol")

    async def get_connection(self, *args: Any, **options: Any) -> AbstractConnection:
        conn = self._node.acquire_connection()
        try:
            await conn.connect()  # type: ignore[no-untyped-call]
        except BaseException:
            await conn.disconnect()
            self._node.release(conn)
            raise
        return conn

    async def release(self, conn: AbstractConnection) -> None:
        await conn.disconnect()  # never lent on half-read or subscribed
        self._node.release(conn)  # type: ignore[arg-type]

    async def disconnect(self, inuse_connections: bool = True) -> None:
        """The node's connections are the cluster client's to close."""

    async def aclose(self) -> None:
        """As :meth:`disconnect`."""

    def reset(self) -> None:
        """As :meth:`disconnect`."""


class _Map:
    """The cluster's slot map as a client knows it, read again at most once at a time.
    One per client (see :func:`_map_of`), outliving the pub/subs and scripts that ask
    for a read: a pub/sub dropped for a failed node must not take the read with it."""

    def __init__(self, cluster: RedisCluster) -> None:
        self.cluster = cluster
        self._refresh: asyncio.Task[None] | None = None

    def primary(self, key: str) -> ClusterNode:
        return self.cluster.nodes_manager.get_node_from_slot(key_slot(key.encode()))

    def refresh(self) -> asyncio.Task[None]:
        """Read the map again (one read shared by every caller asking meanwhile)."""
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.create_task(self._read(), name="cluster-map")
        return self._refresh

    async def _read(self) -> None:
        try:
            await self.cluster.nodes_manager.initialize()
        except UNREACHABLE as error:
            log.warning("hub: the cluster's slots couldn't be read", extra={"error": str(error)})


_maps: weakref.WeakKeyDictionary[RedisCluster, _Map] = weakref.WeakKeyDictionary()


def _map_of(cluster: RedisCluster) -> _Map:
    found = _maps.get(cluster)
    if found is None:
        found = _maps[cluster] = _Map(cluster)
    return found


class ClusterScript:
    """A :class:`.PipelinedScript` for each primary, and calls routed to the one serving
    their first key's slot (every key of a call shares one slot)."""

    def __init__(
        self,
        cluster: RedisCluster,
        source: str,
        *,
        timeout: float | None = None,
        replicas: int = 0,
        replica_wait_ms: int = 1000,
        run_id: bool = False,
    ) -> None:
        self._map = _map_of(cluster)
        self._source = source
        self._timeout = timeout
        self._options = {"replicas": replicas, "replica_wait_ms": replica_wait_ms}
        self._run_id = run_id
        self._scripts: dict[str, PipelinedScript] = {}
        self._following: set[asyncio.Task[None]] = set()  # calls being redirected

    @property
    def round_trips(self) -> int:
        return sum(s.round_trips for s in self._scripts.values())

    def _on(self, node: ClusterNode) -> PipelinedScript:
        script = self._scripts.get(node.name)
        if script is None:
            script = self._scripts[node.name] = PipelinedScript(
                None,
                self._source,
                pool=_NodePool(node),
                timeout=self._timeout,
                replicas=int(self._options["replicas"]),
                replica_wait_ms=int(self._options["replica_wait_ms"]),
                run_id=self._run_id,
            )
        return script

    async def __call__(self, keys: Sequence[str], args: Args) -> Any:
        return await self.send(keys, args)

    def send(self, keys: Sequence[str], args: Args) -> asyncio.Future[Any]:
        """Queue a call on its slot's primary now (calls of one slot go out in the order
        they are queued), and return its answer to come."""
        loop = asyncio.get_running_loop()
        try:
            first = self._on(self._map.primary(keys[0])).send(keys, args)
        except REDIS_ERRORS as error:  # no node serves the slot (yet): nothing was sent
            first = loop.create_future()
            first.set_exception(error)
        answer: asyncio.Future[Any] = loop.create_future()
        first.add_done_callback(lambda done: self._settle(done, answer, keys, args))
        return answer

    def _settle(
        self,
        first: asyncio.Future[Any],
        answer: asyncio.Future[Any],
        keys: Sequence[str],
        args: Args,
    ) -> None:
        """The first answer, passed on as it is — unless the node redirected the call
        (then a task follows it: the rare path costs a task, the usual one none)."""
        if answer.done():
            return  # its caller gave up waiting
        if first.cancelled():
            answer.cancel()
            return
        error = first.exception()
        if error is None:
            answer.set_result(first.result())
        elif isinstance(error, AskError | TryAgainError | ClusterDownError):  # MOVED too
            task = asyncio.create_task(self._redirected(first, answer, keys, args))
            self._following.add(task)
            task.add_done_callback(self._following.discard)
        else:
            if isinstance(error, RedisConnectionError | OSError):
                self._map.refresh()  # the node may be gone: know the next one
            answer.set_exception(error)

    async def _redirected(
        self,
        first: asyncio.Future[Any],
        answer: asyncio.Future[Any],
        keys: Sequence[str],
        args: Args,
    ) -> None:
        try:
            result = await self._followed(first, keys, args)
        except Exception as error:
            if not answer.done():
                answer.set_exception(error)
        else:
            if not answer.done():
                answer.set_result(result)

    async def _followed(self, answer: asyncio.Future[Any], keys: Sequence[str], args: Args) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self._timeout if self._timeout is not None else 5.0)
        while True:
            try:
                return await answer
            except MovedError:
                await self._map.refresh()  # the slot has a new owner
                node = self._map.primary(keys[0])
                answer = self._on(node).send(keys, args)
            except AskError as ask:  # the slot is moving, and its keys have gone on ahead
                node = self._node_at(ask.host, ask.port)
                answer = self._on(node).send(keys, args, asking=True)
            except (TryAgainError, ClusterDownError):  # the slot is moving, or failing over
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(MOVING_PAUSE)
                await self._map.refresh()
                answer = self._on(self._map.primary(keys[0])).send(keys, args)
            except (RedisConnectionError, OSError):  # AnswerLost too: it may have run
                self._map.refresh()  # the node may be gone: know the next one
                raise
            if loop.time() > deadline:
                raise RedisConnectionError("the cluster kept redirecting a call")

    def _node_at(self, host: str, port: int) -> ClusterNode:
        manager = self._map.cluster.nodes_manager
        node = manager.get_node(host=host, port=port)
        if node is None:
            node = ClusterNode(host, port, **manager.connection_kwargs)
            manager.nodes_cache[node.name] = node
        return node

    def abandon(self, why: str) -> None:
        for script in self._scripts.values():
            script.abandon(why)

    async def close(self) -> None:
        await asyncio.gather(*self._following, return_exceptions=True)
        await asyncio.gather(*(s.close() for s in self._scripts.values()))


class ShardedPubSub:
    """The listener's pub/sub on a cluster (see the module's docstring): ``subscribe``,
    ``unsubscribe``, ``get_message`` and ``aclose`` as on a ``PubSub``."""

    def __init__(self, cluster: RedisCluster, probe_base: str) -> None:
        """``probe_base``: this worker's probe channel, to name one on each node after."""
        self._map = _map_of(cluster)
        self._probe_base = probe_base
        self._probes: dict[str, str] = {}  # node name -> the probe channel on it
        self._nodes: dict[str, PubSub] = {}  # node name -> its connection's pub/sub
        self._readers: dict[str, asyncio.Task[None]] = {}
        self._where: dict[str, str] = {}  # channel -> node name
        self._leaving: set[str] = set()  # channels unsubscribed here, not by a move
        self._queue: asyncio.Queue[dict[str, Any] | BaseException] = asyncio.Queue()
        self._pings: dict[str, set[str]] = {}  # nonce -> probe channels yet to hear it
        self._subscribing = asyncio.Lock()

    async def subscribe(self, *channels: str) -> None:
        try:
            # One at a time: a node's first subscription makes its connection, and two
            # made at once would leave some channels on a connection nobody reads.
            async with self._subscribing:
                await self._subscribe(channels)
        except UNREACHABLE:
            self._map.refresh()  # a node is gone, or serves other slots now
            raise

    async def _subscribe(self, channels: Sequence[str]) -> None:
        for channel in channels:
            node = self._map.primary(channel)
            pubsub = self._nodes.get(node.name)
            if pubsub is None:
                pubsub = self._nodes[node.name] = PubSub(
                    connection_pool=_NodePool(node),  # type: ignore[arg-type]
                    encoder=self._map.cluster.encoder,
                )
            self._leaving.discard(channel)
            self._where[channel] = node.name
            await pubsub.ssubscribe(channel)
            if node.name not in self._readers:
                self._readers[node.name] = asyncio.create_task(
                    self._read(node.name, pubsub), name="hub-shard-reader"
                )

    async def unsubscribe(self, *channels: str) -> None:
        for channel in channels:
            name = self._where.pop(channel, None)
            if name is not None:
                self._leaving.add(channel)
                await self._nodes[name].sunsubscribe(channel)

    async def ping(self, nonce: str) -> None:
        """Publish ``nonce`` through every node this listens to (on a probe channel of
        this worker's in a slot the node serves): it comes back as one ``pong`` message
        once it has come through them all (see :meth:`.Liveness.probe`)."""
        channels = []
        for name in list(self._nodes):
            channel = self._probes.get(name)
            if channel is None:
                channel = self._probe_channel_on(name)
                await self.subscribe(channel)
                self._probes[name] = channel
            channels.append(channel)
        self._pings[nonce] = set(self._probes[name] for name in self._nodes)
        for channel in channels:
            await self._map.cluster.spublish(channel, nonce)

    def _probe_channel_on(self, name: str) -> str:
        """A probe channel whose slot ``name`` serves (a few tries find one)."""
        for i in range(100_000):
            channel = f"{self._probe_base}:{{{i}}}"
            if self._map.primary(channel).name == name:
                return channel
        raise RedisConnectionError(f"{name} serves no slot")

    async def get_message(self, timeout: float) -> dict[str, Any] | None:
        """The next message from any node; raises what broke a node's connection."""
        try:
            async with asyncio.timeout(timeout):
                item = await self._queue.get()
        except TimeoutError:
            return None
        if isinstance(item, BaseException):
            raise item
        return item

    async def _read(self, name: str, pubsub: PubSub) -> None:
        try:
            while True:
                message = await pubsub.get_message(timeout=None)
                if message is None:
                    continue
                kind, channel = message["type"], message.get("channel")
                if kind == "smessage" and channel in self._pings_on:
                    self._ponged(str(channel), str(message["data"]))
                elif kind == "smessage":
                    self._queue.put_nowait({"type": "message", "channel": channel,
                                            "data": message["data"]})  # fmt: skip
                elif kind == "ssubscribe":
                    self._queue.put_nowait({"type": "subscribe", "channel": channel})
                elif kind == "sunsubscribe":
                    if channel in self._leaving:
                        self._leaving.discard(channel)
                    elif self._where.get(str(channel)) == name:
                        raise SlotMoved(f"{name} no longer serves a followed channel")
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            self._map.refresh()  # a node failed, or a slot moved: the next build knows
            self._queue.put_nowait(error)

    @property
    def _pings_on(self) -> Iterable[str]:
        return self._probes.values()

    def _ponged(self, channel: str, nonce: str) -> None:
        waiting = self._pings.get(nonce)
        if waiting is None:
            return
        waiting.discard(channel)
        if not waiting:
            del self._pings[nonce]
            self._queue.put_nowait({"type": "pong", "channel": None, "data": nonce})

    async def aclose(self) -> None:
        for task in self._readers.values():
            task.cancel()
        await asyncio.gather(*self._readers.values(), return_exceptions=True)
        for pubsub in self._nodes.values():
            with contextlib.suppress(*UNREACHABLE):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
        self._nodes.clear()
        self._readers.clear()


def script_calls(
    client: Client,
    source: str,
    *,
    timeout: float | None = None,
    replicas: int = 0,
    run_id: bool = False,
) -> PipelinedScript | ClusterScript:
    """Calls to ``source`` on ``client``'s connections, written without waiting: on one
    connection to one server, or (publishing on each slot's shard) on a cluster. With
    ``run_id``, each call's last argument is the run id of the server it runs on."""
    if isinstance(client, RedisCluster):
        return ClusterScript(
            client, sharded(source), timeout=timeout, replicas=replicas, run_id=run_id
        )
    return PipelinedScript(client, source, timeout=timeout, replicas=replicas, run_id=run_id)


def pubsub(client: Client, probe_channel: str) -> PubSub | ShardedPubSub:
    """The listener's pub/sub: one connection to one server, or one to each primary."""
    if isinstance(client, RedisCluster):
        return ShardedPubSub(client, probe_channel)
    return client.pubsub()
