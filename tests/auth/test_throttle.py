"""Login throttling with an injected clock: limits, refill, reset and bounded memory."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from holdspace.auth.throttle import LoginThrottle, TokenBucket
from holdspace.clock import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_700_000_000.0)


def attempts_allowed(throttle: LoginThrottle, account: str, address: str, tries: int) -> int:
    return sum(throttle.check(account, address) is None for _ in range(tries))


def test_per_account_limit_applies_across_addresses(clock: ManualClock) -> None:
    """Five tries per account, even when each comes from a different address."""
    throttle = LoginThrottle(clock)
    for i in range(5):
        assert throttle.check("alice", f"10.0.0.{i}") is None
    assert throttle.check("alice", "10.0.0.99") is not None
    assert throttle.check("bob", "10.0.0.99") is None


def test_per_address_limit_applies_across_accounts(clock: ManualClock) -> None:
    """Twenty tries per address, even when each names a different account."""
    throttle = LoginThrottle(clock)
    for i in range(20):
        assert throttle.check(f"user{i}", "203.0.113.7") is None
    assert throttle.check("someone-new", "203.0.113.7") is not None
    assert throttle.check("someone-new", "203.0.113.8") is None


def test_account_keys_are_case_insensitive(clock: ManualClock) -> None:
    """Changing the case of a username does not buy more guesses."""
    throttle = LoginThrottle(clock)
    for name in ["Alice", "ALICE", "alice", "aLiCe", "ALICE"]:
        assert throttle.check(name, "198.51.100.1") is None
    assert throttle.check("alice", "198.51.100.2") is not None


def test_retry_after_is_the_time_until_a_token_returns(clock: ManualClock) -> None:
    """With five tries per 300 s, one try comes back every 60 s."""
    throttle = LoginThrottle(clock)
    assert attempts_allowed(throttle, "alice", "a", 5) == 5
    assert throttle.check("alice", "a") == pytest.approx(60.0)
    clock.advance(45)
    assert throttle.check("alice", "a") == pytest.approx(15.0)


def test_retry_after_is_the_longer_of_both_limits(clock: ManualClock) -> None:
    """When both limits are exhausted the caller waits for the slower one."""
    throttle = LoginThrottle(clock, per_account=(1, 60.0), per_address=(1, 600.0))
    assert throttle.check("alice", "a") is None
    assert throttle.check("alice", "a") == pytest.approx(600.0)


def test_tokens_refill_over_time(clock: ManualClock) -> None:
    """After waiting the advised time exactly one more try is allowed."""
    throttle = LoginThrottle(clock)
    assert attempts_allowed(throttle, "alice", "a", 5) == 5
    wait = throttle.check("alice", "a")
    assert wait is not None
    clock.advance(wait)
    assert throttle.check("alice", "a") is None
    assert throttle.check("alice", "a") is not None
    clock.advance(300)
    assert attempts_allowed(throttle, "alice", "a", 10) == 5


def test_refused_attempts_consume_nothing(clock: ManualClock) -> None:
    """Hammering a throttled account does not drain the address's allowance."""
    throttle = LoginThrottle(clock, per_account=(1, 300.0), per_address=(3, 300.0))
    assert throttle.check("alice", "a") is None
    for _ in range(50):
        assert throttle.check("alice", "a") is not None
    assert throttle.check("bob", "a") is None
    assert throttle.check("carol", "a") is None
    assert throttle.check("dave", "a") is not None


def test_success_resets_the_account_only(clock: ManualClock) -> None:
    """A correct password clears the account's record but not the address's."""
    throttle = LoginThrottle(clock, per_account=(5, 300.0), per_address=(8, 300.0))
    assert attempts_allowed(throttle, "Alice", "a", 5) == 5
    assert throttle.check("alice", "a") is not None
    throttle.succeeded("ALICE")
    assert attempts_allowed(throttle, "alice", "a", 5) == 3  # the address has 3 of 8 left


def test_full_buckets_are_forgotten(clock: ManualClock) -> None:
    """Once a bucket has refilled it stops taking memory."""
    throttle = LoginThrottle(clock)
    for i in range(50):
        assert throttle.check(f"user{i}", f"addr{i}") is None
    assert throttle.tracked_accounts == 50
    assert throttle.tracked_addresses == 50
    clock.advance(301)
    assert throttle.check("late", "late-addr") is None
    assert throttle.tracked_accounts == 1
    assert throttle.tracked_addresses == 1


