"""Settings, read once from the environment (and CLI flags) at start-up.

Every setting has an ``HOLDSPACE_*`` variable; a bad value stops the server with
a message naming the variable rather than surfacing later as odd behaviour.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from holdspace.redis_connect import SCHEMES, cluster_target, sentinel_target

DEFAULT_CRISIS_RESOURCES = (
    "Holdspace is a peer-support space, not a crisis service. If you are in danger or "
    "thinking about ending your life, please contact your local emergency number now, "
    "or a crisis line where you live (for example 988 in the US and Canada, 116 123 "
    "for Samaritans in the UK and Ireland). Find more lines at https://findahelpline.com."
)


class SettingsError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("data")
    redis_url: str | None = None  # set: durable records and live rooms in Redis
    redis_prefix: str = "hs:"  # every key and channel starts with this
    workers: int = 1  # worker processes sharing the port (more than one needs Redis)
    # Exact Origin values allowed to open a cookie-authenticated WebSocket or send
    # cookie-authenticated writes. Empty: the server's own http://host:port forms.
    allowed_origins: tuple[str, ...] = ()
    # Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (their addresses);
    # none by default: anyone else could claim any address and escape the sign-in limits.
    trusted_proxies: tuple[str, ...] = ()
    cookie_secure: bool = False  # set when served over HTTPS
    token_ttl_hours: float = 24 * 14
    password_profile: str = "rfc9106-low-memory"  # noqa: S105 - a profile name
    hash_concurrency: int = 2  # argon2 hashes running at once per worker
    hash_queue: int = 8  # and waiting their turn; more are refused at once (503 busy)
    # Sign-in limits (holdspace.auth.throttle), each refilling evenly over its window:
    login_attempts: int = 10  # per account from one address: what a member's typos meet
    login_account_attempts: int = 50  # per account from all addresses (not its recent ones)
    login_address_accounts: int = 20  # distinct accounts tried from one address (stuffing)
    login_window_seconds: float = 900.0
    signup_per_address: int = 10  # sign-ups without an invite code, per address
    signup_per_invite: int = 30  # sign-ups with one valid invite code, from anywhere
    signup_window_seconds: float = 3600.0
    registration_open: bool = True
    default_capacity: int = 8
    max_capacity: int = 16
    lobby_minutes: int = 15
    grace_seconds: float = 120.0
    # A member's messages (and whispers): this many at once, then this many a minute.
    post_burst: int = 5
    posts_per_minute: float = 20.0
    tick_seconds: float = 1.0
    log_size: int = 1000  # events kept per session for resuming
    log_seconds: float = 3600.0  # and for how long (Redis backend)
    probe_seconds: float = 5.0  # how often a worker checks its Redis subscriber hears
    # Redis not answering a ping within this counts as stalled: members hear `service`,
    # /readyz fails and commands are refused at once instead of waiting on it.
    redis_stall_seconds: float = 1.5
    # A worker whose pings to Redis all take longer than this (ms) hands its members' room
    # commands to a live worker at least four times nearer Redis (0: never).
    redis_relay_ms: float = 25.0
    # Replicas that must have each step before it is acknowledged (WAIT): a failover then
    # never loses an acknowledged message, at a replica round trip per step (0: none).
    redis_wait_replicas: int = 0
    # Drop a connection whose peer hasn't acknowledged sent data for this long, so a
    # client that stops reading can't pin its socket and kernel buffers (TCP_USER_TIMEOUT).
    tcp_user_timeout_seconds: float = 30.0
    # The kernel's send buffer per connection (0: the kernel's own autotuning, which on
    # a fast link lets one stalled reader hold megabytes). Linux doubles what is set.
    socket_send_buffer_bytes: int = 256 * 1024
    ws_compression: bool = False  # permessage-deflate costs memory per connection: off by default
    # A WebSocket ping to every idle connection this often (0: none). It keeps proxies
    # from closing a quiet room's connections (nginx's proxy_read_timeout, a load
    # balancer's idle timeout) and costs CPU per connection; dead peers are found by the
    # kernel's TCP keep-alive either way.
    ws_ping_seconds: float = 20.0
    # Pace Python's garbage collector for a long-running server (see holdspace.collector).
    gc_tuning: bool = True
    send_queue_frames: int = 1000
    send_queue_bytes: int = 1024 * 1024
    auth_timeout_seconds: float = 10.0
    reauth_seconds: float = 30.0  # how soon an open socket notices its sign-in was revoked
    # The worker's own edge (holdspace.edge, docs/OPERATIONS.md), per worker; for each
    # limit, 0 is none. A connection's request headers (and a WebSocket's upgrade) must
    # be in within this many seconds, or it is closed.
    header_timeout_seconds: float = 10.0
    # Connections one address may hold open (a clinic's network is one address). The
    # proxies in trusted_proxies are exempt; behind them, each client's WebSockets count.
    connections_per_address: int = 100
    # WebSocket handshakes from one address: this many at once, then this many a minute.
    handshake_burst: int = 30
    handshakes_per_minute: float = 60.0
    # Open sockets per account; one more closes the account's oldest (4010).
    sockets_per_account: int = 10
    # On SIGTERM: stop accepting, close sockets with 1012, exit within this long.
    shutdown_seconds: float = 10.0
    demo: bool = False  # seed demo accounts and a room on first start
    log_level: str = "INFO"
    log_format: str = "auto"  # "text" on a terminal, "json" otherwise; or either, always
    crisis_resources: str = DEFAULT_CRISIS_RESOURCES
    # Where "Leave quickly" takes a member: an everyday page that says nothing about them.
    quick_exit_url: str = "https://www.google.com/"
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def origins(self) -> frozenset[str]:
        if self.allowed_origins:
            return frozenset(self.allowed_origins)
        hosts = {self.host, "localhost", "127.0.0.1"} if self.host in _LOOPBACK else {self.host}
        return frozenset(f"http://{h}:{self.port}" for h in hosts)

    @property
    def database_path(self) -> Path:
        return self.data_dir / "holdspace.sqlite3"

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            name = f"HOLDSPACE_{f.name.upper()}"
            if name in env and env[name] != "":
                values[f.name] = _convert(name, env[name], f.default)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if not 1 <= self.default_capacity <= self.max_capacity:
            raise SettingsError(
                "HOLDSPACE_DEFAULT_CAPACITY must be between 1 and HOLDSPACE_MAX_CAPACITY"
            )
        if self.password_profile not in ("rfc9106-low-memory", "test"):
            raise SettingsError("HOLDSPACE_PASSWORD_PROFILE must be rfc9106-low-memory or test")
        if self.post_burst < 1 or self.posts_per_minute <= 0:
            raise SettingsError(
                "HOLDSPACE_POST_BURST and HOLDSPACE_POSTS_PER_MINUTE must be positive"
            )
        if not 0.1 <= self.redis_stall_seconds <= 30:
            raise SettingsError("HOLDSPACE_REDIS_STALL_SECONDS must be between 0.1 and 30")
        if not 0 <= self.redis_relay_ms <= 60_000:
            raise SettingsError("HOLDSPACE_REDIS_RELAY_MS must be between 0 and 60000")
        if not 0 <= self.redis_wait_replicas <= 16:
            raise SettingsError("HOLDSPACE_REDIS_WAIT_REPLICAS must be between 0 and 16")
        if self.workers < 1:
            raise SettingsError("HOLDSPACE_WORKERS must be at least 1")
        if self.hash_concurrency < 1:
            raise SettingsError("HOLDSPACE_HASH_CONCURRENCY must be at least 1")
        if self.hash_queue < 0:
            raise SettingsError("HOLDSPACE_HASH_QUEUE must be 0 or more")
        for limit in _SIGN_IN_LIMITS:
            if getattr(self, limit) < 1:
                raise SettingsError(f"HOLDSPACE_{limit.upper()} must be at least 1")
        for window in ("login_window_seconds", "signup_window_seconds"):
            if not getattr(self, window) > 0:
                raise SettingsError(f"HOLDSPACE_{window.upper()} must be positive")
        if self.workers > 1 and not self.redis_url:
            raise SettingsError(
                "more than one worker needs Redis to share rooms: set HOLDSPACE_REDIS_URL "
                "(or --redis redis://host:6379/0), or run one worker"
            )
        if self.redis_url is not None:
            if not self.redis_url.startswith(tuple(f"{s}://" for s in SCHEMES)):
                raise SettingsError(
                    "HOLDSPACE_REDIS_URL must start with redis://, rediss://, unix://, "
                    "redis+sentinel:// or redis+cluster://"
                )
            try:
                sentinel_target(self.redis_url)
                cluster_target(self.redis_url)
            except ValueError as error:
                raise SettingsError(f"HOLDSPACE_REDIS_URL: {error}") from None
        if self.log_format not in ("auto", "json", "text"):
            raise SettingsError("HOLDSPACE_LOG_FORMAT must be auto, json or text")
        if not self.quick_exit_url.startswith(("https://", "http://")):
            raise SettingsError("HOLDSPACE_QUICK_EXIT_URL must be an http:// or https:// address")
        for origin in self.allowed_origins:
            if not origin.startswith(("http://", "https://")) or origin.endswith("/"):
                raise SettingsError(
                    f"HOLDSPACE_ALLOWED_ORIGINS: {origin!r} must look like https://example.org"
                )
        self._validate_edge()

    def _validate_edge(self) -> None:
        """The worker's own edge: a mistyped proxy would be capped like one client."""
        for proxy in self.trusted_proxies:
            try:
                if proxy != "*":
                    ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise SettingsError(
                    f"HOLDSPACE_TRUSTED_PROXIES: {proxy!r} must be an address (127.0.0.1), "
                    "a network (10.0.0.0/8) or *"
                ) from None
        if not self.header_timeout_seconds > 0:
            raise SettingsError("HOLDSPACE_HEADER_TIMEOUT_SECONDS must be positive")
        for limit in ("connections_per_address", "handshake_burst", "sockets_per_account"):
            if getattr(self, limit) < 0:
                raise SettingsError(f"HOLDSPACE_{limit.upper()} must be 0 (no limit) or more")
        if not self.handshakes_per_minute > 0:
            raise SettingsError("HOLDSPACE_HANDSHAKES_PER_MINUTE must be positive")


_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_SIGN_IN_LIMITS = (
    "login_attempts",
    "login_account_attempts",
    "login_address_accounts",
    "signup_per_address",
    "signup_per_invite",
)


def _convert(name: str, raw: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, Path):
            return Path(raw)
        if isinstance(default, tuple):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        return raw
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a valid value") from None
