"""The HTTP JSON API through a real server: accounts, sessions, rooms, invites, the record."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from holdspace import protocol
from holdspace.web.ws import COOKIE
from holdspace_client import CommandError
from tests.live import PASSWORD, Community, LiveServer

pytestmark = pytest.mark.integration

EVIL = "https://evil.example"
WEEKLY: dict[str, Any] = {
    "timezone": "Europe/London",
    "weekly": [{"days": [0, 3], "start": "18:30", "duration_minutes": 90}],
}


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client that keeps no cookies between requests: every credential is sent explicitly."""

    async def forget(response: httpx.Response) -> None:
        client.cookies.clear()

    async with httpx.AsyncClient(
        base_url=server.base, timeout=15.0, event_hooks={"response": [forget]}
    ) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={token}"}


def error_of(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


def set_cookie(response: httpx.Response) -> SimpleCookie:
    """The response's Set-Cookie headers, parsed."""
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    return jar


def instant(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


async def register(
    http: httpx.AsyncClient,
    username: str,
    *,
    password: str = PASSWORD,
    display_name: str | None = None,
    bearer_token: bool = False,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {
        "username": username,
        "password": password,
        "display_name": display_name if display_name is not None else username.title(),
    }
    if bearer_token:
        body["bearer"] = True
    return await http.post("/api/auth/register", json=body, headers=headers)


async def sign_in(
    http: httpx.AsyncClient, username: str, password: str = PASSWORD, *, as_bearer: bool = True
) -> httpx.Response:
    body: dict[str, Any] = {"username": username, "password": password}
    if as_bearer:
        body["bearer"] = True
    return await http.post("/api/auth/login", json=body)


async def create_room(
    http: httpx.AsyncClient, token: str, **spec: Any
) -> tuple[httpx.Response, dict[str, Any]]:
    body: dict[str, Any] = {"name": "Tuesday circle", "schedule": WEEKLY}
    body.update(spec)
    response = await http.post("/api/rooms", json=body, headers=bearer(token))
    return response, response.json()


def tomorrow_schedule(now: float, tz: str = "UTC") -> tuple[dict[str, Any], float]:
    """A schedule whose only session is tomorrow at 18:00 local time, and that start instant."""
    zone = ZoneInfo(tz)
    day = datetime.fromtimestamp(now, zone).date() + timedelta(days=1)
    start = datetime(day.year, day.month, day.day, 18, 0, tzinfo=zone)
    schedule = {
        "timezone": tz,
        "one_off": [{"start": start.strftime("%Y-%m-%dT%H:%M"), "duration_minutes": 60}],
    }
    return schedule, start.timestamp()


# -- accounts ---------------------------------------------------------------------


async def test_register_sets_a_safe_session_cookie_that_signs_in(server: LiveServer) -> None:
    """Registering answers 201 with the public user only and an HttpOnly, Lax, site-wide cookie."""
    async with httpx.AsyncClient(base_url=server.base, timeout=15.0) as browser:
        response = await register(browser, "dana", display_name="Dana")
        assert response.status_code == 201
        body = response.json()
        assert set(body) == {"user"}
        assert set(body["user"]) == {"id", "username", "name", "role"}
        assert body["user"]["username"] == "dana"
        assert body["user"]["name"] == "Dana"
        assert body["user"]["role"] == "member"
        assert PASSWORD not in response.text
        assert "hash" not in response.text
        assert "argon2" not in response.text

        jar = set_cookie(response)
        morsel = jar[COOKIE]
        assert morsel.value
        assert morsel["httponly"] is True
        assert morsel["samesite"].lower() == "lax"
        assert morsel["path"] == "/"
        assert int(morsel["max-age"]) == int(server.settings.token_ttl_hours * 3600)

        # The browser sends the cookie back by itself, and it identifies the new member.
        me = await browser.get("/api/auth/me")
        assert me.status_code == 200
        assert me.json() == {"user": body["user"]}
    async with httpx.AsyncClient(base_url=server.base, timeout=15.0) as other:
        me = await other.get("/api/auth/me", headers=cookie(morsel.value))
        assert me.json()["user"]["id"] == body["user"]["id"]
        anonymous = await other.get("/api/auth/me")
        assert anonymous.status_code == 401
        assert error_of(anonymous)["code"] == "not_authenticated"


async def test_register_with_bearer_returns_a_token_and_no_cookie(http: httpx.AsyncClient) -> None:
    """`bearer: true` returns a token in the body, sets no cookie, and the token works as Bearer."""
    response = await register(http, "lee", bearer_token=True)
    assert response.status_code == 201
    assert "set-cookie" not in response.headers
    token = response.json()["token"]
    assert isinstance(token, str)
    assert len(token) >= 32
    me = await http.get("/api/auth/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json()["user"] == response.json()["user"]
    wrong = await http.get("/api/auth/me", headers=bearer(token + "x"))
    assert wrong.status_code == 401


async def test_usernames_are_unique_whatever_their_case(http: httpx.AsyncClient) -> None:
    """A username differing only in case from an existing one is refused with 409 username_taken."""
    assert (await register(http, "Sam.Lee")).status_code == 201
    again = await register(http, "sAM.lEE")
    assert again.status_code == 409
    assert error_of(again)["code"] == "username_taken"


@pytest.mark.parametrize(
    ("username", "password", "code"),
    [
        ("weakling", "short", "invalid"),
        ("weakling", "123456789", "invalid"),
        ("ab", PASSWORD, "invalid_username"),
        ("has space", PASSWORD, "invalid_username"),
        ("_leading", PASSWORD, "invalid_username"),
        ("x" * 33, PASSWORD, "invalid_username"),
        ("émile", PASSWORD, "invalid_username"),
        ("<script>", PASSWORD, "invalid_username"),
    ],
)
async def test_registration_refuses_bad_usernames_and_weak_passwords(
    server: LiveServer, http: httpx.AsyncClient, username: str, password: str, code: str
) -> None:
    """A weak password or a malformed username is a 400 with a stable code, and no account."""
    response = await register(http, username, password=password)
    assert response.status_code == 400
    assert error_of(response)["code"] == code
    assert error_of(response)["message"]
    assert await server.call(server.services.rooms.store.count_users()) == 0


async def test_display_names_are_kept_as_typed(http: httpx.AsyncClient) -> None:
    """A display name is plain text: what looks like markup stays, on one line."""
    response = await register(http, "marko", display_name="<b>Mar</b>ko  &\n co <3")
    assert response.status_code == 201
    assert response.json()["user"]["name"] == "<b>Mar</b>ko & co <3"


async def test_unknown_user_and_wrong_password_are_indistinguishable(
    community: Community, http: httpx.AsyncClient
) -> None:
    """A wrong password and an unknown username get byte-identical answers (bad_credentials)."""
    await community.person("sam", "Sam")
    wrong = await sign_in(http, "sam", "not the password at all")
    unknown = await sign_in(http, "nobody-here", "not the password at all")
    assert wrong.status_code == unknown.status_code
    assert wrong.status_code in (400, 401)
    assert wrong.content == unknown.content
    assert error_of(wrong)["code"] == "bad_credentials"
    assert "set-cookie" not in wrong.headers


async def test_repeated_failures_on_one_account_are_throttled_until_the_window_passes(
    community: Community, server: LiveServer, http: httpx.AsyncClient
) -> None:
    """The 11th failed login on one account from one address is a 429 with Retry-After;
    time restores it."""
    await community.person("sam", "Sam")
    for _ in range(10):
        failed = await sign_in(http, "sam", "wrong password, sorry")
        assert error_of(failed)["code"] == "bad_credentials"
    limited = await sign_in(http, "sam", "wrong password, sorry")
    assert limited.status_code == 429
    assert error_of(limited)["code"] == "rate_limited"
    retry_after = int(limited.headers["retry-after"])
    assert 1 <= retry_after <= 900
    # Even the right password waits: nothing is hashed while throttled.
    right_too_soon = await sign_in(http, "SAM")
    assert right_too_soon.status_code == 429

    server.clock.advance(900 + 1)
    again = await sign_in(http, "sam")
    assert again.status_code == 200
    assert again.json()["user"]["username"] == "sam"


async def test_waiting_exactly_retry_after_is_enough(
    community: Community, server: LiveServer, http: httpx.AsyncClient
) -> None:
    """A client that waits the Retry-After it was given is let in on its next attempt."""
    await community.person("sam", "Sam")
    for _ in range(10):
        await sign_in(http, "sam", "wrong password, sorry")
    server.clock.advance(0.6)
    limited = await sign_in(http, "sam")
    assert limited.status_code == 429
    server.clock.advance(int(limited.headers["retry-after"]))
    again = await sign_in(http, "sam")
    assert again.status_code == 200, again.text


async def test_successful_logins_from_one_address_are_never_throttled(
    server: LiveServer, http: httpx.AsyncClient
) -> None:
    """Thirty members signing in from one shared address in a row all get in."""
    accounts = server.services.accounts
    names = [f"member{i:02d}" for i in range(30)]
    for name in names:
        await server.call(accounts.create(name, PASSWORD, name, "member"))
    for name in names:
        response = await sign_in(http, name)
        assert response.status_code == 200, response.text
        assert response.json()["user"]["username"] == name


async def test_logout_revokes_the_cookie_session_and_clears_the_cookie(
    http: httpx.AsyncClient,
) -> None:
    """After logout the old cookie is refused server-side, and the response deletes the cookie."""
    signup = await register(http, "dana")
    token = set_cookie(signup)[COOKIE].value
    assert (await http.get("/api/auth/me", headers=cookie(token))).status_code == 200

    out = await http.post("/api/auth/logout", headers=cookie(token))
    assert out.status_code == 200
    cleared = set_cookie(out)[COOKIE]
    assert cleared.value == ""
    assert cleared["max-age"] == "0"
    assert cleared["path"] == "/"

    me = await http.get("/api/auth/me", headers=cookie(token))
    assert me.status_code == 401
    assert error_of(me)["code"] == "not_authenticated"


async def test_logout_revokes_a_bearer_token_and_only_that_one(
    community: Community, http: httpx.AsyncClient
) -> None:
    """Logging out with a bearer token revokes it; the member's other sessions keep working."""
    await community.person("sam", "Sam")
    first = (await sign_in(http, "sam")).json()["token"]
    second = (await sign_in(http, "sam")).json()["token"]
    assert (await http.post("/api/auth/logout", headers=bearer(first))).status_code == 200
    assert (await http.get("/api/auth/me", headers=bearer(first))).status_code == 401
    assert (await http.get("/api/auth/me", headers=bearer(second))).status_code == 200


async def test_tokens_expire_after_their_lifetime(
    community: Community, server: LiveServer, http: httpx.AsyncClient
) -> None:
    """A token works until token_ttl_hours have passed and is refused from then on."""
    await community.person("sam", "Sam")
    token = (await sign_in(http, "sam")).json()["token"]
    ttl = server.settings.token_ttl_hours * 3600
    server.clock.advance(ttl - 60)
    assert (await http.get("/api/auth/me", headers=bearer(token))).status_code == 200
    server.clock.advance(61)
    expired = await http.get("/api/auth/me", headers=bearer(token))
    assert expired.status_code == 401
    assert error_of(expired)["code"] == "not_authenticated"


# -- cross-site writes and malformed bodies -----------------------------------


async def test_cookie_writes_from_a_foreign_origin_are_refused(
    community: Community, server: LiveServer, http: httpx.AsyncClient
) -> None:
    """A cookie-authenticated write from another site is a 403 bad_origin and changes nothing."""
    await community.person("robin", "Robin", "facilitator")
    signin = await sign_in(http, "robin", as_bearer=False)
    token = set_cookie(signin)[COOKIE].value
    body = {"name": "Forged room", "schedule": WEEKLY}

    forged = await http.post("/api/rooms", json=body, headers={**cookie(token), "Origin": EVIL})
    assert forged.status_code == 403
    assert error_of(forged)["code"] == "bad_origin"
    forged_logout = await http.post("/api/auth/logout", headers={**cookie(token), "Origin": "null"})
    assert forged_logout.status_code == 403
    assert error_of(forged_logout)["code"] == "bad_origin"
    rooms = await http.get("/api/rooms", headers=cookie(token))
    assert rooms.json()["rooms"] == []  # nothing was created, still signed in

    for origin in sorted(server.settings.origins):
        mine = await http.post("/api/rooms", json=body, headers={**cookie(token), "Origin": origin})
        assert mine.status_code == 201, origin

    foreign_signup = await register(http, "mallory", headers={"Origin": EVIL})
    assert foreign_signup.status_code == 403
    assert error_of(foreign_signup)["code"] == "bad_origin"


@pytest.mark.parametrize(
    ("content", "content_type", "code"),
    [
        (b'{"name": "x"}', "text/plain", "invalid"),
        (b"name=x", "application/x-www-form-urlencoded", "invalid"),
        (b'{"name": "x"}', None, "invalid"),
        (b'{"name": ', "application/json", "bad_json"),
        (b"\xff\xfe", "application/json", "bad_json"),
        (b"[1, 2]", "application/json", "bad_json"),
        (b'{"name": "' + b"x" * (64 * 1024) + b'"}', "application/json", "too_large"),
    ],
)
async def test_writes_need_a_small_well_formed_json_body(
    community: Community,
    http: httpx.AsyncClient,
    content: bytes,
    content_type: str | None,
    code: str,
) -> None:
    """A non-JSON content type, invalid JSON, or a body over 64 KiB is a 400 naming the problem."""
    await community.person("robin", "Robin", "facilitator")
    headers = bearer(community.tokens["robin"])
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = await http.post("/api/rooms", content=content, headers=headers)
    assert response.status_code == 400
    assert error_of(response)["code"] == code
    rooms = await http.get("/api/rooms", headers=bearer(community.tokens["robin"]))
    assert rooms.json()["rooms"] == []


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
    ],
)
async def test_json_media_type_is_recognised_however_it_is_written(
    community: Community, http: httpx.AsyncClient, content_type: str
) -> None:
    """Any spelling of the JSON media type (types are case-insensitive, RFC 9110) is accepted."""
    await community.person("robin", "Robin", "facilitator")
    headers = {**bearer(community.tokens["robin"]), "Content-Type": content_type}
    content = json.dumps({"name": "Circle", "schedule": WEEKLY}).encode()
    response = await http.post("/api/rooms", content=content, headers=headers)
    assert response.status_code == 201, response.text


# -- rooms ------------------------------------------------------------------------


async def test_members_cannot_create_rooms(community: Community, http: httpx.AsyncClient) -> None:
    """Room creation by a member is a 403 forbidden."""
    await community.person("sam", "Sam")
    response, body = await create_room(http, community.tokens["sam"])
    assert response.status_code == 403
    assert body["error"]["code"] == "forbidden"


async def test_a_facilitator_creates_a_weekly_room_with_a_co_facilitator(
    community: Community, server: LiveServer, http: httpx.AsyncClient
) -> None:
    """A created room keeps its schedule and facilitators and says when it next meets."""
    robin = await community.person("robin", "Robin", "facilitator")
    alex = await community.person("alex", "Alex", "facilitator")
    response, body = await create_room(
        http,
        community.tokens["robin"],
        name="Monday & Thursday evenings",
        description="A steady place.",
        capacity=12,
        co_facilitators=["ALEX"],
    )
    assert response.status_code == 201, body
    room = body["room"]
    assert room["name"] == "Monday & Thursday evenings"
    assert room["description"] == "A steady place."
    assert room["capacity"] == 12
    assert room["visibility"] == "closed"
    assert room["schedule"] == {**WEEKLY, "one_off": []}
    assert room["facilitators"] == [
        {"id": robin.id, "name": "Robin"},
        {"id": alex.id, "name": "Alex"},
    ]
    assert room["your_role"] == "facilitator"
    assert room["guidelines"]  # the default group agreement
    assert "not a crisis service" in room["crisis_resources"]

    fetched = await http.get(f"/api/rooms/{room['id']}", headers=bearer(community.tokens["alex"]))
    assert fetched.status_code == 200
    got = fetched.json()["room"]
    assert got["your_role"] == "facilitator"
    upcoming = got["next_session"]
    assert set(upcoming) == {"key", "starts_at", "ends_at", "lobby_opens_at"}
    starts = instant(upcoming["starts_at"])
    assert instant(upcoming["ends_at"]) - starts == 90 * 60
    assert starts - instant(upcoming["lobby_opens_at"]) == room["lobby_minutes"] * 60
    assert instant(upcoming["ends_at"]) > server.clock.now()
    local = datetime.fromtimestamp(starts, ZoneInfo("Europe/London"))
    assert local.weekday() in (0, 3)
    assert (local.hour, local.minute) == (18, 30)
    assert upcoming["key"] == f"{room['id']}:{int(starts)}"


async def test_co_facilitators_must_be_facilitator_accounts(
    community: Community, http: httpx.AsyncClient
) -> None:
    """Naming a member (or nobody) as co-facilitator is a 400 on `co_facilitators`."""
    await community.person("robin", "Robin", "facilitator")
    await community.person("sam", "Sam")
    for names in (["sam"], ["nobody-at-all"], "robin"):
        response, body = await create_room(http, community.tokens["robin"], co_facilitators=names)
        assert response.status_code == 400, names
        assert body["error"]["detail"]["field"] == "co_facilitators"
    rooms = await http.get("/api/rooms", headers=bearer(community.tokens["robin"]))
    assert rooms.json()["rooms"] == []


async def test_capacity_is_capped_by_the_server(
    community: Community, server: LiveServer, http: httpx.AsyncClient
) -> None:
    """A capacity above settings.max_capacity (or below 1, or not a number) is a 400."""
    await community.person("robin", "Robin", "facilitator")
    limit = server.settings.max_capacity
    assert limit == 16
    for capacity in (limit + 1, 0, -3, 2.5, "8", True):
        response, body = await create_room(http, community.tokens["robin"], capacity=capacity)
        assert response.status_code == 400, capacity
        assert body["error"]["detail"]["field"] == "capacity"
    response, body = await create_room(http, community.tokens["robin"], capacity=limit)
    assert response.status_code == 201
    assert body["room"]["capacity"] == limit


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"weekly": [{"days": [7], "start": "18:30", "duration_minutes": 60}]}, "weekly[0].days"),
        ({"weekly": [{"days": [], "start": "18:30", "duration_minutes": 60}]}, "weekly[0].days"),
        ({"weekly": [{"start": "18:30", "duration_minutes": 60}]}, "weekly[0].days"),
        ({"weekly": [{"days": [1], "start": "25:00", "duration_minutes": 60}]}, "weekly[0].start"),
        (
            {"weekly": [{"days": [1], "start": "18:30", "duration_minutes": 1}]},
            "weekly[0].duration_minutes",
        ),
        ({"one_off": [{"start": "tomorrow", "duration_minutes": 60}]}, "one_off[0].start"),
        ({"weekly": "mondays"}, "weekly"),
        ("every tuesday", "schedule"),
    ],
)
async def test_a_bad_schedule_is_refused_naming_the_field(
    community: Community, http: httpx.AsyncClient, schedule: Any, field: str
) -> None:
    """An invalid schedule is a 400 whose detail names the offending field."""
    await community.person("robin", "Robin", "facilitator")
    response, body = await create_room(http, community.tokens["robin"], schedule=schedule)
    assert response.status_code == 400
    assert body["error"]["detail"]["field"] == field
    assert body["error"]["message"]


