"""Sign-in and sign-up throttling with an injected clock: who waits, who doesn't, refill,
settling attempts, and bounded memory."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from holdspace.auth.throttle import (
    REMEMBER_SECONDS,
    Attempt,
    LoginLimits,
    LoginThrottle,
    SignupLimits,
    SignupThrottle,
    TokenBucket,
)
from holdspace.clock import ManualClock

CLINIC = "203.0.113.7"  # one address many members share
LIMITS = LoginLimits()  # the defaults: 10 per pair, 50 per account, 20 accounts per address


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_700_000_000.0)


@pytest.fixture
def throttle(clock: ManualClock) -> LoginThrottle:
    return LoginThrottle(clock)


def fail(throttle: LoginThrottle, account: str, address: str) -> bool:
    """One wrong password: True if it was let through to be checked at all."""
    return isinstance(throttle.check(account, address), Attempt)


def failures_let_through(throttle: LoginThrottle, account: str, address: str, tries: int) -> int:
    return sum(fail(throttle, account, address) for _ in range(tries))


def sign_in(throttle: LoginThrottle, account: str, address: str) -> bool:
    """One correct password: True if it was let through (and so signed in)."""
    attempt = throttle.check(account, address)
    if not isinstance(attempt, Attempt):
        return False
    throttle.succeeded(attempt)
    return True


def wait_of(throttle: LoginThrottle, account: str, address: str) -> float:
    result = throttle.check(account, address)
    assert not isinstance(result, Attempt), "expected to be told to wait"
    return result


# -- one account from one address: a member's typos ------------------------------------


def test_typos_on_one_account_from_one_address_meet_the_pair_limit(
    throttle: LoginThrottle,
) -> None:
    """Ten tries per account per address; the eleventh waits for one to come back (90 s)."""
    assert failures_let_through(throttle, "alice", CLINIC, 10) == 10
    assert wait_of(throttle, "alice", CLINIC) == pytest.approx(90.0)
    assert fail(throttle, "alice", "198.51.100.1")  # the same account from elsewhere
    assert fail(throttle, "bob", CLINIC)  # another account from the same address


def test_ten_accounts_with_five_typos_each_still_sign_in(throttle: LoginThrottle) -> None:
    """The outside fault suite's case: 50 wrong passwords across 10 accounts from one
    address, then each account's correct one: all ten get in."""
    members = [f"member{i}" for i in range(10)]
    for member in members:
        assert failures_let_through(throttle, member, CLINIC, 5) == 5
    assert [sign_in(throttle, member, CLINIC) for member in members] == [True] * 10


def test_a_success_forgives_the_pair_s_typos(throttle: LoginThrottle) -> None:
    """After the right password, the owner has all ten tries again."""
    assert failures_let_through(throttle, "Alice", CLINIC, 9) == 9
    assert sign_in(throttle, "alice", CLINIC)
    assert failures_let_through(throttle, "ALICE", CLINIC, 11) == 10


def test_account_keys_are_case_insensitive(throttle: LoginThrottle) -> None:
    """Changing the case of a username does not buy more guesses."""
    for name in ["Alice", "ALICE", "alice", "aLiCe", "ALICe"] * 2:
        assert fail(throttle, name, CLINIC)
    assert not fail(throttle, "alice", CLINIC)


def test_tokens_refill_over_time(clock: ManualClock, throttle: LoginThrottle) -> None:
    """After waiting the advised time exactly one more try is allowed; a window restores all."""
    assert failures_let_through(throttle, "alice", CLINIC, 10) == 10
    wait = wait_of(throttle, "alice", CLINIC)
    clock.advance(45)
    assert wait_of(throttle, "alice", CLINIC) == pytest.approx(wait - 45)
    clock.advance(wait - 45)
    assert fail(throttle, "alice", CLINIC)
    assert not fail(throttle, "alice", CLINIC)
    clock.advance(LIMITS.window_seconds)
    assert failures_let_through(throttle, "alice", CLINIC, 20) == 10


def test_refused_attempts_consume_nothing(clock: ManualClock) -> None:
    """Hammering a throttled pair does not drain the account's or the address's allowance."""
    throttle = LoginThrottle(clock, LoginLimits(per_pair=1, per_account=3, accounts_per_address=3))
    assert fail(throttle, "alice", "a")
    for _ in range(50):
        assert not fail(throttle, "alice", "a")
    assert failures_let_through(throttle, "alice", "b", 5) == 1  # the account has 2 of 3 left
    assert fail(throttle, "alice", "c")
    assert fail(throttle, "bob", "a")
    assert fail(throttle, "carol", "a")
    assert not fail(throttle, "dave", "a")  # a fourth account from "a"


# -- one account from many addresses: distributed guessing ------------------------------


