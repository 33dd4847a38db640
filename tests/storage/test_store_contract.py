"""The Store contract: every backend must pass this file unchanged.

Only :class:`holdspace.storage.base.Store` methods are used here, never a
backend's internals, so a new backend is tested by adding it to ``BACKENDS``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import time

import pytest

from holdspace.errors import Conflict, NotFound
from holdspace.records import (
    Bar,
    Invite,
    ModerationEntry,
    OneOff,
    Role,
    Room,
    Schedule,
    User,
    WeeklyRule,
    new_id,
)
from holdspace.storage.base import Store

T0 = 1_800_000_000.0
HOUR = 3600.0

SCHEDULE = Schedule(
    timezone="Europe/London",
    weekly=(
        WeeklyRule(days=(0, 3), start=time(18, 30), duration_minutes=90),
        WeeklyRule(days=(5,), start=time(10, 0), duration_minutes=60),
    ),
    one_off=(OneOff(start="2026-12-24T17:00", duration_minutes=60),),
)


async def make_user(store: Store, name: str, role: Role = "member", now: float = T0) -> User:
    return await store.create_user(
        username=name,
        display_name=f"{name} (pseudonym)",
        password_hash="$argon2$x",
        role=role,
        now=now,
    )


async def make_room(
    store: Store,
    owner: User,
    *co: User,
    created_at: float = T0,
    archived: bool = False,
    waiting_room: bool = False,
) -> Room:
    room = Room(
        id=new_id("r"),
        name="Tuesday circle",
        description="A small group for carers.",
        capacity=8,
        guidelines="What is shared here stays here.",
        owner_id=owner.id,
        facilitator_ids=(owner.id, *(u.id for u in co)),
        schedule=SCHEDULE,
        lobby_minutes=10,
        visibility="closed",
        created_at=created_at,
        crisis_resources="Samaritans: 116 123",
        archived=archived,
        waiting_room=waiting_room,
    )
    await store.create_room(room)
    return room


def make_invite(
    room: Room,
    code_hash: str,
    *,
    max_uses: int | None = 1,
    expires_at: float | None = T0 + 24 * HOUR,
    created_at: float = T0,
) -> Invite:
    return Invite(
        id=new_id("inv"),
        room_id=room.id,
        code_hash=code_hash,
        created_by=room.owner_id,
        created_at=created_at,
        expires_at=expires_at,
        max_uses=max_uses,
    )


async def uses_of(store: Store, invite: Invite) -> int:
    [stored] = [i for i in await store.list_invites(invite.room_id) if i.id == invite.id]
    return stored.uses


# -- accounts ------------------------------------------------------------------


async def test_create_user_round_trips(store: Store) -> None:
    """A created user comes back identical by id and by username."""
    user = await make_user(store, "Robin", role="facilitator")
    assert user.username == "Robin"
    assert user.role == "facilitator"
    assert user.created_at == T0
    assert await store.get_user(user.id) == user
    assert await store.get_user_by_username("Robin") == user


async def test_username_lookup_ignores_case(store: Store) -> None:
    """Usernames are found whatever case they are typed in."""
    user = await make_user(store, "Robin")
    assert await store.get_user_by_username("rOBIN") == user


async def test_duplicate_username_in_other_case_conflicts(store: Store) -> None:
    """A username differing only in case is taken."""
    await make_user(store, "Robin")
    with pytest.raises(Conflict):
        await make_user(store, "ROBIN")
    assert await store.count_users() == 1


async def test_unknown_users_are_none(store: Store) -> None:
    """Lookups of users that do not exist return None."""
    assert await store.get_user("u_missing") is None
    assert await store.get_user_by_username("nobody") is None


async def test_set_password_hash_role_and_name(store: Store) -> None:
    """Password hash, role and display name changes persist and leave the rest alone."""
    user = await make_user(store, "Robin")
    await store.set_password_hash(user.id, "$argon2$new")
    await store.set_role(user.id, "admin")
    await store.set_display_name(user.id, "Robin K")
    assert await store.get_user(user.id) == dataclasses.replace(
        user, password_hash="$argon2$new", role="admin", display_name="Robin K"
    )


async def test_updating_unknown_user_is_not_found(store: Store) -> None:
    """Changing a user that does not exist is refused, not silently ignored."""
    with pytest.raises(NotFound):
        await store.set_role("u_missing", "admin")
    with pytest.raises(NotFound):
        await store.set_password_hash("u_missing", "$argon2$x")
    with pytest.raises(NotFound):
        await store.set_display_name("u_missing", "Nobody")


async def test_count_users(store: Store) -> None:
    """count_users counts every account."""
    assert await store.count_users() == 0
    await make_user(store, "a")
    await make_user(store, "b")
    assert await store.count_users() == 2


# -- auth tokens ---------------------------------------------------------------


async def test_token_resolves_to_user_until_expiry(store: Store) -> None:
    """A token is valid strictly before its expiry and not at or after it."""
    user = await make_user(store, "Robin")
    await store.create_token(token_hash="h1", user_id=user.id, now=T0, expires_at=T0 + HOUR)
    assert await store.get_token_user("h1", T0 + HOUR - 1) == user
    assert await store.get_token_user("h1", T0 + HOUR) is None
    assert await store.get_token_user("h1", T0 + 2 * HOUR) is None


async def test_unknown_token_is_none(store: Store) -> None:
    """A token hash never issued resolves to nobody."""
    assert await store.get_token_user("nope", T0) is None


async def test_revoke_token_only_affects_that_token(store: Store) -> None:
    """Revoking one token leaves the user's other tokens working."""
    user = await make_user(store, "Robin")
    await store.create_token(token_hash="h1", user_id=user.id, now=T0, expires_at=T0 + HOUR)
    await store.create_token(token_hash="h2", user_id=user.id, now=T0, expires_at=T0 + HOUR)
    await store.revoke_token("h1")
    await store.revoke_token("never-issued")
    assert await store.get_token_user("h1", T0) is None
    assert await store.get_token_user("h2", T0) == user