async def test_a_room_name_of_only_invisible_characters_is_refused(
    community: Community, http: httpx.AsyncClient
) -> None:
    """A name that is empty once cleaned is a 400 on `name`, not a server error."""
    await community.person("robin", "Robin", "facilitator")
    response = await http.post(
        "/api/rooms",
        json={"name": "\u200b \u202e", "schedule": WEEKLY},
        headers=bearer(community.tokens["robin"]),
    )
    assert response.status_code == 400
    assert response.json()["error"]["detail"]["field"] == "name"


async def test_patch_updates_a_room(
    community: Community, server: LiveServer, http: httpx.AsyncClient
) -> None:
    """PATCH changes only the fields sent, and GET shows the change; members may not PATCH."""
    await community.person("robin", "Robin", "facilitator")
    await community.person("sam", "Sam")
    _, created = await create_room(http, community.tokens["robin"], description="before")
    room_id = created["room"]["id"]
    headers = bearer(community.tokens["robin"])
    new_schedule = {
        "timezone": "America/New_York",
        "weekly": [{"days": [5], "start": "09:00", "duration_minutes": 60}],
    }
    patch = await http.patch(
        f"/api/rooms/{room_id}",
        json={"name": "Saturday mornings", "capacity": 6, "schedule": new_schedule},
        headers=headers,
    )
    assert patch.status_code == 200, patch.text
    got = (await http.get(f"/api/rooms/{room_id}", headers=headers)).json()["room"]
    assert got["name"] == "Saturday mornings"
    assert got["capacity"] == 6
    assert got["description"] == "before"  # untouched
    assert got["schedule"] == {**new_schedule, "one_off": []}
    local = datetime.fromtimestamp(
        instant(got["next_session"]["starts_at"]), ZoneInfo("America/New_York")
    )
    assert (local.weekday(), local.hour, local.minute) == (5, 9, 0)

    refused = await http.patch(f"/api/rooms/{room_id}", json={"capacity": 99}, headers=headers)
    assert refused.status_code == 400
    unchanged = (await http.get(f"/api/rooms/{room_id}", headers=headers)).json()["room"]
    assert unchanged["capacity"] == 6

    store = server.services.rooms.store
    await server.call(store.enrol(room_id, community.users["sam"].id, server.clock.now()))
    member = await http.patch(
        f"/api/rooms/{room_id}", json={"name": "Mine now"}, headers=bearer(community.tokens["sam"])
    )
    assert member.status_code == 403