def test_guessing_one_account_from_many_addresses_meets_the_account_limit(
    throttle: LoginThrottle,
) -> None:
    """Fifty tries at one account across fifty addresses; the next address waits."""
    for i in range(50):
        assert fail(throttle, "alice", f"10.0.{i}.1")
    assert wait_of(throttle, "alice", "10.0.99.1") == pytest.approx(18.0)  # 900 s / 50
    assert fail(throttle, "bob", "10.0.99.1")


def test_the_owner_still_gets_in_from_an_address_they_signed_in_from_lately(
    clock: ManualClock, throttle: LoginThrottle
) -> None:
    """While guesses from everywhere use up an account's allowance, its owner signs in from
    home as usual (within the pair limit); from a new address they wait like everyone."""
    assert sign_in(throttle, "alice", "home")
    for i in range(60):
        fail(throttle, "alice", f"10.0.{i}.1")
    assert not fail(throttle, "alice", "10.0.200.1")
    assert sign_in(throttle, "alice", "home")
    assert failures_let_through(throttle, "alice", "home", 12) == 10  # typos still count
    assert not sign_in(throttle, "alice", "cafe")

    clock.advance(REMEMBER_SECONDS)  # a month without signing in from home
    for i in range(60):
        fail(throttle, "alice", f"10.1.{i}.1")
    assert not sign_in(throttle, "alice", "home")


def test_successes_do_not_use_up_the_account(throttle: LoginThrottle) -> None:
    """An account signing in a hundred times from a hundred addresses is never held up."""
    assert all(sign_in(throttle, "alice", f"10.0.{i}.1") for i in range(100))


# -- many accounts from one address: credential stuffing --------------------------------


def test_stuffing_many_accounts_from_one_address_is_throttled_within_tens(
    throttle: LoginThrottle,
) -> None:
    """One try each at twenty accounts; the twenty-first account waits (45 s: 900 s / 20)."""
    for i in range(20):
        assert fail(throttle, f"leaked{i}", CLINIC)
    assert wait_of(throttle, "leaked20", CLINIC) == pytest.approx(45.0)
    assert fail(throttle, "leaked20", "198.51.100.1")  # the same account from elsewhere


def test_a_stuffing_address_still_serves_members_it_knows(throttle: LoginThrottle) -> None:
    """Past the stuffing limit, an address still signs in members who signed in from it
    lately, and the accounts it already tried carry on within their pair limit; a member
    new to the address waits, correct password or not."""
    assert sign_in(throttle, "regular", CLINIC)
    assert failures_let_through(throttle, "typist", CLINIC, 2) == 2
    for i in range(30):
        fail(throttle, f"leaked{i}", CLINIC)
    assert not sign_in(throttle, "newcomer", CLINIC)
    assert sign_in(throttle, "regular", CLINIC)
    assert sign_in(throttle, "typist", CLINIC)
    # The typist's failures weren't stuffing after all: their account's place comes back.
    assert sign_in(throttle, "newcomer", CLINIC)


def test_successful_logins_do_not_spend_the_address_budget(clock: ManualClock) -> None:
    """Members behind one shared address can all sign in; only failures count against it."""
    throttle = LoginThrottle(clock, LoginLimits(accounts_per_address=3))
    assert all(sign_in(throttle, f"member{i}", CLINIC) for i in range(30))
    assert failures_let_through(throttle, "member0", CLINIC, 3) == 3  # a known one's typos
    assert sign_in(throttle, "member0", CLINIC)  # ...forgiven
    for i in range(3):
        assert fail(throttle, f"typo{i}", CLINIC)
    assert not fail(throttle, "typo9", CLINIC)


def test_a_success_racing_another_gives_back_only_what_was_spent(clock: ManualClock) -> None:
    """Two correct sign-ins of one account let through together give the address back the
    one charge their pair made, not two: successes can't buy tries at other accounts."""
    throttle = LoginThrottle(clock, LoginLimits(accounts_per_address=3))
    assert fail(throttle, "x", CLINIC)
    first = throttle.check("alice", CLINIC)
    second = throttle.check("alice", CLINIC)
    assert isinstance(first, Attempt)
    assert isinstance(second, Attempt)
    throttle.succeeded(first)
    throttle.succeeded(second)
    assert fail(throttle, "y", CLINIC)
    assert fail(throttle, "z", CLINIC)
    assert not fail(throttle, "w", CLINIC)


def test_known_members_signing_in_give_back_nothing_they_did_not_spend(
    throttle: LoginThrottle,
) -> None:
    """A known member signing in while the address (or their account) has nothing left
    spends nothing, so gives nothing back: their sign-ins open no way for the stuffer
    at their address, nor for the guessers of their account."""
    assert sign_in(throttle, "regular", CLINIC)
    for i in range(20):
        fail(throttle, f"leaked{i}", CLINIC)
    for i in range(50):
        fail(throttle, "regular", f"10.0.{i}.1")
    for _ in range(5):
        assert sign_in(throttle, "regular", CLINIC)
    assert not fail(throttle, "newcomer", CLINIC)
    assert not fail(throttle, "regular", "10.0.99.1")