async def test_revoke_user_tokens(store: Store) -> None:
    """Signing a user out everywhere leaves other users signed in."""
    robin = await make_user(store, "Robin")
    sam = await make_user(store, "Sam")
    await store.create_token(token_hash="r1", user_id=robin.id, now=T0, expires_at=T0 + HOUR)
    await store.create_token(token_hash="r2", user_id=robin.id, now=T0, expires_at=T0 + HOUR)
    await store.create_token(token_hash="s1", user_id=sam.id, now=T0, expires_at=T0 + HOUR)
    await store.revoke_user_tokens(robin.id)
    assert await store.get_token_user("r1", T0) is None
    assert await store.get_token_user("r2", T0) is None
    assert await store.get_token_user("s1", T0) == sam


async def test_many_tokens_are_checked_at_once(store: Store) -> None:
    """Checking many sign-ins in one call: those still valid; expired, revoked and
    unknown ones are not."""
    robin = await make_user(store, "Robin")
    sam = await make_user(store, "Sam")
    await store.create_token(token_hash="r1", user_id=robin.id, now=T0, expires_at=T0 + HOUR)
    await store.create_token(token_hash="r2", user_id=robin.id, now=T0, expires_at=T0 + 10)
    await store.create_token(token_hash="s1", user_id=sam.id, now=T0, expires_at=T0 + HOUR)
    await store.create_token(token_hash="s2", user_id=sam.id, now=T0, expires_at=T0 + HOUR)
    await store.revoke_token("s2")
    assert await store.valid_tokens(["r1", "r2", "s1", "s2", "never"], T0 + 10) == {"r1", "s1"}
    await store.revoke_user_tokens(sam.id)
    assert await store.valid_tokens(["r1", "s1"], T0) == {"r1"}
    assert await store.valid_tokens([], T0) == set()
    many = [f"m{i}" for i in range(1200)]  # past any one query's bound
    for h in many[::100]:
        await store.create_token(token_hash=h, user_id=robin.id, now=T0, expires_at=T0 + HOUR)
    assert await store.valid_tokens(many, T0) == set(many[::100])


async def test_token_sees_role_changes(store: Store) -> None:
    """The user behind a token is read fresh, so a role change applies at once."""
    user = await make_user(store, "Robin")
    await store.create_token(token_hash="h1", user_id=user.id, now=T0, expires_at=T0 + HOUR)
    await store.set_role(user.id, "admin")
    token_user = await store.get_token_user("h1", T0)
    assert token_user is not None
    assert token_user.role == "admin"


# -- rooms -----------------------------------------------------------------------


