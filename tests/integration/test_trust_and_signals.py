"""Trust in who is speaking, and the signals facilitators must never miss, end to end:
real uvicorn, real WebSocket clients, the HTTP API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from holdspace_client import Client, CommandError
from tests.conftest import BACKENDS
from tests.live import Community, LiveServer, bearer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("server", BACKENDS, indirect=True),  # embedded, and on Redis
]


async def refusal(client: Client, kind: str, **fields: Any) -> CommandError:
    with pytest.raises(CommandError) as refused:
        await client.request(kind, **fields)
    return refused.value


@pytest.mark.parametrize(
    "name",
    ["Robin (facilitator)", "Moderator Sam", "ADMIN", "Holdspace Team", "Facіlitator"],
)
async def test_signing_up_as_staff_is_refused(http: httpx.AsyncClient, name: str) -> None:
    """A name that claims a role is refused at sign-up, on the display name field."""
    response = await http.post(
        "/api/auth/register",
        json={"username": "poser", "password": "a long enough password", "display_name": name},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "name_reserved"
    assert error["detail"]["field"] == "display_name"


async def test_a_name_like_the_facilitators_is_refused_at_the_door_until_changed(
    community: Community, http: httpx.AsyncClient
) -> None:
    """A member called "R0BIN" can't join Robin's group as that, is told why, renames
    (refused again while the new name imitates), then joins; the room sees roles."""
    await community.person("robin", "Robin", "facilitator")
    await community.person("sam", "R0BIN")
    room = await community.room("robin", ["sam"])
    robin = await community.client("robin")
    await robin.join(room.id)
    sam = await community.client("sam")
    refused = await refusal(sam, "join", room=room.id)
    assert refused.code == "name_confusable"
    assert refused.frame["detail"] == {"field": "display_name", "facilitator": "Robin"}

    token = community.tokens["sam"]
    for imitation, code in (("Rоbin", "name_confusable"), ("Robin, host", "name_reserved")):
        response = await http.patch(
            "/api/auth/me", json={"display_name": imitation}, headers=bearer(token)
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == code
    response = await http.patch("/api/auth/me", json={"display_name": "Sam"}, headers=bearer(token))
    assert response.status_code == 200
    assert response.json()["user"]["name"] == "Sam"

    snapshot = await sam.join(room.id)
    roles = {p["name"]: p["role"] for p in snapshot["participants"]}
    assert roles == {"Robin": "facilitator", "Sam": "member"}
    await robin.request("post", text="Welcome, Sam.")
    message = await sam.wait_for("message")
    assert (message["name"], message["role"]) == ("Robin", "facilitator")


async def test_a_facilitator_may_keep_a_name_a_member_may_not(
    community: Community, http: httpx.AsyncClient
) -> None:
    """Role words are refused for members only: facilitators' roles show beside them."""
    await community.person("robin", "Robin", "facilitator")
    response = await http.patch(
        "/api/auth/me",
        json={"display_name": "Robin, facilitator"},
        headers=bearer(community.tokens["robin"]),
    )
    assert response.status_code == 200


async def test_whispers_are_answered_privately_and_arrivals_signalled(
    community: Community,
) -> None:
    """A one-tap "I need a moment" reaches both facilitators; one answers; the member and
    the other facilitator see the answer; another member sees nothing."""
    await community.person("robin", "Robin", "facilitator")
    await community.person("ash", "Ash", "facilitator")
    await community.person("sam", "Sam")
    await community.person("lee", "Lee")
    room = await community.room("robin", ["sam", "lee"], co_facilitators=["ash"])
    robin, ash = await community.client("robin"), await community.client("ash")
    sam, lee = await community.client("sam"), await community.client("lee")
    for client in (robin, ash, sam, lee):
        await client.join(room.id)
    sent = await sam.request("whisper")
    assert sent["facilitators_present"] is True
    for facilitator in (robin, ash):
        note = await facilitator.wait_for("whisper")
        assert (note["user_id"], note["text"], note["by"]) == (
            community.users["sam"].id, None, None,
        )  # fmt: skip
    await robin.request("whisper_reply", user=community.users["sam"].id, text="We're here.")
    for client in (sam, ash):
        answer = await client.wait_for("whisper")
        assert (answer["text"], answer["by_name"]) == ("We're here.", "Robin")
    await lee.request("ping")  # everything sent to Lee before this has arrived
    assert not [e for e in lee.history if e.get("type") == "whisper"]
    thread = (await sam.request("leave"), await sam.join(room.id))[1]["whispers"]
    assert [(w["text"], w["by"]) for w in thread] == [
        (None, None),
        ("We're here.", community.users["robin"].id),
    ]


async def test_the_waiting_room_turned_on_in_settings_applies_to_the_live_session(
    community: Community, http: httpx.AsyncClient
) -> None:
    """Saving the waiting room mid-session reaches the room at once: the next arrival waits."""
    await community.person("robin", "Robin", "facilitator")
    await community.person("sam", "Sam")
    room = await community.room("robin", ["sam"])
    robin = await community.client("robin")
    await robin.join(room.id)
    response = await http.patch(
        f"/api/rooms/{room.id}",
        json={"waiting_room": True},
        headers=bearer(community.tokens["robin"]),
    )
    assert response.status_code == 200
    on = await robin.wait_for("waiting_room")
    assert (on["on"], on["by"]) == (True, community.users["robin"].id)
    sam = await community.client("sam")
    held = await sam.request("join", room=room.id)
    assert held["waiting"] == "waiting_room"
    arrival = await robin.wait_for("arrival")
    assert arrival["user_id"] == community.users["sam"].id
    await robin.request("set_waiting_room", on=False)  # from the room: lets Sam in
    admitted = await sam.wait_for("admitted")
    assert admitted["session"]["waiting_room"] is False


async def test_the_record_names_who_acted_and_on_whom_and_the_summary_counts(
    community: Community, http: httpx.AsyncClient, server: LiveServer
) -> None:
    """The moderation record carries names (a member's own pass is theirs, not "a
    facilitator's"); the end-of-session summary counts without quoting."""
    await community.person("robin", "Robin", "facilitator")
    await community.person("sam", "Sam")
    room = await community.room("robin", ["sam"])
    robin, sam = await community.client("robin"), await community.client("sam")
    for client in (robin, sam):
        await client.join(room.id)
    await sam.agree()
    await sam.set_mode("sharer")
    await robin.request("start_round", kind="check_in")
    await sam.wait_for(lambda e: e.get("type") == "turn")
    await sam.request("pass")
    await robin.request("post", text="a sentence nobody may keep")
    await robin.request("end_session")
    summary = await robin.wait_for("session_summary")
    assert (summary["members"], summary["rounds"], summary["passes"], summary["messages"]) == (
        1, 1, 1, 1,
    )  # fmt: skip
    assert [p["name"] for p in summary["came"]] == ["Robin", "Sam"]
    assert "sentence" not in str(summary)

    response = await http.get(
        f"/api/rooms/{room.id}/moderation", headers=bearer(community.tokens["robin"])
    )
    entries = {e["action"]: e for e in response.json()["entries"]}
    passed = entries["turn_passed"]
    assert (passed["actor_name"], passed["target_name"]) == ("Sam", "Sam")
    assert entries["round_started"]["actor_name"] == "Robin"
    assert entries["session_ended"]["detail"]["passes"] == 1