async def test_waiting_room_round_trips_through_post_patch_and_get(
    community: Community, http: httpx.AsyncClient
) -> None:
    """`waiting_room` is off unless asked for, set by POST or PATCH, and must be a boolean."""
    await community.person("robin", "Robin", "facilitator")
    headers = bearer(community.tokens["robin"])
    _, plain = await create_room(http, community.tokens["robin"])
    assert plain["room"]["waiting_room"] is False

    response, created = await create_room(http, community.tokens["robin"], waiting_room=True)
    assert response.status_code == 201, created
    room_id = created["room"]["id"]
    assert created["room"]["waiting_room"] is True
    got = await http.get(f"/api/rooms/{room_id}", headers=headers)
    assert got.json()["room"]["waiting_room"] is True

    patch = await http.patch(f"/api/rooms/{room_id}", json={"waiting_room": False}, headers=headers)
    assert patch.status_code == 200, patch.text
    assert patch.json()["room"]["waiting_room"] is False
    got = await http.get(f"/api/rooms/{room_id}", headers=headers)
    assert got.json()["room"]["waiting_room"] is False

    renamed = await http.patch(f"/api/rooms/{room_id}", json={"name": "Renamed"}, headers=headers)
    assert renamed.json()["room"]["waiting_room"] is False  # untouched by other changes
    await http.patch(f"/api/rooms/{room_id}", json={"waiting_room": True}, headers=headers)
    listed = (await http.get("/api/rooms", headers=headers)).json()["rooms"]
    assert {r["id"]: r["waiting_room"] for r in listed}[room_id] is True

    for value in ("yes", 1, None):
        bad = await http.patch(
            f"/api/rooms/{room_id}", json={"waiting_room": value}, headers=headers
        )
        assert bad.status_code == 400, value
        assert error_of(bad)["detail"]["field"] == "waiting_room"
        response, body = await create_room(http, community.tokens["robin"], waiting_room=value)
        assert response.status_code == 400, value
        assert body["error"]["detail"]["field"] == "waiting_room"
    got = await http.get(f"/api/rooms/{room_id}", headers=headers)
    assert got.json()["room"]["waiting_room"] is True