async def test_room_round_trips(store: Store) -> None:
    """Every field of a room, facilitator order and schedule included, survives storage."""
    owner = await make_user(store, "owner")
    co2 = await make_user(store, "zed")
    co1 = await make_user(store, "amy")
    room = await make_room(store, owner, co2, co1, waiting_room=True)
    loaded = await store.get_room(room.id)
    assert loaded == room
    assert loaded is not None
    assert loaded.facilitator_ids == (owner.id, co2.id, co1.id)
    assert loaded.schedule == SCHEDULE
    assert loaded.waiting_room is True


async def test_waiting_room_is_off_unless_asked_for(store: Store) -> None:
    """A room created without a waiting room reads back with it off."""
    owner = await make_user(store, "owner")
    room = await make_room(store, owner)
    loaded = await store.get_room(room.id)
    assert loaded is not None
    assert loaded.waiting_room is False
    assert loaded.show_passes is False  # by default only facilitators see who passed


async def test_unknown_room_is_none(store: Store) -> None:
    """get_room of an id never created is None."""
    assert await store.get_room("r_missing") is None


async def test_duplicate_room_id_conflicts(store: Store) -> None:
    """Creating a room whose id exists is refused."""
    owner = await make_user(store, "owner")
    room = await make_room(store, owner)
    with pytest.raises(Conflict):
        await store.create_room(room)


async def test_update_room_replaces_fields(store: Store) -> None:
    """update_room stores every changed field, facilitators and schedule included."""
    owner = await make_user(store, "owner")
    co = await make_user(store, "co")
    room = await make_room(store, owner, co)
    changed = dataclasses.replace(
        room,
        name="Thursday circle",
        capacity=12,
        facilitator_ids=(owner.id,),
        schedule=Schedule(timezone="America/New_York"),
        lobby_minutes=5,
        visibility="open",
        crisis_resources="",
        archived=True,
        waiting_room=True,
        show_passes=True,
    )
    await store.update_room(changed)
    assert await store.get_room(room.id) == changed
    back = dataclasses.replace(changed, waiting_room=False, show_passes=False)
    await store.update_room(back)
    assert await store.get_room(room.id) == back


async def test_update_unknown_room_is_not_found(store: Store) -> None:
    """Updating a room that was never created is refused."""
    owner = await make_user(store, "owner")
    room = await make_room(store, owner)
    with pytest.raises(NotFound):
        await store.update_room(dataclasses.replace(room, id="r_missing"))


async def test_rooms_for_user(store: Store) -> None:
    """A user's rooms are the ones they facilitate or joined, oldest first, archived excluded."""
    owner = await make_user(store, "owner")
    member = await make_user(store, "member")
    joined_late = await make_room(store, owner, created_at=T0 + 30)
    facilitated = await make_room(store, member, created_at=T0 + 20)
    co_facilitated = await make_room(store, owner, member, created_at=T0 + 10)
    await make_room(store, owner, created_at=T0)  # unrelated
    archived = await make_room(store, owner, created_at=T0 + 5, archived=True)
    await store.enrol(joined_late.id, member.id, T0)
    await store.enrol(archived.id, member.id, T0)
    rooms = await store.rooms_for_user(member.id)
    assert [r.id for r in rooms] == [co_facilitated.id, facilitated.id, joined_late.id]
    assert rooms[0] == co_facilitated


async def test_rooms_for_user_lists_a_room_once(store: Store) -> None:
    """A facilitator who is also enrolled sees the room once."""
    owner = await make_user(store, "owner")
    room = await make_room(store, owner)
    await store.enrol(room.id, owner.id, T0)
    assert await store.rooms_for_user(owner.id) == [room]


async def test_all_rooms(store: Store) -> None:
    """all_rooms lists every room, archived ones too, oldest first."""
    owner = await make_user(store, "owner")
    newer = await make_room(store, owner, created_at=T0 + 1)
    older = await make_room(store, owner, created_at=T0, archived=True)
    assert await store.all_rooms() == [older, newer]


# -- roster ------------------------------------------------------------------------


async def test_enrol_is_idempotent(store: Store) -> None:
    """Enrolling twice leaves one roster entry."""
    owner = await make_user(store, "owner")
    member = await make_user(store, "member")
    room = await make_room(store, owner)
    await store.enrol(room.id, member.id, T0)
    await store.enrol(room.id, member.id, T0 + 1)
    assert await store.roster(room.id) == [member]
    assert await store.is_enrolled(room.id, member.id)


