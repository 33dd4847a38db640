"""The composition root: :func:`create_app` builds everything from :class:`Settings`.

No module-level state: two apps in one process (as the tests run them) share
nothing. Backends are chosen here; the rest of the code sees only the
:class:`~holdspace.storage.base.Store` and :class:`~holdspace.live.base.LiveHub`
contracts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from holdspace import logs, metrics
from holdspace.accounts import Accounts
from holdspace.auth.passwords import PasswordService
from holdspace.auth.throttle import LoginLimits, SignupLimits
from holdspace.clock import Clock, SystemClock
from holdspace.collector import Collector, freeze_start_up
from holdspace.errors import ClientError, Code, Unavailable, unavailable
from holdspace.live.base import LiveHub
from holdspace.live.memory import MemoryHub
from holdspace.live.redis import HubTuning, RedisHub
from holdspace.protocol import encode_event, encode_notice, encode_service
from holdspace.rooms import Rooms
from holdspace.seed import seed_demo
from holdspace.sessions import LiveSessions
from holdspace.settings import Settings
from holdspace.storage.base import Store
from holdspace.storage.redis import RedisStore
from holdspace.storage.sqlite import SQLiteStore
from holdspace.web.access import AccessLog
from holdspace.web.api import Api, client_error
from holdspace.web.headers import SecurityHeaders
from holdspace.web.refusals import error_response
from holdspace.web.services import Services
from holdspace.web.ws import EdgeApp, Endpoint
from holdspace_web import INDEX, STATIC

log = logging.getLogger("holdspace")


def create_app(
    settings: Settings, *, clock: Clock | None = None, passwords: PasswordService | None = None
) -> Starlette:
    """``passwords``: a service to hash with instead of one built from the settings (tests
    hold its threads to fill its queue); the app closes it when it stops."""
    clock = clock or SystemClock()
    services = Services()
    api = Api(services, settings)
    endpoint = Endpoint(services, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
        logs.install_filters()
        store, hub = await _backends(settings, clock)
        hashing = passwords or PasswordService(
            settings.password_profile,
            max_concurrency=settings.hash_concurrency,
            max_waiting=settings.hash_queue,
        )
        accounts = Accounts(
            store,
            hashing,
            clock,
            token_ttl_seconds=settings.token_ttl_hours * 3600,
            registration_open=settings.registration_open,
            login_limits=LoginLimits(
                per_pair=settings.login_attempts,
                per_account=settings.login_account_attempts,
                accounts_per_address=settings.login_address_accounts,
                window_seconds=settings.login_window_seconds,
            ),
            signup_limits=SignupLimits(
                per_address=settings.signup_per_address,
                per_invite=settings.signup_per_invite,
                window_seconds=settings.signup_window_seconds,
            ),
        )
        rooms = Rooms(store, clock, settings)
        sessions = LiveSessions(rooms, store, hub, clock, settings)
        services.fill(accounts, rooms, sessions)
        if settings.demo:
            app.state.demo_seeded = await seed_demo(accounts, rooms, settings.data_dir)
        stopping = asyncio.Event()
        ticker = asyncio.create_task(_tick(sessions, settings.tick_seconds, stopping))
        collector = Collector()
        if settings.gc_tuning:
            freeze_start_up()
            collector.start()
        backend = "redis" if settings.redis_url else "embedded"
        log.info("started", extra={"backend": backend, "port": settings.port})
        try:
            # Lifespan state, which uvicorn also hands its protocols: the guards beneath
            # the app (holdspace.edge) count into the same metrics.
            yield {metrics.EDGE_STATS: endpoint.stats}
        finally:
            collector.stop()
            stopping.set()
            ticker.cancel()
            await endpoint.close()
            try:
                async with asyncio.timeout(5):
                    await asyncio.gather(ticker, return_exceptions=True)
            except TimeoutError:
                log.warning("ticker did not stop in time")
            await hub.close()
            await store.close()
            hashing.close()
            log.info("stopped")

    async def healthz(request: Request) -> Response:
        """The process is up."""
        return JSONResponse({"ok": True, "connections": endpoint.open})

    async def readyz(request: Request) -> Response:
        """This worker can take sessions: its backend answers and its subscriber hears."""
        ready = services.ready and services.sessions.hub.ready
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    async def web_app(request: Request) -> Response:
        """The web app's one page; it routes itself from the URL's fragment."""
        return FileResponse(INDEX, headers={"cache-control": "no-cache"})

    async def refused(request: Request, exc: Exception) -> Response:
        if isinstance(exc, ClientError) and exc.code is Code.RATE_LIMITED:
            endpoint.stats.http_rate_limited += 1
        return await client_error(request, exc)

    async def out_of_reach(request: Request, exc: Exception) -> Response:
        endpoint.stats.http_unavailable += 1
        return error_response(unavailable())

    collector = metrics.Collector(
        lambda: services.sessions.hub if services.ready else None,
        endpoint.stats,
        lambda: endpoint.open,
    )
    # Upgrades to /ws go straight to the endpoint, with the server's own send.
    app = EdgeApp(
        ws_path="/ws",
        ws_handler=endpoint.handle,
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics.endpoint(collector), methods=["GET"]),
            *api.routes(),
            Route("/", web_app, methods=["GET"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        lifespan=lifespan,
        exception_handlers={ClientError: refused, Unavailable: out_of_reach},
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(AccessLog)
    app.state.services = services  # for tests and tools that run beside the server
    return app


async def _backends(settings: Settings, clock: Clock) -> tuple[Store, LiveHub]:
    """The embedded pair (SQLite + in-process hub), or both on Redis."""
    if settings.redis_url is None:
        store: Store = await SQLiteStore.open(settings.database_path)
        return store, MemoryHub(encode_event, encode_notice, log_size=settings.log_size)
    store = await RedisStore.open(settings.redis_url, prefix=settings.redis_prefix)
    try:
        tuning = HubTuning(
            log_size=settings.log_size,
            log_seconds=settings.log_seconds,
            probe_seconds=settings.probe_seconds,
            probe_timeout_seconds=settings.probe_seconds,
            worker_ttl_seconds=settings.probe_seconds * 4,
            stall_seconds=settings.redis_stall_seconds,
            relay_ms=settings.redis_relay_ms,
            wait_replicas=settings.redis_wait_replicas,
        )
        hub = await RedisHub.open(
            settings.redis_url,
            encode_event,
            encode_notice,
            encode_service,
            prefix=settings.redis_prefix,
            tuning=tuning,
            clock=clock,
        )
    except BaseException:
        await store.close()
        raise
    return store, hub


async def _tick(sessions: LiveSessions, every: float, stopping: asyncio.Event) -> None:
    """Let time act on live sessions; a failure is logged and the next tick tries again.

    ``stopping`` ends the loop even if a cancellation is swallowed on the way (a socket
    timeout firing as the task is cancelled can turn one into a ``TimeoutError``)."""
    while not stopping.is_set():
        await asyncio.sleep(every)
        try:
            await sessions.tick()
        except Unavailable:
            log.debug("tick deferred: backend unavailable")
        except Exception:
            log.exception("tick failed")


def from_env() -> Starlette:
    """The app as a factory of no arguments, for servers that import it by name
    (``holdspace serve --workers N`` starts each worker process this way)."""
    settings = Settings.from_env()
    logs.configure(settings.log_level, settings.log_format)
    return create_app(settings)