async def test_room_lists_show_each_person_their_rooms(
    community: Community, server: LiveServer, http: httpx.AsyncClient
) -> None:
    """Facilitators see the rooms they run; members see the rooms they're in, with times."""
    await community.person("robin", "Robin", "facilitator")
    await community.person("sam", "Sam")
    await community.person("lee", "Lee")
    open_now = await community.room("robin", ["sam"], name="Open now")
    schedule, _ = tomorrow_schedule(server.clock.now())
    later = await community.room("robin", ["sam", "lee"], name="Tomorrow", schedule=schedule)

    robin_rooms = (await http.get("/api/rooms", headers=bearer(community.tokens["robin"]))).json()
    assert [r["id"] for r in robin_rooms["rooms"]] == [open_now.id, later.id]
    assert {r["your_role"] for r in robin_rooms["rooms"]} == {"facilitator"}

    sam_rooms = (await http.get("/api/rooms", headers=bearer(community.tokens["sam"]))).json()
    by_id = {r["id"]: r for r in sam_rooms["rooms"]}
    assert list(by_id) == [open_now.id, later.id]
    assert by_id[open_now.id]["open_now"] is True
    assert by_id[later.id]["open_now"] is False
    for room in by_id.values():
        assert room["your_role"] == "member"
        assert room["next_session"]["starts_at"]

    lee_rooms = (await http.get("/api/rooms", headers=bearer(community.tokens["lee"]))).json()
    assert [r["id"] for r in lee_rooms["rooms"]] == [later.id]