async def test_roster_order_and_membership(store: Store) -> None:
    """The roster lists members in joining order and only that room's members."""
    owner = await make_user(store, "owner")
    first = await make_user(store, "first")
    second = await make_user(store, "second")
    room = await make_room(store, owner)
    other = await make_room(store, owner)
    await store.enrol(room.id, first.id, T0)
    await store.enrol(room.id, second.id, T0 + 1)
    assert await store.roster(room.id) == [first, second]
    assert await store.roster(other.id) == []
    assert not await store.is_enrolled(other.id, first.id)
    assert not await store.is_enrolled(room.id, owner.id)


# -- invites -----------------------------------------------------------------------


async def test_invites_round_trip_oldest_first(store: Store) -> None:
    """Invites come back exactly as created, oldest first, per room."""
    owner = await make_user(store, "owner")
    room = await make_room(store, owner)
    other = await make_room(store, owner)
    later = make_invite(room, "c2", max_uses=None, expires_at=None, created_at=T0 + 1)
    earlier = make_invite(room, "c1", created_at=T0)
    await store.create_invite(later)
    await store.create_invite(earlier)
    await store.create_invite(make_invite(other, "c3"))
    assert await store.list_invites(room.id) == [earlier, later]


async def test_duplicate_invite_code_conflicts(store: Store) -> None:
    """Two invites can never share a code hash."""
    owner = await make_user(store, "owner")
    room = await make_room(store, owner)
    await store.create_invite(make_invite(room, "same"))
    with pytest.raises(Conflict):
        await store.create_invite(make_invite(room, "same"))


async def test_redeem_enrols_and_counts_a_use(store: Store) -> None:
    """Redeeming returns the room, enrols the user and uses the code once."""
    owner = await make_user(store, "owner")
    member = await make_user(store, "member")
    room = await make_room(store, owner)
    invite = make_invite(room, "code", max_uses=3)
    await store.create_invite(invite)
    assert await store.redeem_invite("code", member.id, T0) == room.id
    assert await store.is_enrolled(room.id, member.id)
    assert await uses_of(store, invite) == 1


async def test_redeem_unknown_code_is_none(store: Store) -> None:
    """An unknown code enrols nobody."""
    member = await make_user(store, "member")
    assert await store.redeem_invite("nope", member.id, T0) is None


async def test_redeem_used_up_invite_is_none(store: Store) -> None:
    """Once max_uses is reached the code stops working."""
    owner = await make_user(store, "owner")
    a = await make_user(store, "a")
    b = await make_user(store, "b")
    room = await make_room(store, owner)
    invite = make_invite(room, "code", max_uses=1)
    await store.create_invite(invite)
    assert await store.redeem_invite("code", a.id, T0) == room.id
    assert await store.redeem_invite("code", b.id, T0) is None
    assert not await store.is_enrolled(room.id, b.id)
    assert await uses_of(store, invite) == 1


async def test_redeem_expired_invite_is_none(store: Store) -> None:
    """A code stops working at its expiry instant."""
    owner = await make_user(store, "owner")
    member = await make_user(store, "member")
    room = await make_room(store, owner)
    await store.create_invite(make_invite(room, "code", expires_at=T0 + HOUR))
    assert await store.redeem_invite("code", member.id, T0 + HOUR) is None
    assert not await store.is_enrolled(room.id, member.id)


async def test_redeem_revoked_invite_is_none(store: Store) -> None:
    """A revoked code stops working and records when it was revoked."""
    owner = await make_user(store, "owner")
    member = await make_user(store, "member")
    room = await make_room(store, owner)
    invite = make_invite(room, "code")
    await store.create_invite(invite)
    assert await store.revoke_invite(room.id, invite.id, T0 + 5)
    assert await store.redeem_invite("code", member.id, T0 + 6) is None
    [stored] = await store.list_invites(room.id)
    assert stored.revoked_at == T0 + 5


async def test_find_invite_by_code_in_any_state(store: Store) -> None:
    """An invite is found by its code hash with its uses and revocation as they stand;
    an unknown code finds nothing."""
    owner = await make_user(store, "owner")
    member = await make_user(store, "member")
    room = await make_room(store, owner)
    invite = make_invite(room, "code", max_uses=1)
    await store.create_invite(invite)
    await store.create_invite(make_invite(room, "other"))
    assert await store.find_invite("code") == invite
    assert await store.find_invite("nope") is None
    await store.redeem_invite("code", member.id, T0)
    await store.revoke_invite(room.id, invite.id, T0 + 5)
    assert await store.find_invite("code") == dataclasses.replace(invite, uses=1, revoked_at=T0 + 5)