def test_cancelled_attempts_cost_nothing(clock: ManualClock) -> None:
    """An attempt whose password was never checked (a full hashing queue) is given back."""
    throttle = LoginThrottle(clock, LoginLimits(per_pair=1, per_account=1, accounts_per_address=1))
    for _ in range(5):
        attempt = throttle.check("alice", CLINIC)
        assert isinstance(attempt, Attempt)
        throttle.cancelled(attempt)
    assert fail(throttle, "alice", CLINIC)
    assert not fail(throttle, "bob", CLINIC)


# -- memory -------------------------------------------------------------------------------


def test_full_buckets_are_forgotten(clock: ManualClock, throttle: LoginThrottle) -> None:
    """Once a bucket has refilled it stops taking memory."""
    for i in range(50):
        assert fail(throttle, f"user{i}", f"addr{i}")
    assert throttle.tracked_pairs == throttle.tracked_accounts == 50
    assert throttle.tracked_addresses == 50
    clock.advance(LIMITS.window_seconds + 1)
    assert fail(throttle, "late", "late-addr")
    assert throttle.tracked_pairs == throttle.tracked_accounts == 1
    assert throttle.tracked_addresses == 1


def test_tracked_keys_are_capped(clock: ManualClock) -> None:
    """A flood of fresh names and addresses cannot grow memory past the cap."""
    throttle = LoginThrottle(clock, max_keys=10)
    for i in range(1000):
        assert sign_in(throttle, f"user{i}", f"addr{i}")
        assert fail(throttle, f"other{i}", f"addr{i}")
    assert throttle.tracked_pairs == 10
    assert throttle.tracked_accounts == 10
    assert throttle.tracked_addresses == 10
    assert throttle.remembered == 10
    # The most recent keys are the ones kept.
    assert failures_let_through(throttle, "other999", "addr999", 20) == 9


def test_remembered_addresses_are_forgotten_after_a_month(clock: ManualClock) -> None:
    """What an account signed in from is kept for REMEMBER_SECONDS, no longer."""
    throttle = LoginThrottle(clock)
    assert sign_in(throttle, "alice", "home")
    clock.advance(REMEMBER_SECONDS)
    assert sign_in(throttle, "bob", "home")
    assert throttle.remembered == 1


def test_long_keys_stay_distinct(clock: ManualClock) -> None:
    """Very long names are stored compactly without merging names that differ only at the end."""
    throttle = LoginThrottle(clock, LoginLimits(per_account=1))
    long_a = "x" * 10_000 + "a"
    long_b = "x" * 10_000 + "b"
    assert fail(throttle, long_a, "1")
    assert not fail(throttle, long_a.upper(), "2")
    assert fail(throttle, long_b, "3")


@pytest.mark.parametrize(
    "limits",
    [
        {"per_pair": 0},
        {"per_account": 0},
        {"accounts_per_address": -1},
        {"window_seconds": 0.0},
    ],
)
def test_login_limits_reject_nonsense(limits: dict[str, float]) -> None:
    """A limit of nothing, or over no time, would refuse everyone: it is refused up front."""
    with pytest.raises(ValueError, match="sign-in"):
        LoginLimits(**limits)  # type: ignore[arg-type]


# -- sign-ups -------------------------------------------------------------------------------


def test_sign_ups_are_limited_per_address(clock: ManualClock) -> None:
    """Ten sign-ups an hour from one address; the eleventh waits six minutes."""
    throttle = SignupThrottle(clock)
    assert all(throttle.check(CLINIC) is None for _ in range(10))
    assert throttle.check(CLINIC) == pytest.approx(360.0)
    assert throttle.check("198.51.100.1") is None


def test_sign_ups_with_an_invite_count_against_the_invite(clock: ManualClock) -> None:
    """A group with an invite signs up past the address's limit, up to the invite's own."""
    throttle = SignupThrottle(clock, SignupLimits(per_address=2, per_invite=5))
    assert throttle.check(CLINIC) is None
    assert throttle.check(CLINIC) is None
    assert throttle.check(CLINIC) is not None
    assert all(throttle.check(CLINIC, "inv_a") is None for _ in range(5))
    assert throttle.check("198.51.100.1", "inv_a") is not None  # from anywhere
    assert throttle.check(CLINIC, "inv_b") is None


def test_a_refunded_sign_up_costs_nothing(clock: ManualClock) -> None:
    """A sign-up turned away before its hash (a full queue) gives its place back."""
    throttle = SignupThrottle(clock, SignupLimits(per_address=1, per_invite=1))
    for invite in (None, "inv_a"):
        assert throttle.check(CLINIC, invite) is None
        throttle.refund(CLINIC, invite)
        assert throttle.check(CLINIC, invite) is None
        assert throttle.check(CLINIC, invite) is not None


# -- the token bucket ----------------------------------------------------------------------


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