def test_tracked_keys_are_capped(clock: ManualClock) -> None:
    """A flood of fresh names and addresses cannot grow memory past the cap."""
    throttle = LoginThrottle(clock, max_keys=10)
    for i in range(1000):
        assert throttle.check(f"user{i}", f"addr{i}") is None
    assert throttle.tracked_accounts == 10
    assert throttle.tracked_addresses == 10
    # The most recent keys are the ones kept.
    assert attempts_allowed(throttle, "user999", "fresh", 10) == 4


def test_long_keys_stay_distinct(clock: ManualClock) -> None:
    """Very long names are stored compactly without merging names that differ only at the end."""
    throttle = LoginThrottle(clock, per_account=(1, 300.0))
    long_a = "x" * 10_000 + "a"
    long_b = "x" * 10_000 + "b"
    assert throttle.check(long_a, "1") is None
    assert throttle.check(long_a.upper(), "2") is not None
    assert throttle.check(long_b, "3") is None


def test_bucket_take_and_wait_time() -> None:
    """A bucket spends whole tokens and reports how long until the next one."""
    bucket = TokenBucket.full(capacity=2, window=10.0, now=0.0)
    assert bucket.take(0.0)
    assert bucket.take(0.0)
    assert not bucket.take(0.0)
    assert bucket.wait_time(0.0) == pytest.approx(5.0)
    assert bucket.wait_time(4.0) == pytest.approx(1.0)
    assert bucket.wait_time(0.0, cost=3) == math.inf
    assert bucket.take(5.0)
    assert bucket.is_full(100.0)
    assert bucket.tokens == 2


def test_bucket_ignores_a_clock_that_steps_back() -> None:
    """Time going backwards neither refills a bucket nor rewinds it."""
    bucket = TokenBucket.full(capacity=1, window=10.0, now=100.0)
    assert bucket.take(100.0)
    assert not bucket.take(50.0)
    assert bucket.updated_at == 100.0
    assert bucket.wait_time(100.0) == pytest.approx(10.0)


def test_bucket_rejects_nonsense_limits() -> None:
    """Zero capacity or window would throttle everything or nothing, so it is refused."""
    with pytest.raises(ValueError, match="positive"):
        TokenBucket.full(capacity=0, window=10.0, now=0.0)
    with pytest.raises(ValueError, match="positive"):
        TokenBucket.full(capacity=1, window=0.0, now=0.0)


@given(
    capacity=st.integers(min_value=1, max_value=50),
    window=st.floats(min_value=0.001, max_value=1e6),
    start=st.floats(min_value=0, max_value=2e9),
    gaps=st.lists(st.floats(min_value=-100, max_value=1e4), max_size=40),
)
def test_waiting_the_advised_time_is_always_enough(
    capacity: int, window: float, start: float, gaps: list[float]
) -> None:
    """Whatever happened before, even a clock stepping back, waiting ``wait_time`` is enough."""
    bucket = TokenBucket.full(capacity, window, start)
    now = start
    for gap in gaps:
        now += gap
        bucket.take(now)
    wait = bucket.wait_time(now)
    assert wait >= 0
    assert wait <= max(0.0, bucket.updated_at - now) + window / capacity + 1e-6
    assert bucket.take(now + wait)


def test_wait_time_survives_float_rounding_at_epoch_scale() -> None:
    """Near today's epoch seconds, ``now + wait`` must not round to just short of a token."""
    now = 2e9 + 0.3
    bucket = TokenBucket.full(capacity=1, window=0.001, now=now)
    assert bucket.take(now)
    assert bucket.take(now + bucket.wait_time(now))


def test_successful_logins_do_not_spend_the_address_budget() -> None:
    """Members behind one shared address can all sign in; only failures count against it."""
    clock = ManualClock(1_000.0)
    throttle = LoginThrottle(clock, per_account=(5, 300.0), per_address=(3, 300.0))
    for i in range(10):
        assert throttle.check(f"member{i}", "10.0.0.1") is None
        throttle.succeeded(f"member{i}", "10.0.0.1")
    for i in range(3):
        assert throttle.check(f"typo{i}", "10.0.0.1") is None
    assert throttle.check("typo9", "10.0.0.1") is not None
