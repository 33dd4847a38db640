"""Sign-in abuse without collateral damage, against a real server: what an outside fault
suite found, made right. Members share addresses (a clinic's, a library's network), so
one person's wrong passwords must not lock the others out; guessing, stuffing and floods
are still held back; a group signs up together with its invite; ``password123`` is refused.

Time moves by the server's injected clock; where addresses must differ, a real
``holdspace serve`` behind a trusted proxy names them (``X-Forwarded-For``)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from holdspace.auth.passwords import BUSY_RETRY_AFTER, PasswordService
from holdspace.clock import ManualClock
from holdspace_client import my_rooms, register
from tests.live import PASSWORD, Community, LiveServer
from tests.processes import Worker

pytestmark = pytest.mark.integration

WRONG = "not my password at all"


def error_of(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


async def sign_in(
    http: httpx.AsyncClient,
    username: str,
    password: str = PASSWORD,
    *,
    address: str | None = None,
) -> httpx.Response:
    headers = {"x-forwarded-for": address} if address else None
    body = {"username": username, "password": password, "bearer": True}
    return await http.post("/api/auth/login", json=body, headers=headers)


async def sign_up(
    http: httpx.AsyncClient,
    username: str,
    *,
    password: str = PASSWORD,
    invite: str | None = None,
    address: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {
        "username": username,
        "password": password,
        "display_name": username.title(),
        "bearer": True,
    }
    if invite is not None:
        body["invite"] = invite
    headers = {"x-forwarded-for": address} if address else None
    return await http.post("/api/auth/register", json=body, headers=headers)


async def members(server: LiveServer, names: list[str]) -> None:
    """Accounts made by the server itself: no sign-up limit is spent on them."""
    for name in names:
        await server.call(server.services.accounts.create(name, PASSWORD, name.title(), "member"))


def assert_throttled(response: httpx.Response) -> int:
    """A 429 that says, in its header and its body, how long to wait; returns that."""
    assert response.status_code == 429, response.text
    assert error_of(response)["code"] == "rate_limited"
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    assert error_of(response)["detail"]["retry_after"] == retry_after
    return retry_after


# -- one shared address ----------------------------------------------------------------


async def test_wrong_passwords_across_ten_accounts_do_not_lock_their_owners_out(
    server: LiveServer, http: httpx.AsyncClient
) -> None:
    """The fault suite's case: 50 wrong passwords across 10 accounts from one address, then
    each account's right one from that address: all ten get in."""
    names = [f"member{i}" for i in range(10)]
    await members(server, names)
    for _ in range(5):
        for name in names:
            wrong = await sign_in(http, name, WRONG)
            assert error_of(wrong)["code"] == "bad_credentials"
    for name in names:
        right = await sign_in(http, name)
        assert right.status_code == 200, right.text
        assert right.json()["user"]["username"] == name


async def test_one_account_s_guesses_from_an_address_stop_only_that_account(
    server: LiveServer, http: httpx.AsyncClient
) -> None:
    """Ten tries per account from one address; the eleventh waits (its right password too),
    while another member at the same address signs in; waiting as told is enough."""
    await members(server, ["sam", "robin"])
    for _ in range(10):
        assert error_of(await sign_in(http, "sam", WRONG))["code"] == "bad_credentials"
    retry_after = assert_throttled(await sign_in(http, "sam", WRONG))
    assert 90 <= retry_after <= 91  # one try back every 900 s / 10, rounded up
    assert_throttled(await sign_in(http, "sam"))
    assert (await sign_in(http, "robin")).status_code == 200

    server.clock.advance(retry_after)
    assert (await sign_in(http, "sam")).status_code == 200


