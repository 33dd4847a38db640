"""Sign-in and sign-up throttling, checked before any password hashing.

Argon2 makes each guess expensive for us as well as for an attacker, so guesses are
refused here first. Members often share an address (a clinic's, a library's network),
so one person's guessing must not lock the others out. Sign-in attempts are counted
three ways, each in token buckets of its own:

* per account *from one address* (the pair): what a member's own typos meet, and all
  that an attacker at one address can spend on one account;
* per account from every address together: slows guessing one member's password
  spread over many addresses. It is higher, and it does not apply from an address the
  account signed in from lately, so the owner still gets in from home meanwhile;
* per address, counting the *distinct accounts* tried from it: credential stuffing (a
  leaked list: many accounts, one try each). An address past it waits before trying
  yet another account, correct password or not; the accounts already tried from it,
  and those that signed in from it lately, carry on within their own limits.

An attempt is charged when it is let through, before the hash, so concurrent guesses
can't overshoot; a correct password gives back what it spent, so members signing in
never use anything up. Sign-ups are counted per address, or per invite code when they
bring a valid one. Time comes from an injected :class:`~holdspace.clock.Clock`; nothing
here sleeps, and memory stays bounded: each map forgets its least recently used keys.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

from holdspace.clock import Clock

__all__ = [
    "DEFAULT_MAX_KEYS",
    "REMEMBER_SECONDS",
    "Attempt",
    "LoginLimits",
    "LoginThrottle",
    "SignupLimits",
    "SignupThrottle",
    "TokenBucket",
]

DEFAULT_MAX_KEYS: Final = 100_000

# How long an address an account signed in from stays its own for the per-account limit.
REMEMBER_SECONDS: Final = 30 * 24 * 3600.0

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

    def is_full(self, key: str, now: float) -> bool:
        """Nothing spent, or all of it back: the key starts afresh."""
        bucket = self.buckets.get(key)
        return bucket is None or bucket.is_full(now)

    def take(self, key: str, now: float) -> bool:
        """Spend one token if there is one; False when there was none to spend."""
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = TokenBucket.full(self.capacity, self.window, now)
            self.buckets[key] = bucket
        else:
            self.buckets.move_to_end(key)
        taken = bucket.take(now)
        self._prune(now)
        return taken

    def forget(self, key: str) -> bool:
        """Drop the key's record; False when there was none."""
        return self.buckets.pop(key, None) is not None

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


class _Remembered:
    """Keys seen within ``seconds``, oldest first; bounded like the bucket maps."""

    def __init__(self, seconds: float, max_keys: int) -> None:
        self.seconds = seconds
        self.max_keys = max_keys
        self.seen: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self.seen)

    def contains(self, key: str, now: float) -> bool:
        at = self.seen.get(key)
        return at is not None and now - at < self.seconds

    def add(self, key: str, now: float) -> None:
        self.seen[key] = now
        self.seen.move_to_end(key)
        while self.seen and now - next(iter(self.seen.values())) >= self.seconds:
            self.seen.popitem(last=False)
        while len(self.seen) > self.max_keys:
            self.seen.popitem(last=False)

    def pop(self, key: str, now: float) -> bool:
        """Forget the key; True if it had been seen within ``seconds``."""
        at = self.seen.pop(key, None)
        return at is not None and now - at < self.seconds


def _key(value: str) -> str:
    if len(value) <= _MAX_KEY_LENGTH:
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """Sign-in attempts allowed per ``window_seconds`` before one must wait (each refills
    evenly over the window). Settings: ``HOLDSPACE_LOGIN_*``."""

    per_pair: int = 10  # one account from one address
    per_account: int = 50  # one account from every address together
    accounts_per_address: int = 20  # distinct accounts tried from one address
    window_seconds: float = 900.0

    def __post_init__(self) -> None:
        if min(self.per_pair, self.per_account, self.accounts_per_address) < 1:
            raise ValueError("each sign-in limit must allow at least one attempt")
        if self.window_seconds <= 0:
            raise ValueError("the sign-in window must be positive")


@dataclass(frozen=True, slots=True)
class SignupLimits:
    """Sign-ups allowed per ``window_seconds``. Settings: ``HOLDSPACE_SIGNUP_*``."""

    per_address: int = 10  # without an invite code, from one address
    per_invite: int = 30  # with one valid invite code, from anywhere
    window_seconds: float = 3600.0

    def __post_init__(self) -> None:
        if min(self.per_address, self.per_invite) < 1:
            raise ValueError("each sign-up limit must allow at least one sign-up")
        if self.window_seconds <= 0:
            raise ValueError("the sign-up window must be positive")


@dataclass(frozen=True, slots=True)
class Attempt:
    """One sign-in attempt let through and charged; settle it with
    :meth:`LoginThrottle.succeeded` or :meth:`LoginThrottle.cancelled` (a wrong password
    needs nothing: the charge stands)."""

    account: str  # the keys it was counted under
    address: str
    pair: str
    # What it actually spent, so settling gives back no more (a known pair isn't checked
    # against the account's or the address's tries, and may find none left to spend).
    account_charged: bool
    address_charged: bool  # the first try of this account from this address


