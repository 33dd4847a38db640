"""The permission table: every command x role x mode x room state.

``RULES`` is the specification, read top to bottom; the first matching row gives
the outcome ("ok" or the error code). Every combination is checked against the
real core, so a rule change shows up here as a table change.
"""

from __future__ import annotations

import itertools

import pytest

from holdspace.core import commands as c
from holdspace.core.state import PauseInfo
from tests.core.helpers import T0, Room

ROLES = ("member", "facilitator", "admin")
MODES = ("listener", "sharer")
STATES = ("lobby", "live", "paused", "ended")
COMMANDS = (
    "agree", "set_mode", "post", "react", "mute", "unmute", "pause", "resume", "end_session",
    "leave", "redact", "whisper", "whisper_reply", "who_reacted", "crisis", "start_round",
    "done", "pass", "skip_turn", "reorder_round", "end_round", "raise_hand", "lower_hand",
    "give_floor", "end_floor", "clear_hands", "remove", "lock", "unlock", "admit", "decline",
    "set_waiting_room", "slow_mode", "balance",
)  # fmt: skip
FACILITATION = (
    "mute", "unmute", "pause", "resume", "end_session", "redact", "whisper_reply",
    "start_round", "skip_turn", "reorder_round", "end_round", "give_floor", "end_floor",
    "clear_hands", "remove", "lock", "unlock", "admit", "decline", "set_waiting_room",
    "slow_mode", "balance",
)  # fmt: skip
ANY = "*"
STAFF = ("facilitator", "admin")

# (commands, roles, modes, states) -> outcome; first match wins.
RULES: list[
    tuple[tuple[str, ...] | str, tuple[str, ...] | str, str, tuple[str, ...] | str, str]
] = [
    (ANY, ANY, ANY, "ended", "session_ended"),
    (FACILITATION, "member", ANY, ANY, "forbidden"),
    ("who_reacted", "member", ANY, ANY, "forbidden"),  # names are for the author and facilitators
    (("done", "pass", "skip_turn", "reorder_round", "end_round"), ANY, ANY, ANY, "no_round"),
    ("start_round", STAFF, ANY, "lobby", "not_started"),  # rounds begin with the session
    ("raise_hand", STAFF, ANY, ANY, "invalid"),  # facilitators speak without raising a hand
    ("give_floor", STAFF, ANY, ANY, "no_hands"),
    ("end_floor", STAFF, ANY, ANY, "no_floor"),
    ("unlock", STAFF, ANY, ANY, "not_locked"),
    (("admit", "decline"), STAFF, ANY, ANY, "not_waiting"),
    ("pause", STAFF, ANY, "paused", "already_paused"),
    ("resume", STAFF, ANY, ("lobby", "live"), "not_paused"),
    ("post", STAFF, ANY, ANY, "ok"),
    ("post", "member", "listener", ANY, "listening"),
    ("post", "member", "sharer", "lobby", "not_started"),
    ("post", "member", "sharer", "paused", "paused"),
    (ANY, ANY, ANY, ANY, "ok"),
]


def expected(command: str, role: str, mode: str, state: str) -> str:
    def match(rule: tuple[str, ...] | str, value: str) -> bool:
        return rule == ANY or value == rule or (isinstance(rule, tuple) and value in rule)

    for commands, roles, modes, states, outcome in RULES:
        if all(
            match(r, v)
            for r, v in ((commands, command), (roles, role), (modes, mode), (states, state))
        ):
            return outcome
    raise AssertionError("the table has a catch-all row")


