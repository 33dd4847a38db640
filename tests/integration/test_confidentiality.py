"""What is said in the room stays in the room: no text, password or token on disk or in logs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from holdspace.web.ws import COOKIE
from tests.conftest import BACKENDS
from tests.live import Community, LiveServer, LogCapture
from tests.redis_server import everything_in

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("server", BACKENDS, indirect=True),  # embedded, and on Redis
]

TEXT = "sentinel-7f3a: my brother's name is Dorian and I miss him"
PASSWORD = "sentinel-pw-9b2c-horse-staple"
REASON = "sentinel-reason-41d0"


def disk_contents(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (the database, its WAL, anything else), by name."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def every_row(db: Path) -> str:
    """Every value of every table, as text."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return "\n".join(conn.iterdump())


async def every_key(url: str, prefix: str) -> str:
    """Every key of this server's keyspace in Redis, with its whole value, as text."""
    redis = Redis.from_url(url, decode_responses=True)
    try:
        return await everything_in(redis, f"{prefix}*")
    finally:
        await redis.aclose()


async def test_nothing_said_or_secret_reaches_disk_or_logs(
    community: Community, server: LiveServer, logs: LogCapture
) -> None:
    """Post a sentinel with a sentinel password and token, end the session, then look everywhere."""
    await community.person("robin", "Robin", "facilitator")
    room = await community.room("robin", [])
    async with httpx.AsyncClient(base_url=server.base) as http:
        signup = await http.post(
            "/api/auth/register",
            json={"username": "dana", "password": PASSWORD, "display_name": "Dana"},
        )
        assert signup.status_code == 201
        cookie_token = signup.cookies[COOKIE]
        login = await http.post(
            "/api/auth/login", json={"username": "dana", "password": PASSWORD, "bearer": True}
        )
        bearer = login.json()["token"]
    await server.call(server.services.rooms.store.enrol(room.id, signup.json()["user"]["id"], 0))

    fac = await community.client("robin")
    await fac.join(room.id)
    # Dana's browser: the session cookie on the upgrade, from an allowed page.
    community.tokens["dana"] = cookie_token
    dana = await community.client("dana", cookie=True, origin=server.base)
    await dana.join(room.id)
    await dana.agree()
    await dana.set_mode("sharer")
    seq = await dana.post(TEXT)
    await fac.wait_for(lambda e: e.get("seq") == seq)
    await fac.request("mute", user=signup.json()["user"]["id"], minutes=1, reason=REASON)
    await fac.request("end_session")
    ended = await dana.wait_for("session_ended")
    assert ended["by"] is not None
    assert await server.call(server.services.sessions.hub.live_sessions()) == []

    secrets = {"text": TEXT, "password": PASSWORD, "cookie": cookie_token, "bearer": bearer}
    files = disk_contents(Path(server.settings.data_dir))
    for name, data in files.items():
        for what, value in secrets.items():
            assert value.encode() not in data, f"{what} found in {name}"
    if server.settings.redis_url is None:
        assert any(name.endswith(".sqlite3") for name in files)
        rows = every_row(server.settings.database_path)
    else:  # the durable records, and whatever of the session was left: ending drops it whole
        rows = await every_key(server.settings.redis_url, server.settings.redis_prefix)
    assert "dana" in rows  # the scan reads real data
    assert REASON in rows  # the moderation record keeps the why, by design
    log_text = logs.text()
    assert '"session ended"' in log_text  # the logs were captured, to the end
    for what, value in secrets.items():
        assert value not in rows, f"{what} found in the database"
        assert value not in log_text, f"{what} found in the logs"
    assert "127.0.0.1" not in log_text  # no client addresses either