async def test_closed_rooms_are_invisible_to_outsiders(
    community: Community, http: httpx.AsyncClient
) -> None:
    """A member not enrolled gets exactly the 404 an unknown room gets, never a 403."""
    await community.person("robin", "Robin", "facilitator")
    await community.person("sam", "Sam")
    await community.person("kim", "Kim")
    room = await community.room("robin", ["sam"])
    outsider = bearer(community.tokens["kim"])
    for suffix in ("", "/sessions", "/invites", "/moderation", "/roster"):
        hidden = await http.get(f"/api/rooms/{room.id}{suffix}", headers=outsider)
        missing = await http.get(f"/api/rooms/room_0000000000000000{suffix}", headers=outsider)
        assert hidden.status_code == 404, suffix
        assert hidden.content == missing.content, suffix
    patched = await http.patch(f"/api/rooms/{room.id}", json={"name": "x"}, headers=outsider)
    assert patched.status_code == 404
    enrolled = await http.get(f"/api/rooms/{room.id}", headers=bearer(community.tokens["sam"]))
    assert enrolled.status_code == 200
    assert enrolled.json()["room"]["your_role"] == "member"


async def test_sessions_lists_upcoming_windows_in_order(
    community: Community, server: LiveServer, http: httpx.AsyncClient
) -> None:
    """/sessions lists the next windows, in order, each at the scheduled local time and length."""
    await community.person("robin", "Robin", "facilitator")
    _, created = await create_room(http, community.tokens["robin"], lobby_minutes=10)
    room = created["room"]
    response = await http.get(
        f"/api/rooms/{room['id']}/sessions", headers=bearer(community.tokens["robin"])
    )
    assert response.status_code == 200
    sessions = response.json()["sessions"]
    assert len(sessions) == 10
    starts = [instant(s["starts_at"]) for s in sessions]
    assert starts == sorted(starts)
    assert len(set(starts)) == len(starts)
    assert instant(sessions[0]["ends_at"]) > server.clock.now()
    assert starts[-1] - starts[0] < 36 * 86400  # ten sessions at two a week
    london = ZoneInfo("Europe/London")
    for session, start in zip(sessions, starts, strict=True):
        local = datetime.fromtimestamp(start, london)
        assert local.weekday() in (0, 3)
        assert (local.hour, local.minute) == (18, 30)
        assert instant(session["ends_at"]) - start == 90 * 60
        assert start - instant(session["lobby_opens_at"]) == 10 * 60
        assert session["key"] == f"{room['id']}:{int(start)}"
    assert sessions[0]["starts_at"] == room["next_session"]["starts_at"]


