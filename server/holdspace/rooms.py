"""Rooms, durably: creating and changing them, invites, bars, and who may enter when.

This is where access is decided — who may see, manage or enter a room, and
whether a session is open now — using durable records. A session's live life
belongs to :mod:`holdspace.sessions`; what happens inside it, to the pure core.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from holdspace.auth.tokens import hash_invite_code, new_invite_code, normalize_invite_code
from holdspace.clock import Clock
from holdspace.core import commands as c
from holdspace.core.links import linkify
from holdspace.core.text import clean_block, clean_short
from holdspace.errors import Code, Forbidden, InvalidInput, NotFound, Rejected
from holdspace.names import imitation_refusal, reserved_refusal
from holdspace.records import Bar, Invite, ModerationEntry, Room, User, new_id
from holdspace.schedule import (
    SessionWindow,
    current_session,
    schedule_from_json,
    schedule_to_json,
    upcoming_sessions,
)
from holdspace.settings import Settings
from holdspace.storage.base import Store

log = logging.getLogger("holdspace.rooms")

DEFAULT_GUIDELINES = (
    "What is shared here stays here.\n"
    "Listen without interrupting, fixing or judging.\n"
    "Speak from your own experience.\n"
    "Listening is taking part. You can always pass.\n"
    "Be gentle with yourself and with each other."
)

BARRED = (
    "You can't join this group. If you think this is a mistake, please contact its facilitator."
)


@dataclass(frozen=True, slots=True)
class Seat:
    """What entering a session needs: the room, the session, and the member's role there."""

    room: Room
    window: SessionWindow
    role: c.RoomRole


def room_role(room: Room, user: User) -> c.RoomRole | None:
    """The role ``user`` holds in ``room`` when allowed to manage it, else None."""
    if user.role == "admin":
        return "admin"
    if room.is_facilitator(user.id):
        return "facilitator"
    return None


def when(ts: float, tz: str) -> str:
    local = datetime.fromtimestamp(ts, ZoneInfo(tz))
    return f"{local:%A %d %B, %H:%M} ({tz})"


