"""``/metrics``: Prometheus text, read from counts the hot path keeps as plain integers.

Nothing here sits on a message's path: the hub (:class:`HubStats`) and the edge
(:class:`EdgeStats`) bump integers, and :class:`Collector` reads them when
Prometheus scrapes. Names and labels carry no user, room or message data, so
an operator's monitoring holds nothing of what was said or by whom.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from holdspace.live.base import LATENCY_BUCKETS, HubStats, LiveHub

# The key under which the app's lifespan shares its :class:`EdgeStats` with the server
# (ASGI lifespan state), so the connection guards beneath the app count into it too.
EDGE_STATS = "holdspace.edge_stats"


@dataclass(slots=True)
class EdgeStats:
    """What the WebSocket endpoint, the HTTP API and the guards beneath them count."""

    ws_rate_limited: int = 0  # commands refused for going too fast
    http_rate_limited: int = 0  # requests answered 429
    handshakes_rate_limited: int = 0  # WebSocket handshakes answered 429: too many, too fast
    ws_unavailable: int = 0  # commands refused because the backend was out of reach
    http_unavailable: int = 0  # requests answered 503 for the same reason
    slow_disconnects: int = 0  # sockets closed with 4008: the device stopped reading
    restart_closes: int = 0  # sockets closed with 1012 when the worker shut down
    # Connections refused for one address holding too many: closed as they opened, or
    # (behind a trusted proxy, by forwarded address) WebSocket handshakes answered 429.
    connections_refused: int = 0
    header_timeouts: int = 0  # closed before their request headers or upgrade were done
    sockets_replaced: int = 0  # closed with 4010: their account opened one too many


class Collector:
    """Reads the counts at scrape time. ``hub`` is a callable because the hub only
    exists once the app has started."""

    def __init__(
        self, hub: Callable[[], LiveHub | None], edge: EdgeStats, connections: Callable[[], int]
    ) -> None:
        self._hub = hub
        self._edge = edge
        self._connections = connections

    def collect(self) -> Iterator[Metric]:
        edge = self._edge
        yield GaugeMetricFamily(
            "holdspace_connections", "WebSocket connections open on this worker",
            value=self._connections(),
        )  # fmt: skip
        limited = CounterMetricFamily(
            "holdspace_rate_limited", "Actions refused for going too fast", labels=["surface"]
        )
        limited.add_metric(["websocket"], edge.ws_rate_limited)
        limited.add_metric(["http"], edge.http_rate_limited)
        limited.add_metric(["handshake"], edge.handshakes_rate_limited)
        yield limited
        unavailable = CounterMetricFamily(
            "holdspace_unavailable",
            "Commands and requests refused because the backend was out of reach",
            labels=["surface"],
        )
        unavailable.add_metric(["websocket"], edge.ws_unavailable)
        unavailable.add_metric(["http"], edge.http_unavailable)
        yield unavailable
        yield CounterMetricFamily(
            "holdspace_slow_consumer_disconnects",
            "Connections closed (4008) because the device stopped reading",
            value=edge.slow_disconnects,
        )
        yield CounterMetricFamily(
            "holdspace_restart_closes",
            "Connections closed (1012) because this worker was shutting down",
            value=edge.restart_closes,
        )
        yield CounterMetricFamily(
            "holdspace_connections_refused",
            "Connections refused because their address already held as many as allowed",
            value=edge.connections_refused,
        )
        yield CounterMetricFamily(
            "holdspace_header_timeouts",
            "Connections closed for not finishing their request headers or upgrade in time",
            value=edge.header_timeouts,
        )
        yield CounterMetricFamily(
            "holdspace_sockets_replaced",
            "Sockets closed (4010) because their account opened more than allowed here",
            value=edge.sockets_replaced,
        )
        hub = self._hub()
        if hub is not None:
            yield from _hub_metrics(hub.stats, hub.followed)


def _hub_metrics(stats: HubStats, followed: int) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "holdspace_live_sessions", "Live sessions with members connected to this worker",
        value=followed,
    )  # fmt: skip
    counters = [
        ("holdspace_events_published", "Room events this worker's commands published",
         stats.published),
        ("holdspace_deliveries", "Frames handed to this worker's connections", stats.delivered),
        ("holdspace_catch_ups", "Gaps in the fan-out filled from a session's log",
         stats.catch_ups),
        ("holdspace_resyncs", "Connections told to rejoin: continuity could not be proven",
         stats.resyncs),
        ("holdspace_backend_errors", "Live-hub operations that failed to reach Redis",
         stats.errors),
        ("holdspace_subscriber_reconnects", "Times the pub/sub subscriber was rebuilt",
         stats.reconnects),
        ("holdspace_step_conflicts",
         "Steps written again because another worker had changed the session first",
         stats.conflicts),
        ("holdspace_commands_relayed",
         "Room commands this worker, far from Redis, handed to a nearer worker",
         stats.relayed),
        ("holdspace_commands_relayed_here",
         "Room commands this worker ran for a worker far from Redis", stats.relayed_here),
        ("holdspace_sessions_ticked",
         "Live sessions this worker let time act on (only those whose moment had come)",
         stats.ticked),
        ("holdspace_tick_reviews",
         "Passes over every live session: a new ticker, a worker gone, the index's Redis "
         "restarted", stats.reviews),
        ("holdspace_epochs_renewed",
         "Sessions given a new epoch because an earlier Redis (before a restart, restore "
         "or failover) wrote their state", stats.renewed),
    ]  # fmt: skip
    for name, documentation, value in counters:
        yield CounterMetricFamily(name, documentation, value=value)
    buckets, running = [], 0
    for bound, count in zip((*LATENCY_BUCKETS, float("inf")), stats.latency, strict=True):
        running += count
        buckets.append(("+Inf" if bound == float("inf") else repr(bound), running))
    yield HistogramMetricFamily(
        "holdspace_fanout_latency_seconds",
        "From publishing a batch of events to handing it to this worker's connections",
        buckets=buckets,
        sum_value=stats.latency_sum,
    )


def endpoint(collector: Collector) -> Callable[[Request], Response]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)

    def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return metrics