# -- invites ----------------------------------------------------------------------


async def test_invites_enrol_members_however_the_code_is_typed(
    community: Community, http: httpx.AsyncClient
) -> None:
    """An invite's code (shown once) enrols members, whatever its case, spacing or dashes."""
    await community.person("robin", "Robin", "facilitator")
    room = await community.room("robin", [])
    fac = bearer(community.tokens["robin"])
    created = await http.post(
        f"/api/rooms/{room.id}/invites", json={"expires_in_hours": 48}, headers=fac
    )
    assert created.status_code == 201
    body = created.json()
    code = body["code"]
    invite = body["invite"]
    assert "code_hash" not in invite
    assert "code" not in invite
    assert invite["room_id"] == room.id
    assert invite["uses"] == 0
    assert invite["max_uses"] is None
    assert invite["revoked_at"] is None
    assert instant(invite["expires_at"]) - instant(invite["created_at"]) == pytest.approx(
        48 * 3600, abs=0.01
    )

    plain = code.replace("-", "")
    variations = {
        "ana": code.lower(),
        "ben": " ".join(code.split("-")),
        "cai": f"  {plain[:7]} {plain[7:]}  ",
        "dev": "\u2013".join(code.split("-")),  # an en dash, as phones type it
    }
    for name, typed in variations.items():
        await community.person(name, name.title())
        headers = bearer(community.tokens[name])
        redeemed = await http.post("/api/invites/redeem", json={"code": typed}, headers=headers)
        assert redeemed.status_code == 200, (typed, redeemed.text)
        assert redeemed.json()["room"]["id"] == room.id
        assert redeemed.json()["room"]["your_role"] == "member"
        mine = (await http.get("/api/rooms", headers=headers)).json()["rooms"]
        assert [r["id"] for r in mine] == [room.id]

    listed = await http.get(f"/api/rooms/{room.id}/invites", headers=fac)
    assert listed.status_code == 200
    [only] = listed.json()["invites"]
    assert only["id"] == invite["id"]
    assert only["uses"] == len(variations)
    assert "code_hash" not in only
    assert code not in listed.text
    assert plain not in listed.text