def build(role: str, mode: str, state: str) -> tuple[Room, int]:
    """A room in ``state`` with the actor (affirmed, in ``mode``), a muted sharing member,
    another sharing member, and a message by a facilitator."""
    room = Room(keeper=False)
    room.now = T0 - 60 if state == "lobby" else T0 + 60
    room.join("fac", "facilitator")
    room.join("target", agreed=True)
    room.ok("target", c.SetMode("sharer"))
    room.join("other", agreed=True)  # a sharer who can be offered the talking piece
    room.ok("other", c.SetMode("sharer"))
    [message] = room.ok("fac", c.Post("welcome")).events
    room.ok("fac", c.Mute("target", minutes=30))
    room.join("actor", role, agreed=True)  # type: ignore[arg-type]
    room.ok("actor", c.SetMode(mode))  # type: ignore[arg-type]
    if state == "paused":
        room.state.pause = PauseInfo(by="fac", message=None, at=room.now)
    if state == "ended":
        room.state.phase = "ended"
    return room, message.seq


def command(name: str, message: int, mode: str) -> c.Command:
    other_mode: c.Mode = "listener" if mode == "sharer" else "sharer"
    commands: dict[str, c.Command] = {
        "agree": c.Agree(),
        "set_mode": c.SetMode(other_mode),
        "post": c.Post("hello"),
        "react": c.React(message, "heart"),
        "mute": c.Mute("target", minutes=5),
        "unmute": c.Unmute("target"),
        "pause": c.Pause("breathe"),
        "resume": c.Resume(),
        "end_session": c.EndSession(),
        "leave": c.Leave(),
        "redact": c.Redact(message),
        "whisper": c.Whisper("I need a moment"),
        "whisper_reply": c.WhisperReply("target", "We're here."),
        "who_reacted": c.WhoReacted(message),
        "crisis": c.Crisis(),
        "start_round": c.StartRound("check_in"),
        "done": c.Done(),
        "pass": c.Pass(),
        "skip_turn": c.SkipTurn(),
        "reorder_round": c.ReorderRound(()),
        "end_round": c.EndRound(),
        "raise_hand": c.RaiseHand(),
        "lower_hand": c.LowerHand(),
        "give_floor": c.GiveFloor(),
        "end_floor": c.EndFloor(),
        "clear_hands": c.ClearHands(),
        "remove": c.Remove("target"),
        "lock": c.Lock(),
        "unlock": c.Unlock(),
        "admit": c.Admit("target"),
        "decline": c.Decline("target"),
        "set_waiting_room": c.SetWaitingRoom(True),
        "slow_mode": c.SlowMode(5),
        "balance": c.Balance(),
    }
    return commands[name]


CASES = list(itertools.product(COMMANDS, ROLES, MODES, STATES))


@pytest.mark.parametrize(("name", "role", "mode", "state"), CASES)
def test_permission_table(name: str, role: str, mode: str, state: str) -> None:
    """Each command, by each role in each mode and room state, does what the table says."""
    room, message = build(role, mode, state)
    t = room.do("actor", command(name, message, mode))
    outcome = "ok" if t.error is None else t.error.code
    assert outcome == expected(name, role, mode, state)
    if t.error is not None:
        assert t.events == []  # a refusal changes nothing


def test_table_covers_every_client_room_command() -> None:
    """Every room command a client can send is in the table."""
    from holdspace.protocol import COMMANDS as WIRE

    edge_only = {"auth", "join", "ping"}
    assert set(WIRE) - edge_only == set(COMMANDS)


@pytest.mark.parametrize(
    ("agreed", "muted", "outcome"),
    [(False, False, "agreement_required"), (False, True, "agreement_required"),
     (True, True, "muted"), (True, False, "ok")],
)  # fmt: skip
def test_post_preconditions_for_sharing_members(agreed: bool, muted: bool, outcome: str) -> None:
    """For a member opted in to share: the agreement comes first, then the mute."""
    room = Room(keeper=False)
    room.join("fac", "facilitator")
    room.join("actor", agreed=agreed)
    room.ok("actor", c.SetMode("sharer"))
    if muted:
        room.ok("fac", c.Mute("actor"))
    t = room.do("actor", c.Post("hello"))
    assert ("ok" if t.error is None else t.error.code) == outcome
