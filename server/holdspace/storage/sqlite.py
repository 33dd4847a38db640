"""The embedded store: one SQLite file, no server to run.

One connection lives on one dedicated worker thread and every query runs there,
so the event loop never waits on the disk and sqlite3's one-thread rule holds.
Because that thread runs one job at a time, each method is also serialised
within the process; multi-statement writes still run in ``BEGIN IMMEDIATE``
transactions so another process on the same file (the CLI) cannot interleave.

There are no message tables: message text is never written here.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from holdspace.errors import Conflict, NotFound
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
from holdspace.schedule import schedule_from_json, schedule_to_json

T = TypeVar("T")

MEMORY = ":memory:"

# Numbered migrations: MIGRATIONS[n - 1] takes a database from user_version n - 1
# to n. Only ever append; never edit one that has shipped.
MIGRATIONS: tuple[str, ...] = (
    # 1: the records.
    """
    CREATE TABLE users (
        id            TEXT PRIMARY KEY,
        username      TEXT NOT NULL,
        username_key  TEXT NOT NULL UNIQUE,
        display_name  TEXT NOT NULL,
        role          TEXT NOT NULL CHECK (role IN ('member', 'facilitator', 'admin')),
        password_hash TEXT NOT NULL,
        created_at    REAL NOT NULL
    );
    CREATE TABLE auth_tokens (
        token_hash TEXT PRIMARY KEY,
        user_id    TEXT NOT NULL REFERENCES users (id),
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE TABLE rooms (
        id               TEXT PRIMARY KEY,
        name             TEXT NOT NULL,
        description      TEXT NOT NULL,
        capacity         INTEGER NOT NULL,
        guidelines       TEXT NOT NULL,
        owner_id         TEXT NOT NULL REFERENCES users (id),
        schedule_json    TEXT NOT NULL,
        lobby_minutes    INTEGER NOT NULL,
        visibility       TEXT NOT NULL CHECK (visibility IN ('closed', 'open')),
        created_at       REAL NOT NULL,
        crisis_resources TEXT NOT NULL DEFAULT '',
        archived         INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE room_facilitators (
        room_id  TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        user_id  TEXT NOT NULL REFERENCES users (id),
        PRIMARY KEY (room_id, position)
    );
    CREATE TABLE enrolments (
        room_id     TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
        user_id     TEXT NOT NULL REFERENCES users (id),
        enrolled_at REAL NOT NULL,
        PRIMARY KEY (room_id, user_id)
    );
    CREATE TABLE invites (
        id         TEXT PRIMARY KEY,
        room_id    TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
        code_hash  TEXT NOT NULL UNIQUE,
        created_by TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL,
        max_uses   INTEGER,
        uses       INTEGER NOT NULL DEFAULT 0,
        revoked_at REAL
    );
    CREATE TABLE agreements (
        room_id     TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
        session_key TEXT NOT NULL,
        user_id     TEXT NOT NULL REFERENCES users (id),
        at          REAL NOT NULL,
        PRIMARY KEY (room_id, session_key, user_id)
    );
    CREATE TABLE moderation (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        room_id     TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
        at          REAL NOT NULL,
        actor_id    TEXT,
        action      TEXT NOT NULL,
        target_id   TEXT,
        session_key TEXT,
        reason      TEXT,
        detail_json TEXT NOT NULL DEFAULT '{}'
    );
    """,
    # 2: the lookups the server does on every request or join.
    """
    CREATE INDEX auth_tokens_by_user ON auth_tokens (user_id);
    CREATE INDEX auth_tokens_by_expiry ON auth_tokens (expires_at);
    CREATE INDEX room_facilitators_by_user ON room_facilitators (user_id);
    CREATE INDEX enrolments_by_user ON enrolments (user_id);
    CREATE INDEX invites_by_room ON invites (room_id, created_at);
    CREATE INDEX moderation_by_room ON moderation (room_id, seq);
    """,
    # 3: sessions a facilitator ended early stay ended for the rest of their window.
    """
    CREATE TABLE ended_sessions (
        room_id     TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
        session_key TEXT NOT NULL,
        ended_at    REAL NOT NULL,
        PRIMARY KEY (room_id, session_key)
    );
    """,
    # 4: facilitators can bar a member from a room; rooms can hold arrivals in a
    # waiting room until a facilitator admits them.
    """
    CREATE TABLE bars (
        room_id   TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
        user_id   TEXT NOT NULL REFERENCES users (id),
        barred_by TEXT NOT NULL,
        reason    TEXT,
        at        REAL NOT NULL,
        PRIMARY KEY (room_id, user_id)
    );
    ALTER TABLE rooms ADD COLUMN waiting_room INTEGER NOT NULL DEFAULT 0;
    """,
    # 5: a group may let every member see who passed in a round (by default only the
    # facilitators do).
    """
    ALTER TABLE rooms ADD COLUMN show_passes INTEGER NOT NULL DEFAULT 0;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def migrate(conn: sqlite3.Connection, migrations: Sequence[str] = MIGRATIONS) -> int:
    """Apply the migrations this database has not seen yet, each in its own transaction.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Returns the
    resulting version. A database from a newer server is refused rather than
    guessed at.
    """
    current = schema_version(conn)
    if current > len(migrations):
        raise RuntimeError(
            f"database schema version {current} is newer than this server "
            f"understands ({len(migrations)}); upgrade Holdspace"
        )
    for version in range(current + 1, len(migrations) + 1):
        try:
            # executescript commits any open transaction first, so the BEGIN and the
            # version bump travel inside the script itself.
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{migrations[version - 1]}\n"
                f"PRAGMA user_version = {version};\nCOMMIT;"
            )
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return len(migrations)


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _constraint(error: sqlite3.IntegrityError) -> str:
    return getattr(error, "sqlite_errorname", "")


def _is_unique_violation(error: sqlite3.IntegrityError) -> bool:
    return _constraint(error) in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY")


def _is_missing_reference(error: sqlite3.IntegrityError) -> bool:
    return _constraint(error) == "SQLITE_CONSTRAINT_FOREIGNKEY"


def _prepare_file(path: Path) -> None:
    """Make the file owner-only before SQLite first writes to it (its -wal/-shm copy this)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def _connect(path: str) -> sqlite3.Connection:
    if path != MEMORY:
        _prepare_file(Path(path))
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 5000")
        if path != MEMORY:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


# -- rows to records -------------------------------------------------------------

_USER_COLUMNS = "u.id, u.username, u.display_name, u.role, u.password_hash, u.created_at"
_ROOM_COLUMNS = (
    "r.id, r.name, r.description, r.capacity, r.guidelines, r.owner_id, r.schedule_json,"
    " r.lobby_minutes, r.visibility, r.created_at, r.crisis_resources, r.archived,"
    " r.waiting_room, r.show_passes"
)
_INVITE_COLUMNS = (
    "id, room_id, code_hash, created_by, created_at, expires_at, max_uses, uses, revoked_at"
)


def _user(row: Sequence[Any]) -> User:
    id_, username, display_name, role, password_hash, created_at = row
    return User(
        id=str(id_),
        username=str(username),
        display_name=str(display_name),
        role=parse_role(str(role)),
        password_hash=str(password_hash),
        created_at=float(created_at),
    )


def _facilitators(conn: sqlite3.Connection, room_id: str) -> tuple[str, ...]:
    rows = conn.execute(
        "SELECT user_id FROM room_facilitators WHERE room_id = ? ORDER BY position",
        (room_id,),
    ).fetchall()
    return tuple(str(user_id) for (user_id,) in rows)


def _room(conn: sqlite3.Connection, row: Sequence[Any]) -> Room:
    (
        id_,
        name,
        description,
        capacity,
        guidelines,
        owner_id,
        schedule_json,
        lobby_minutes,
        visibility,
        created_at,
        crisis_resources,
        archived,
        waiting_room,
        show_passes,
    ) = row
    room_id = str(id_)
    return Room(
        id=room_id,
        name=str(name),
        description=str(description),
        capacity=int(capacity),
        guidelines=str(guidelines),
        owner_id=str(owner_id),
        facilitator_ids=_facilitators(conn, room_id),
        schedule=schedule_from_json(json.loads(str(schedule_json)), validate=False),
        lobby_minutes=int(lobby_minutes),
        visibility=parse_visibility(str(visibility)),
        created_at=float(created_at),
        crisis_resources=str(crisis_resources),
        archived=bool(archived),
        waiting_room=bool(waiting_room),
        show_passes=bool(show_passes),
    )


def _invite(row: Sequence[Any]) -> Invite:
    id_, room_id, code_hash, created_by, created_at, expires_at, max_uses, uses, revoked_at = row
    return Invite(
        id=str(id_),
        room_id=str(room_id),
        code_hash=str(code_hash),
        created_by=str(created_by),
        created_at=float(created_at),
        expires_at=None if expires_at is None else float(expires_at),
        max_uses=None if max_uses is None else int(max_uses),
        uses=int(uses),
        revoked_at=None if revoked_at is None else float(revoked_at),
    )


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def _bar(row: Sequence[Any]) -> Bar:
    room_id, user_id, barred_by, reason, at = row
    return Bar(
        room_id=str(room_id),
        user_id=str(user_id),
        by=str(barred_by),
        reason=_optional_str(reason),
        at=float(at),
    )


def _moderation(row: Sequence[Any]) -> ModerationEntry:
    room_id, at, actor_id, action, target_id, session_key, reason, detail_json = row
    return ModerationEntry(
        room_id=str(room_id),
        at=float(at),
        actor_id=_optional_str(actor_id),
        action=str(action),
        target_id=_optional_str(target_id),
        session_key=_optional_str(session_key),
        reason=_optional_str(reason),
        detail=json.loads(str(detail_json)),
    )


def _username_key(username: str) -> str:
    """What makes two usernames "the same": case never distinguishes members."""
    return username.casefold()


class SQLiteStore:
    """:class:`holdspace.storage.base.Store` on one SQLite file (or ``:memory:``)."""

    def __init__(self, conn: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        """Use :meth:`open`: the connection must belong to the executor's only thread."""
        self._conn = conn
        self._executor = executor
        self._closed = False

    @classmethod
    async def open(cls, path: str | os.PathLike[str]) -> SQLiteStore:
        """Open (creating and migrating as needed) the database at ``path``."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="holdspace-sqlite")
        try:
            conn = await asyncio.get_running_loop().run_in_executor(
                executor, _connect, os.fspath(path)
            )
        except BaseException:
            executor.shutdown(wait=True)
            raise
        return cls(conn, executor)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._run(lambda conn: conn.close())
        finally:
            self._executor.shutdown(wait=True)

    async def _run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, job, self._conn)

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

        def job(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO users (id, username, username_key, display_name, role,"
                    " password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        user.id,
                        user.username,
                        _username_key(user.username),
                        user.display_name,
                        user.role,
                        user.password_hash,
                        user.created_at,
                    ),
                )
            except sqlite3.IntegrityError as error:
                if _is_unique_violation(error):
                    raise Conflict("That username is taken.", field="username") from None
                raise

        await self._run(job)
        return user

    async def get_user(self, user_id: str) -> User | None:
        def job(conn: sqlite3.Connection) -> User | None:
            row = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM users u WHERE u.id = ?",  # noqa: S608
                (user_id,),
            ).fetchone()
            return None if row is None else _user(row)

        return await self._run(job)

    async def get_user_by_username(self, username: str) -> User | None:
        def job(conn: sqlite3.Connection) -> User | None:
            row = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM users u WHERE u.username_key = ?",  # noqa: S608
                (_username_key(username),),
            ).fetchone()
            return None if row is None else _user(row)

        return await self._run(job)

    async def _update_user(self, user_id: str, column: str, value: str) -> None:
        def job(conn: sqlite3.Connection) -> None:
            cursor = conn.execute(
                f"UPDATE users SET {column} = ? WHERE id = ?",  # noqa: S608
                (value, user_id),
            )
            if cursor.rowcount == 0:
                raise NotFound("No such user.")

        await self._run(job)

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        await self._update_user(user_id, "password_hash", password_hash)

    async def set_role(self, user_id: str, role: Role) -> None:
        await self._update_user(user_id, "role", role)

    async def set_display_name(self, user_id: str, display_name: str) -> None:
        await self._update_user(user_id, "display_name", display_name)

    async def count_users(self) -> int:
        def job(conn: sqlite3.Connection) -> int:
            count: int = conn.execute("SELECT COUNT(*) FROM users").fetchone()[0]
            return count

        return await self._run(job)

    # -- auth tokens (only their hashes) ---------------------------------

    async def create_token(
        self, *, token_hash: str, user_id: str, now: float, expires_at: float
    ) -> None:
        def job(conn: sqlite3.Connection) -> None:
            with _transaction(conn):
                # Expired tokens can never be used again; dropping them here keeps the
                # table as small as the number of live sessions.
                conn.execute("DELETE FROM auth_tokens WHERE expires_at <= ?", (now,))
                try:
                    conn.execute(
                        "INSERT INTO auth_tokens (token_hash, user_id, created_at, expires_at)"
                        " VALUES (?, ?, ?, ?)",
                        (token_hash, user_id, now, expires_at),
                    )
                except sqlite3.IntegrityError as error:
                    if _is_missing_reference(error):
                        raise NotFound("No such user.") from None
                    if _is_unique_violation(error):
                        raise Conflict("Token already exists.") from None
                    raise

        await self._run(job)

    async def get_token_user(self, token_hash: str, now: float) -> User | None:
        def job(conn: sqlite3.Connection) -> User | None:
            row = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM auth_tokens t JOIN users u ON u.id = t.user_id"  # noqa: S608
                " WHERE t.token_hash = ? AND t.expires_at > ?",
                (token_hash, now),
            ).fetchone()
            return None if row is None else _user(row)

        return await self._run(job)

    async def valid_tokens(self, token_hashes: Sequence[str], now: float) -> set[str]:
        wanted = list(token_hashes)

        def job(conn: sqlite3.Connection) -> set[str]:
            found: set[str] = set()
            for start in range(0, len(wanted), 500):  # well within SQLite's bound on ?s
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT token_hash FROM auth_tokens WHERE token_hash IN ({marks})"  # noqa: S608
                    " AND expires_at > ?",
                    (*chunk, now),
                ).fetchall()
                found.update(str(row[0]) for row in rows)
            return found

        return await self._run(job) if wanted else set()

    async def revoke_token(self, token_hash: str) -> None:
        await self._run(
            lambda conn: conn.execute("DELETE FROM auth_tokens WHERE token_hash = ?", (token_hash,))
        )

    async def revoke_user_tokens(self, user_id: str) -> None:
        await self._run(
            lambda conn: conn.execute("DELETE FROM auth_tokens WHERE user_id = ?", (user_id,))
        )

    # -- rooms -------------------------------------------------------------

    @staticmethod
    def _room_values(room: Room) -> tuple[object, ...]:
        return (
            room.name,
            room.description,
            room.capacity,
            room.guidelines,
            room.owner_id,
            json.dumps(schedule_to_json(room.schedule), separators=(",", ":")),
            room.lobby_minutes,
            room.visibility,
            room.created_at,
            room.crisis_resources,
            int(room.archived),
            int(room.waiting_room),
            int(room.show_passes),
            room.id,
        )

    @staticmethod
    def _write_facilitators(conn: sqlite3.Connection, room: Room) -> None:
        conn.execute("DELETE FROM room_facilitators WHERE room_id = ?", (room.id,))
        conn.executemany(
            "INSERT INTO room_facilitators (room_id, position, user_id) VALUES (?, ?, ?)",
            [(room.id, i, user_id) for i, user_id in enumerate(room.facilitator_ids)],
        )

    async def create_room(self, room: Room) -> None:
        def job(conn: sqlite3.Connection) -> None:
            try:
                with _transaction(conn):
                    conn.execute(
                        "INSERT INTO rooms (name, description, capacity, guidelines, owner_id,"
                        " schedule_json, lobby_minutes, visibility, created_at,"
                        " crisis_resources, archived, waiting_room, show_passes, id)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        self._room_values(room),
                    )
                    self._write_facilitators(conn, room)
            except sqlite3.IntegrityError as error:
                if _is_unique_violation(error):
                    raise Conflict("A room with that id already exists.") from None
                if _is_missing_reference(error):
                    raise NotFound("A room's owner and facilitators must be users.") from None
                raise

        await self._run(job)

    async def get_room(self, room_id: str) -> Room | None:
        def job(conn: sqlite3.Connection) -> Room | None:
            row = conn.execute(
                f"SELECT {_ROOM_COLUMNS} FROM rooms r WHERE r.id = ?",  # noqa: S608
                (room_id,),
            ).fetchone()
            return None if row is None else _room(conn, row)

        return await self._run(job)

    async def update_room(self, room: Room) -> None:
        """Replace every field of an existing room; NotFound if there is none."""

        def job(conn: sqlite3.Connection) -> None:
            try:
                with _transaction(conn):
                    cursor = conn.execute(
                        "UPDATE rooms SET name = ?, description = ?, capacity = ?,"
                        " guidelines = ?, owner_id = ?, schedule_json = ?, lobby_minutes = ?,"
                        " visibility = ?, created_at = ?, crisis_resources = ?, archived = ?,"
                        " waiting_room = ?, show_passes = ? WHERE id = ?",
                        self._room_values(room),
                    )
                    if cursor.rowcount == 0:
                        raise NotFound("No such room.")
                    self._write_facilitators(conn, room)
            except sqlite3.IntegrityError as error:
                if _is_missing_reference(error):
                    raise NotFound("A room's owner and facilitators must be users.") from None
                raise

        await self._run(job)

    async def rooms_for_user(self, user_id: str) -> list[Room]:
        """Rooms the user facilitates or is enrolled in, oldest first; archived rooms are gone."""

        def job(conn: sqlite3.Connection) -> list[Room]:
            rows = conn.execute(
                f"SELECT {_ROOM_COLUMNS} FROM rooms r WHERE r.archived = 0 AND ("  # noqa: S608
                " r.id IN (SELECT room_id FROM room_facilitators WHERE user_id = ?)"
                " OR r.id IN (SELECT room_id FROM enrolments WHERE user_id = ?))"
                " ORDER BY r.created_at, r.rowid",
                (user_id, user_id),
            ).fetchall()
            return [_room(conn, row) for row in rows]

        return await self._run(job)

    async def all_rooms(self) -> list[Room]:
        """Every room, archived ones included, oldest first."""

        def job(conn: sqlite3.Connection) -> list[Room]:
            rows = conn.execute(
                f"SELECT {_ROOM_COLUMNS} FROM rooms r ORDER BY r.created_at, r.rowid"  # noqa: S608
            ).fetchall()
            return [_room(conn, row) for row in rows]

        return await self._run(job)

    # -- roster ------------------------------------------------------------

    @staticmethod
    def _enrol(conn: sqlite3.Connection, room_id: str, user_id: str, now: float) -> None:
        try:
            conn.execute(
                "INSERT INTO enrolments (room_id, user_id, enrolled_at) VALUES (?, ?, ?)"
                " ON CONFLICT (room_id, user_id) DO NOTHING",
                (room_id, user_id, now),
            )
        except sqlite3.IntegrityError as error:
            if _is_missing_reference(error):
                raise NotFound("No such room or user.") from None
            raise

    async def enrol(self, room_id: str, user_id: str, now: float) -> None:
        await self._run(lambda conn: self._enrol(conn, room_id, user_id, now))

    async def is_enrolled(self, room_id: str, user_id: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM enrolments WHERE room_id = ? AND user_id = ?", (room_id, user_id)
            ).fetchone()
            return row is not None

        return await self._run(job)

    async def roster(self, room_id: str) -> list[User]:
        """Enrolled members in the order they joined."""

        def job(conn: sqlite3.Connection) -> list[User]:
            rows = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM enrolments e JOIN users u ON u.id = e.user_id"  # noqa: S608
                " WHERE e.room_id = ? ORDER BY e.enrolled_at, e.rowid",
                (room_id,),
            ).fetchall()
            return [_user(row) for row in rows]

        return await self._run(job)

    # -- invites -------------------------------------------------------------

    async def create_invite(self, invite: Invite) -> None:
        def job(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    f"INSERT INTO invites ({_INVITE_COLUMNS})"  # noqa: S608
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        invite.id,
                        invite.room_id,
                        invite.code_hash,
                        invite.created_by,
                        invite.created_at,
                        invite.expires_at,
                        invite.max_uses,
                        invite.uses,
                        invite.revoked_at,
                    ),
                )
            except sqlite3.IntegrityError as error:
                if _is_unique_violation(error):
                    raise Conflict("That invite already exists.") from None
                if _is_missing_reference(error):
                    raise NotFound("No such room.") from None
                raise

        await self._run(job)

    async def list_invites(self, room_id: str) -> list[Invite]:
        """Oldest first, revoked and used-up ones included so facilitators see the history."""

        def job(conn: sqlite3.Connection) -> list[Invite]:
            rows = conn.execute(
                f"SELECT {_INVITE_COLUMNS} FROM invites WHERE room_id = ?"  # noqa: S608
                " ORDER BY created_at, rowid",
                (room_id,),
            ).fetchall()
            return [_invite(row) for row in rows]

        return await self._run(job)

    async def find_invite(self, code_hash: str) -> Invite | None:
        def job(conn: sqlite3.Connection) -> Invite | None:
            row = conn.execute(
                f"SELECT {_INVITE_COLUMNS} FROM invites WHERE code_hash = ?",  # noqa: S608
                (code_hash,),
            ).fetchone()
            return None if row is None else _invite(row)

        return await self._run(job)

    async def revoke_invite(self, room_id: str, invite_id: str, now: float) -> bool:
        """Revoking twice keeps the first revocation time."""

        def job(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE invites SET revoked_at = COALESCE(revoked_at, ?)"
                " WHERE id = ? AND room_id = ?",
                (now, invite_id, room_id),
            )
            return cursor.rowcount > 0

        return await self._run(job)

    async def redeem_invite(self, code_hash: str, user_id: str, now: float) -> str | None:
        """Atomically use one redemption and enrol the user; return the room id.

        None for an unknown, revoked, expired or used-up code, or an archived room.
        A member already enrolled — or a facilitator of the room — gets the room id
        without using the code up, so reopening an invite link is harmless. Someone
        barred from the room who holds a usable code gets its id too, but is neither
        enrolled nor charged a use: the caller tells them why.
        """

        def job(conn: sqlite3.Connection) -> str | None:
            with _transaction(conn):
                row = conn.execute(
                    f"SELECT {_INVITE_COLUMNS} FROM invites WHERE code_hash = ?",  # noqa: S608
                    (code_hash,),
                ).fetchone()
                if row is None:
                    return None
                invite = _invite(row)
                room = conn.execute(
                    "SELECT archived FROM rooms WHERE id = ?", (invite.room_id,)
                ).fetchone()
                if room is None or room[0]:
                    return None
                already_in = conn.execute(
                    "SELECT 1 FROM enrolments WHERE room_id = ? AND user_id = ?"
                    " UNION ALL"
                    " SELECT 1 FROM room_facilitators WHERE room_id = ? AND user_id = ?",
                    (invite.room_id, user_id, invite.room_id, user_id),
                ).fetchone()
                if already_in is not None:
                    return invite.room_id
                if not invite.usable(now):
                    return None
                barred = conn.execute(
                    "SELECT 1 FROM bars WHERE room_id = ? AND user_id = ?",
                    (invite.room_id, user_id),
                ).fetchone()
                if barred is not None:
                    return invite.room_id
                conn.execute("UPDATE invites SET uses = uses + 1 WHERE id = ?", (invite.id,))
                self._enrol(conn, invite.room_id, user_id, now)
                return invite.room_id

        return await self._run(job)

    # -- bars ----------------------------------------------------------------

    async def bar(
        self, room_id: str, user_id: str, *, by: str, reason: str | None, now: float
    ) -> None:
        """Idempotent: barring again keeps the first bar's author, reason and time."""

        def job(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO bars (room_id, user_id, barred_by, reason, at)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (room_id, user_id, by, reason, now),
                )
            except sqlite3.IntegrityError as error:
                if _is_missing_reference(error):
                    raise NotFound("No such room or user.") from None
                raise

        await self._run(job)

    async def unbar(self, room_id: str, user_id: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "DELETE FROM bars WHERE room_id = ? AND user_id = ?", (room_id, user_id)
            )
            return cursor.rowcount > 0

        return await self._run(job)

    async def is_barred(self, room_id: str, user_id: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM bars WHERE room_id = ? AND user_id = ?", (room_id, user_id)
            ).fetchone()
            return row is not None

        return await self._run(job)

    async def bars(self, room_id: str) -> list[Bar]:
        """Oldest first."""

        def job(conn: sqlite3.Connection) -> list[Bar]:
            rows = conn.execute(
                "SELECT room_id, user_id, barred_by, reason, at FROM bars"
                " WHERE room_id = ? ORDER BY at, rowid",
                (room_id,),
            ).fetchall()
            return [_bar(row) for row in rows]

        return await self._run(job)

    # -- group agreement -----------------------------------------------------

    async def record_agreement(
        self, room_id: str, session_key: str, user_id: str, now: float
    ) -> None:
        """Idempotent: the first affirmation's time is kept."""

        def job(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO agreements (room_id, session_key, user_id, at)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (room_id, session_key, user_id, now),
                )
            except sqlite3.IntegrityError as error:
                if _is_missing_reference(error):
                    raise NotFound("No such room or user.") from None
                raise

        await self._run(job)

    async def has_agreed(self, room_id: str, session_key: str, user_id: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM agreements WHERE room_id = ? AND session_key = ? AND user_id = ?",
                (room_id, session_key, user_id),
            ).fetchone()
            return row is not None

        return await self._run(job)

    # -- ended sessions ------------------------------------------------------

    async def end_session(self, room_id: str, session_key: str, now: float) -> None:
        """Idempotent: the first end's time is kept."""

        def job(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO ended_sessions (room_id, session_key, ended_at)"
                    " VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    (room_id, session_key, now),
                )
            except sqlite3.IntegrityError as error:
                if _is_missing_reference(error):
                    raise NotFound("No such room.") from None
                raise

        await self._run(job)

    async def session_ended(self, room_id: str, session_key: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM ended_sessions WHERE room_id = ? AND session_key = ?",
                (room_id, session_key),
            ).fetchone()
            return row is not None

        return await self._run(job)

    # -- moderation record ---------------------------------------------------

    async def append_moderation(self, entry: ModerationEntry) -> None:
        def job(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO moderation (room_id, at, actor_id, action, target_id,"
                    " session_key, reason, detail_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        entry.room_id,
                        entry.at,
                        entry.actor_id,
                        entry.action,
                        entry.target_id,
                        entry.session_key,
                        entry.reason,
                        json.dumps(entry.detail, separators=(",", ":")),
                    ),
                )
            except sqlite3.IntegrityError as error:
                if _is_missing_reference(error):
                    raise NotFound("No such room.") from None
                raise

        await self._run(job)

    async def moderation_record(self, room_id: str, limit: int = 500) -> list[ModerationEntry]:
        """The last ``limit`` entries in the order they were appended, newest last."""
        if limit <= 0:
            return []

        def job(conn: sqlite3.Connection) -> list[ModerationEntry]:
            rows = conn.execute(
                "SELECT room_id, at, actor_id, action, target_id, session_key, reason,"
                " detail_json FROM moderation WHERE room_id = ? ORDER BY seq DESC LIMIT ?",
                (room_id, limit),
            ).fetchall()
            return [_moderation(row) for row in reversed(rows)]

        return await self._run(job)
