"""What one participant is shown of a room: the snapshot on join and on resync.

Built from state alone (never from the event log), so a resync is always
complete. Plain data, ready for the wire encoder.
"""

from __future__ import annotations

from typing import Any

from holdspace.core.state import INDEFINITE, Participant, RoomState, Round


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


def round_data(r: Round | None) -> dict[str, Any] | None:
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
        "outcomes": dict(r.outcomes),
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
            "reactions": {kind: len(who) for kind, who in m.reactions.items() if who},
            "mine": sorted(kind for kind, who in m.reactions.items() if viewer_id in who),
        }
        for m in state.messages.values()
    ]
    you = state.participants.get(viewer_id)
    view: dict[str, Any] = {
        "room": {
            "id": cfg.room_id,
            "name": cfg.name,
            "capacity": cfg.capacity,
            "guidelines": cfg.guidelines,
            "crisis_resources": cfg.crisis_resources,
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
        },
        "epoch": state.epoch,
        "seq": state.seq,
        "participants": [participant_data(state, p, now) for p in state.participants.values()],
        "hands": list(state.hands),
        "round": round_data(state.round),
        "messages": messages,
        "you": participant_data(state, you, now) if you is not None else None,
    }
    if you is not None and you.staff:
        view["whispers"] = [
            {"id": w.id, "user_id": w.user_id, "name": w.name, "text": w.text, "at": w.at}
            for w in state.whispers
        ]
        view["waiting"] = [
            {"user_id": w.user_id, "name": w.name, "place": w.place, "since": w.since}
            for w in state.waiting.values()
        ]
    return view
