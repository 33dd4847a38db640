"""What one participant is shown of a room: the snapshot on join and on resync.

Built from state alone (never from the event log), so a resync is always
complete. Plain data, ready for the wire encoder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from holdspace.core.links import linkify
from holdspace.core.policy import post_state
from holdspace.core.state import INDEFINITE, Participant, RoomState, Round, Whisper
from holdspace.core.text import MAX_MESSAGE_CHARS, MAX_WHISPER_CHARS

PUBLIC_OUTCOMES = frozenset({"done", "left", "not_reached"})


def public(state: RoomState, outcome: str) -> str:
    """A turn's outcome as the room hears it: a pass, a timeout or a skip is ``moved_on``
    unless the group chose to show passes."""
    if state.config.show_passes or outcome in PUBLIC_OUTCOMES:
        return outcome
    return "moved_on"


def whisper_data(w: Whisper) -> dict[str, Any]:
    return {"id": w.id, "user_id": w.user_id, "name": w.name, "text": w.text, "at": w.at,
            "by": w.by, "by_name": w.by_name}  # fmt: skip


def _mute_until(p: Participant, now: float) -> float | bool | None:
    if not p.muted(now):
        return False
    return None if p.muted_until == INDEFINITE else p.muted_until


def participant_data(state: RoomState, p: Participant, now: float) -> dict[str, Any]:
    muted = _mute_until(p, now)
    return {
        "user_id": p.user_id,
        "name": p.name,
        "role": p.role,
        "mode": p.mode,
        "agreed": p.user_id in state.agreed,
        "away": p.away_since is not None,
        "muted": muted is not False,
        "muted_until": muted if isinstance(muted, float) else None,
    }


def round_data(
    r: Round | None, outcome: Callable[[str, str], str] = lambda user_id, said: said
) -> dict[str, Any] | None:
    """The round as a viewer sees it; ``outcome(user_id, outcome)`` says how each turn's
    outcome reads to them (passes are the facilitators' to see, and one's own)."""
    if r is None:
        return None
    return {
        "id": r.id,
        "kind": r.kind,
        "prompt": r.prompt,
        "turn_seconds": r.turn_seconds,
        "order": list(r.order),
        "holder": r.holder,
        "deadline": r.deadline,
        "second_chance": r.second_chance,
        "queue": list(r.queue),
        "outcomes": {u: outcome(u, o) for u, o in r.outcomes.items()},
    }


def snapshot(state: RoomState, viewer_id: str, now: float) -> dict[str, Any]:
    """Everything ``viewer_id`` may see of the room now. Facilitators also get the
    whispers sent to them and who is waiting outside."""
    cfg = state.config
    messages = [
        {
            "id": m.seq,
            "user_id": m.user_id,
            "name": m.name,
            "text": m.text,
            "redacted": m.text is None,
            "sensitive": m.sensitive,
            "at": m.at,
            "role": m.role,
            "reactions": {kind: len(who) for kind, who in m.reactions.items() if who},
            "mine": sorted(kind for kind, who in m.reactions.items() if viewer_id in who),
        }
        for m in state.messages.values()
    ]
    you = state.participants.get(viewer_id)
    staff = you is not None and you.staff

    def outcome(user_id: str, said: str) -> str:
        return said if staff or user_id == viewer_id else public(state, said)

    view: dict[str, Any] = {
        "room": {
            "id": cfg.room_id,
            "name": cfg.name,
            "capacity": cfg.capacity,
            "guidelines": cfg.guidelines,
            "crisis_resources": cfg.crisis_resources,
            # The same texts as safe HTML with tappable links (see holdspace.core.links).
            "guidelines_html": linkify(cfg.guidelines),
            "crisis_resources_html": linkify(cfg.crisis_resources),
        },
        "session": {
            "key": cfg.session_key,
            "starts_at": cfg.starts_at,
            "ends_at": cfg.ends_at,
            "phase": state.phase,
            "paused": state.pause is not None,
            "pause_message": state.pause.message if state.pause else None,
            "pause_reason": state.pause.reason if state.pause else None,
            "locked": state.locked,
            "slow_mode": state.slow_mode,
            "waiting_room": state.waiting_room,
        },
        "epoch": state.epoch,
        "seq": state.seq,
        "participants": [participant_data(state, p, now) for p in state.participants.values()],
        "hands": list(state.hands),
        "floor": state.floor,
        "round": round_data(state.round, outcome),
        "messages": messages,
        "limits": {"message": MAX_MESSAGE_CHARS, "whisper": MAX_WHISPER_CHARS},
        "you": participant_data(state, you, now) if you is not None else None,
        # Why the viewer can't post now; kept current by ``post_state`` notices.
        "post": post_state(state, you, now) if you is not None else None,
        # Facilitators see every member's thread; a member, their own.
        "whispers": [whisper_data(w) for w in state.whispers if staff or w.user_id == viewer_id],
    }
    if staff:
        view["waiting"] = [
            {"user_id": w.user_id, "name": w.name, "place": w.place, "since": w.since}
            for w in state.waiting.values()
        ]
    return view
