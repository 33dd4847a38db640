"""Schedule math: local wall-clock rules to UTC windows, DST included."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from holdspace.errors import InvalidInput
from holdspace.records import OneOff, Room, Schedule, WeeklyRule
from holdspace.schedule import (
    SessionWindow,
    current_session,
    next_session,
    schedule_from_json,
    schedule_to_json,
    sessions_between,
    upcoming_sessions,
    validate_schedule,
)

MINUTE = 60.0
DAY = 86_400.0
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    """An instant given in UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


def room(schedule: Schedule, lobby_minutes: int = 10) -> Room:
    return Room(
        id="r_test",
        name="Circle",
        description="",
        capacity=8,
        guidelines="",
        owner_id="u_owner",
        facilitator_ids=("u_owner",),
        schedule=schedule,
        lobby_minutes=lobby_minutes,
        visibility="closed",
        created_at=0.0,
    )


def weekly(tz: str, days: tuple[int, ...], hour: int, minute: int, minutes: int = 90) -> Room:
    return room(Schedule(timezone=tz, weekly=(WeeklyRule(days, time(hour, minute), minutes),)))


def starts(windows: list[SessionWindow]) -> list[float]:
    return [w.starts_at for w in windows]


# -- DST ---------------------------------------------------------------------------


def test_london_weekly_keeps_local_time_across_spring_forward() -> None:
    """Monday 18:30 in London is 18:30 UTC before the clocks go forward and 17:30 UTC after."""
    r = weekly("Europe/London", (MON,), 18, 30)
    windows = upcoming_sessions(r, at(2026, 3, 23), count=2)
    assert starts(windows) == [at(2026, 3, 23, 18, 30), at(2026, 3, 30, 17, 30)]


def test_london_weekly_keeps_local_time_across_fall_back() -> None:
    """Monday 18:30 in London is 17:30 UTC in October's last summer week and 18:30 UTC after."""
    r = weekly("Europe/London", (MON,), 18, 30)
    windows = upcoming_sessions(r, at(2026, 10, 19), count=2)
    assert starts(windows) == [at(2026, 10, 19, 17, 30), at(2026, 10, 26, 18, 30)]


def test_new_york_weekly_across_both_transitions() -> None:
    """Wednesday 19:00 in New York lands on Thursday UTC in winter, Wednesday UTC in summer."""
    r = weekly("America/New_York", (WED,), 19, 0)
    spring = upcoming_sessions(r, at(2026, 3, 4), count=2)
    assert starts(spring) == [at(2026, 3, 5, 0, 0), at(2026, 3, 11, 23, 0)]
    autumn = upcoming_sessions(r, at(2026, 10, 28), count=2)
    assert starts(autumn) == [at(2026, 10, 28, 23, 0), at(2026, 11, 5, 0, 0)]


def test_spring_forward_gap_uses_offset_before_the_gap() -> None:
    """A time skipped by spring-forward is read with the pre-gap offset (fold=0)."""
    london = weekly("Europe/London", (SUN,), 1, 30)
    [w] = sessions_between(london, at(2026, 3, 29), at(2026, 3, 30))
    assert w.starts_at == at(2026, 3, 29, 1, 30)  # 01:30 GMT, shown as 02:30 BST
    new_york = weekly("America/New_York", (SUN,), 2, 30)
    [w] = sessions_between(new_york, at(2026, 3, 8), at(2026, 3, 9))
    assert w.starts_at == at(2026, 3, 8, 7, 30)  # 02:30 EST, shown as 03:30 EDT


def test_fall_back_ambiguity_uses_first_occurrence() -> None:
    """A local time that happens twice means the first of the two."""
    r = weekly("Europe/London", (SUN,), 1, 30)
    [w] = sessions_between(r, at(2026, 10, 25), at(2026, 10, 26))
    assert w.starts_at == at(2026, 10, 25, 0, 30)  # 01:30 BST


def test_duration_is_elapsed_time_across_a_transition() -> None:
    """A session spanning the clock change still lasts its full duration."""
    r = weekly("Europe/London", (SUN,), 0, 30, minutes=120)
    [w] = sessions_between(r, at(2026, 3, 29), at(2026, 3, 30))
    assert w.ends_at - w.starts_at == 120 * MINUTE


