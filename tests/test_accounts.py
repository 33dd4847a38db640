"""Accounts without HTTP: throttling before hashing, rehashing, uniform failures, registration."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import Parameters, PasswordHasher, Type, extract_parameters

from holdspace.accounts import Accounts
from holdspace.auth.passwords import PROFILES, PasswordService
from holdspace.auth.throttle import LoginLimits, SignupLimits
from holdspace.clock import ManualClock
from holdspace.errors import Busy, ClientError, Forbidden, InvalidInput, Throttled
from holdspace.storage.sqlite import SQLiteStore

PASSWORD = "correct horse battery staple"
WRONG = "incorrect horse battery staple"
ADDRESS = "192.0.2.7"
TTL = 3600.0
PER_PAIR = LoginLimits().per_pair  # sign-in tries per account from one address

# Weaker than the "test" profile: shorter salt and tag, so the stored hash needs replacing.
WEAK = Parameters(
    type=Type.ID,
    version=19,
    salt_len=8,
    hash_len=8,
    time_cost=1,
    memory_cost=8,
    parallelism=1,
)


class CountingService(PasswordService):
    """Counts verify calls, so a test can see whether a login spent a hash."""

    def __init__(self) -> None:
        super().__init__("test")
        self.lock = threading.Lock()
        self.verifies = 0

    async def verify(self, password_hash: str | None, password: str) -> tuple[bool, str | None]:
        with self.lock:
            self.verifies += 1
        return await super().verify(password_hash, password)


class GatedService(PasswordService):
    """Holds every hash until the test opens the gate, to line up concurrent sign-ups."""

    def __init__(self) -> None:
        super().__init__("test")
        self.gate = asyncio.Event()
        self.waiting = 0
        self.arrived = asyncio.Event()

    async def hash(self, password: str) -> str:
        self.waiting += 1
        if self.waiting == 2:
            self.arrived.set()
        await self.gate.wait()
        return await super().hash(password)


@dataclass
class World:
    store: SQLiteStore
    passwords: CountingService
    clock: ManualClock
    accounts: Accounts


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    store = await SQLiteStore.open(tmp_path / "data" / "holdspace.sqlite3")
    passwords = CountingService()
    clock = ManualClock(1_800_000_000.0)
    accounts = Accounts(store, passwords, clock, token_ttl_seconds=TTL)
    try:
        yield World(store, passwords, clock, accounts)
    finally:
        await store.close()
        passwords.close()


async def test_throttling_is_checked_before_any_hashing(world: World) -> None:
    """Once an account's attempts are used up, further logins raise Throttled without a verify."""
    await world.accounts.create("sam", PASSWORD, "Sam", "member")
    for _ in range(PER_PAIR):
        with pytest.raises(ClientError) as failed:
            await world.accounts.login("sam", WRONG, ADDRESS)
        assert failed.value.code == "bad_credentials"
    assert world.passwords.verifies == PER_PAIR

    for attempt in (WRONG, PASSWORD, WRONG):
        with pytest.raises(Throttled) as throttled:
            await world.accounts.login("SAM", attempt, ADDRESS)
        assert throttled.value.code == "rate_limited"
        assert isinstance(throttled.value.detail["retry_after"], int)
        assert throttled.value.detail["retry_after"] >= 1
    assert world.passwords.verifies == PER_PAIR  # no hash was spent while throttled

    world.clock.advance(LoginLimits().window_seconds)
    user, token = await world.accounts.login("sam", PASSWORD, ADDRESS)
    assert user.username == "sam"
    assert token
    assert world.passwords.verifies == PER_PAIR + 1


async def test_unknown_accounts_are_throttled_before_hashing_too(world: World) -> None:
    """Guessing at a username that doesn't exist is throttled the same way, with no verify."""
    for _ in range(PER_PAIR):
        with pytest.raises(ClientError):
            await world.accounts.login("ghost", WRONG, ADDRESS)
    with pytest.raises(Throttled):
        await world.accounts.login("ghost", WRONG, ADDRESS)
    assert world.passwords.verifies == PER_PAIR


