"""Rounds (go-arounds): the talking piece, done and pass, the second chance, the door.

The server fixes the order from the sharers present; only the holder (and the
facilitators) may post while the piece is held. Passing is always allowed and no
reason is asked. Those who passed are offered the piece once more at the end.
Listeners are never called on. People arriving while someone is sharing wait at
the door until that share ends, so nobody's moment is interrupted.

Passing must cost nothing: unless the group chose otherwise (``show_passes``), the
room hears only that a turn ended without a share (``moved_on``, which also covers
running out of time and being skipped); the facilitators get the real outcome in a
``turn_outcome`` notice.
"""

from __future__ import annotations

from holdspace.core import commands as c
from holdspace.core import events as e
from holdspace.core import floor
from holdspace.core.policy import holds_piece_refusal
from holdspace.core.state import Participant, RoomState, Round
from holdspace.core.text import clean_short
from holdspace.core.transition import Transition, emit, record, require_staff, view
from holdspace.core.views import public, snapshot
from holdspace.errors import Code, InvalidInput, Rejected

MIN_TURN_SECONDS, MAX_TURN_SECONDS = 30, 30 * 60
PROMPTS = {
    "check_in": "How are you arriving today?",
    "check_out": "What are you taking with you from today?",
}


def _eligible(state: RoomState, user_id: str, now: float) -> bool:
    """Offered the piece only if they could use it: present, sharing, affirmed the
    agreement, not muted, and not a facilitator."""
    p = state.participants.get(user_id)
    return (
        p is not None
        and not p.staff
        and p.mode == "sharer"
        and user_id in state.agreed
        and not p.muted(now)
    )


def start_round(
    state: RoomState, t: Transition, p: Participant, cmd: c.StartRound, now: float
) -> None:
    require_staff(p)
    if state.round is not None:
        raise Rejected("A round is already going on. End it first.", code=Code.ROUND_RUNNING)
    if cmd.kind is not None and cmd.kind not in c.ROUND_KINDS:
        raise InvalidInput(f"Round kinds are {', '.join(c.ROUND_KINDS)}.", code=Code.INVALID)
    if cmd.order not in ("arrival", "quietest"):
        raise InvalidInput("Order is 'arrival' or 'quietest'.", code=Code.INVALID)
    seconds = cmd.turn_seconds
    if seconds is not None and not MIN_TURN_SECONDS <= seconds <= MAX_TURN_SECONDS:
        raise InvalidInput(
            f"A turn timer is between {MIN_TURN_SECONDS} and {MAX_TURN_SECONDS} seconds.",
            code=Code.INVALID,
        )
    prompt = clean_short(cmd.prompt, limit=300, field="prompt") or PROMPTS.get(cmd.kind or "")
    if state.phase != "live":
        raise Rejected("The group hasn't started yet.", code=Code.NOT_STARTED)
    order = [u for u in state.participants if _eligible(state, u, now)]
    if not order:
        raise Rejected(
            "Nobody has chosen to share yet, so there's no one to offer the talking piece to.",
            code=Code.NO_SHARERS,
        )
    if cmd.order == "quietest":  # least recent participation first; never spoken before all
        arrival = {u: i for i, u in enumerate(order)}

        def quiet(u: str) -> tuple[float, int]:
            spoke = state.stats_of(u).last_spoke_at
            return (float("-inf") if spoke is None else spoke, arrival[u])

        order.sort(key=quiet)
    if state.floor is not None:
        floor.end(state, t, "ended", p.user_id, now)
    started = emit(
        state, t, e.RoundStarted, now,
        kind=cmd.kind, prompt=prompt, order=tuple(order), turn_seconds=seconds, by=p.user_id,
    )  # fmt: skip
    state.rounds_held += 1
    state.round = Round(started.seq, prompt, cmd.kind, seconds, order=order, queue=list(order))
    record(t, "round_started", p.user_id, order=cmd.order)
    _next_turn(state, t, now)


def _next_turn(state: RoomState, t: Transition, now: float) -> None:
    r = state.round
    assert r is not None
    while True:
        while r.queue:
            user_id = r.queue.pop(0)
            if _eligible(state, user_id, now):
                r.holder = user_id
                r.deadline = None if r.turn_seconds is None else now + r.turn_seconds
                emit(
                    state, t, e.Turn, now, user_id=user_id, second_chance=r.second_chance,
                    deadline=r.deadline, queue=tuple(r.queue),
                )  # fmt: skip
                return
            outcome = "skipped" if user_id in state.participants else "left"
            (r.second if r.second_chance else r.outcomes)[user_id] = outcome
        if r.second_chance or not r.passed:
            _finish(state, t, None, now)
            return
        r.second_chance = True  # those who passed are offered the piece once more
        r.queue = list(r.passed)


def end_turn(state: RoomState, t: Transition, outcome: str, actor: str | None, now: float) -> None:
    """The holder's turn is over; the piece moves on and the door opens."""
    r = state.round
    assert r is not None
    holder = r.holder
    assert holder is not None
    r.holder = r.deadline = None
    (r.second if r.second_chance else r.outcomes)[holder] = outcome
    stats = state.stats_of(holder)
    if outcome == "done":
        stats.turns += 1
    elif outcome == "passed":
        stats.passes += 1
        if not r.second_chance:
            r.passed.append(holder)
    _turn_ended(state, t, holder, outcome, now)
    record(t, f"turn_{outcome}", actor, holder, second_chance=r.second_chance)
    release_door(state, t, now)
    _next_turn(state, t, now)