async def test_revoked_expired_and_used_up_invites_are_refused(
    community: Community, server: LiveServer, http: httpx.AsyncClient
) -> None:
    """A revoked, expired or used-up code is a 404 invalid_invite and enrols nobody."""
    await community.person("robin", "Robin", "facilitator")
    room = await community.room("robin", [])
    fac = bearer(community.tokens["robin"])
    for name in ("ana", "ben", "cai", "dev"):
        await community.person(name, name.title())

    async def invite(**body: Any) -> dict[str, Any]:
        response = await http.post(f"/api/rooms/{room.id}/invites", json=body, headers=fac)
        assert response.status_code == 201
        data: dict[str, Any] = response.json()
        return data

    async def redeem(name: str, code: str) -> httpx.Response:
        return await http.post(
            "/api/invites/redeem", json={"code": code}, headers=bearer(community.tokens[name])
        )

    def refused(response: httpx.Response) -> bool:
        return response.status_code == 404 and error_of(response)["code"] == "invalid_invite"

    revoked = await invite()
    gone = await http.delete(f"/api/rooms/{room.id}/invites/{revoked['invite']['id']}", headers=fac)
    assert gone.status_code == 200
    assert refused(await redeem("ana", revoked["code"]))
    unknown = await http.delete(f"/api/rooms/{room.id}/invites/inv_0000000000000000", headers=fac)
    assert unknown.status_code == 404

    # A facilitator of another room cannot revoke this room's invites through their own room.
    await community.person("alex", "Alex", "facilitator")
    elsewhere = await community.room("alex", [])
    kept = await invite()
    cross = await http.delete(
        f"/api/rooms/{elsewhere.id}/invites/{kept['invite']['id']}",
        headers=bearer(community.tokens["alex"]),
    )
    assert cross.status_code == 404
    assert (await redeem("ana", kept["code"])).status_code == 200

    single = await invite(max_uses=1)
    assert (await redeem("ben", single["code"])).status_code == 200
    assert (await redeem("ben", single["code"])).status_code == 200  # reopening is harmless
    assert refused(await redeem("cai", single["code"]))

    hourly = await invite(expires_in_hours=1)
    server.clock.advance(3600 + 1)
    assert refused(await redeem("dev", hourly["code"]))
    assert refused(await redeem("dev", "ABCD-EFGH-JKMN-PQRS-TUVW"))

    roster = await http.get(f"/api/rooms/{room.id}/roster", headers=fac)
    assert [m["name"] for m in roster.json()["members"]] == ["Ana", "Ben"]
    invites = (await http.get(f"/api/rooms/{room.id}/invites", headers=fac)).json()["invites"]
    listed = {i["id"]: i for i in invites}
    assert listed[revoked["invite"]["id"]]["revoked_at"] is not None
    assert listed[single["invite"]["id"]]["uses"] == 1
    assert listed[hourly["invite"]["id"]]["uses"] == 0


async def test_members_cannot_create_or_list_invites(
    community: Community, http: httpx.AsyncClient
) -> None:
    """An enrolled member asking to create, list or revoke invites gets a 403."""
    await community.person("robin", "Robin", "facilitator")
    await community.person("sam", "Sam")
    room = await community.room("robin", ["sam"])
    created = await http.post(
        f"/api/rooms/{room.id}/invites", json={}, headers=bearer(community.tokens["robin"])
    )
    invite_id = created.json()["invite"]["id"]
    member = bearer(community.tokens["sam"])
    make = await http.post(f"/api/rooms/{room.id}/invites", json={}, headers=member)
    listing = await http.get(f"/api/rooms/{room.id}/invites", headers=member)
    revoke = await http.delete(f"/api/rooms/{room.id}/invites/{invite_id}", headers=member)
    for response in (make, listing, revoke):
        assert response.status_code == 403
        assert error_of(response)["code"] == "forbidden"
    assert "invites" not in listing.json()


