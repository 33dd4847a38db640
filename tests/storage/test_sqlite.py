"""What only the SQLite store promises: files, permissions, journal mode and migrations."""

from __future__ import annotations

import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import pytest

from holdspace.errors import NotFound
from holdspace.records import Room, Schedule
from holdspace.storage.sqlite import MIGRATIONS, SCHEMA_VERSION, SQLiteStore, migrate

T0 = 1_800_000_000.0


def raw(path: Path) -> closing[sqlite3.Connection]:
    """A plain connection for looking underneath the store."""
    return closing(sqlite3.connect(path, isolation_level=None))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def tables(path: Path) -> set[str]:
    with raw(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows}


async def test_creates_parent_directories_and_owner_only_files(tmp_path: Path) -> None:
    """The database and its WAL are readable by the owner alone, in directories made for it."""
    path = tmp_path / "a" / "b" / "holdspace.db"
    store = await SQLiteStore.open(path)
    try:
        await store.create_user(
            username="robin", display_name="Robin", password_hash="h", role="member", now=T0
        )
        assert mode(path) == 0o600
        wal = path.with_name(path.name + "-wal")
        assert wal.exists()
        assert mode(wal) == 0o600
    finally:
        await store.close()


async def test_tightens_permissions_of_existing_file(tmp_path: Path) -> None:
    """A database file left world-readable is made owner-only on open."""
    path = tmp_path / "holdspace.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    store = await SQLiteStore.open(path)
    await store.close()
    assert mode(path) == 0o600