# -- windows -------------------------------------------------------------------------


def test_window_fields_and_key() -> None:
    """A window carries its lobby opening and a key naming the room and start second."""
    r = room(
        Schedule(timezone="UTC", weekly=(WeeklyRule((MON,), time(18, 30), 90),)), lobby_minutes=15
    )
    w = next_session(r, at(2026, 1, 5))
    assert w == SessionWindow(
        room_id="r_test",
        starts_at=at(2026, 1, 5, 18, 30),
        ends_at=at(2026, 1, 5, 20, 0),
        lobby_opens_at=at(2026, 1, 5, 18, 15),
    )
    assert w.key == f"r_test:{int(at(2026, 1, 5, 18, 30))}"


def test_sessions_between_is_half_open() -> None:
    """A window ending exactly at the range start or starting exactly at its end is excluded."""
    r = weekly("UTC", (MON,), 18, 0, minutes=60)
    assert sessions_between(r, at(2026, 1, 5, 19), at(2026, 1, 5, 20)) == []
    assert sessions_between(r, at(2026, 1, 5, 17), at(2026, 1, 5, 18)) == []
    assert len(sessions_between(r, at(2026, 1, 5, 18, 59), at(2026, 1, 5, 20))) == 1
    assert sessions_between(r, at(2026, 1, 6), at(2026, 1, 5)) == []


def test_one_offs_and_weekly_merge_sorted_and_deduplicated() -> None:
    """One-offs interleave with weekly sessions; an identical start appears once, the longer."""
    r = room(
        Schedule(
            timezone="Europe/London",
            weekly=(WeeklyRule((MON,), time(18, 30), 60),),
            one_off=(
                OneOff("2026-01-07T12:00", 30),
                OneOff("2026-01-05T18:30", 120),
            ),
        )
    )
    windows = sessions_between(r, at(2026, 1, 5), at(2026, 1, 13))
    assert starts(windows) == [
        at(2026, 1, 5, 18, 30),
        at(2026, 1, 7, 12, 0),
        at(2026, 1, 12, 18, 30),
    ]
    assert windows[0].ends_at == at(2026, 1, 5, 20, 30)


def test_several_days_and_rules() -> None:
    """Each rule fires on each of its days, all in start order."""
    r = room(
        Schedule(
            timezone="UTC",
            weekly=(
                WeeklyRule((THU, MON), time(18, 30), 60),
                WeeklyRule((TUE,), time(9, 0), 60),
            ),
        )
    )
    windows = sessions_between(r, at(2026, 1, 5), at(2026, 1, 9))
    assert starts(windows) == [
        at(2026, 1, 5, 18, 30),
        at(2026, 1, 6, 9, 0),
        at(2026, 1, 8, 18, 30),
    ]


# -- current session and the lobby ---------------------------------------------------------


def test_lobby_boundaries() -> None:
    """Current from the instant the lobby opens until, but not including, the end."""
    r = room(Schedule(timezone="UTC", one_off=(OneOff("2026-01-05T18:00", 60),)), lobby_minutes=10)
    opens, ends = at(2026, 1, 5, 17, 50), at(2026, 1, 5, 19, 0)
    assert current_session(r, opens - 0.001) is None
    session = current_session(r, opens)
    assert session is not None
    assert session.starts_at == at(2026, 1, 5, 18, 0)
    assert current_session(r, ends - 0.001) == session
    assert current_session(r, ends) is None


def test_zero_minute_lobby_opens_at_start() -> None:
    """Without a lobby the session becomes current exactly when it starts."""
    r = room(Schedule(timezone="UTC", one_off=(OneOff("2026-01-05T18:00", 60),)), lobby_minutes=0)
    assert current_session(r, at(2026, 1, 5, 18) - 0.001) is None
    assert current_session(r, at(2026, 1, 5, 18)) is not None


def test_running_session_wins_over_next_lobby() -> None:
    """While one session runs, the next one's open lobby does not displace it."""
    r = room(
        Schedule(
            timezone="UTC",
            one_off=(OneOff("2026-01-05T18:00", 60), OneOff("2026-01-05T19:05", 60)),
        ),
        lobby_minutes=10,
    )
    during = current_session(r, at(2026, 1, 5, 18, 58))
    assert during is not None
    assert during.starts_at == at(2026, 1, 5, 18)
    after = current_session(r, at(2026, 1, 5, 19))
    assert after is not None
    assert after.starts_at == at(2026, 1, 5, 19, 5)


