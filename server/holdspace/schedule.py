"""When a room meets, in absolute time.

Schedules are written the way people think about them — "Mondays at 18:30 in
London" — so weekly rules and one-off dates are *local wall-clock* times in the
schedule's IANA time zone. Everything here turns them into UTC instants so the
rest of the server can compare plain epoch seconds. Pure: no I/O and no clock;
callers pass ``now``.

DST rules (PEP 495 ``fold=0`` throughout, so every backend and every call agrees):

* A local time that does not exist (the spring-forward gap, e.g. 01:30 on the
  last Sunday of March in London) is read with the offset in force *before*
  the gap, so the session starts that much later on the wall clock
  (01:30 GMT = 02:30 BST) and keeps its full duration.
* A local time that happens twice (the fall-back overlap) means the first
  occurrence.

Durations are elapsed minutes, so a session spanning a transition still lasts
exactly ``duration_minutes``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from holdspace.errors import InvalidInput
from holdspace.records import OneOff, Room, Schedule, WeeklyRule, session_key

MIN_DURATION_MINUTES = 5
MAX_DURATION_MINUTES = 720
# Caps keep one room's schedule from making every lookup expensive.
MAX_WEEKLY_RULES = 50
MAX_ONE_OFFS = 500
# How far ahead upcoming_sessions looks; a schedule with nothing in this span has
# nothing worth showing, and a bound means the search always terminates.
SEARCH_HORIZON_DAYS = 400

_DAY = 86_400.0
_TZ_NAME = re.compile(r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)*")
_LOCAL_TIME = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?")
_LOCAL_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2})?")
_EXAMPLE_ONE_OFF = "2026-12-24T17:00"


@dataclass(frozen=True, slots=True)
class SessionWindow:
    """One concrete meeting of a room, in epoch seconds (UTC)."""

    room_id: str
    starts_at: float
    ends_at: float
    lobby_opens_at: float  # starts_at - room.lobby_minutes * 60

    @property
    def key(self) -> str:
        """Names one session of a room, e.g. for the agreement members affirm per session."""
        return session_key(self.room_id, self.starts_at)


# -- time zones and local times ------------------------------------------------


def _zone(name: str) -> ZoneInfo:
    """The zone for ``name``, or InvalidInput: zoneinfo's own errors are many and unfriendly."""
    if not isinstance(name, str) or not _TZ_NAME.fullmatch(name):
        raise _bad_timezone(name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise _bad_timezone(name) from None


def _bad_timezone(name: object) -> InvalidInput:
    return InvalidInput(
        f"Unknown time zone {name!r}: use an IANA name such as 'Europe/London'.",
        field="timezone",
    )


def _instant(day: date, at: time, tz: ZoneInfo) -> float:
    """A local wall-clock time as epoch seconds, fold=0 (see the module docstring)."""
    local = datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=tz)
    return local.timestamp()


def _parse_one_off(start: str) -> datetime | None:
    """A naive local datetime, or None when ``start`` is not ``YYYY-MM-DDTHH:MM[:SS]``."""
    if not isinstance(start, str) or not _LOCAL_DATETIME.fullmatch(start):
        return None
    try:
        return datetime.fromisoformat(start)
    except ValueError:
        return None


def _format_time(at: time) -> str:
    return at.strftime("%H:%M:%S" if at.second else "%H:%M")


def _parse_time(text: str) -> time | None:
    match = _LOCAL_TIME.fullmatch(text)
    if match is None:
        return None
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return time(hour, minute, second)


# -- sessions ----------------------------------------------------------------


def _window(room: Room, starts_at: float, minutes: int) -> SessionWindow:
    return SessionWindow(
        room_id=room.id,
        starts_at=starts_at,
        ends_at=starts_at + minutes * 60,
        lobby_opens_at=starts_at - room.lobby_minutes * 60,
    )


def _weekly_starts(
    schedule: Schedule, tz: ZoneInfo, start: float, end: float
) -> Iterable[tuple[float, int]]:
    """(starts_at, minutes) for every weekly occurrence that could overlap [start, end)."""
    if not schedule.weekly:
        return
    longest = max(rule.duration_minutes for rule in schedule.weekly) * 60
    # A day either side absorbs any offset between the zone's dates and UTC's.
    day = datetime.fromtimestamp(start - longest, tz).date() - timedelta(days=1)
    last = datetime.fromtimestamp(end, tz).date() + timedelta(days=1)
    while day <= last:
        weekday = day.weekday()
        for rule in schedule.weekly:
            if weekday in rule.days:
                yield _instant(day, rule.start, tz), rule.duration_minutes
        day += timedelta(days=1)


