"""The durable store contract.

Two implementations satisfy it — :mod:`holdspace.storage.sqlite` (embedded) and a
Redis store — and both run through ``tests/storage/test_store_contract.py``.
Every method is a coroutine so an implementation may do I/O; none of them ever
receives message text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from holdspace.records import Bar, Invite, ModerationEntry, Role, Room, User


class Store(Protocol):
    async def close(self) -> None: ...

    # -- accounts --------------------------------------------------------
    async def create_user(
        self, *, username: str, display_name: str, password_hash: str, role: Role, now: float
    ) -> User:
        """Raise :class:`holdspace.errors.Conflict` when the username is taken (any case)."""
        ...

    async def get_user(self, user_id: str) -> User | None: ...

    async def get_user_by_username(self, username: str) -> User | None: ...

    async def set_password_hash(self, user_id: str, password_hash: str) -> None: ...

    async def set_role(self, user_id: str, role: Role) -> None: ...

    async def set_display_name(self, user_id: str, display_name: str) -> None: ...

    async def count_users(self) -> int: ...

    # -- auth tokens (only their hashes) ---------------------------------
    async def create_token(
        self, *, token_hash: str, user_id: str, now: float, expires_at: float
    ) -> None: ...

    async def get_token_user(self, token_hash: str, now: float) -> User | None:
        """The token's user, or None when unknown, revoked or expired."""
        ...

    async def valid_tokens(self, token_hashes: Sequence[str], now: float) -> set[str]:
        """Those of the tokens still valid (one round trip for many: the edge re-checks
        every open socket's sign-in this way)."""
        ...

    async def revoke_token(self, token_hash: str) -> None: ...

    async def revoke_user_tokens(self, user_id: str) -> None: ...

    # -- rooms -------------------------------------------------------------
    async def create_room(self, room: Room) -> None: ...

    async def get_room(self, room_id: str) -> Room | None: ...

    async def update_room(self, room: Room) -> None: ...

    async def rooms_for_user(self, user_id: str) -> list[Room]:
        """Rooms the user facilitates or is enrolled in, oldest first."""
        ...

    async def all_rooms(self) -> list[Room]: ...

    # -- roster ------------------------------------------------------------
    async def enrol(self, room_id: str, user_id: str, now: float) -> None:
        """Idempotent."""
        ...

    async def is_enrolled(self, room_id: str, user_id: str) -> bool: ...

    async def roster(self, room_id: str) -> list[User]: ...

    # -- invites -------------------------------------------------------------
    async def create_invite(self, invite: Invite) -> None: ...

    async def list_invites(self, room_id: str) -> list[Invite]: ...

    async def find_invite(self, code_hash: str) -> Invite | None:
        """The invite with this code hash, whatever its state (revoked, expired, used up)."""
        ...

    async def revoke_invite(self, room_id: str, invite_id: str, now: float) -> bool:
        """False when no such invite exists in that room."""
        ...

    async def redeem_invite(self, code_hash: str, user_id: str, now: float) -> str | None:
        """Atomically use one redemption and enrol the user; return the room id.

        None when the code is unknown, revoked, expired or used up. Redeeming a code
        for a room one is already enrolled in succeeds without using it up. A user
        barred from the room (and not already in it) redeeming a usable code is
        neither enrolled nor charged a use, but gets the room id so the caller can
        explain why.
        """
        ...

    # -- bars ----------------------------------------------------------------
    async def bar(
        self, room_id: str, user_id: str, *, by: str, reason: str | None, now: float
    ) -> None:
        """Bar ``user_id`` from the room. Idempotent: the first bar's data is kept.

        Raise :class:`holdspace.errors.NotFound` when the room or user doesn't exist.
        """
        ...

    async def unbar(self, room_id: str, user_id: str) -> bool:
        """Lift a bar; False when the user wasn't barred from that room."""
        ...

    async def is_barred(self, room_id: str, user_id: str) -> bool: ...

    async def bars(self, room_id: str) -> list[Bar]:
        """The room's bars, oldest first."""
        ...

    # -- group agreement -----------------------------------------------------
    async def record_agreement(
        self, room_id: str, session_key: str, user_id: str, now: float
    ) -> None: ...

    async def has_agreed(self, room_id: str, session_key: str, user_id: str) -> bool: ...

    # -- sessions ended early -------------------------------------------------
    async def end_session(self, room_id: str, session_key: str, now: float) -> None:
        """Remember that this session is over, even though its window is still open."""
        ...

    async def session_ended(self, room_id: str, session_key: str) -> bool: ...

    # -- moderation record ---------------------------------------------------
    async def append_moderation(self, entry: ModerationEntry) -> None: ...

    async def moderation_record(self, room_id: str, limit: int = 500) -> list[ModerationEntry]:
        """Newest last."""
        ...
