"""Login throttling, checked before any password hashing.

Argon2 makes each guess expensive for us as well as for an attacker, so guesses
are refused here first: per account (slows guessing one member's password from
many addresses) and per address (slows one address trying many accounts).
Time comes from an injected :class:`~holdspace.clock.Clock`; nothing here sleeps.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

from holdspace.clock import Clock

__all__ = ["DEFAULT_MAX_KEYS", "LoginThrottle", "TokenBucket"]

DEFAULT_MAX_KEYS: Final = 100_000

# Keys longer than this are stored as their digest, so one key costs bounded memory.
_MAX_KEY_LENGTH: Final = 128

# Absorbs float rounding so that waiting exactly ``wait_time`` is always enough.
_EPSILON: Final = 1e-9


@dataclass(slots=True)
class TokenBucket:
    """A token bucket with continuous refill; time is passed in, so it is trivially testable."""

    capacity: float
    refill_per_second: float
    tokens: float
    updated_at: float

    @classmethod
    def full(cls, capacity: float, window: float, now: float) -> TokenBucket:
        """A bucket allowing ``capacity`` events at once, refilling completely over ``window``."""
        if capacity <= 0 or window <= 0:
            raise ValueError("capacity and window must be positive")
        return cls(capacity, capacity / window, capacity, now)

    def _refill(self, now: float) -> None:
        # A clock that steps backwards neither refills nor rewinds the bucket.
        if now > self.updated_at:
            elapsed = now - self.updated_at
            self.tokens = min(self.capacity, self.tokens + elapsed * self.refill_per_second)
            self.updated_at = now

    def take(self, now: float, cost: float = 1) -> bool:
        self._refill(now)
        if self.tokens + _EPSILON >= cost:
            self.tokens = max(0.0, self.tokens - cost)
            return True
        return False

    def wait_time(self, now: float, cost: float = 1) -> float:
        """Seconds until ``take(cost)`` would succeed: 0 if it would now, inf if it never can."""
        self._refill(now)
        if self.tokens + _EPSILON >= cost:
            return 0.0
        if cost > self.capacity or self.refill_per_second <= 0:
            return math.inf
        # If the clock stepped back, the bucket only refills once it catches up again.
        behind = max(0.0, self.updated_at - now)
        # Pad by a couple of ulps so ``now + wait`` never rounds to just short of enough.
        slack = 2 * math.ulp(max(abs(now), abs(self.updated_at)))
        return behind + (cost - self.tokens) / self.refill_per_second + slack

    def is_full(self, now: float) -> bool:
        self._refill(now)
        return self.tokens + _EPSILON >= self.capacity


class _BucketMap:
    """Buckets by key, least recently used first; an absent key means a full bucket."""

    def __init__(self, capacity: int, window: float, max_keys: int) -> None:
        if capacity < 1 or window <= 0:
            raise ValueError("a limit needs at least one attempt over a positive window")
        self.capacity = capacity
        self.window = window
        self.max_keys = max_keys
        self.buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def wait_time(self, key: str, now: float) -> float:
        bucket = self.buckets.get(key)
        return 0.0 if bucket is None else bucket.wait_time(now)

    def take(self, key: str, now: float) -> None:
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = TokenBucket.full(self.capacity, self.window, now)
            self.buckets[key] = bucket
        else:
            self.buckets.move_to_end(key)
        bucket.take(now)
        self._prune(now)

    def reset(self, key: str) -> None:
        self.buckets.pop(key, None)

    def refund(self, key: str) -> None:
        bucket = self.buckets.get(key)
        if bucket is not None:
            bucket.tokens = min(bucket.capacity, bucket.tokens + 1)

    def _prune(self, now: float) -> None:
        # Least recently touched buckets are the likeliest to have refilled; dropping
        # full ones loses nothing. Stop at the first that still remembers something,
        # which keeps each call amortised O(1).
        while self.buckets:
            oldest = next(iter(self.buckets.values()))
            if not oldest.is_full(now):
                break
            self.buckets.popitem(last=False)
        # Hard cap: under a flood of fresh keys, forget the stalest instead of growing.
        while len(self.buckets) > self.max_keys:
            self.buckets.popitem(last=False)


def _key(value: str) -> str:
    if len(value) <= _MAX_KEY_LENGTH:
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


class LoginThrottle:
    """Token buckets per account and per client address; not thread-safe (use from the loop)."""

    def __init__(
        self,
        clock: Clock,
        per_account: tuple[int, float] = (5, 300.0),
        per_address: tuple[int, float] = (20, 300.0),
        *,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._clock = clock
        self._accounts = _BucketMap(*per_account, max_keys=max_keys)
        self._addresses = _BucketMap(*per_address, max_keys=max_keys)

    def check(self, account: str, address: str) -> float | None:
        """Count one login attempt: ``None`` if allowed, else seconds to wait (nothing consumed)."""
        now = self._clock.now()
        account_key = _key(account.casefold())
        address_key = _key(address)
        wait = max(
            self._accounts.wait_time(account_key, now),
            self._addresses.wait_time(address_key, now),
        )
        if wait > 0:
            return wait
        self._accounts.take(account_key, now)
        self._addresses.take(address_key, now)
        return None

    def succeeded(self, account: str, address: str | None = None) -> None:
        """A correct password clears the account's record, so its owner's typos don't add up,
        and gives the address its attempt back: many members signing in from one shared
        network (a clinic, a library) only ever spend failures."""
        self._accounts.reset(_key(account.casefold()))
        if address is not None:
            self._addresses.refund(_key(address))

    @property
    def tracked_accounts(self) -> int:
        return len(self._accounts.buckets)

    @property
    def tracked_addresses(self) -> int:
        return len(self._addresses.buckets)