def _one_off_starts(schedule: Schedule, tz: ZoneInfo) -> Iterable[tuple[float, int]]:
    for one in schedule.one_off:
        local = _parse_one_off(one.start)
        if local is None:  # validate_schedule refuses these; never crash a lookup on one
            continue
        yield _instant(local.date(), local.time(), tz), one.duration_minutes


def _merge(room: Room, starts: Iterable[tuple[float, int]]) -> list[SessionWindow]:
    """Sorted windows, one per start second; the longest wins so nobody is cut short."""
    by_key: dict[int, tuple[float, int]] = {}
    for starts_at, minutes in starts:
        key = int(starts_at)
        if key not in by_key or minutes > by_key[key][1]:
            by_key[key] = (starts_at, minutes)
    windows = [_window(room, starts_at, minutes) for starts_at, minutes in by_key.values()]
    windows.sort(key=lambda w: w.starts_at)
    return windows


def sessions_between(room: Room, start: float, end: float) -> list[SessionWindow]:
    """Every session overlapping [start, end), sorted by start.

    Cost is linear in the number of days spanned; callers ask about days or weeks.
    """
    if end <= start:
        return []
    tz = _zone(room.schedule.timezone)
    candidates = [
        *_weekly_starts(room.schedule, tz, start, end),
        *_one_off_starts(room.schedule, tz),
    ]
    return [w for w in _merge(room, candidates) if w.starts_at < end and w.ends_at > start]


def current_session(room: Room, now: float) -> SessionWindow | None:
    """The session whose lobby is open or which is under way at ``now``.

    When two overlap, the earliest-starting one that has not ended wins, so a
    running session is never displaced by the next one's lobby.
    """
    lead = max(room.lobby_minutes, 0) * 60
    for window in sessions_between(room, now, now + lead + 1):
        if window.lobby_opens_at <= now < window.ends_at:
            return window
    return None


def upcoming_sessions(room: Room, now: float, count: int = 3) -> list[SessionWindow]:
    """The next ``count`` sessions that have not ended (a running one included), by start.

    Weekly rules are searched at most SEARCH_HORIZON_DAYS ahead; one-offs are
    finite so they are found however far away they are.
    """
    if count <= 0:
        return []
    windows: list[SessionWindow] = []
    for days in (8, 64, SEARCH_HORIZON_DAYS):
        windows = sessions_between(room, now, now + days * _DAY)
        if len(windows) >= count:
            return windows[:count]
    horizon = now + SEARCH_HORIZON_DAYS * _DAY
    tz = _zone(room.schedule.timezone)
    later = [w for w in _merge(room, _one_off_starts(room.schedule, tz)) if w.starts_at >= horizon]
    return (windows + later)[:count]


def next_session(room: Room, now: float) -> SessionWindow | None:
    """The running session if there is one, else the next to start."""
    upcoming = upcoming_sessions(room, now, 1)
    return upcoming[0] if upcoming else None


# -- validation and the wire/storage shape ------------------------------------------


def _check_duration(minutes: int, where: str, field: str) -> None:
    if not MIN_DURATION_MINUTES <= minutes <= MAX_DURATION_MINUTES:
        raise InvalidInput(
            f"{where}: a session must last between {MIN_DURATION_MINUTES} and "
            f"{MAX_DURATION_MINUTES} minutes, not {minutes}.",
            field=field,
        )