# -- upcoming ------------------------------------------------------------------------------


def test_upcoming_includes_running_session_and_respects_count() -> None:
    """Upcoming starts with a session still running and returns exactly count windows."""
    r = weekly("UTC", (MON, THU), 18, 0, minutes=60)
    now = at(2026, 1, 5, 18, 30)
    assert starts(upcoming_sessions(r, now)) == [
        at(2026, 1, 5, 18),
        at(2026, 1, 8, 18),
        at(2026, 1, 12, 18),
    ]
    assert len(upcoming_sessions(r, now, count=20)) == 20
    assert upcoming_sessions(r, now, count=0) == []
    assert next_session(r, now) == upcoming_sessions(r, now)[0]


def test_upcoming_finds_distant_one_off() -> None:
    """A one-off years away is still found: one-offs are not bound by the search horizon."""
    r = room(Schedule(timezone="UTC", one_off=(OneOff("2030-06-01T10:00", 60),)))
    [w] = upcoming_sessions(r, at(2026, 1, 1))
    assert w.starts_at == at(2030, 6, 1, 10)


def test_upcoming_mixes_weekly_and_distant_one_off_in_order() -> None:
    """With a weekly rule, upcoming stays in start order even when a one-off is far off."""
    r = room(
        Schedule(
            timezone="UTC",
            weekly=(WeeklyRule((MON,), time(18), 60),),
            one_off=(OneOff("2026-01-20T10:00", 60),),
        )
    )
    assert starts(upcoming_sessions(r, at(2026, 1, 6), count=3)) == [
        at(2026, 1, 12, 18),
        at(2026, 1, 19, 18),
        at(2026, 1, 20, 10),
    ]


def test_empty_schedule_has_no_sessions() -> None:
    """A room without a schedule never has a session."""
    r = room(Schedule())
    assert upcoming_sessions(r, at(2026, 1, 1)) == []
    assert next_session(r, at(2026, 1, 1)) is None
    assert current_session(r, at(2026, 1, 1)) is None


def test_past_one_offs_are_not_upcoming() -> None:
    """A one-off that has ended is gone from upcoming."""
    r = room(Schedule(timezone="UTC", one_off=(OneOff("2026-01-05T18:00", 60),)))
    assert upcoming_sessions(r, at(2026, 1, 5, 19)) == []


# -- validation ------------------------------------------------------------------------------


def invalid(schedule: Schedule) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        validate_schedule(schedule)
    return caught.value


def test_valid_schedule_passes() -> None:
    """A sensible schedule raises nothing."""
    validate_schedule(
        Schedule(
            timezone="America/New_York",
            weekly=(WeeklyRule((MON, SUN), time(18, 30), 5),),
            one_off=(OneOff("2026-12-24T17:00", 720),),
        )
    )


@pytest.mark.parametrize(
    "tz", ["Mars/Olympus_Mons", "europe/london", "", "../etc/passwd", "Europe"]
)
def test_unknown_timezone(tz: str) -> None:
    """A time zone IANA does not know is refused, naming it."""
    error = invalid(Schedule(timezone=tz))
    assert repr(tz) in error.message
    assert "IANA" in error.message
    assert error.detail["field"] == "timezone"


@pytest.mark.parametrize("day", [7, -1])
def test_day_out_of_range(day: int) -> None:
    """Weekdays are 0 (Monday) to 6 (Sunday)."""
    error = invalid(Schedule(weekly=(WeeklyRule((MON, day), time(9), 60),)))
    assert f"{day} is not a weekday" in error.message
    assert error.detail["field"] == "weekly[0].days"


def test_empty_days() -> None:
    """A weekly rule must name at least one day."""
    error = invalid(Schedule(weekly=(WeeklyRule((), time(9), 60),)))
    assert "no days" in error.message


