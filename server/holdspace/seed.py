"""The demo a fresh ``make run`` starts with: a facilitator, two members, a room open now.

Seeded only into an empty store. Passwords are random and printed once to the
terminal that started the server — never logged, never written to disk.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from holdspace.accounts import Accounts
from holdspace.rooms import Rooms

DEMO_ACCOUNTS = (
    ("facilitator", "Robin", "facilitator"),
    ("member1", "Sam", "member"),
    ("member2", "Alex", "member"),
)


def _password() -> str:
    return "-".join(secrets.token_hex(3) for _ in range(3))


async def seed_demo(accounts: Accounts, rooms: Rooms, *, out: object = print) -> bool:
    """Seed the demo into an empty store; return False (and do nothing) otherwise."""
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
        "",
        "Holdspace demo seeded. Sign in with (shown once — keep them):",
        *[f"  {u.username:<12} {p:<22} {u.display_name}" for u, p in created],
        f"  Room: {room.name} (id {room.id}), open now for 3 hours and daily at this time.",
        "  Reset a password any time: holdspace admin set-password USERNAME",
        "",
    ]
    out("\n".join(lines))  # type: ignore[operator]
    return True