async def test_revoke_invite_needs_matching_room(store: Store) -> None:
    """Revoking reports False for an unknown invite or one from another room."""
    owner = await make_user(store, "owner")
    room = await make_room(store, owner)
    other = await make_room(store, owner)
    invite = make_invite(room, "code")
    await store.create_invite(invite)
    assert not await store.revoke_invite(other.id, invite.id, T0)
    assert not await store.revoke_invite(room.id, "inv_missing", T0)
    [stored] = await store.list_invites(room.id)
    assert stored.revoked_at is None


async def test_redeem_when_already_enrolled_uses_nothing(store: Store) -> None:
    """Reopening an invite link after joining succeeds without using the code up."""
    owner = await make_user(store, "owner")
    member = await make_user(store, "member")
    newcomer = await make_user(store, "newcomer")
    room = await make_room(store, owner)
    invite = make_invite(room, "code", max_uses=1)
    await store.create_invite(invite)
    await store.enrol(room.id, member.id, T0)
    assert await store.redeem_invite("code", member.id, T0) == room.id
    assert await uses_of(store, invite) == 0
    assert await store.redeem_invite("code", newcomer.id, T0) == room.id


async def test_redeem_by_facilitator_uses_nothing(store: Store) -> None:
    """A facilitator trying their own link is already in and uses nothing."""
    owner = await make_user(store, "owner")
    room = await make_room(store, owner)
    invite = make_invite(room, "code", max_uses=1)
    await store.create_invite(invite)
    assert await store.redeem_invite("code", owner.id, T0) == room.id
    assert await uses_of(store, invite) == 0


async def test_redeem_into_archived_room_is_none(store: Store) -> None:
    """Nobody joins an archived room."""
    owner = await make_user(store, "owner")
    member = await make_user(store, "member")
    room = await make_room(store, owner, archived=True)
    await store.create_invite(make_invite(room, "code"))
    assert await store.redeem_invite("code", member.id, T0) is None


async def test_unlimited_invite_keeps_working(store: Store) -> None:
    """An invite without max_uses or expiry admits everyone until revoked."""
    owner = await make_user(store, "owner")
    room = await make_room(store, owner)
    invite = make_invite(room, "code", max_uses=None, expires_at=None)
    await store.create_invite(invite)
    for i in range(5):
        member = await make_user(store, f"m{i}")
        assert await store.redeem_invite("code", member.id, T0 + 10**6) == room.id
    assert await uses_of(store, invite) == 5


async def test_concurrent_redemption_of_single_use_invite(store: Store) -> None:
    """Ten simultaneous redemptions of a single-use code admit exactly one person."""
    owner = await make_user(store, "owner")
    room = await make_room(store, owner)
    await store.create_invite(make_invite(room, "code", max_uses=1))
    users = [await make_user(store, f"m{i}") for i in range(10)]
    results = await asyncio.gather(*(store.redeem_invite("code", u.id, T0) for u in users))
    assert results.count(room.id) == 1
    assert results.count(None) == 9
    assert len(await store.roster(room.id)) == 1


async def test_redeem_by_barred_user_enrols_nobody(store: Store) -> None:
    """A barred user redeeming a code gets the room id back but no seat, and uses nothing."""
    owner = await make_user(store, "owner")
    barred = await make_user(store, "barred")
    room = await make_room(store, owner)
    invite = make_invite(room, "code", max_uses=1)
    await store.create_invite(invite)
    await store.bar(room.id, barred.id, by=owner.id, reason=None, now=T0)
    assert await store.redeem_invite("code", barred.id, T0) == room.id
    assert not await store.is_enrolled(room.id, barred.id)
    assert await uses_of(store, invite) == 0
    await store.unbar(room.id, barred.id)
    assert await store.redeem_invite("code", barred.id, T0) == room.id
    assert await store.is_enrolled(room.id, barred.id)
    assert await uses_of(store, invite) == 1


async def test_redeem_by_barred_user_of_a_dead_code_is_none(store: Store) -> None:
    """A bar never makes a revoked code look valid: it is None like for anyone else."""
    owner = await make_user(store, "owner")
    barred = await make_user(store, "barred")
    room = await make_room(store, owner)
    invite = make_invite(room, "code")
    await store.create_invite(invite)
    await store.revoke_invite(room.id, invite.id, T0)
    await store.bar(room.id, barred.id, by=owner.id, reason=None, now=T0)
    assert await store.redeem_invite("nope", barred.id, T0) is None
    assert await store.redeem_invite("code", barred.id, T0) is None
    assert not await store.is_enrolled(room.id, barred.id)