@pytest.mark.parametrize("minutes", [4, 721, 0, -5])
def test_duration_out_of_range(minutes: int) -> None:
    """Sessions last between 5 and 720 minutes, weekly or one-off."""
    weekly_error = invalid(Schedule(weekly=(WeeklyRule((MON,), time(9), minutes),)))
    assert "between 5 and 720 minutes" in weekly_error.message
    one_off_error = invalid(Schedule(one_off=(OneOff("2026-12-24T17:00", minutes),)))
    assert one_off_error.detail["field"] == "one_off[0].duration_minutes"


@pytest.mark.parametrize(
    "start",
    [
        "tomorrow",
        "2026-13-01T10:00",
        "2026-02-30T10:00",
        "2026-12-24 17:00",
        "2026-12-24T17:00Z",
        "",
    ],
)
def test_unparseable_one_off(start: str) -> None:
    """One-off starts must be a real local date and time like 2026-12-24T17:00."""
    error = invalid(Schedule(one_off=(OneOff(start, 60),)))
    assert repr(start) in error.message
    assert "2026-12-24T17:00" in error.message
    assert error.detail["field"] == "one_off[0].start"


# -- JSON ------------------------------------------------------------------------------------

EXAMPLE: dict[str, Any] = {
    "timezone": "Europe/London",
    "weekly": [{"days": [0, 3], "start": "18:30", "duration_minutes": 90}],
    "one_off": [{"start": "2026-12-24T17:00", "duration_minutes": 60}],
}


def test_json_example_round_trips() -> None:
    """The documented wire shape parses to the expected schedule and serialises back unchanged."""
    schedule = schedule_from_json(EXAMPLE)
    assert schedule == Schedule(
        timezone="Europe/London",
        weekly=(WeeklyRule((MON, THU), time(18, 30), 90),),
        one_off=(OneOff("2026-12-24T17:00", 60),),
    )
    assert schedule_to_json(schedule) == EXAMPLE


def test_json_defaults() -> None:
    """Missing top-level fields mean UTC and no sessions."""
    assert schedule_from_json({}) == Schedule()


def test_json_runs_validation() -> None:
    """Well-typed but invalid values are refused too."""
    with pytest.raises(InvalidInput, match="between 5 and 720"):
        schedule_from_json(
            {**EXAMPLE, "one_off": [{"start": "2026-12-24T17:00", "duration_minutes": 1}]}
        )
    with pytest.raises(InvalidInput, match="Mars"):
        schedule_from_json({"timezone": "Mars/Base"})


def test_json_validation_can_be_skipped_for_stored_data() -> None:
    """validate=False still checks types but reads schedules the rules now refuse."""
    stored = {"timezone": "UTC", "weekly": [{"days": [0], "start": "09:00", "duration_minutes": 1}]}
    assert schedule_from_json(stored, validate=False).weekly[0].duration_minutes == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ([], "schedule"),
        ({"timezone": 3}, "timezone"),
        ({"weekly": {}}, "weekly"),
        ({"weekly": ["x"]}, "weekly[0]"),
        ({"weekly": [{"days": "mon", "start": "18:30", "duration_minutes": 9}]}, "weekly[0].days"),
        (
            {"weekly": [{"days": ["mon"], "start": "18:30", "duration_minutes": 9}]},
            "weekly[0].days",
        ),
        ({"weekly": [{"days": [True], "start": "18:30", "duration_minutes": 9}]}, "weekly[0].days"),
        ({"weekly": [{"days": [0], "start": 1830, "duration_minutes": 9}]}, "weekly[0].start"),
        ({"weekly": [{"days": [0], "start": "25:00", "duration_minutes": 9}]}, "weekly[0].start"),
        (
            {"weekly": [{"days": [0], "start": "18:30", "duration_minutes": "9"}]},
            "weekly[0].duration_minutes",
        ),
        (
            {"weekly": [{"days": [0], "start": "18:30", "duration_minutes": 9.5}]},
            "weekly[0].duration_minutes",
        ),
        ({"weekly": [{"days": [0], "start": "18:30"}]}, "weekly[0].duration_minutes"),
        ({"weekly": [{"days": [0], "start": "18:30", "duration_minutes": 9, "x": 1}]}, "weekly[0]"),
        ({"one_off": "2026-12-24T17:00"}, "one_off"),
        ({"one_off": [{"start": 20261224, "duration_minutes": 60}]}, "one_off[0].start"),
        ({"one_off": [{"duration_minutes": 60}]}, "one_off[0].start"),
        (
            {"one_off": [{"start": "2026-12-24T17:00", "duration_minutes": False}]},
            "one_off[0].duration_minutes",
        ),
        ({"timezone": "UTC", "extra": True}, "schedule"),
    ],
)
def test_json_type_errors_name_the_field(data: Any, field: str) -> None:
    """Every wrongly typed value is refused with a message naming where it is."""
    with pytest.raises(InvalidInput) as caught:
        schedule_from_json(data)
    assert caught.value.detail["field"] == field
    name = field if field == "schedule" else f"schedule.{field}"
    assert name in caught.value.message