async def test_a_weak_stored_hash_is_replaced_on_login(world: World) -> None:
    """After a successful login, a hash made with weaker parameters is rehashed and stored."""
    weak_hash = PasswordHasher.from_parameters(WEAK).hash(PASSWORD)
    user = await world.store.create_user(
        username="old.timer",
        display_name="Old Timer",
        password_hash=weak_hash,
        role="member",
        now=world.clock.now(),
    )
    with pytest.raises(ClientError):
        await world.accounts.login("old.timer", WRONG, ADDRESS)
    unchanged = await world.store.get_user(user.id)
    assert unchanged is not None
    assert unchanged.password_hash == weak_hash  # a failed login rewrites nothing

    await world.accounts.login("old.timer", PASSWORD, ADDRESS)
    after = await world.store.get_user(user.id)
    assert after is not None
    assert after.password_hash != weak_hash
    assert extract_parameters(after.password_hash) == PROFILES["test"]
    assert await world.passwords.verify(after.password_hash, PASSWORD) == (True, None)

    # A current hash is left alone by the next login.
    await world.accounts.login("old.timer", PASSWORD, ADDRESS)
    again = await world.store.get_user(user.id)
    assert again is not None
    assert again.password_hash == after.password_hash


async def test_unknown_user_and_wrong_password_fail_identically(world: World) -> None:
    """An unknown username and a wrong password raise the same error type, code and message."""
    await world.accounts.create("sam", PASSWORD, "Sam", "member")
    with pytest.raises(ClientError) as wrong:
        await world.accounts.login("sam", WRONG, ADDRESS)
    with pytest.raises(ClientError) as unknown:
        await world.accounts.login("nobody", WRONG, ADDRESS)
    assert type(wrong.value) is type(unknown.value)
    assert wrong.value.code == unknown.value.code == "bad_credentials"
    assert wrong.value.message == unknown.value.message
    assert wrong.value.detail == unknown.value.detail
    assert wrong.value.http_status == unknown.value.http_status
    assert world.passwords.verifies == 2  # both spent the same work


async def test_registration_can_be_closed(world: World) -> None:
    """With registration_open=False, register raises Forbidden and creates no account."""
    accounts = Accounts(
        world.store,
        world.passwords,
        world.clock,
        token_ttl_seconds=TTL,
        registration_open=False,
    )
    with pytest.raises(Forbidden) as closed:
        await accounts.register("newcomer", PASSWORD, "Newcomer", ADDRESS)
    assert closed.value.http_status == 403
    assert await world.store.count_users() == 0
    # An administrator can still create accounts.
    user = await accounts.create("newcomer", PASSWORD, "Newcomer", "member")
    assert (await accounts.login("newcomer", PASSWORD, ADDRESS))[0].id == user.id


async def test_tokens_expire_and_logout_revokes(world: World) -> None:
    """A token authenticates until its lifetime ends; logout revokes it at once."""
    user, token = await world.accounts.register("sam", PASSWORD, "Sam", ADDRESS)
    authed = await world.accounts.authenticate(token)
    assert authed is not None
    assert authed.id == user.id
    world.clock.advance(TTL - 1)
    assert await world.accounts.authenticate(token) is not None
    world.clock.advance(1)
    assert await world.accounts.authenticate(token) is None

    _, second = await world.accounts.login("sam", PASSWORD, ADDRESS)
    await world.accounts.logout(second)
    assert await world.accounts.authenticate(second) is None
    assert await world.accounts.authenticate(None) is None
    assert await world.accounts.authenticate("") is None


