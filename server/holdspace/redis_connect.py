"""Connecting to Redis: one server by its URL, the primary that Sentinel names, or a
Redis Cluster.

    redis://[[user]:password@]host:port[/db]        (also rediss:// and unix://)
    redis+sentinel://[[user]:password@]host:port[,host:port…]/service[/db]
                     [?sentinel_password=…]
    redis+cluster://[[user]:password@]host:port[,host:port…]

A cluster's URL names seed nodes (any of its nodes; more than one, so a worker can
start while one is down): the client learns every node and slot from them, and
follows ``MOVED``/``ASK`` redirections and failovers by itself. A cluster has one
database, so there is no ``/db``.

With Sentinel, each connection asks the sentinels where the primary is when it is
made, and one whose server turns out no longer to be the primary (a write refused
``READONLY``) is dropped. So after a failover every part of a worker — the store,
the step script's connection, the pub/sub listener, the health check — finds the
new primary the next time it connects, which it does as soon as its old connection
breaks (at once when the old primary died; at its first write when it lives on as
a replica). The credentials in
the URL are the Redis servers'; the sentinels' own password, if they have one, is
``sentinel_password``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.exceptions import RedisClusterException, RedisError

SENTINEL_SCHEME = "redis+sentinel"
CLUSTER_SCHEME = "redis+cluster"
SCHEMES = ("redis", "rediss", "unix", SENTINEL_SCHEME, CLUSTER_SCHEME)

# What every part of Holdspace talks to: one server (or Sentinel's primary), or a cluster.
Client = Redis | RedisCluster
# What a call may raise when Redis is out of reach or refuses: redis-py's cluster client
# raises RedisClusterException (no node reachable, a slot no node serves) outside
# RedisError, and a worker must treat it as it treats any other Redis failure.
REDIS_ERRORS: tuple[type[Exception], ...] = (RedisError, RedisClusterException)
# The same, or the socket under it failing (timeouts included).
UNREACHABLE: tuple[type[Exception], ...] = (*REDIS_ERRORS, OSError)


@dataclass(frozen=True, slots=True)
class SentinelTarget:
    """Where the sentinels are, which primary to ask them for, and how to reach it."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None


def sentinel_target(url: str) -> SentinelTarget | None:
    """The Sentinel setup a ``redis+sentinel://`` URL names (None for any other URL);
    raises ``ValueError`` for one that can't be read."""
    parts = urlsplit(url)
    if parts.scheme != SENTINEL_SCHEME:
        return None
    credentials, _, hosts = parts.netloc.rpartition("@")
    username, _, password = credentials.partition(":")
    sentinels = [_host_port(host, "sentinel") for host in hosts.split(",")]
    path = [p for p in parts.path.split("/") if p]
    if not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise ValueError("the URL's path must be /<service> or /<service>/<db>")
    query = parse_qs(parts.query)
    return SentinelTarget(
        sentinels=tuple(sentinels),
        service=unquote(path[0]),
        db=int(path[1]) if len(path) == 2 else 0,
        username=unquote(username) or None,
        password=unquote(password) or None,
        sentinel_password=query.get("sentinel_password", [None])[0],
    )


@dataclass(frozen=True, slots=True)
class ClusterTarget:
    """Where a cluster's seed nodes are, and the credentials of its servers."""

    seeds: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None


def cluster_target(url: str) -> ClusterTarget | None:
    """The cluster a ``redis+cluster://`` URL names (None for any other URL); raises
    ``ValueError`` for one that can't be read."""
    parts = urlsplit(url)
    if parts.scheme != CLUSTER_SCHEME:
        return None
    credentials, _, hosts = parts.netloc.rpartition("@")
    username, _, password = credentials.partition(":")
    if parts.path.strip("/") or parts.query:
        raise ValueError("a cluster's URL names its seed nodes only: no /db, no options")
    return ClusterTarget(
        seeds=tuple(_host_port(host, "seed node") for host in hosts.split(",")),
        username=unquote(username) or None,
        password=unquote(password) or None,
    )


def _host_port(text: str, what: str) -> tuple[str, int]:
    name, _, port = text.rpartition(":")
    if not name or not port.isdigit():
        raise ValueError(f"a {what} must be host:port, not {text!r}")
    return name.strip("[]"), int(port)


def connect(
    url: str, *, pool_size: int | None = None, wait: float | None = None, **options: Any
) -> Client:
    """A client of ``url``'s Redis (of the primary, behind Sentinel; of every primary,
    on a cluster). With ``pool_size``, at most that many connections (on a cluster, to
    each node), a caller waiting up to ``wait`` seconds for a free one; ``options`` go
    to every connection (timeouts, ``decode_responses``, ``retry``)."""
    cluster = cluster_target(url)
    if cluster is not None:
        return _cluster_client(cluster, pool_size, options)
    target = sentinel_target(url)
    if target is None:
        if pool_size is None:
            return Redis.from_url(url, **options)
        pool = BlockingConnectionPool.from_url(
            url, max_connections=pool_size, timeout=wait, **options
        )
        return Redis.from_pool(pool)  # owns the pool: closing the client closes it
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        list(target.sentinels),
        sentinel_kwargs={
            "password": target.sentinel_password,
            "socket_timeout": options.get("socket_connect_timeout"),
            "socket_connect_timeout": options.get("socket_connect_timeout"),
        },
    )
    pool_class: type[SentinelConnectionPool] = SentinelConnectionPool
    if pool_size is not None:
        pool_class = _BlockingPrimaryPool
        options.update(max_connections=pool_size, timeout=wait)
    client: Redis = sentinel.master_for(
        target.service,
        redis_class=_Primary,
        connection_pool_class=pool_class,
        db=target.db,
        username=target.username,
        password=target.password,
        **options,
    )
    return client


def _cluster_client(
    target: ClusterTarget, pool_size: int | None, options: dict[str, Any]
) -> RedisCluster:
    retry = options.pop("retry", None)
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in target.seeds],
        username=target.username,
        password=target.password,
        # A node's pool doesn't wait for a free connection: a bound it reaches fails
        # the call. Give it room, and keep ``pool_size`` as the usual number in use.
        max_connections=max(pool_size or 0, 1) * 4 if pool_size else 2**31,
        # Refresh the slot map from the cluster as soon as a node fails, not later.
        reinitialize_steps=1,
        **({"retry": retry} if retry is not None else {}),
        **options,
    )


class _BlockingPrimaryPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's pool, waiting for a free connection as a blocking pool does."""


class _Primary(Redis):
    """A client of the primary Sentinel names; closing it closes its sentinel clients."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        pool = self.connection_pool
        if isinstance(pool, SentinelConnectionPool):
            await pool.sentinel_manager.aclose()