# -- properties ------------------------------------------------------------------------------

ZONES = [
    "UTC",
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",  # half-hour DST shift
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/Sao_Paulo",
]
NOW = st.floats(min_value=at(2024, 1, 1), max_value=at(2030, 1, 1))

rules = st.builds(
    WeeklyRule,
    days=st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True).map(tuple),
    start=st.builds(time, st.integers(0, 23), st.integers(0, 59)),
    duration_minutes=st.integers(5, 720),
)
one_offs = st.builds(
    OneOff,
    start=st.datetimes(datetime(2024, 1, 1), datetime(2030, 1, 1)).map(
        lambda d: d.strftime("%Y-%m-%dT%H:%M")
    ),
    duration_minutes=st.integers(5, 720),
)
schedules = st.builds(
    Schedule,
    timezone=st.sampled_from(ZONES),
    weekly=st.lists(rules, max_size=3).map(tuple),
    one_off=st.lists(one_offs, max_size=3).map(tuple),
)
rooms = st.builds(room, schedules, st.integers(0, 60))


@settings(deadline=None, max_examples=200)
@given(rooms, NOW, st.integers(1, 6))
def test_upcoming_windows_are_sane(r: Room, now: float, count: int) -> None:
    """Upcoming windows are well formed, unique, sorted, not over, and never too many."""
    windows = upcoming_sessions(r, now, count)
    assert len(windows) <= count
    if r.schedule.weekly:
        assert len(windows) == count
    for w in windows:
        assert w.starts_at < w.ends_at
        assert w.ends_at > now
        assert w.lobby_opens_at == w.starts_at - r.lobby_minutes * MINUTE
    assert starts(windows) == sorted(set(starts(windows)))


@settings(deadline=None, max_examples=200)
@given(rooms, NOW)
def test_current_session_is_the_earliest_open_window(r: Room, now: float) -> None:
    """current_session is the earliest window whose lobby is open and which has not ended."""
    open_now = [
        w for w in sessions_between(r, now - DAY, now + DAY) if w.lobby_opens_at <= now < w.ends_at
    ]
    current = current_session(r, now)
    assert current == (open_now[0] if open_now else None)
    if current is not None:
        assert current.lobby_opens_at <= now < current.ends_at


@settings(deadline=None)
@given(schedules)
def test_json_round_trip(schedule: Schedule) -> None:
    """Any valid schedule survives a trip through its JSON shape."""
    validate_schedule(schedule)
    assert schedule_from_json(schedule_to_json(schedule)) == schedule


def exists(day: datetime, tz: ZoneInfo) -> bool:
    """Whether this naive local time happens at all in ``tz`` (it may fall in a DST gap)."""
    instant = day.replace(tzinfo=tz).timestamp()
    return datetime.fromtimestamp(instant, tz).replace(tzinfo=None) == day


@settings(deadline=None, max_examples=200)
@given(st.sampled_from(ZONES), rules, NOW)
def test_weekly_sessions_keep_their_local_wall_clock(
    tz_name: str, rule: WeeklyRule, now: float
) -> None:
    """Every weekly session starts on one of its days at its local time, whatever the offset."""
    tz = ZoneInfo(tz_name)
    r = room(Schedule(timezone=tz_name, weekly=(rule,)))
    for w in upcoming_sessions(r, now, count=5):
        local = datetime.fromtimestamp(w.starts_at, tz)
        intended = datetime.combine(local.date(), rule.start)
        if exists(intended, tz):
            assert local.weekday() in rule.days
            assert local.time() == rule.start
