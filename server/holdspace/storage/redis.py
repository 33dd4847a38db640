"""The scale-out store: durable records in Redis, shared by every server process.

Key layout (``P`` is the store's prefix, ``hs:`` unless told otherwise). Every key
that belongs to one room carries the hash tag ``{room:<id>}`` and every key that
belongs to one user ``{user:<id>}``, so the multi-key scripts below each touch one
slot and keep working on Redis Cluster:

================================  ==========================================================
``P{user:<id>}``                  hash: id, username, display_name, role, password_hash,
                                  created_at
``P{user:<id>}:rooms``            sorted set: rooms the user facilitates or joined, scored
                                  by the room's created_at (a candidate list: membership is
                                  re-checked against the room on every read)
``P{user:<id>}:tokens``           set: the user's token hashes (for signing out everywhere)
``Pusername:<casefolded>``        string: the user id; ``SET NX`` makes names unique
``Pusers``                        set: every user id (``SCARD`` counts them)
``Ptoken:<hash>``                 string: JSON {user_id, created_at, expires_at}, with a TTL
``Prooms``                        sorted set: every room id, scored by created_at
``Prooms:seq``                    counter: creation order, the tie-break for equal times
``Pinvite-code:<hash>``           string: "<room id> <invite id>"; ``SET NX`` keeps codes
                                  unique
``P{room:<id>}:meta``             hash: the room's scalar fields, its schedule as JSON, its
                                  creation ``seq`` and the room's own counters
                                  (``enrol_seq``, ``bar_seq``, ``invite_seq``)
``P{room:<id>}:facilitators``     list: facilitator ids, owner first
``P{room:<id>}:roster``           hash: user id -> "<seq> <enrolled_at>"
``P{room:<id>}:invites``          hash: invite id -> "<seq> <JSON of the fixed fields>"
``P{room:<id>}:invite-uses``      hash: invite id -> uses
``P{room:<id>}:invite-revoked``   hash: invite id -> revoked_at
``P{room:<id>}:bars``             hash: user id -> "<seq> <JSON {by, reason, at}>"
``P{room:<id>}:agreements``       hash: JSON [session_key, user_id] -> at
``P{room:<id>}:ended``            hash: session key -> ended_at
``P{room:<id>}:moderation``       list: JSON entries, oldest first
================================  ==========================================================

Times are written with ``repr(float)`` (JSON numbers are the same), which reads
back as exactly the same float. Lua only ever decodes JSON, never re-encodes it,
so no precision is lost there. There is no message text anywhere in this file.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from redis.commands.core import AsyncScript

from holdspace.errors import Conflict, NotFound, Unavailable
from holdspace.records import (
    Bar,
    Invite,
    ModerationEntry,
    Role,
    Room,
    User,
    new_id,
    parse_role,
    parse_visibility,
)
from holdspace.redis_connect import UNREACHABLE, Client, connect
from holdspace.schedule import schedule_from_json, schedule_to_json

# -- scripts: each one touches the keys of one room (or one user) only ----------

# Create or update a room. KEYS: meta, facilitators. ARGV: "new" (the room must not
# exist yet) or "existing" (it must), n, then n meta field/value items, then the
# facilitator ids. Returns 0 when the room's existence isn't as asked.
_WRITE_ROOM = """
local exists = redis.call('EXISTS', KEYS[1]) == 1
if (ARGV[1] == 'new') == exists then return 0 end
local n = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 3, n + 2))
redis.call('DEL', KEYS[2])
if #ARGV > n + 2 then redis.call('RPUSH', KEYS[2], unpack(ARGV, n + 3)) end
return 1
"""

# Write a field of a room's hash once. KEYS: meta, hash. ARGV: field, value, and the
# name of a meta counter to prefix the value with ("" for none).
# Returns -1 when there is no such room, 0 when the field was there already, 1 when set.
_PUT_ONCE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 0 end
local value = ARGV[2]
if ARGV[3] ~= '' then value = redis.call('HINCRBY', KEYS[1], ARGV[3], 1) .. ' ' .. value end
redis.call('HSET', KEYS[2], ARGV[1], value)
return 1
"""