class LoginThrottle:
    """Sign-in limits per (address, account), per account and per address (see the module
    docstring); not thread-safe: use it from the event loop."""

    def __init__(
        self,
        clock: Clock,
        limits: LoginLimits | None = None,
        *,
        max_keys: int = DEFAULT_MAX_KEYS,
        remember_seconds: float = REMEMBER_SECONDS,
    ) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        limits = limits or LoginLimits()
        window = limits.window_seconds
        self._clock = clock
        self.limits = limits
        self._pairs = _BucketMap(limits.per_pair, window, max_keys)
        self._accounts = _BucketMap(limits.per_account, window, max_keys)
        # Charged once per account tried, when its pair starts afresh: counts distinct accounts.
        self._addresses = _BucketMap(limits.accounts_per_address, window, max_keys)
        # The pairs whose first failure the address paid for lately: a success gives it back.
        self._address_charges = _Remembered(window, max_keys)
        # Pairs that signed in lately: exempt from the per-account and per-address checks.
        self._known = _Remembered(remember_seconds, max_keys)

    def check(self, account: str, address: str) -> Attempt | float:
        """Let one attempt through, charged, or return the seconds to wait (nothing charged)."""
        now = self._clock.now()
        account_key = _key(account.casefold())
        address_key = _key(address)
        pair_key = _key(f"{address_key} {account_key}")
        known = self._known.contains(pair_key, now)
        opens = self._pairs.is_full(pair_key, now)
        wait = self._pairs.wait_time(pair_key, now)
        if not known:
            wait = max(wait, self._accounts.wait_time(account_key, now))
            if opens:  # only a new account adds to what the address has tried
                wait = max(wait, self._addresses.wait_time(address_key, now))
        if wait > 0:
            return wait
        # A known pair spends like any other, where there is anything left to spend.
        self._pairs.take(pair_key, now)
        account_charged = self._accounts.take(account_key, now)
        address_charged = opens and self._addresses.take(address_key, now)
        if address_charged:
            self._address_charges.add(pair_key, now)
        return Attempt(account_key, address_key, pair_key, account_charged, address_charged)

    def succeeded(self, attempt: Attempt) -> None:
        """A correct password: forgive the pair's typos, give back what the attempt spent,
        and remember the address as the account's own.

        The address gets back the charge the pair's first failure made, once: a second
        success racing the first finds it settled, so successes can never buy an address
        more tries at other accounts."""
        now = self._clock.now()
        self._pairs.forget(attempt.pair)
        if self._address_charges.pop(attempt.pair, now):
            self._addresses.refund(attempt.address)
        if attempt.account_charged:
            self._accounts.refund(attempt.account)
        self._known.add(attempt.pair, now)

    def cancelled(self, attempt: Attempt) -> None:
        """The password was never checked (the hashing queue was full): as if never tried."""
        self._pairs.refund(attempt.pair)
        if attempt.account_charged:
            self._accounts.refund(attempt.account)
        if attempt.address_charged and self._address_charges.pop(attempt.pair, self._clock.now()):
            self._addresses.refund(attempt.address)

    @property
    def tracked_pairs(self) -> int:
        return len(self._pairs.buckets)

    @property
    def tracked_accounts(self) -> int:
        return len(self._accounts.buckets)

    @property
    def tracked_addresses(self) -> int:
        return len(self._addresses.buckets)

    @property
    def remembered(self) -> int:
        return len(self._known)


class SignupThrottle:
    """Sign-ups per address, or per invite code for those that bring a valid one: a group
    signing up together from one clinic meets its invite's limit, not the address's."""

    def __init__(
        self, clock: Clock, limits: SignupLimits | None = None, *, max_keys: int = DEFAULT_MAX_KEYS
    ) -> None:
        limits = limits or SignupLimits()
        self._clock = clock
        self.limits = limits
        self._addresses = _BucketMap(limits.per_address, limits.window_seconds, max_keys)
        self._invites = _BucketMap(limits.per_invite, limits.window_seconds, max_keys)

    def check(self, address: str, invite_id: str | None = None) -> float | None:
        """Count one sign-up: ``None`` if allowed, else seconds to wait (nothing consumed)."""
        buckets, key = self._where(address, invite_id)
        now = self._clock.now()
        wait = buckets.wait_time(key, now)
        if wait > 0:
            return wait
        buckets.take(key, now)
        return None

    def refund(self, address: str, invite_id: str | None = None) -> None:
        """The sign-up allowed by :meth:`check` never spent a hash (the queue was full)."""
        buckets, key = self._where(address, invite_id)
        buckets.refund(key)

    def _where(self, address: str, invite_id: str | None) -> tuple[_BucketMap, str]:
        if invite_id is not None:
            return self._invites, _key(invite_id)
        return self._addresses, _key(address)