# -- bars --------------------------------------------------------------------------


async def test_bar_round_trips(store: Store) -> None:
    """A bar comes back with its author, reason and time, and is_barred sees it."""
    owner = await make_user(store, "owner")
    member = await make_user(store, "member")
    room = await make_room(store, owner)
    assert not await store.is_barred(room.id, member.id)
    assert await store.bars(room.id) == []
    await store.bar(room.id, member.id, by=owner.id, reason="repeated harassment", now=T0)
    assert await store.is_barred(room.id, member.id)
    assert await store.bars(room.id) == [
        Bar(room_id=room.id, user_id=member.id, by=owner.id, reason="repeated harassment", at=T0)
    ]


async def test_bar_without_reason(store: Store) -> None:
    """A bar's reason is optional and comes back as None."""
    owner = await make_user(store, "owner")
    member = await make_user(store, "member")
    room = await make_room(store, owner)
    await store.bar(room.id, member.id, by=owner.id, reason=None, now=T0)
    [bar] = await store.bars(room.id)
    assert bar.reason is None


async def test_barring_twice_keeps_the_first_bar(store: Store) -> None:
    """Barring an already barred member changes nothing: the first bar's data stays."""
    owner = await make_user(store, "owner")
    co = await make_user(store, "co")
    member = await make_user(store, "member")
    room = await make_room(store, owner, co)
    await store.bar(room.id, member.id, by=owner.id, reason="first", now=T0)
    await store.bar(room.id, member.id, by=co.id, reason="second", now=T0 + 5)
    assert await store.bars(room.id) == [
        Bar(room_id=room.id, user_id=member.id, by=owner.id, reason="first", at=T0)
    ]


async def test_bars_are_per_room_and_user(store: Store) -> None:
    """A bar from one room keeps the member out of that room only, and bars no one else."""
    owner = await make_user(store, "owner")
    member = await make_user(store, "member")
    other_member = await make_user(store, "other")
    room = await make_room(store, owner)
    other = await make_room(store, owner)
    await store.bar(room.id, member.id, by=owner.id, reason=None, now=T0)
    assert await store.is_barred(room.id, member.id)
    assert not await store.is_barred(other.id, member.id)
    assert not await store.is_barred(room.id, other_member.id)
    assert await store.bars(other.id) == []


async def test_bars_list_oldest_first(store: Store) -> None:
    """A room's bars are listed in the order they were made, whatever the user ids."""
    owner = await make_user(store, "owner")
    members = [await make_user(store, f"m{i}") for i in range(4)]
    room = await make_room(store, owner)
    times = [T0 + 30, T0 + 10, T0 + 20, T0]
    for member, at in zip(members, times, strict=True):
        await store.bar(room.id, member.id, by=owner.id, reason=None, now=at)
    listed = await store.bars(room.id)
    assert [b.at for b in listed] == sorted(times)
    assert [b.user_id for b in listed] == [members[i].id for i in (3, 1, 2, 0)]


async def test_unbar_lifts_the_bar_once(store: Store) -> None:
    """Unbarring reports True the first time and False after, or for anyone never barred."""
    owner = await make_user(store, "owner")
    member = await make_user(store, "member")
    room = await make_room(store, owner)
    other = await make_room(store, owner)
    await store.bar(room.id, member.id, by=owner.id, reason=None, now=T0)
    assert not await store.unbar(other.id, member.id)
    assert not await store.unbar(room.id, owner.id)
    assert await store.is_barred(room.id, member.id)
    assert await store.unbar(room.id, member.id)
    assert not await store.is_barred(room.id, member.id)
    assert not await store.unbar(room.id, member.id)
    assert await store.bars(room.id) == []


async def test_a_lifted_bar_can_be_made_again_afresh(store: Store) -> None:
    """Barring after an unbar records the new bar's author, reason and time."""
    owner = await make_user(store, "owner")
    member = await make_user(store, "member")
    room = await make_room(store, owner)
    await store.bar(room.id, member.id, by=owner.id, reason="first", now=T0)
    await store.unbar(room.id, member.id)
    await store.bar(room.id, member.id, by=owner.id, reason="again", now=T0 + 60)
    assert await store.bars(room.id) == [
        Bar(room_id=room.id, user_id=member.id, by=owner.id, reason="again", at=T0 + 60)
    ]