def _turn_ended(state: RoomState, t: Transition, holder: str, outcome: str, now: float) -> None:
    r = state.round
    assert r is not None
    said = public(state, outcome)
    emit(state, t, e.TurnEnded, now, user_id=holder, outcome=said,
         second_chance=r.second_chance)  # fmt: skip
    staff = state.staff_ids()
    if said != outcome and staff:
        t.notices.append(
            e.TurnOutcome(to=staff, seq=state.seq, user_id=holder, outcome=outcome,
                          second_chance=r.second_chance)
        )  # fmt: skip


def _finish(state: RoomState, t: Transition, by: str | None, now: float) -> None:
    r = state.round
    assert r is not None
    summary = tuple(
        e.RoundOutcome(
            u,
            public(state, r.outcomes.get(u, "not_reached")),
            None if (second := r.second.get(u)) is None else public(state, second),
        )
        for u in r.order
    )
    state.round = None
    emit(state, t, e.RoundEnded, now, summary=summary, by=by)
    record(t, "round_ended", by, reached=sum(o.outcome != "not_reached" for o in summary))
    release_door(state, t, now)


def done(state: RoomState, t: Transition, p: Participant, cmd: c.Done, now: float) -> None:
    _give_back(state, t, p, "done", now)


def pass_(state: RoomState, t: Transition, p: Participant, cmd: c.Pass, now: float) -> None:
    """Passing is always allowed, at any moment of one's turn, and never questioned."""
    _give_back(state, t, p, "passed", now)


def _give_back(state: RoomState, t: Transition, p: Participant, outcome: str, now: float) -> None:
    """The holder of the talking piece, or of the floor, is finished. Giving the floor back
    is ``done`` either way: whether they spoke is nobody's business."""
    refusal = holds_piece_refusal(state, p)
    if refusal is not None:
        raise refusal
    if state.round is not None and state.round.holder == p.user_id:
        end_turn(state, t, outcome, p.user_id, now)
    else:
        floor.end(state, t, "done", None, now)


def skip(state: RoomState, t: Transition, p: Participant, cmd: c.SkipTurn, now: float) -> None:
    require_staff(p)
    if state.round is None or state.round.holder is None:
        raise Rejected("Nobody is holding the talking piece.", code=Code.NO_ROUND)
    end_turn(state, t, "skipped", p.user_id, now)


def reorder(
    state: RoomState, t: Transition, p: Participant, cmd: c.ReorderRound, now: float
) -> None:
    require_staff(p)
    r = state.round
    if r is None:
        raise Rejected("There's no round going on.", code=Code.NO_ROUND)
    if sorted(cmd.order) != sorted(r.queue):
        raise InvalidInput(
            "The new order must list exactly the members still waiting for a turn.",
            code=Code.INVALID,
            queue=list(r.queue),
        )
    r.queue = list(cmd.order)
    emit(state, t, e.RoundReordered, now, queue=tuple(r.queue), by=p.user_id)


def end_round(state: RoomState, t: Transition, p: Participant, cmd: c.EndRound, now: float) -> None:
    require_staff(p)
    r = state.round
    if r is None:
        raise Rejected("There's no round going on.", code=Code.NO_ROUND)
    if r.holder is not None:
        holder, r.holder = r.holder, None
        (r.second if r.second_chance else r.outcomes)[holder] = "skipped"
        _turn_ended(state, t, holder, "skipped", now)
    _finish(state, t, p.user_id, now)


def time_out(state: RoomState, t: Transition, now: float) -> None:
    """A silent holder past the turn timer is moved on, gently, as timed out."""
    r = state.round
    if state.pause is not None:
        return  # nobody may speak while paused, so nobody's time runs out
    if r is not None and r.holder is not None and r.deadline is not None and now >= r.deadline:
        end_turn(state, t, "timed_out", None, now)


def restart_timer(state: RoomState, now: float) -> None:
    """After a pause the holder gets their whole turn time again."""
    r = state.round
    if r is not None and r.holder is not None and r.turn_seconds is not None:
        r.deadline = now + r.turn_seconds


def departed(state: RoomState, t: Transition, user_id: str, now: float) -> None:
    """Someone left the room: take them out of the round (and out of its queue)."""
    r = state.round
    if r is None:
        return
    if r.holder == user_id:
        end_turn(state, t, "left", None, now)
    elif user_id in r.queue:
        r.queue.remove(user_id)
        (r.second if r.second_chance else r.outcomes)[user_id] = "left"


def release_door(state: RoomState, t: Transition, now: float) -> None:
    """The share ended: everyone held at the door comes in, as a listener."""
    arrivals = [w for w in state.waiting.values() if w.place == "door"]
    for w in arrivals:
        del state.waiting[w.user_id]
        admit(state, t, w.user_id, w.name, w.role, w.conns, now)


def admit(
    state: RoomState, t: Transition, user_id: str, name: str, role: c.RoomRole,
    conns: set[str], now: float,
) -> None:  # fmt: skip
    """Bring someone from outside the door into the room and open their connections."""
    p = Participant(user_id=user_id, name=name, role=role, joined_at=now, conns=set(conns))
    state.participants[user_id] = p
    emit(state, t, e.Joined, now, participant=view(state, p))
    t.notices.append(
        e.Admitted(to=(user_id,), seq=state.seq, snapshot=snapshot(state, user_id, now))
    )
