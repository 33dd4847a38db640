"""A sign-out in a room's order: one notice to the sign-in that ended, nothing else."""

from __future__ import annotations

from holdspace.core import commands as c
from holdspace.core import events as e
from tests.core.helpers import Room


def test_a_sign_out_is_a_gate_notice_to_that_sign_in_only() -> None:
    room = Room()
    room.join("kim")
    seq, participants = room.state.seq, set(room.state.participants)
    t = room.ok("kim", c.SignOut("d:kims-phone"))
    assert t.events == []  # nobody else is told; their dropped socket says "away" later
    [notice] = t.notices
    assert isinstance(notice, e.SignedOut)
    assert notice.to == ("d:kims-phone",)
    assert notice.seq == seq  # it sits after everything said before it
    assert notice.gate is True
    assert set(room.state.participants) == participants  # the seat is held as for any drop


def test_a_sign_out_reaches_a_room_they_are_not_in() -> None:
    """Someone signed in on a device that never joined: harmless, and still in order."""
    room = Room()
    t = room.ok("lee", c.SignOut("d:*lee"))
    assert [n.to for n in t.notices] == [("d:*lee",)]


def test_a_sign_out_after_the_session_ended_changes_nothing() -> None:
    room = Room()
    room.ok("keeper", c.EndSession())
    t = room.do("kim", c.SignOut("d:kims-phone"))
    assert t.error is not None  # nobody is connected to an ended session: nothing to do
    assert not [n for n in t.notices if isinstance(n, e.SignedOut)]