def validate_schedule(schedule: Schedule) -> None:
    """Refuse a schedule the session math could not honour, saying what to fix."""
    _zone(schedule.timezone)
    if len(schedule.weekly) > MAX_WEEKLY_RULES:
        raise InvalidInput(
            f"A room can have at most {MAX_WEEKLY_RULES} weekly rules.", field="weekly"
        )
    if len(schedule.one_off) > MAX_ONE_OFFS:
        raise InvalidInput(
            f"A room can have at most {MAX_ONE_OFFS} one-off sessions.", field="one_off"
        )
    for i, rule in enumerate(schedule.weekly):
        where, field = f"Weekly rule {i + 1}", f"weekly[{i}]"
        if not rule.days:
            raise InvalidInput(
                f"{where} has no days: pick at least one weekday.", field=f"{field}.days"
            )
        for day in rule.days:
            if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
                raise InvalidInput(
                    f"{where}: {day!r} is not a weekday (use 0 = Monday … 6 = Sunday).",
                    field=f"{field}.days",
                )
        if not isinstance(rule.start, time):
            raise InvalidInput(f"{where}: the start must be a time of day.", field=f"{field}.start")
        _check_duration(rule.duration_minutes, where, f"{field}.duration_minutes")
    for i, one in enumerate(schedule.one_off):
        where, field = f"One-off session {i + 1}", f"one_off[{i}]"
        if _parse_one_off(one.start) is None:
            raise InvalidInput(
                f"{where}: start {one.start!r} is not a local date and time like "
                f"'{_EXAMPLE_ONE_OFF}'.",
                field=f"{field}.start",
            )
        _check_duration(one.duration_minutes, where, f"{field}.duration_minutes")


def schedule_to_json(s: Schedule) -> dict[str, Any]:
    """The one shape schedules take on the wire and in storage."""
    return {
        "timezone": s.timezone,
        "weekly": [
            {
                "days": list(rule.days),
                "start": _format_time(rule.start),
                "duration_minutes": rule.duration_minutes,
            }
            for rule in s.weekly
        ],
        "one_off": [
            {"start": one.start, "duration_minutes": one.duration_minutes} for one in s.one_off
        ],
    }


def _name(field: str) -> str:
    return field if field == "schedule" else f"schedule.{field}"


def _bad(field: str, expected: str) -> InvalidInput:
    return InvalidInput(f"{_name(field)} must be {expected}.", field=field)


def _object(value: Any, field: str, keys: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(field, "an object")
    for key in value:
        if key not in keys:
            raise InvalidInput(f"{_name(field)} has an unknown field {key!r}.", field=field)
    return value


def _list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise _bad(field, "a list")
    return value


def _minutes(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(field, "a whole number of minutes")
    return value


def _required(obj: dict[str, Any], key: str, field: str) -> Any:
    if key not in obj:
        raise InvalidInput(f"{_name(field)}.{key} is missing.", field=f"{field}.{key}")
    return obj[key]


def schedule_from_json(d: Any, *, validate: bool = True) -> Schedule:
    """Parse the wire/storage shape, naming the first bad field.

    ``validate=False`` skips :func:`validate_schedule` (types are still checked)
    so a stored schedule stays readable if the rules ever tighten.
    """
    top = _object(d, "schedule", {"timezone", "weekly", "one_off"})
    timezone = top.get("timezone", "UTC")
    if not isinstance(timezone, str):
        raise InvalidInput("schedule.timezone must be a string.", field="timezone")

    weekly: list[WeeklyRule] = []
    for i, raw in enumerate(_list(top.get("weekly", []), "weekly")):
        field = f"weekly[{i}]"
        rule = _object(raw, field, {"days", "start", "duration_minutes"})
        days = _list(_required(rule, "days", field), f"{field}.days")
        if any(isinstance(day, bool) or not isinstance(day, int) for day in days):
            raise _bad(f"{field}.days", "a list of weekday numbers (0 = Monday … 6 = Sunday)")
        start_text = _required(rule, "start", field)
        start = _parse_time(start_text) if isinstance(start_text, str) else None
        if start is None:
            raise _bad(f"{field}.start", "a time of day like '18:30'")
        minutes = _minutes(_required(rule, "duration_minutes", field), f"{field}.duration_minutes")
        weekly.append(WeeklyRule(days=tuple(days), start=start, duration_minutes=minutes))

    one_off: list[OneOff] = []
    for i, raw in enumerate(_list(top.get("one_off", []), "one_off")):
        field = f"one_off[{i}]"
        one = _object(raw, field, {"start", "duration_minutes"})
        start_text = _required(one, "start", field)
        if not isinstance(start_text, str):
            raise _bad(f"{field}.start", f"a local date and time like '{_EXAMPLE_ONE_OFF}'")
        minutes = _minutes(_required(one, "duration_minutes", field), f"{field}.duration_minutes")
        one_off.append(OneOff(start=start_text, duration_minutes=minutes))

    schedule = Schedule(timezone=timezone, weekly=tuple(weekly), one_off=tuple(one_off))
    if validate:
        validate_schedule(schedule)
    return schedule