# -- the moderation record ------------------------------------------------------------


async def test_the_moderation_record_lists_a_mute_without_any_text(
    community: Community, http: httpx.AsyncClient
) -> None:
    """A mute appears in the record with actor and target ids; facilitators and admins read it."""
    robin = await community.person("robin", "Robin", "facilitator")
    sam = await community.person("sam", "Sam")
    await community.person("lee", "Lee")
    await community.person("ada", "Ada", "admin")
    room = await community.room("robin", ["sam", "lee"])
    fac = await community.client("robin")
    member = await community.client("sam")
    await fac.join(room.id)
    await member.join(room.id)
    await member.agree()
    await member.set_mode("sharer")
    said = "sentinel-5c1e: something only the room should hear"
    seq = await member.post(said)
    await fac.wait_for(lambda e: e.get("seq") == seq)
    await fac.request("mute", user=sam.id, minutes=5, reason="a breather")
    await member.wait_for("muted")

    response = await http.get(
        f"/api/rooms/{room.id}/moderation", headers=bearer(community.tokens["robin"])
    )
    assert response.status_code == 200
    entries = response.json()["entries"]
    mutes = [e for e in entries if e["action"] == "mute"]
    assert len(mutes) == 1
    mute = mutes[0]
    assert mute["actor_id"] == robin.id
    assert mute["target_id"] == sam.id
    assert mute["room_id"] == room.id
    assert mute["reason"] == "a breather"
    assert mute["session_key"].startswith(f"{room.id}:")
    assert isinstance(mute["at"], str)
    assert said not in response.text
    assert "sentinel-5c1e" not in response.text
    assert all("text" not in e for e in entries)

    member_view = await http.get(
        f"/api/rooms/{room.id}/moderation", headers=bearer(community.tokens["sam"])
    )
    assert member_view.status_code == 403
    admin_view = await http.get(
        f"/api/rooms/{room.id}/moderation", headers=bearer(community.tokens["ada"])
    )
    assert admin_view.status_code == 200
    assert admin_view.json() == response.json()


# -- joining outside a session ----------------------------------------------------------


async def test_joining_outside_a_session_says_when_the_next_one_starts(
    community: Community, server: LiveServer
) -> None:
    """Joining a room that meets tomorrow is refused with no_session naming the next start."""
    await community.person("robin", "Robin", "facilitator")
    await community.person("sam", "Sam")
    tz = "America/New_York"
    schedule, starts_at = tomorrow_schedule(server.clock.now(), tz)
    room = await community.room("robin", ["sam"], schedule=schedule)
    sam = await community.client("sam")
    with pytest.raises(CommandError) as refused:
        await sam.join(room.id)
    error = refused.value
    assert error.code == "no_session"
    local = datetime.fromtimestamp(starts_at, ZoneInfo(tz))
    assert f"{local:%A %d %B, %H:%M} ({tz})" in error.message
    detail = error.frame["detail"]
    assert instant(detail["next_starts_at"]) == starts_at
    assert instant(detail["lobby_opens_at"]) == starts_at - 15 * 60
    assert datetime.fromisoformat(detail["next_starts_at"]).tzinfo == UTC
    # The refusal leaves the socket usable, in no room.
    assert (await sam.request("ping"))["type"] == "pong"
    with pytest.raises(CommandError) as outside:
        await sam.post("hello?")
    assert outside.value.code == "not_joined"


# -- the small endpoints -------------------------------------------------------------------


async def test_health_info_and_crisis_endpoints_answer(
    server: LiveServer, http: httpx.AsyncClient
) -> None:
    """/healthz, /api and /api/crisis answer without signing in; crisis says it isn't one."""
    health = await http.get("/healthz")
    assert health.status_code == 200
    assert health.json()["ok"] is True
    info = await http.get("/api")
    assert info.status_code == 200
    assert info.json() == {
        "name": "holdspace",
        "protocol": protocol.PROTOCOL_VERSION,
        "quick_exit_url": server.settings.quick_exit_url,
    }
    crisis = await http.get("/api/crisis")
    assert crisis.status_code == 200
    text = crisis.json()["crisis_resources"]
    assert "not a crisis service" in text
    assert text == server.settings.crisis_resources


async def test_concurrent_signups_for_one_name_make_one_account(
    server: LiveServer, http: httpx.AsyncClient
) -> None:
    """Two simultaneous registrations of one name (any case) create one account; one gets 409."""
    first, second = await asyncio.gather(register(http, "river"), register(http, "RIVER"))
    assert sorted([first.status_code, second.status_code]) == [201, 409]
    assert await server.call(server.services.rooms.store.count_users()) == 1
