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
from holdspace.clock import ManualClock
from holdspace.errors import ClientError, Forbidden, Throttled
from holdspace.storage.sqlite import SQLiteStore

PASSWORD = "correct horse battery staple"
WRONG = "incorrect horse battery staple"
ADDRESS = "192.0.2.7"
TTL = 3600.0

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
    for _ in range(5):
        with pytest.raises(ClientError) as failed:
            await world.accounts.login("sam", WRONG, ADDRESS)
        assert failed.value.code == "bad_credentials"
    assert world.passwords.verifies == 5

    for attempt in (WRONG, PASSWORD, WRONG):
        with pytest.raises(Throttled) as throttled:
            await world.accounts.login("SAM", attempt, ADDRESS)
        assert throttled.value.code == "rate_limited"
        assert isinstance(throttled.value.detail["retry_after"], int)
        assert throttled.value.detail["retry_after"] >= 1
    assert world.passwords.verifies == 5  # no hash was spent while throttled

    world.clock.advance(300)
    user, token = await world.accounts.login("sam", PASSWORD, ADDRESS)
    assert user.username == "sam"
    assert token
    assert world.passwords.verifies == 6


async def test_unknown_accounts_are_throttled_before_hashing_too(world: World) -> None:
    """Guessing at a username that doesn't exist is throttled the same way, with no verify."""
    for _ in range(5):
        with pytest.raises(ClientError):
            await world.accounts.login("ghost", WRONG, ADDRESS)
    with pytest.raises(Throttled):
        await world.accounts.login("ghost", WRONG, ADDRESS)
    assert world.passwords.verifies == 5


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
