"""The demo a fresh ``make run`` starts with: a facilitator, two members, a room open now.

Seeded only into an empty store. Passwords are random; they are never logged. So that
someone trying Holdspace can find them again, they are kept beside the demo's data in
``demo-accounts.txt`` (readable by its owner only), shown by the server each time it
starts with ``--demo``, and by ``holdspace demo show``; ``holdspace demo reset`` starts
the demo afresh. Nothing of the kind exists without ``--demo``.
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from holdspace.accounts import Accounts
from holdspace.rooms import Rooms

DEMO_ACCOUNTS = (
    ("facilitator", "Robin", "facilitator"),
    ("member1", "Sam", "member"),
    ("member2", "Alex", "member"),
)


DEMO_FILE = "demo-accounts.txt"


def _password() -> str:
    return "-".join(secrets.token_hex(3) for _ in range(3))


async def seed_demo(accounts: Accounts, rooms: Rooms, data_dir: Path) -> bool:
    """Seed the demo into an empty store and keep its accounts in ``data_dir``; return
    False (and do nothing) when the store has anyone in it already."""
    if await rooms.store.count_users() > 0:
        return False
    now = rooms.clock.now()
    created = []
    for username, name, role in DEMO_ACCOUNTS:
        password = _password()
        user = await accounts.create(username, password, name, role)  # type: ignore[arg-type]
        created.append((user, password))
    facilitator = created[0][0]
    tz = "UTC"
    local = datetime.fromtimestamp(now, ZoneInfo(tz)) - timedelta(minutes=5)
    start = local.replace(second=0, microsecond=0)
    # Meets daily at this time, and once right now so the demo is open immediately.
    at = start.strftime("%H:%M")
    room = await rooms.create(
        facilitator,
        {
            "name": "Evening check-in (demo)",
            "description": "A small peer-support circle to try Holdspace with.",
            "capacity": 8,
            "visibility": "closed",
            "schedule": {
                "timezone": tz,
                "weekly": [{"days": list(range(7)), "start": at, "duration_minutes": 180}],
                "one_off": [{"start": start.strftime("%Y-%m-%dT%H:%M"), "duration_minutes": 180}],
            },
        },
    )
    for user, _ in created[1:]:
        await rooms.store.enrol(room.id, user.id, now)
    lines = [
        *[f"  {u.username:<12} {p:<22} {u.display_name}" for u, p in created],
        f"  Room: {room.name}, open daily at {at} UTC for 3 hours (open now).",
    ]
    _keep(data_dir, "\n".join(lines) + "\n")
    return True


def _keep(data_dir: Path, text: str) -> None:
    """Write the demo's accounts for their owner's eyes only (created 0600, never wider)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / DEMO_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def demo_accounts(data_dir: Path) -> str | None:
    """The demo's accounts as kept at seeding, or None when there is no demo here."""
    try:
        return (data_dir / DEMO_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
