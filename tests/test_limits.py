"""The edge's bookkeeping (holdspace.limits): time is passed in, nothing sleeps."""

from __future__ import annotations

import pytest

from holdspace.limits import AccountSockets, HandshakeRate, OpenCounts, TrustedProxies


@pytest.mark.parametrize(
    ("entries", "address", "trusted"),
    [
        (["127.0.0.1"], "127.0.0.1", True),
        (["127.0.0.1"], "127.0.0.2", False),
        (["10.0.0.0/8"], "10.20.30.40", True),
        (["10.0.0.0/8"], "11.0.0.1", False),
        (["10.0.0.0/8"], "::ffff:10.1.2.3", True),  # an IPv4 peer on a dual-stack socket
        (["fd00::/8"], "fd12::1", True),
        (["fd00::/8"], "10.0.0.1", False),
        (["*"], "203.0.113.9", True),
        ([], "127.0.0.1", False),
        (["127.0.0.1"], None, False),
        (["127.0.0.1"], "not an address", False),
    ],
)
def test_trusted_proxies_match_addresses_and_networks(
    entries: list[str], address: str | None, trusted: bool
) -> None:
    """A proxy is named by its address, its network, or ``*``; anything else is a client."""
    assert (address in TrustedProxies(entries)) is trusted


def test_an_address_holds_at_most_its_limit() -> None:
    """The next one past the limit is refused until one of those held is given back."""
    counts: OpenCounts[str] = OpenCounts(2)
    assert counts.take("a", "198.51.100.1")
    assert counts.take("b", "198.51.100.1")
    assert not counts.take("c", "198.51.100.1")
    assert counts.take("c", "198.51.100.2")  # another address has its own count
    counts.give_back("a")
    assert counts.take("d", "198.51.100.1")
    assert counts.open("198.51.100.1") == 2


def test_giving_back_twice_or_what_was_never_taken_changes_nothing() -> None:
    """Several callbacks may each learn that a connection ended; only the first counts."""
    counts: OpenCounts[str] = OpenCounts(1)
    counts.take("a", "198.51.100.1")
    counts.give_back("a")
    counts.give_back("a")
    counts.give_back("refused, never held")
    assert counts.open("198.51.100.1") == 0
    assert counts.addresses == 0  # nothing is kept for an address holding nothing


def test_zero_is_no_limit() -> None:
    counts: OpenCounts[int] = OpenCounts(0)
    assert all(counts.take(n, "198.51.100.1") for n in range(1000))


def test_handshakes_come_in_a_burst_then_at_the_rate() -> None:
    """Three at once, then one every 20 s (three a minute); a refusal says how long to wait
    and costs nothing."""
    rate = HandshakeRate(burst=3, per_minute=3.0)
    assert [rate.take("198.51.100.1", 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert rate.take("198.51.100.1", 100.0) == pytest.approx(20.0)
    assert rate.take("198.51.100.1", 110.0) == pytest.approx(10.0)
    assert rate.take("198.51.100.1", 120.0) == 0.0
    assert rate.take("198.51.100.1", 120.0) > 0
    assert rate.take("198.51.100.2", 120.0) == 0.0  # each address has its own bucket


def test_a_rate_forgets_addresses_that_have_refilled_and_stays_bounded() -> None:
    rate = HandshakeRate(burst=2, per_minute=60.0, max_addresses=10)
    for n in range(50):
        rate.take(f"198.51.100.{n}", 0.0)
    assert rate.addresses == 10  # the stalest forgotten: each only starts afresh
    rate.take("203.0.113.1", 100.0)  # long after: every earlier bucket is full again
    assert rate.addresses == 1


def test_a_burst_of_zero_is_no_limit() -> None:
    rate = HandshakeRate(burst=0, per_minute=1.0)
    assert all(rate.take("198.51.100.1", 0.0) == 0.0 for _ in range(1000))
    assert rate.addresses == 0


def test_one_socket_too_many_hands_back_the_accounts_oldest() -> None:
    """The newest always opens; the one the member left longest ago makes room."""
    sockets: AccountSockets[str] = AccountSockets(2)
    assert sockets.add("u_sam", "tab 1") is None
    assert sockets.add("u_sam", "tab 2") is None
    assert sockets.add("u_kim", "phone") is None  # another account counts apart
    assert sockets.add("u_sam", "tab 3") == "tab 1"
    assert sockets.open("u_sam") == 2
    sockets.discard("u_sam", "tab 1")  # closing the one handed back: already gone
    sockets.discard("u_sam", "tab 2")
    assert sockets.add("u_sam", "tab 4") is None
    assert sockets.add("u_sam", "tab 5") == "tab 3"


def test_an_account_with_no_sockets_left_is_forgotten() -> None:
    sockets: AccountSockets[str] = AccountSockets(0)
    for n in range(20):
        assert sockets.add("u_sam", f"tab {n}") is None  # 0: no limit
    for n in range(20):
        sockets.discard("u_sam", f"tab {n}")
    assert sockets.open("u_sam") == 0
    sockets.discard("u_nobody", "tab")  # nothing to forget: no error