async def test_concurrent_signups_for_one_name_report_username_taken(tmp_path: Path) -> None:
    """Two registrations of one name racing past the lookup: the loser still gets username_taken."""
    store = await SQLiteStore.open(tmp_path / "data" / "holdspace.sqlite3")
    passwords = GatedService()
    accounts = Accounts(store, passwords, ManualClock(1_800_000_000.0), token_ttl_seconds=TTL)
    try:
        first = asyncio.ensure_future(accounts.register("river", PASSWORD, "River", "a"))
        second = asyncio.ensure_future(accounts.register("RIVER", PASSWORD, "River", "b"))
        await asyncio.wait_for(passwords.arrived.wait(), 10)  # both passed the lookup
        passwords.gate.set()
        results = await asyncio.gather(first, second, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        assert len(errors) == 1
        assert await store.count_users() == 1
        error = errors[0]
        assert isinstance(error, ClientError)
        assert error.http_status == 409
        assert error.code == "username_taken"
    finally:
        await store.close()
        passwords.close()


class HeldService(PasswordService):
    """One hashing thread, no waiting places, and a gate that holds each verify."""

    def __init__(self) -> None:
        super().__init__("test", max_concurrency=1, max_waiting=0)
        self.entered = threading.Event()
        self.gate = threading.Event()

    def _verify_sync(self, password_hash: str, password: str) -> bool:
        self.entered.set()
        if not self.gate.wait(timeout=30):
            raise TimeoutError("the test never opened the gate")
        return super()._verify_sync(password_hash, password)


async def test_a_login_refused_for_a_full_queue_costs_no_attempt(tmp_path: Path) -> None:
    """Turned away before its password was checked (Busy), a login spends none of the
    account's tries: with one try allowed, the next login still gets its chance."""
    store = await SQLiteStore.open(tmp_path / "data" / "holdspace.sqlite3")
    passwords = HeldService()
    limits = LoginLimits(per_pair=1, per_account=1, accounts_per_address=1)
    clock = ManualClock(1_800_000_000.0)
    accounts = Accounts(store, passwords, clock, token_ttl_seconds=TTL, login_limits=limits)
    try:
        await accounts.create("sam", PASSWORD, "Sam", "member")
        held = asyncio.ensure_future(accounts.login("robin", WRONG, "198.51.100.9"))
        assert await asyncio.to_thread(passwords.entered.wait, 30)
        for _ in range(3):
            with pytest.raises(Busy) as busy:
                await accounts.login("sam", PASSWORD, ADDRESS)
            assert busy.value.detail["retry_after"] >= 1
        passwords.gate.set()
        with pytest.raises(ClientError):
            await held
        user, _ = await accounts.login("sam", PASSWORD, ADDRESS)
        assert user.username == "sam"
    finally:
        passwords.gate.set()
        await store.close()
        passwords.close()


async def test_sign_ups_with_an_invite_are_not_held_to_the_address_limit(world: World) -> None:
    """Past the address's sign-ups, newcomers bringing a valid invite still sign up, up to
    the invite's own limit."""
    accounts = Accounts(
        world.store,
        world.passwords,
        world.clock,
        token_ttl_seconds=TTL,
        signup_limits=SignupLimits(per_address=2, per_invite=3),
    )
    for name in ("first", "second"):
        await accounts.register(name, PASSWORD, name.title(), ADDRESS)
    with pytest.raises(Throttled):
        await accounts.register("third", PASSWORD, "Third", ADDRESS)
    for name in ("third", "fourth", "fifth"):
        await accounts.register(name, PASSWORD, name.title(), ADDRESS, invite_id="inv_1")
    with pytest.raises(Throttled):
        await accounts.register("sixth", PASSWORD, "Sixth", ADDRESS, invite_id="inv_1")
    assert await world.store.count_users() == 5


async def test_mistakes_caught_cheaply_spend_no_sign_up(world: World) -> None:
    """A taken username, a malformed one or a short password is refused before the sign-up
    limit is touched, so a group's typos don't use up its address's sign-ups."""
    accounts = Accounts(
        world.store,
        world.passwords,
        world.clock,
        token_ttl_seconds=TTL,
        signup_limits=SignupLimits(per_address=1),
    )
    await world.accounts.create("taken", PASSWORD, "Taken", "member")
    for username, password in [("taken", PASSWORD), ("no", PASSWORD), ("fine.name", "short")]:
        with pytest.raises(ClientError):
            await accounts.register(username, password, "Someone", ADDRESS)
    await accounts.register("fine.name", PASSWORD, "Someone", ADDRESS)


async def test_a_common_password_is_refused_at_sign_up(world: World) -> None:
    """A common password ("password123"), or one built from the person's own name, makes
    no account."""
    for username, password in [("dana", "password123"), ("riverstone", "riverstone1987")]:
        with pytest.raises(InvalidInput) as refused:
            await world.accounts.register(username, password, "Dana", ADDRESS)
        assert refused.value.code == "common_password"
    assert await world.store.count_users() == 0