# KEYS: meta, invites, invite-uses, invite-revoked.
# ARGV: invite id, fixed fields as JSON, uses, revoked_at ("" for none).
# Returns -1 when there is no such room, 0 when the invite id exists, 1 when created.
_CREATE_INVITE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 0 end
local seq = redis.call('HINCRBY', KEYS[1], 'invite_seq', 1)
redis.call('HSET', KEYS[2], ARGV[1], seq .. ' ' .. ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[4], ARGV[1], ARGV[4]) end
return 1
"""

# KEYS: invites, invite-revoked. ARGV: invite id, now. Revoking twice keeps the first time.
_REVOKE_INVITE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
return 1
"""

# The whole redemption, atomically, in the order the SQLite store checks it.
# KEYS: meta, facilitators, roster, invites, invite-uses, invite-revoked, bars.
# ARGV: invite id, user id, now, "1" when the user exists.
# Returns 0: no (unknown, archived, revoked, expired, used up); 1: the room id without
# a new enrolment (already in, or barred); 2: enrolled and charged one use;
# -1: the user does not exist.
_REDEEM = """
local archived = redis.call('HGET', KEYS[1], 'archived')
if not archived or archived == '1' then return 0 end
local raw = redis.call('HGET', KEYS[4], ARGV[1])
if not raw then return 0 end
if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 1 then return 1 end
if redis.call('LPOS', KEYS[2], ARGV[2]) then return 1 end
if redis.call('HEXISTS', KEYS[6], ARGV[1]) == 1 then return 0 end
local invite = cjson.decode(string.sub(raw, string.find(raw, ' ', 1, true) + 1))
local now = tonumber(ARGV[3])
if invite.expires_at ~= cjson.null and now >= tonumber(invite.expires_at) then return 0 end
local uses = tonumber(redis.call('HGET', KEYS[5], ARGV[1]) or '0')
if invite.max_uses ~= cjson.null and uses >= tonumber(invite.max_uses) then return 0 end
if redis.call('HEXISTS', KEYS[7], ARGV[2]) == 1 then return 1 end
if ARGV[4] ~= '1' then return -1 end
redis.call('HINCRBY', KEYS[5], ARGV[1], 1)
local seq = redis.call('HINCRBY', KEYS[1], 'enrol_seq', 1)
redis.call('HSET', KEYS[3], ARGV[2], seq .. ' ' .. ARGV[3])
return 2
"""

# KEYS: meta, moderation. ARGV: the entry as JSON. Returns 0 when there is no such room.
_APPEND_IF_ROOM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
return 1
"""

# KEYS: user. ARGV: field, value. Returns 0 when there is no such user.
_SET_USER_FIELD = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


# -- encoding ----------------------------------------------------------------------


def _username_key(username: str) -> str:
    """What makes two usernames "the same": case never distinguishes members."""
    return username.casefold()


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def _optional_float(value: object) -> float | None:
    return None if value is None else float(str(value))


def _split_seq(value: str) -> tuple[int, str]:
    """Values written as "<seq> <payload>" by the scripts."""
    seq, _, payload = value.partition(" ")
    return int(seq), payload


def _user(fields: Mapping[str, str]) -> User | None:
    if not fields:
        return None
    return User(
        id=fields["id"],
        username=fields["username"],
        display_name=fields["display_name"],
        role=parse_role(fields["role"]),
        password_hash=fields["password_hash"],
        created_at=float(fields["created_at"]),
    )


def _room_fields(room: Room) -> dict[str, str]:
    return {
        "id": room.id,
        "name": room.name,
        "description": room.description,
        "capacity": str(room.capacity),
        "guidelines": room.guidelines,
        "owner_id": room.owner_id,
        "schedule": _dumps(schedule_to_json(room.schedule)),
        "lobby_minutes": str(room.lobby_minutes),
        "visibility": room.visibility,
        "created_at": repr(room.created_at),
        "crisis_resources": room.crisis_resources,
        "archived": _flag(room.archived),
        "waiting_room": _flag(room.waiting_room),
        "show_passes": _flag(room.show_passes),
    }


def _room(meta: Mapping[str, str], facilitators: Sequence[str]) -> tuple[Room, int] | None:
    """The room and its creation seq, or None when it doesn't exist."""
    if not meta:
        return None
    room = Room(
        id=meta["id"],
        name=meta["name"],
        description=meta["description"],
        capacity=int(meta["capacity"]),
        guidelines=meta["guidelines"],
        owner_id=meta["owner_id"],
        facilitator_ids=tuple(facilitators),
        schedule=schedule_from_json(json.loads(meta["schedule"]), validate=False),
        lobby_minutes=int(meta["lobby_minutes"]),
        visibility=parse_visibility(meta["visibility"]),
        created_at=float(meta["created_at"]),
        crisis_resources=meta.get("crisis_resources", ""),
        archived=meta.get("archived") == "1",
        waiting_room=meta.get("waiting_room") == "1",
        show_passes=meta.get("show_passes") == "1",
    )
    return room, int(meta.get("seq", "0"))