async def test_credential_stuffing_from_one_address_is_throttled_within_tens(
    server: LiveServer, http: httpx.AsyncClient
) -> None:
    """One try each at many accounts from one address: the 21st account waits. Members who
    signed in from that address lately still get in; a member new to it waits too, right
    password or not (documented), until the address's tries come back."""
    await members(server, ["regular", "newcomer"])
    assert (await sign_in(http, "regular")).status_code == 200

    statuses = [(await sign_in(http, f"leaked{i}", WRONG)).status_code for i in range(20)]
    assert statuses == [400] * 20
    assert 45 <= assert_throttled(await sign_in(http, "leaked20", WRONG)) <= 46  # 900 s / 20
    for i in range(21, 40):
        assert (await sign_in(http, f"leaked{i}", WRONG)).status_code == 429

    assert (await sign_in(http, "regular")).status_code == 200
    wait = assert_throttled(await sign_in(http, "newcomer"))
    server.clock.advance(wait)
    assert (await sign_in(http, "newcomer")).status_code == 200


# -- many addresses ----------------------------------------------------------------------


@pytest.fixture
async def behind_proxy(tmp_path: Path) -> AsyncIterator[Worker]:
    """``holdspace serve`` believing X-Forwarded-For from loopback, as behind nginx."""
    worker = await Worker(tmp_path / "data", {"trusted_proxies": "127.0.0.1"}).ready()
    try:
        yield worker
    finally:
        worker.stop()


async def test_guessing_one_account_from_many_addresses_spares_its_owner_at_home(
    behind_proxy: Worker,
) -> None:
    """Fifty guesses at one account from fifty addresses; the next address waits, even
    with the right password. Its owner, who signed in from home before, still gets in
    from home."""
    home = "192.0.2.10"
    async with httpx.AsyncClient(base_url=behind_proxy.url, timeout=15) as http:
        assert (await sign_up(http, "alice", address=home)).status_code == 201
        assert (await sign_in(http, "alice", address=home)).status_code == 200
        for i in range(50):
            guess = await sign_in(http, "alice", WRONG, address=f"203.0.113.{i + 1}")
            assert error_of(guess)["code"] == "bad_credentials"
        assert assert_throttled(await sign_in(http, "alice", WRONG, address="198.51.100.1"))
        assert_throttled(await sign_in(http, "alice", address="198.51.100.2"))

        at_home = await sign_in(http, "alice", address=home)
        assert at_home.status_code == 200, at_home.text
        assert (await sign_up(http, "bob", address="198.51.100.1")).status_code == 201


# -- a flood of sign-ins -----------------------------------------------------------------


class HeldPasswords(PasswordService):
    """One hashing thread and two waiting places; every verify is held at a gate the test
    opens, and each admitted verify is counted as it arrives."""

    def __init__(self) -> None:
        super().__init__("test", max_concurrency=1, max_waiting=2)
        self.gate = threading.Event()
        self.arrivals = 0
        self.arrived = threading.Condition()

    async def verify(self, password_hash: str | None, password: str) -> tuple[bool, str | None]:
        with self.arrived:
            self.arrivals += 1
            self.arrived.notify_all()
        # Admitted (or refused) before this coroutine first yields to the loop.
        return await super().verify(password_hash, password)

    def _verify_sync(self, password_hash: str, password: str) -> bool:
        if not self.gate.wait(timeout=30):
            raise TimeoutError("the test never opened the gate")
        return super()._verify_sync(password_hash, password)

    def wait_for_arrivals(self, count: int) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: self.arrivals >= count, timeout=30)


@pytest.fixture
def held() -> HeldPasswords:
    return HeldPasswords()


@pytest.fixture
def held_server(tmp_path: Path, clock: ManualClock, held: HeldPasswords) -> Iterator[LiveServer]:
    """A server hashing with ``held``, and four sign-in tries per account and address."""
    live = LiveServer(tmp_path / "data", clock, passwords=held, login_attempts=4)
    live.start()
    try:
        yield live
    finally:
        held.gate.set()
        live.stop()


