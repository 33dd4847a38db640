"""Commands that can be sent again safely: the answer to each state-changing command
sent with a client id (``cid``) is kept for the session, and the same command sent
again — after a lost answer, on any worker — gets that answer and changes nothing.

A refused command is not kept: nothing of it was applied, so sending it again (with
the same id or a new one) is judged afresh. Commands that change nothing (reads)
are not kept either: repeating them is harmless.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from holdspace.core.state import RoomState

# Receipts a session keeps, oldest dropped first: far more than a client retries within
# its retry window (every member's commands are rate-limited), for a whole session.
KEPT = 2048


def key(user_id: str, cid: str) -> str:
    return f"{user_id} {cid}"


def find(state: RoomState, user_id: str, cid: str) -> Mapping[str, Any] | None:
    """What the command sent with ``cid`` answered, if it was applied."""
    return state.receipts.get(key(user_id, cid))


def keep(state: RoomState, user_id: str, cid: str, reply: Mapping[str, Any]) -> None:
    receipts = state.receipts
    receipts[key(user_id, cid)] = dict(reply)
    while len(receipts) > KEPT:
        del receipts[next(iter(receipts))]