def _oldest_first(rooms: Iterable[tuple[Room, int]]) -> list[Room]:
    return [room for room, _ in sorted(rooms, key=lambda pair: (pair[0].created_at, pair[1]))]


def _strings(raw: Mapping[Any, Any]) -> dict[str, str]:
    """A hash as read with ``decode_responses=True``: every key and value a str."""
    return {str(key): str(value) for key, value in raw.items()}


def _script_int(value: object) -> int:
    if isinstance(value, int):
        return value
    return int(str(value))


_C = TypeVar("_C")


def _unavailable_on_redis_errors(cls: type[_C]) -> type[_C]:
    """Turn every Redis or socket failure in a public coroutine into :class:`Unavailable`:
    the callers' one signal that nothing was done and it may be tried again."""

    def wrap(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(fn)
        async def translated(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except UNREACHABLE as error:
                raise Unavailable("the store is out of reach") from error

        return translated

    for name, fn in list(vars(cls).items()):
        if not name.startswith("_") and inspect.iscoroutinefunction(fn) and name != "close":
            setattr(cls, name, wrap(fn))
    return cls


@_unavailable_on_redis_errors
class RedisStore:
    """:class:`holdspace.storage.base.Store` on a Redis server (or, by design, a cluster)."""

    def __init__(self, client: Client, prefix: str = "hs:") -> None:
        """Use :meth:`open`: the client must decode responses to ``str``."""
        self._redis = client
        self._p = prefix
        self._closed = False
        self._write_room = self._script(_WRITE_ROOM)
        self._put_once = self._script(_PUT_ONCE)
        self._create_invite = self._script(_CREATE_INVITE)
        self._revoke_invite = self._script(_REVOKE_INVITE)
        self._redeem = self._script(_REDEEM)
        self._append_if_room = self._script(_APPEND_IF_ROOM)
        self._set_user_field = self._script(_SET_USER_FIELD)

    @classmethod
    async def open(cls, url: str, *, prefix: str = "hs:") -> RedisStore:
        """Connect to ``url`` (``redis://…``, or Sentinel's: see :mod:`holdspace.redis_connect`)
        and check the server answers."""
        # A blocking pool: a burst waits for a free connection rather than failing.
        client = connect(url, pool_size=32, wait=5, decode_responses=True, socket_timeout=5)
        try:
            await client.ping()
        except BaseException:
            await client.aclose()
            raise
        return cls(client, prefix)

    @property
    def prefix(self) -> str:
        """Every key this store writes starts with this."""
        return self._p

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._redis.aclose()

    def _script(self, source: str) -> AsyncScript:
        return self._redis.register_script(source)

    async def _run(self, script: AsyncScript, keys: Sequence[str], args: Sequence[str]) -> int:
        return _script_int(await script(keys=list(keys), args=list(args)))

    # -- keys --------------------------------------------------------------

    def _user_key(self, user_id: str) -> str:
        return f"{self._p}{{user:{user_id}}}"

    def _user_rooms_key(self, user_id: str) -> str:
        return f"{self._p}{{user:{user_id}}}:rooms"

    def _user_tokens_key(self, user_id: str) -> str:
        return f"{self._p}{{user:{user_id}}}:tokens"

    def _username_key(self, username: str) -> str:
        return f"{self._p}username:{_username_key(username)}"

    def _token_key(self, token_hash: str) -> str:
        return f"{self._p}token:{token_hash}"

    def _code_key(self, code_hash: str) -> str:
        return f"{self._p}invite-code:{code_hash}"

    def _room_key(self, room_id: str, part: str) -> str:
        return f"{self._p}{{room:{room_id}}}:{part}"

    @property
    def _users_key(self) -> str:
        return f"{self._p}users"

    @property
    def _rooms_key(self) -> str:
        return f"{self._p}rooms"

    @property
    def _rooms_seq_key(self) -> str:
        return f"{self._p}rooms:seq"

    # -- accounts --------------------------------------------------------

    async def create_user(
        self, *, username: str, display_name: str, password_hash: str, role: Role, now: float
    ) -> User:
        user = User(
            id=new_id("u"),
            username=username,
            display_name=display_name,
            role=role,
            password_hash=password_hash,
            created_at=now,
        )
        key = self._user_key(user.id)
        # The record first (unreachable until the name points at it), then the
        # name claimed atomically, so a taken name never leaves a half user behind.
        await self._redis.hset(
            key,
            mapping={
                "id": user.id,
                "username": user.username,
                "display_name": user.display_name,
                "role": user.role,
                "password_hash": user.password_hash,
                "created_at": repr(user.created_at),
            },
        )
        claimed = await self._redis.set(self._username_key(username), user.id, nx=True)
        if not claimed:
            await self._redis.delete(key)
            raise Conflict("That username is taken.", field="username")
        await self._redis.sadd(self._users_key, user.id)
        return user

    async def get_user(self, user_id: str) -> User | None:
        return _user(_strings(await self._redis.hgetall(self._user_key(user_id))))

    async def _user_exists(self, user_id: str) -> bool:
        return bool(await self._redis.exists(self._user_key(user_id)))

    async def _users(self, user_ids: Sequence[str]) -> list[User | None]:
        if not user_ids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                pipe.hgetall(self._user_key(user_id))
            rows: list[Any] = await pipe.execute()
        return [_user(row) for row in rows]

    async def get_user_by_username(self, username: str) -> User | None:
        user_id = await self._redis.get(self._username_key(username))
        if user_id is None:
            return None
        return await self.get_user(str(user_id))

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        args = ["password_hash", password_hash]
        if not await self._run(self._set_user_field, [self._user_key(user_id)], args):
            raise NotFound("No such user.")

    async def set_role(self, user_id: str, role: Role) -> None:
        if not await self._run(self._set_user_field, [self._user_key(user_id)], ["role", role]):
            raise NotFound("No such user.")

    async def set_display_name(self, user_id: str, display_name: str) -> None:
        key = self._user_key(user_id)
        if not await self._run(self._set_user_field, [key], ["display_name", display_name]):
            raise NotFound("No such user.")

    async def count_users(self) -> int:
        return int(await self._redis.scard(self._users_key))

    # -- auth tokens (only their hashes) ---------------------------------

    async def create_token(
        self, *, token_hash: str, user_id: str, now: float, expires_at: float
    ) -> None:
        if not await self._user_exists(user_id):
            raise NotFound("No such user.")
        # Redis forgets the token once it can no longer be used; the stored expiry
        # stays the authority, so a token is refused at expires_at to the instant.
        ttl = max(1, math.ceil(expires_at - now))
        record = _dumps({"user_id": user_id, "created_at": now, "expires_at": expires_at})
        if not await self._redis.set(self._token_key(token_hash), record, nx=True, ex=ttl):
            raise Conflict("Token already exists.")
        tokens = self._user_tokens_key(user_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.sadd(tokens, token_hash)
            # The index lives as long as the user's longest-lived token.
            pipe.expire(tokens, ttl, nx=True)
            pipe.expire(tokens, ttl, gt=True)
            await pipe.execute()

    async def get_token_user(self, token_hash: str, now: float) -> User | None:
        raw = await self._redis.get(self._token_key(token_hash))
        if raw is None:
            return None
        record = json.loads(str(raw))
        if not float(record["expires_at"]) > now:
            return None
        return await self.get_user(str(record["user_id"]))

    async def valid_tokens(self, token_hashes: Sequence[str], now: float) -> set[str]:
        if not token_hashes:
            return set()
        async with self._redis.pipeline(transaction=False) as pipe:
            for token_hash in token_hashes:
                pipe.get(self._token_key(token_hash))
            raws: list[Any] = await pipe.execute()
        return {
            token_hash
            for token_hash, raw in zip(token_hashes, raws, strict=True)
            if raw is not None and float(json.loads(str(raw))["expires_at"]) > now
        }

    async def revoke_token(self, token_hash: str) -> None:
        key = self._token_key(token_hash)
        raw = await self._redis.get(key)
        await self._redis.delete(key)
        if raw is not None:
            await self._redis.srem(
                self._user_tokens_key(str(json.loads(str(raw))["user_id"])), token_hash
            )

    async def revoke_user_tokens(self, user_id: str) -> None:
        tokens_key = self._user_tokens_key(user_id)
        hashes = [str(h) for h in await self._redis.smembers(tokens_key)]
        if not hashes:
            return
        # Delete what was seen and forget only those: a token issued meanwhile stays.
        await self._redis.delete(*(self._token_key(h) for h in hashes))
        await self._redis.srem(tokens_key, *hashes)

    # -- rooms -------------------------------------------------------------

    async def _require_users(self, user_ids: Iterable[str], message: str) -> None:
        wanted = list(dict.fromkeys(user_ids))
        if not wanted:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id in wanted:
                pipe.exists(self._user_key(user_id))
            found: list[Any] = await pipe.execute()
        if not all(found):
            raise NotFound(message)

    def _room_args(self, room: Room, extra: Mapping[str, str]) -> list[str]:
        fields = {**_room_fields(room), **extra}
        items = [item for pair in fields.items() for item in pair]
        return [str(len(items)), *items, *room.facilitator_ids]

    async def _index_for(self, room: Room, user_ids: Iterable[str]) -> None:
        user_ids = list(dict.fromkeys(user_ids))
        if not user_ids:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                pipe.zadd(self._user_rooms_key(user_id), {room.id: room.created_at})
            await pipe.execute()

    async def create_room(self, room: Room) -> None:
        await self._require_users(
            (room.owner_id, *room.facilitator_ids),
            "A room's owner and facilitators must be users.",
        )
        if await self._redis.exists(self._room_key(room.id, "meta")):
            raise Conflict("A room with that id already exists.")
        seq = int(await self._redis.incr(self._rooms_seq_key))
        keys = [self._room_key(room.id, "meta"), self._room_key(room.id, "facilitators")]
        args = ["new", *self._room_args(room, {"seq": str(seq)})]
        if not await self._run(self._write_room, keys, args):
            raise Conflict("A room with that id already exists.")
        await self._redis.zadd(self._rooms_key, {room.id: room.created_at})
        await self._index_for(room, room.facilitator_ids)

    async def _load_rooms(self, room_ids: Sequence[str]) -> list[tuple[Room, int] | None]:
        if not room_ids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for room_id in room_ids:
                pipe.hgetall(self._room_key(room_id, "meta"))
                pipe.lrange(self._room_key(room_id, "facilitators"), 0, -1)
            rows: list[Any] = await pipe.execute()
        return [_room(rows[i], rows[i + 1]) for i in range(0, len(rows), 2)]

    async def get_room(self, room_id: str) -> Room | None:
        # One MULTI on one slot: the fields and facilitators of the same version.
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(self._room_key(room_id, "meta"))
            pipe.lrange(self._room_key(room_id, "facilitators"), 0, -1)
            meta, facilitators = await pipe.execute()
        loaded = _room(meta, facilitators)
        return None if loaded is None else loaded[0]

    async def update_room(self, room: Room) -> None:
        """Replace every field of an existing room; NotFound if there is none."""
        await self._require_users(
            (room.owner_id, *room.facilitator_ids),
            "A room's owner and facilitators must be users.",
        )
        keys = [self._room_key(room.id, "meta"), self._room_key(room.id, "facilitators")]
        if not await self._run(self._write_room, keys, ["existing", *self._room_args(room, {})]):
            raise NotFound("No such room.")
        await self._redis.zadd(self._rooms_key, {room.id: room.created_at}, xx=True)
        await self._index_for(room, room.facilitator_ids)

    async def rooms_for_user(self, user_id: str) -> list[Room]:
        """Rooms the user facilitates or is enrolled in, oldest first; archived rooms are gone.

        The user's index only proposes rooms: each is checked against the room's own
        facilitators and roster, so a room a facilitator left drops out at once.
        """
        room_ids = [str(r) for r in await self._redis.zrange(self._user_rooms_key(user_id), 0, -1)]
        if not room_ids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for room_id in room_ids:
                pipe.hexists(self._room_key(room_id, "roster"), user_id)
            enrolled: list[Any] = await pipe.execute()
        found = []
        for loaded, is_enrolled in zip(await self._load_rooms(room_ids), enrolled, strict=True):
            if loaded is None or loaded[0].archived:
                continue
            if is_enrolled or loaded[0].is_facilitator(user_id):
                found.append(loaded)
        return _oldest_first(found)

    async def all_rooms(self) -> list[Room]:
        """Every room, archived ones included, oldest first."""
        room_ids = [str(r) for r in await self._redis.zrange(self._rooms_key, 0, -1)]
        return _oldest_first(r for r in await self._load_rooms(room_ids) if r is not None)

    # -- roster ------------------------------------------------------------

    async def enrol(self, room_id: str, user_id: str, now: float) -> None:
        """Idempotent: the first enrolment's time is kept."""
        if not await self._user_exists(user_id):
            raise NotFound("No such room or user.")
        keys = [self._room_key(room_id, "meta"), self._room_key(room_id, "roster")]
        result = await self._run(self._put_once, keys, [user_id, repr(now), "enrol_seq"])
        if result < 0:
            raise NotFound("No such room or user.")
        await self._index_enrolment(room_id, user_id)

    async def _index_enrolment(self, room_id: str, user_id: str) -> None:
        created_at = await self._redis.hget(self._room_key(room_id, "meta"), "created_at")
        if created_at is not None:
            await self._redis.zadd(self._user_rooms_key(user_id), {room_id: float(created_at)})

    async def is_enrolled(self, room_id: str, user_id: str) -> bool:
        return bool(await self._redis.hexists(self._room_key(room_id, "roster"), user_id))

    async def roster(self, room_id: str) -> list[User]:
        """Enrolled members in the order they joined."""
        entries = _strings(await self._redis.hgetall(self._room_key(room_id, "roster")))
        order: list[tuple[float, int, str]] = []
        for user_id, value in entries.items():
            seq, at = _split_seq(value)
            order.append((float(at), seq, user_id))
        order.sort()
        users = await self._users([user_id for _, _, user_id in order])
        return [u for u in users if u is not None]

    # -- invites -------------------------------------------------------------

    async def create_invite(self, invite: Invite) -> None:
        code_key = self._code_key(invite.code_hash)
        if not await self._redis.set(code_key, f"{invite.room_id} {invite.id}", nx=True):
            raise Conflict("That invite already exists.")
        fixed = _dumps(
            {
                "id": invite.id,
                "room_id": invite.room_id,
                "code_hash": invite.code_hash,
                "created_by": invite.created_by,
                "created_at": invite.created_at,
                "expires_at": invite.expires_at,
                "max_uses": invite.max_uses,
            }
        )
        keys = [
            self._room_key(invite.room_id, part)
            for part in ("meta", "invites", "invite-uses", "invite-revoked")
        ]
        revoked = "" if invite.revoked_at is None else repr(invite.revoked_at)
        result = await self._run(
            self._create_invite, keys, [invite.id, fixed, str(invite.uses), revoked]
        )
        if result <= 0:
            await self._redis.delete(code_key)
            if result < 0:
                raise NotFound("No such room.")
            raise Conflict("That invite already exists.")

    async def list_invites(self, room_id: str) -> list[Invite]:
        """Oldest first, revoked and used-up ones included so facilitators see the history."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(self._room_key(room_id, "invites"))
            pipe.hgetall(self._room_key(room_id, "invite-uses"))
            pipe.hgetall(self._room_key(room_id, "invite-revoked"))
            fixed, uses, revoked = await pipe.execute()
        found: list[tuple[float, int, Invite]] = []
        for invite_id, value in fixed.items():
            seq, payload = _split_seq(value)
            data = json.loads(payload)
            invite = Invite(
                id=str(data["id"]),
                room_id=str(data["room_id"]),
                code_hash=str(data["code_hash"]),
                created_by=str(data["created_by"]),
                created_at=float(data["created_at"]),
                expires_at=_optional_float(data["expires_at"]),
                max_uses=None if data["max_uses"] is None else int(data["max_uses"]),
                uses=int(uses.get(invite_id, "0")),
                revoked_at=_optional_float(revoked.get(invite_id)),
            )
            found.append((invite.created_at, seq, invite))
        found.sort(key=lambda entry: (entry[0], entry[1]))
        return [invite for _, _, invite in found]

    async def find_invite(self, code_hash: str) -> Invite | None:
        pointer = await self._redis.get(self._code_key(code_hash))
        if pointer is None:
            return None
        room_id, _, invite_id = str(pointer).partition(" ")
        return next((i for i in await self.list_invites(room_id) if i.id == invite_id), None)

    async def revoke_invite(self, room_id: str, invite_id: str, now: float) -> bool:
        """Revoking twice keeps the first revocation time."""
        keys = [self._room_key(room_id, "invites"), self._room_key(room_id, "invite-revoked")]
        return bool(await self._run(self._revoke_invite, keys, [invite_id, repr(now)]))

    async def redeem_invite(self, code_hash: str, user_id: str, now: float) -> str | None:
        """Atomically use one redemption and enrol the user; return the room id.

        None for an unknown, revoked, expired or used-up code, or an archived room.
        A member already enrolled — or a facilitator of the room — gets the room id
        without using the code up. Someone barred from the room who holds a usable
        code gets its id too, but is neither enrolled nor charged a use.

        The code's room never changes, so finding it is a plain read; every check
        and write after that is one script on the room's slot.
        """
        pointer = await self._redis.get(self._code_key(code_hash))
        if pointer is None:
            return None
        room_id, _, invite_id = str(pointer).partition(" ")
        keys = [
            self._room_key(room_id, part)
            for part in (
                "meta",
                "facilitators",
                "roster",
                "invites",
                "invite-uses",
                "invite-revoked",
                "bars",
            )
        ]
        user_exists = await self._user_exists(user_id)
        args = [invite_id, user_id, repr(now), _flag(user_exists)]
        result = await self._run(self._redeem, keys, args)
        if result < 0:
            raise NotFound("No such room or user.")
        if result == 0:
            return None
        if result == 2:
            await self._index_enrolment(room_id, user_id)
        return room_id

    # -- bars ----------------------------------------------------------------

    async def bar(
        self, room_id: str, user_id: str, *, by: str, reason: str | None, now: float
    ) -> None:
        """Idempotent: barring again keeps the first bar's author, reason and time."""
        if not await self._user_exists(user_id):
            raise NotFound("No such room or user.")
        keys = [self._room_key(room_id, "meta"), self._room_key(room_id, "bars")]
        payload = _dumps({"by": by, "reason": reason, "at": now})
        if await self._run(self._put_once, keys, [user_id, payload, "bar_seq"]) < 0:
            raise NotFound("No such room or user.")

    async def unbar(self, room_id: str, user_id: str) -> bool:
        return bool(await self._redis.hdel(self._room_key(room_id, "bars"), user_id))

    async def is_barred(self, room_id: str, user_id: str) -> bool:
        return bool(await self._redis.hexists(self._room_key(room_id, "bars"), user_id))

    async def bars(self, room_id: str) -> list[Bar]:
        """Oldest first."""
        entries = _strings(await self._redis.hgetall(self._room_key(room_id, "bars")))
        found: list[tuple[float, int, Bar]] = []
        for user_id, value in entries.items():
            seq, payload = _split_seq(value)
            data = json.loads(payload)
            bar = Bar(
                room_id=room_id,
                user_id=user_id,
                by=str(data["by"]),
                reason=_optional_str(data["reason"]),
                at=float(data["at"]),
            )
            found.append((bar.at, seq, bar))
        found.sort(key=lambda entry: (entry[0], entry[1]))
        return [bar for _, _, bar in found]

    # -- group agreement -----------------------------------------------------

    async def record_agreement(
        self, room_id: str, session_key: str, user_id: str, now: float
    ) -> None:
        """Idempotent: the first affirmation's time is kept."""
        if not await self._user_exists(user_id):
            raise NotFound("No such room or user.")
        keys = [self._room_key(room_id, "meta"), self._room_key(room_id, "agreements")]
        field = _dumps([session_key, user_id])
        if await self._run(self._put_once, keys, [field, repr(now), ""]) < 0:
            raise NotFound("No such room or user.")

    async def has_agreed(self, room_id: str, session_key: str, user_id: str) -> bool:
        field = _dumps([session_key, user_id])
        return bool(await self._redis.hexists(self._room_key(room_id, "agreements"), field))

    # -- ended sessions ------------------------------------------------------

    async def end_session(self, room_id: str, session_key: str, now: float) -> None:
        """Idempotent: the first end's time is kept."""
        keys = [self._room_key(room_id, "meta"), self._room_key(room_id, "ended")]
        if await self._run(self._put_once, keys, [session_key, repr(now), ""]) < 0:
            raise NotFound("No such room.")

    async def session_ended(self, room_id: str, session_key: str) -> bool:
        return bool(await self._redis.hexists(self._room_key(room_id, "ended"), session_key))

    # -- moderation record ---------------------------------------------------

    async def append_moderation(self, entry: ModerationEntry) -> None:
        payload = _dumps(
            {
                "at": entry.at,
                "actor_id": entry.actor_id,
                "action": entry.action,
                "target_id": entry.target_id,
                "session_key": entry.session_key,
                "reason": entry.reason,
                "detail": entry.detail,
            }
        )
        keys = [self._room_key(entry.room_id, "meta"), self._room_key(entry.room_id, "moderation")]
        if not await self._run(self._append_if_room, keys, [payload]):
            raise NotFound("No such room.")

    async def moderation_record(self, room_id: str, limit: int = 500) -> list[ModerationEntry]:
        """The last ``limit`` entries in the order they were appended, newest last."""
        if limit <= 0:
            return []
        raw = await self._redis.lrange(self._room_key(room_id, "moderation"), -limit, -1)
        entries = []
        for item in raw:
            data = json.loads(str(item))
            entries.append(
                ModerationEntry(
                    room_id=room_id,
                    at=float(data["at"]),
                    actor_id=_optional_str(data["actor_id"]),
                    action=str(data["action"]),
                    target_id=_optional_str(data["target_id"]),
                    session_key=_optional_str(data["session_key"]),
                    reason=_optional_str(data["reason"]),
                    detail=data["detail"],
                )
            )
        return entries