async def test_a_flood_of_sign_ins_beyond_the_queue_is_refused_at_once(
    held_server: LiveServer, held: HeldPasswords
) -> None:
    """With the hashing thread busy and both waiting places taken, more sign-ins are
    answered at once — 503 ``busy`` with Retry-After — instead of queueing behind them;
    they count as no try, and the held ones finish once hashing frees up."""
    await members(held_server, ["sam"])
    async with httpx.AsyncClient(base_url=held_server.base, timeout=15) as http:
        admitted = [asyncio.create_task(sign_in(http, "sam", WRONG)) for _ in range(3)]
        assert await asyncio.to_thread(held.wait_for_arrivals, 3)

        for _ in range(5):  # answered while the gate is still shut: none of them waited
            busy = await sign_in(http, "sam")
            assert busy.status_code == 503, busy.text
            assert error_of(busy)["code"] == "busy"
            assert busy.headers["retry-after"] == str(BUSY_RETRY_AFTER)
        assert not any(task.done() for task in admitted)

        held.gate.set()
        for answer in await asyncio.gather(*admitted):
            assert error_of(answer)["code"] == "bad_credentials"
        # Three wrong of four tries: the five turned away spent none.
        assert (await sign_in(http, "sam")).status_code == 200


# -- signing up ----------------------------------------------------------------------


@pytest.mark.server_settings(signup_per_address=3, signup_per_invite=12)
async def test_a_group_signs_up_together_with_its_invite(
    server: LiveServer, community: Community, http: httpx.AsyncClient
) -> None:
    """Past the address's sign-up limit, a group bringing its facilitator's invite code
    signs up from the same address and joins the group, up to the invite's own limit."""
    facilitator = await community.person("fran", "Fran", "facilitator")
    room = await community.room("fran", [])
    _, code = await server.call(server.services.rooms.invite(facilitator, room.id, 20, 24.0))

    for i in range(3):
        assert (await sign_up(http, f"solo{i}")).status_code == 201
    assert_throttled(await sign_up(http, "solo3"))

    for i in range(11):
        joined = await sign_up(http, f"group{i}", invite=code.lower())  # typed any way
        assert joined.status_code == 201, joined.text
        assert joined.json()["room"]["id"] == room.id
        assert joined.json()["token"]
    token = await register(server.base, "group11", PASSWORD, "Group Eleven", invite=code)
    assert [r["id"] for r in await my_rooms(server.base, token)] == [room.id]
    assert_throttled(await sign_up(http, "group12", invite=code))
    roster = await server.call(server.services.rooms.store.roster(room.id))
    assert sorted(m.username for m in roster) == sorted(f"group{i}" for i in range(12))


@pytest.mark.server_settings(signup_per_address=1)
async def test_an_invite_that_can_t_be_used_lifts_no_limit(
    server: LiveServer, community: Community, http: httpx.AsyncClient
) -> None:
    """An unknown, used-up or revoked invite is a 404 ``invalid_invite`` and makes no
    account; the newcomer can sign up without it, within the address's limit."""
    facilitator = await community.person("fran", "Fran", "facilitator")
    room = await community.room("fran", [])
    rooms = server.services.rooms
    _, once = await server.call(rooms.invite(facilitator, room.id, 1, 24.0))
    revoked, gone = await server.call(rooms.invite(facilitator, room.id, None, 24.0))
    await server.call(rooms.revoke_invite(facilitator, room.id, revoked.id))
    assert (await sign_up(http, "first", invite=once)).status_code == 201
    users = await server.call(rooms.store.count_users())

    for code in (once, gone, "ABCD-EFGH-JKMN-PQRS-TUVW"):
        refused = await sign_up(http, "second", invite=code)
        assert refused.status_code == 404
        assert error_of(refused)["code"] == "invalid_invite"
        assert error_of(refused)["detail"] == {"field": "invite"}
    assert await server.call(rooms.store.count_users()) == users
    without = await sign_up(http, "second", invite="")
    assert without.status_code == 201
    assert "room" not in without.json()


async def test_password123_is_refused_at_sign_up(
    server: LiveServer, http: httpx.AsyncClient
) -> None:
    """The commonest passwords make no account: a 400 that says why and names the field."""
    for password in ("password123", "Password123!", "qwertyuiop"):
        refused = await sign_up(http, "dana", password=password)
        assert refused.status_code == 400
        assert error_of(refused)["code"] == "common_password"
        assert error_of(refused)["detail"] == {"field": "password"}
        assert "easy to guess" in error_of(refused)["message"]
    assert await server.call(server.services.rooms.store.count_users()) == 0
    assert (await sign_up(http, "dana", password="blue kettle morning")).status_code == 201
