"""``X-Forwarded-For`` is believed only from the proxies a worker is told to trust: from
anyone else, claiming another address on every attempt must not escape the per-address
sign-in limit (20 different accounts tried without success per address in 15 minutes).
Run against ``holdspace serve`` itself, with nothing in front of it."""

from __future__ import annotations

import httpx
import pytest

from tests.processes import Worker

pytestmark = pytest.mark.integration

PER_ADDRESS = 20  # HOLDSPACE_LOGIN_ADDRESS_ACCOUNTS: accounts an address may try in vain


async def attempts_with_forged_addresses(worker: Worker) -> list[int]:
    """One wrong sign-in per made-up account, each claiming a different address."""
    statuses = []
    async with httpx.AsyncClient(base_url=worker.url, timeout=15) as http:
        for n in range(PER_ADDRESS + 1):
            answer = await http.post(
                "/api/auth/login",
                json={"username": f"nobody{n}", "password": "not the password"},
                headers={"x-forwarded-for": f"203.0.113.{n + 1}"},
            )
            statuses.append(answer.status_code)
    return statuses


async def test_a_client_can_not_claim_another_address(worker: Worker) -> None:
    statuses = await attempts_with_forged_addresses(worker)
    assert statuses[:PER_ADDRESS] == [400] * PER_ADDRESS  # wrong password, counted
    assert statuses[PER_ADDRESS] == 429  # the same real address, past its limit


@pytest.mark.parametrize("worker", [{"trusted_proxies": "127.0.0.1"}], indirect=True)
async def test_a_trusted_proxy_names_each_member_s_address(worker: Worker) -> None:
    statuses = await attempts_with_forged_addresses(worker)
    assert statuses == [400] * (PER_ADDRESS + 1)  # each from its own address