async def test_uses_wal_journal(tmp_path: Path) -> None:
    """File databases run in WAL mode so readers never block the writer."""
    path = tmp_path / "holdspace.db"
    store = await SQLiteStore.open(path)
    await store.close()
    with raw(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_data_survives_reopen(tmp_path: Path) -> None:
    """Whatever was written is there after closing and opening again."""
    path = tmp_path / "holdspace.db"
    store = await SQLiteStore.open(path)
    user = await store.create_user(
        username="robin", display_name="Robin", password_hash="h", role="member", now=T0
    )
    await store.close()
    store = await SQLiteStore.open(path)
    try:
        assert await store.get_user_by_username("ROBIN") == user
    finally:
        await store.close()


async def test_reopening_is_idempotent(tmp_path: Path) -> None:
    """Opening a current database again applies nothing and keeps the version."""
    path = tmp_path / "holdspace.db"
    for _ in range(2):
        store = await SQLiteStore.open(path)
        await store.close()
    with raw(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


async def test_upgrades_a_version_1_database(tmp_path: Path) -> None:
    """A database at version 1 gets the later migrations and keeps its rows."""
    path = tmp_path / "holdspace.db"
    with raw(path) as conn:
        assert migrate(conn, MIGRATIONS[:1]) == 1
        conn.execute(
            "INSERT INTO users (id, username, username_key, display_name, role, password_hash,"
            " created_at) VALUES ('u_old', 'Old', 'old', 'Old timer', 'member', 'h', 1.0)"
        )
    store = await SQLiteStore.open(path)
    try:
        user = await store.get_user_by_username("old")
        assert user is not None
        assert user.id == "u_old"
    finally:
        await store.close()
    with raw(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        index = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'auth_tokens_by_user'"
        ).fetchone()
        assert index is not None


async def test_upgrading_a_version_3_database_keeps_rooms_without_a_waiting_room(
    tmp_path: Path,
) -> None:
    """Rooms from before migration 4 read back with the waiting room off and no bars."""
    path = tmp_path / "holdspace.db"
    with raw(path) as conn:
        assert migrate(conn, MIGRATIONS[:3]) == 3
        conn.execute(
            "INSERT INTO users (id, username, username_key, display_name, role, password_hash,"
            " created_at) VALUES ('u_old', 'Old', 'old', 'Old timer', 'facilitator', 'h', 1.0)"
        )
        conn.execute(
            "INSERT INTO rooms (id, name, description, capacity, guidelines, owner_id,"
            " schedule_json, lobby_minutes, visibility, created_at)"
            " VALUES ('r_old', 'Old room', '', 8, '', 'u_old', '{}', 10, 'closed', 1.0)"
        )
        conn.execute(
            "INSERT INTO room_facilitators (room_id, position, user_id)"
            " VALUES ('r_old', 0, 'u_old')"
        )
    store = await SQLiteStore.open(path)
    try:
        room = await store.get_room("r_old")
        assert room is not None
        assert room.waiting_room is False
        assert room.show_passes is False
        assert room.facilitator_ids == ("u_old",)
        assert await store.bars("r_old") == []
    finally:
        await store.close()
    assert "bars" in tables(path)


def test_failed_migration_rolls_back(tmp_path: Path) -> None:
    """A migration that fails halfway leaves neither its tables nor a version bump."""
    path = tmp_path / "holdspace.db"
    broken = (*MIGRATIONS[:1], "CREATE TABLE half (x INTEGER); SELECT nonsense FROM nowhere;")
    with raw(path) as conn:
        with pytest.raises(sqlite3.OperationalError):
            migrate(conn, broken)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert not conn.in_transaction
    assert "half" not in tables(path)


async def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    """A database written by a newer server is not opened by an older one."""
    path = tmp_path / "holdspace.db"
    with raw(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(RuntimeError, match="newer"):
        await SQLiteStore.open(path)


async def test_never_has_message_tables(tmp_path: Path) -> None:
    """There is nowhere in the schema for message text to land."""
    path = tmp_path / "holdspace.db"
    store = await SQLiteStore.open(path)
    await store.close()
    assert not any("message" in name for name in tables(path))


async def test_memory_database() -> None:
    """':memory:' gives a working, migrated, throwaway store."""
    store = await SQLiteStore.open(":memory:")
    try:
        await store.create_user(
            username="robin", display_name="Robin", password_hash="h", role="member", now=T0
        )
        assert await store.count_users() == 1
    finally:
        await store.close()


async def test_references_must_exist(tmp_path: Path) -> None:
    """Rows pointing at rooms or users that do not exist are refused with NotFound."""
    store = await SQLiteStore.open(tmp_path / "holdspace.db")
    try:
        with pytest.raises(NotFound):
            await store.enrol("r_missing", "u_missing", T0)
        with pytest.raises(NotFound):
            await store.create_token(token_hash="h", user_id="u_missing", now=T0, expires_at=T0 + 1)
        with pytest.raises(NotFound):
            await store.create_room(
                Room(
                    id="r_1",
                    name="n",
                    description="",
                    capacity=4,
                    guidelines="",
                    owner_id="u_missing",
                    facilitator_ids=("u_missing",),
                    schedule=Schedule(),
                    lobby_minutes=5,
                    visibility="closed",
                    created_at=T0,
                )
            )
        assert await store.get_room("r_1") is None
    finally:
        await store.close()


async def test_expired_tokens_are_purged(tmp_path: Path) -> None:
    """Issuing a token drops tokens that have expired, so the table stays small."""
    path = tmp_path / "holdspace.db"
    store = await SQLiteStore.open(path)
    try:
        user = await store.create_user(
            username="robin", display_name="Robin", password_hash="h", role="member", now=T0
        )
        await store.create_token(token_hash="old", user_id=user.id, now=T0, expires_at=T0 + 1)
        await store.create_token(token_hash="new", user_id=user.id, now=T0 + 2, expires_at=T0 + 9)
        with raw(path) as conn:
            rows = conn.execute("SELECT token_hash FROM auth_tokens").fetchall()
        assert rows == [("new",)]
    finally:
        await store.close()


async def test_close_is_idempotent(tmp_path: Path) -> None:
    """Closing twice is harmless."""
    store = await SQLiteStore.open(tmp_path / "holdspace.db")
    await store.close()
    await store.close()
