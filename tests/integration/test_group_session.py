"""A whole support-group session through real sockets, as issue #3 describes it.

Robin facilitates; Ana, Ben and Dee share; Lis only listens; Dee arrives late.
Every step checks what each person sees — and, as importantly, what they don't.
"""

from __future__ import annotations

from typing import Any

import pytest

from holdspace_client import Client, CommandError
from tests.conftest import BACKENDS
from tests.live import Community, LiveServer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("server", BACKENDS, indirect=True),  # embedded, and on Redis
]


def is_(kind: str, **fields: Any) -> Any:
    return lambda e: e.get("type") == kind and all(e.get(k) == v for k, v in fields.items())


async def all_see(clients: list[Client], kind: str, **fields: Any) -> list[dict[str, Any]]:
    return [await c.wait_for(is_(kind, **fields)) for c in clients]


async def refused(client: Client, kind: str, **fields: Any) -> str:
    with pytest.raises(CommandError) as error:
        await client.request(kind, **fields)
    return error.value.code


async def test_a_whole_group_session(community: Community, server: LiveServer) -> None:
    """Check-in round, discussion with hands, care and safety tools, check-out, and the end."""
    await community.person("robin", "Robin", "facilitator")
    ids = {n: (await community.person(n, n.title())).id for n in ("ana", "ben", "lis", "dee")}
    room = await community.room("robin", list(ids))
    robin = await community.client("robin")
    await robin.join(room.id)
    ana, ben, lis = [await community.client(n) for n in ("ana", "ben", "lis")]
    for member in (ana, ben, lis):
        view = await member.join(room.id)
        assert view["room"]["guidelines"]  # the agreement to affirm
        assert "crisis" in view["room"]["crisis_resources"].lower()
        await member.agree()
    for sharer in (ana, ben):
        await sharer.set_mode("sharer")
    everyone = [robin, ana, ben, lis]
    await all_see(everyone, "mode", user_id=ids["ben"], mode="sharer")

    # -- check-in round: Ana is done, Ben passes and gets a second chance -------------
    await robin.request("start_round", kind="check_in")
    started = await all_see(everyone, "round_started")
    assert started[0]["order"] == [ids["ana"], ids["ben"]]  # Lis listens: never called on
    assert started[0]["prompt"] == "How are you arriving today?"
    await all_see(everyone, "turn", user_id=ids["ana"])

    dee = await community.client("dee")  # arrives mid-share: held at the door
    held = await dee.request("join", room=room.id)
    assert held["waiting"] == "door"
    assert "sharing" in held["message"]
    arrival = await robin.wait_for("arrival")
    assert (arrival["user_id"], arrival["place"]) == (ids["dee"], "door")

    share = await ana.post("I'm arriving tired, but glad to be here.")
    assert await refused(ben, "post", text="same here") == "not_your_turn"
    await lis.react(share, "me_too")
    await all_see([robin, ana, ben], "reaction", message=share, count=1)
    await ana.request("done")
    await all_see(everyone, "turn_ended", user_id=ids["ana"], outcome="done")
    admitted = await dee.wait_for("admitted")
    assert [m["text"] for m in admitted["messages"]] == ["I'm arriving tired, but glad to be here."]
    assert admitted["you"]["mode"] == "listener"
    await all_see(everyone, "joined")
    everyone.append(dee)
    await all_see(everyone, "turn", user_id=ids["ben"])

    await ben.request("pass")  # no reason asked; the room hears only that the piece moved on
    await all_see(everyone, "turn_ended", user_id=ids["ben"], outcome="moved_on")
    told = await robin.wait_for("turn_outcome")
    assert (told["user_id"], told["outcome"]) == (ids["ben"], "passed")
    await all_see(everyone, "turn", user_id=ids["ben"], second_chance=True)
    await ben.post("Actually — I'd like to say that I'm nervous tonight.")
    await ben.request("done")
    ended = await all_see(everyone, "round_ended")
    assert ended[0]["summary"] == [
        {"user_id": ids["ana"], "outcome": "done", "second_chance": None},
        {"user_id": ids["ben"], "outcome": "moved_on", "second_chance": "done"},
    ]

    # -- open discussion with hands ------------------------------------------------
    await ben.request("raise_hand")
    await ana.request("raise_hand")
    raised = await all_see(everyone, "hand_raised", user_id=ids["ana"])
    assert raised[0]["queue"] == [ids["ben"], ids["ana"]]
    await robin.request("give_floor")
    floor = await all_see(everyone, "floor", user_id=ids["ben"])
    assert floor[0]["queue"] == [ids["ana"]]
    assert await refused(ana, "post", text="me next") == "not_your_turn"
    await ben.post("Thank you for letting me speak.")
    await ben.request("done")
    await all_see(everyone, "floor_ended", user_id=ids["ben"], outcome="done")

    # -- a whisper reaches only the facilitator ------------------------------------
    seq_before = robin.seq
    sent = await lis.request("whisper", text="I need a moment")
    assert sent["facilitators_present"] is True
    whisper = await robin.wait_for("whisper")
    assert (whisper["name"], whisper["text"]) == ("Lis", "I need a moment")
    assert robin.seq == seq_before  # it took no place in the room's sequence

    # -- a mute and its expiry -------------------------------------------------------
    await robin.request("mute", user=ids["ben"], minutes=1)
    await all_see(everyone, "muted", user_id=ids["ben"])
    assert await refused(ben, "post", text="wait") == "muted"
    server.clock.advance(60)
    await all_see(everyone, "unmuted", user_id=ids["ben"], by=None)
    await ben.post("Thank you for the pause.")

    # -- pause and resume ---------------------------------------------------------------
    await robin.request("pause", message="Let's take a breath together")
    paused = await all_see(everyone, "paused")
    assert paused[0]["message"] == "Let's take a breath together"
    assert await refused(ana, "post", text="ok") == "paused"
    await robin.request("resume")
    await all_see(everyone, "resumed")

    # -- a redaction, seen as redacted by someone who was away ------------------------
    await lis.go_offline()
    await all_see([robin, ana, ben, dee], "away", user_id=ids["lis"])
    server.clock.advance(30)  # a little later, Ana speaks again
    oops = await ana.post("My neighbour Carol Smith at 12 Elm St said...")
    await robin.request("redact", message=oops, reason="a third party's details")
    await all_see([robin, ana, ben, dee], "redacted", message=oops)
    lis.go_online()
    caught_up = []
    while (event := await lis.next_event())["type"] != "_resumed":
        caught_up.append(event)
    assert event["via"] == "reply"
    [replayed] = [e for e in caught_up if e.get("seq") == oops]
    assert (replayed["text"], replayed["redacted"]) == (None, True)
    assert any(e["type"] == "redacted" for e in caught_up)
    for client in everyone:
        assert "Carol" not in str(client.snapshot)

    # -- the facilitator drops: the room pauses itself, and resumes when they return ----
    await robin.go_offline()
    auto = await all_see([ana, ben, lis, dee], "paused", reason="no_facilitator")
    assert auto[0]["by"] is None
    assert await refused(ana, "post", text="hello?") == "paused"
    robin.go_online()
    await all_see([ana, ben, lis, dee], "back")
    await all_see([ana, ben, lis, dee], "resumed", by=None)
    await robin.wait_for("_resumed")

    # -- check-out round, then the end ---------------------------------------------------
    await robin.request("start_round", kind="check_out", order="quietest")
    started = await all_see(everyone, "round_started")
    assert started[0]["prompt"] == "What are you taking with you from today?"
    assert started[0]["order"] == [ids["ben"], ids["ana"]]  # Ben spoke least recently
    await ben.request("done")
    await ana.request("pass")
    await ana.request("pass")  # her second chance: passing again is fine
    summary = (await robin.wait_for("round_ended"))["summary"]
    assert [(s["outcome"], s["second_chance"]) for s in summary] == [
        ("done", None),
        ("moved_on", "moved_on"),  # passing twice cost her nothing in the room's eyes
    ]
    balance = {r["name"]: r for r in (await robin.request("balance"))["members"]}
    assert (balance["Ben"]["turns"], balance["Ana"]["passes"], balance["Lis"]["posts"]) == (
        2, 2, 0,
    )  # fmt: skip
    await robin.request("end_session")
    await all_see(everyone, "session_ended")
    for client in everyone:
        assert client.duplicates == 0, client
        assert client.gaps == 0, client
    record = await server.call(server.services.rooms.store.moderation_record(room.id))
    actions = [entry.action for entry in record]
    for action in ("round_started", "turn_done", "turn_passed", "round_ended", "mute",
                   "mute_expired", "pause", "resume", "redact", "paused_no_facilitator",
                   "resumed_facilitator_back", "session_ended"):  # fmt: skip
        assert action in actions
    assert not any("Carol" in str(entry) or "nervous" in str(entry) for entry in record)