async def test_a_bar_leaves_enrolment_alone(store: Store) -> None:
    """Barring and unbarring an enrolled member keeps them on the roster."""
    owner = await make_user(store, "owner")
    member = await make_user(store, "member")
    room = await make_room(store, owner)
    await store.enrol(room.id, member.id, T0)
    await store.bar(room.id, member.id, by=owner.id, reason=None, now=T0)
    assert await store.is_enrolled(room.id, member.id)
    await store.unbar(room.id, member.id)
    assert await store.roster(room.id) == [member]


async def test_barring_in_an_unknown_room_or_user_is_not_found(store: Store) -> None:
    """A bar must name a room and a user that exist."""
    owner = await make_user(store, "owner")
    room = await make_room(store, owner)
    with pytest.raises(NotFound):
        await store.bar("r_missing", owner.id, by=owner.id, reason=None, now=T0)
    with pytest.raises(NotFound):
        await store.bar(room.id, "u_missing", by=owner.id, reason=None, now=T0)
    assert await store.bars(room.id) == []


# -- group agreement ---------------------------------------------------------------


async def test_agreements_are_per_session_and_user(store: Store) -> None:
    """An agreement counts for one user in one session of one room."""
    owner = await make_user(store, "owner")
    member = await make_user(store, "member")
    room = await make_room(store, owner)
    other = await make_room(store, owner)
    assert not await store.has_agreed(room.id, "s1", member.id)
    await store.record_agreement(room.id, "s1", member.id, T0)
    await store.record_agreement(room.id, "s1", member.id, T0 + 1)
    assert await store.has_agreed(room.id, "s1", member.id)
    assert not await store.has_agreed(room.id, "s2", member.id)
    assert not await store.has_agreed(room.id, "s1", owner.id)
    assert not await store.has_agreed(other.id, "s1", member.id)


# -- sessions ended early ----------------------------------------------------------


async def test_an_ended_session_stays_ended(store: Store) -> None:
    """Ending is remembered per room and session, and ending twice is harmless."""
    owner = await make_user(store, "owner")
    room = await make_room(store, owner)
    other = await make_room(store, owner)
    assert not await store.session_ended(room.id, "s1")
    await store.end_session(room.id, "s1", T0)
    await store.end_session(room.id, "s1", T0 + 5)
    assert await store.session_ended(room.id, "s1")
    assert not await store.session_ended(room.id, "s2")
    assert not await store.session_ended(other.id, "s1")


# -- moderation record ---------------------------------------------------------------


async def test_moderation_record_round_trips_in_order(store: Store) -> None:
    """Entries come back as appended, newest last, every field intact."""
    owner = await make_user(store, "owner")
    member = await make_user(store, "member")
    room = await make_room(store, owner)
    entries = [
        ModerationEntry(
            room_id=room.id,
            at=T0,
            actor_id=owner.id,
            action="mute",
            target_id=member.id,
            session_key=f"{room.id}:1",
            reason="talking over others",
            detail={"minutes": 10, "ratio": 0.5, "silent": True, "note": "first", "none": None},
        ),
        ModerationEntry(room_id=room.id, at=T0 + 1, actor_id=None, action="mute_expired"),
        ModerationEntry(room_id=room.id, at=T0 + 2, actor_id=owner.id, action="end_session"),
    ]
    for e in entries:
        await store.append_moderation(e)
    assert await store.moderation_record(room.id) == entries


async def test_moderation_record_limit_keeps_newest(store: Store) -> None:
    """A limit returns the most recent entries, still oldest to newest, per room."""
    owner = await make_user(store, "owner")
    room = await make_room(store, owner)
    other = await make_room(store, owner)
    entries = [
        ModerationEntry(room_id=room.id, at=T0 + i, actor_id=owner.id, action=f"a{i}")
        for i in range(5)
    ]
    for e in entries:
        await store.append_moderation(e)
    await store.append_moderation(
        ModerationEntry(room_id=other.id, at=T0 + 9, actor_id=None, action="elsewhere")
    )
    assert await store.moderation_record(room.id, limit=2) == entries[3:]
    assert await store.moderation_record(room.id, limit=0) == []
    assert [e.action for e in await store.moderation_record(other.id)] == ["elsewhere"]