class Rooms:
    def __init__(self, store: Store, clock: Clock, settings: Settings) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings

    # -- management ---------------------------------------------------------

    async def create(self, actor: User, spec: dict[str, Any]) -> Room:
        if actor.role == "member":
            raise Forbidden("Only facilitators can create rooms.")
        fields = await self._room_fields(spec, partial=False)
        room = Room(
            id=new_id("room"),
            owner_id=actor.id,
            facilitator_ids=(actor.id, *[f for f in fields.pop("co_ids") if f != actor.id]),
            created_at=self.clock.now(),
            **fields,
        )
        await self.store.create_room(room)
        await self._record(room.id, actor.id, "room_created")
        return room

    async def update(self, actor: User, room_id: str, spec: dict[str, Any]) -> Room:
        room = await self.manageable(actor, room_id)
        fields = await self._room_fields(spec, partial=True)
        co_ids = fields.pop("co_ids", None)
        if co_ids is not None:
            fields["facilitator_ids"] = (room.owner_id, *[f for f in co_ids if f != room.owner_id])
        room = replace(room, **fields)
        await self.store.update_room(room)
        await self._record(room.id, actor.id, "room_updated", detail={"fields": ",".join(spec)})
        return room

    async def _room_fields(self, spec: dict[str, Any], *, partial: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}

        def text(name: str, limit: int, *, required: bool = False, default: str = "") -> None:
            if name not in spec:
                if not partial:
                    if required:
                        raise InvalidInput(f"`{name}` is required.", field=name)
                    out[name] = default
                return
            value = spec[name]
            if not isinstance(value, str):
                raise InvalidInput(f"`{name}` must be text.", field=name)
            value = clean_block(value)
            if required and not value:
                raise InvalidInput(f"`{name}` can't be empty.", field=name)
            if len(value) > limit:
                raise InvalidInput(f"`{name}` can be up to {limit} characters.", field=name)
            out[name] = value or default

        text("name", 80, required=True)
        text("description", 1000)
        text("guidelines", 4000, default=DEFAULT_GUIDELINES)
        text("crisis_resources", 2000)
        if "name" in out:
            out["name"] = clean_short(out["name"], limit=80, field="name")
            if out["name"] is None:
                raise InvalidInput("`name` can't be empty.", field="name")
        if "capacity" in spec or not partial:
            capacity = spec.get("capacity", self.settings.default_capacity)
            limit = self.settings.max_capacity
            if not isinstance(capacity, int) or isinstance(capacity, bool):
                raise InvalidInput("`capacity` must be a whole number.", field="capacity")
            if not 1 <= capacity <= limit:
                raise InvalidInput(f"`capacity` is between 1 and {limit}.", field="capacity")
            out["capacity"] = capacity
        if "lobby_minutes" in spec or not partial:
            lobby = spec.get("lobby_minutes", self.settings.lobby_minutes)
            if not isinstance(lobby, int) or isinstance(lobby, bool) or not 0 <= lobby <= 120:
                raise InvalidInput("`lobby_minutes` is between 0 and 120.", field="lobby_minutes")
            out["lobby_minutes"] = lobby
        if "visibility" in spec or not partial:
            visibility = spec.get("visibility", "closed")
            if visibility not in ("closed", "open"):
                raise InvalidInput("`visibility` is 'closed' or 'open'.", field="visibility")
            out["visibility"] = visibility
        for flag in ("waiting_room", "show_passes"):
            if flag in spec or not partial:
                value = spec.get(flag, False)
                if not isinstance(value, bool):
                    raise InvalidInput(f"`{flag}` is true or false.", field=flag)
                out[flag] = value
        if "schedule" in spec or not partial:
            out["schedule"] = schedule_from_json(spec.get("schedule", {}))
        if "co_facilitators" in spec or not partial:
            out["co_ids"] = await self._facilitator_ids(spec.get("co_facilitators", []))
        return out

    async def _facilitator_ids(self, usernames: Any) -> list[str]:
        if not isinstance(usernames, list) or not all(isinstance(u, str) for u in usernames):
            raise InvalidInput("`co_facilitators` is a list of usernames.", field="co_facilitators")
        ids: list[str] = []
        for username in usernames:
            user = await self.store.get_user_by_username(username)
            if user is None or user.role == "member":
                raise InvalidInput(
                    f"{username!r} isn't a facilitator account.", field="co_facilitators"
                )
            if user.id not in ids:
                ids.append(user.id)
        return ids

    async def visible(self, user: User, room_id: str) -> Room:
        """The room, if ``user`` may know it exists (enrolled, facilitating, admin, or open)."""
        room = await self.store.get_room(room_id)
        if room is None or room.archived:
            raise NotFound("There's no such room.")
        if (
            room_role(room, user) is None
            and room.visibility != "open"
            and not await self.store.is_enrolled(room.id, user.id)
        ):
            raise NotFound("There's no such room.")
        return room

    async def manageable(self, user: User, room_id: str) -> Room:
        room = await self.visible(user, room_id)
        if room_role(room, user) is None:
            raise Forbidden("Only this room's facilitators can do that.")
        return room

    async def mine(self, user: User) -> list[Room]:
        rooms = await self.store.rooms_for_user(user.id)
        if user.role == "admin":
            seen = {r.id for r in rooms}
            rooms += [
                r for r in await self.store.all_rooms() if r.id not in seen and not r.archived
            ]
        return rooms

    async def windows(self, room: Room, count: int = 1) -> list[SessionWindow]:
        """The next ``count`` sessions not yet over: scheduled ones a facilitator ended
        early are skipped."""
        now = self.clock.now()
        found: list[SessionWindow] = []
        for window in upcoming_sessions(room, now, count=count + 3):
            if not await self.store.session_ended(room.id, window.key):
                found.append(window)
            if len(found) == count:
                break
        return found

    async def describe(self, room: Room, user: User, names: dict[str, str]) -> dict[str, Any]:
        now = self.clock.now()
        upcoming = next(iter(await self.windows(room)), None)
        current = upcoming if upcoming and upcoming.lobby_opens_at <= now else None
        resources = room.crisis_resources or self.settings.crisis_resources
        return {
            "id": room.id,
            "name": room.name,
            "description": room.description,
            "capacity": room.capacity,
            "guidelines": room.guidelines,
            "crisis_resources": resources,
            "description_html": linkify(room.description),
            "guidelines_html": linkify(room.guidelines),
            "crisis_resources_html": linkify(resources),
            "visibility": room.visibility,
            "lobby_minutes": room.lobby_minutes,
            "waiting_room": room.waiting_room,
            "show_passes": room.show_passes,
            "schedule": schedule_to_json(room.schedule),
            "facilitators": [{"id": f, "name": names.get(f, "")} for f in room.facilitator_ids],
            "your_role": room_role(room, user) or "member",
            "open_now": current is not None,
            "next_session": None
            if upcoming is None
            else {
                "key": upcoming.key,
                "starts_at": upcoming.starts_at,
                "ends_at": upcoming.ends_at,
                "lobby_opens_at": upcoming.lobby_opens_at,
            },
        }

    # -- invites --------------------------------------------------------------

    async def invite(
        self, actor: User, room_id: str, max_uses: int | None, expires_hours: float | None
    ) -> tuple[Invite, str]:
        room = await self.manageable(actor, room_id)
        if max_uses is not None and not 1 <= max_uses <= 1000:
            raise InvalidInput("`max_uses` is between 1 and 1000.", field="max_uses")
        if expires_hours is not None and not 0 < expires_hours <= 24 * 90:
            raise InvalidInput("`expires_in_hours` is up to 90 days.", field="expires_in_hours")
        now = self.clock.now()
        code = new_invite_code()
        invite = Invite(
            id=new_id("inv"),
            room_id=room.id,
            code_hash=hash_invite_code(code),
            created_by=actor.id,
            created_at=now,
            expires_at=None if expires_hours is None else now + expires_hours * 3600,
            max_uses=max_uses,
        )
        await self.store.create_invite(invite)
        await self._record(room.id, actor.id, "invite_created", detail={"invite": invite.id})
        return invite, code

    async def invites(self, actor: User, room_id: str) -> list[Invite]:
        room = await self.manageable(actor, room_id)
        return await self.store.list_invites(room.id)

    async def revoke_invite(self, actor: User, room_id: str, invite_id: str) -> None:
        room = await self.manageable(actor, room_id)
        if not await self.store.revoke_invite(room.id, invite_id, self.clock.now()):
            raise NotFound("There's no such invite.")
        await self._record(room.id, actor.id, "invite_revoked", detail={"invite": invite_id})

    async def redeem(self, user: User, code: str) -> Room:
        room_id = await self.store.redeem_invite(
            hash_invite_code(normalize_invite_code(code)), user.id, self.clock.now()
        )
        room = await self.store.get_room(room_id) if room_id else None
        if room is None or room.archived:
            raise NotFound(
                "That invite code isn't valid any more. Please ask your facilitator for a new one.",
                code=Code.INVALID_INVITE,
            )
        if room_role(room, user) is None and await self.store.is_barred(room.id, user.id):
            raise Forbidden(BARRED, code=Code.BARRED)
        return room

    async def signup_invite(self, code: str) -> Invite:
        """The usable invite behind ``code``, checked before an account is made with it (a
        valid one lifts the per-address sign-up limit). Redeem it once the account exists:
        another newcomer may have taken its last use meanwhile."""
        invite = await self.store.find_invite(hash_invite_code(normalize_invite_code(code)))
        room = None if invite is None else await self.store.get_room(invite.room_id)
        if invite is None or not invite.usable(self.clock.now()) or room is None or room.archived:
            raise NotFound(
                "That invite code isn't valid any more. Please ask your facilitator for a new one.",
                code=Code.INVALID_INVITE,
                field="invite",
            )
        return invite

    async def moderation_record(self, actor: User, room_id: str) -> list[ModerationEntry]:
        room = await self.manageable(actor, room_id)
        return await self.store.moderation_record(room.id)

    # -- bars -------------------------------------------------------------------

    async def barred(self, actor: User, room_id: str) -> list[Bar]:
        """The members barred from a room the actor manages, oldest bar first."""
        room = await self.manageable(actor, room_id)
        return await self.store.bars(room.id)

    async def bar(self, actor: User, room_id: str, user_id: str, reason: str | None) -> None:
        """Keep a member out of the room's future sessions until unbarred.

        Facilitators of the room and administrators can't be barred. Barring someone
        already barred changes nothing (the first bar and its record entry stand).
        A member present in a live session stays until the session code removes them.
        """
        room = await self.manageable(actor, room_id)
        target = await self.store.get_user(user_id)
        if target is None:
            raise NotFound("There's no such member.")
        if room_role(room, target) is not None:
            raise Forbidden("Facilitators and administrators can't be barred.")
        reason = clean_short(reason, limit=200, field="reason")
        if await self.store.is_barred(room.id, target.id):
            return
        await self.store.bar(room.id, target.id, by=actor.id, reason=reason, now=self.clock.now())
        await self._record(room.id, actor.id, "bar", target_id=target.id, reason=reason)

    async def unbar(self, actor: User, room_id: str, user_id: str) -> None:
        """Lift a bar; NotFound when that person isn't barred from the room."""
        room = await self.manageable(actor, room_id)
        if not await self.store.unbar(room.id, user_id):
            raise NotFound("That person isn't barred from this group.")
        await self._record(room.id, actor.id, "unbar", target_id=user_id)

    # -- entering ---------------------------------------------------------------

    async def seat(self, user: User, room_id: str) -> Seat:
        """Decide whether ``user`` may enter ``room_id`` now, and as what."""
        room = await self.visible(user, room_id)
        role = room_role(room, user)
        if role is None:
            if await self.store.is_barred(room.id, user.id):
                raise Forbidden(BARRED, code=Code.BARRED)
            await self._check_name(room, user)
            if room.visibility == "open":
                await self.store.enrol(room.id, user.id, self.clock.now())
            role = "member"
        now = self.clock.now()
        window = current_session(room, now)
        if window is not None and await self.store.session_ended(room.id, window.key):
            window = None
            code, opening = Code.SESSION_ENDED, "This session has ended. The next one starts "
        else:
            code, opening = (
                Code.NO_SESSION,
                "This group isn't meeting right now. The next session starts ",
            )
        if window is None:
            upcoming = next(iter(await self.windows(room)), None)
            if upcoming is None:
                raise Rejected(
                    "This group has no upcoming sessions scheduled.", code=Code.NO_SESSION
                )
            raise Rejected(
                f"{opening}{when(upcoming.starts_at, room.schedule.timezone)}; the room opens "
                f"{room.lobby_minutes} minutes before.",
                code=code,
                next_starts_at=upcoming.starts_at,
                lobby_opens_at=upcoming.lobby_opens_at,
            )
        return Seat(room, window, role)

    async def _check_name(self, room: Room, user: User) -> None:
        """A member is not seated under a name that claims a role or looks like one of the
        group's facilitators (an account made before these checks, or a facilitator who
        joined the group since): they are asked to choose another first."""
        names = (await self.facilitator_names(room)).values()
        refusal = reserved_refusal(user.display_name) or imitation_refusal(user.display_name, names)
        if refusal is not None:
            raise refusal

    async def facilitator_names(self, room: Room) -> dict[str, str]:
        """The display names of the room's facilitators, by id (those whose account is gone
        are left out)."""
        names: dict[str, str] = {}
        for facilitator_id in room.facilitator_ids:
            facilitator = await self.store.get_user(facilitator_id)
            if facilitator is not None:
                names[facilitator_id] = facilitator.display_name
        return names

    async def _record(
        self,
        room_id: str,
        actor_id: str,
        action: str,
        detail: dict[str, Any] | None = None,
        *,
        target_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        await self.store.append_moderation(
            ModerationEntry(
                room_id=room_id,
                at=self.clock.now(),
                actor_id=actor_id,
                action=action,
                target_id=target_id,
                reason=reason,
                detail=detail or {},
            )
        )
