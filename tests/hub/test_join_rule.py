"""The join rule — subscribe and hold, then read, then release — as the live-sessions
service runs it, on both hubs, seen by recording subscribers: real connections whose
frames are written down instead of sent."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from holdspace import protocol as p
from holdspace.clock import SystemClock
from holdspace.core import commands as c
from holdspace.core.room import Transition
from holdspace.errors import Unavailable
from holdspace.live.base import LiveHub, Step
from holdspace.live.connection import Connection
from holdspace.records import Role, Room, User
from holdspace.rooms import Rooms
from holdspace.sessions import Answer, LiveSessions, Presence
from holdspace.settings import Settings
from holdspace.storage.sqlite import SQLiteStore
from tests.hub.conftest import HubFactory
from tests.live import open_now_schedule


@dataclass
class Recorder:
    """A connection's far end: every frame it was sent, in order."""

    frames: list[dict[str, Any]] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, frame: str) -> None:
        self.frames.append(json.loads(frame))
        self._arrived.set()

    async def until(self, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
        async with asyncio.timeout(5):
            while not done(self.frames):
                self._arrived.clear()
                await self._arrived.wait()
        return self.frames

    def types(self) -> list[str]:
        return [f["type"] for f in self.frames]


class HookedHub:
    """A real hub, with a way to act right after its next ``transact``: the moment just
    after a join has read the session's state."""

    def __init__(self, hub: LiveHub) -> None:
        self._hub = hub
        self.after_next: Callable[[], Awaitable[None]] | None = None

    async def transact(
        self, key: str, step: Step, create: Callable[[], Any] | None = None
    ) -> Transition | None:
        t = await self._hub.transact(key, step, create)
        hook, self.after_next = self.after_next, None
        if hook is not None:
            await hook()
        return t

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hub, name)


@dataclass
class Scene:
    sessions: LiveSessions
    hub: HookedHub
    room: Room
    people: dict[str, User]
    recorders: dict[str, Recorder] = field(default_factory=dict)
    frame_ids: int = 0

    def presence(self, name: str) -> Presence:
        recorder = self.recorders[name] = Recorder()
        conn = Connection(
            self.sessions.new_connection_id(),
            self.people[name].id,
            recorder.send,
            max_frames=1000,
            max_bytes=10_000_000,
        )
        return Presence(self.people[name], conn)

    async def do(self, presence: Presence, command: Any) -> Answer:
        self.frame_ids += 1
        return await self.sessions.handle(presence, p.Frame(self.frame_ids, "test", command))

    async def join(self, presence: Presence, resume: p.ResumeFrom | None = None) -> Answer:
        return await self.do(presence, p.JoinRoom(self.room.id, resume))


@pytest.fixture
async def scene(make_hub: HubFactory, tmp_path: Path) -> AsyncIterator[Scene]:
    store = await SQLiteStore.open(tmp_path / "holdspace.db")
    clock = SystemClock()
    people = {}
    cast_: list[tuple[str, Role]] = [
        ("robin", "facilitator"),
        ("sam", "member"),
        ("alex", "member"),
    ]
    for username, role in cast_:
        people[username] = await store.create_user(
            username=username, display_name=username.title(), password_hash="-", role=role,
            now=clock.now(),
        )  # fmt: skip
    settings = Settings()
    rooms = Rooms(store, clock, settings)
    room = await rooms.create(
        people["robin"], {"name": "Circle", "schedule": open_now_schedule(clock.now())}
    )
    for member in ("sam", "alex"):
        await store.enrol(room.id, people[member].id, clock.now())
    hub = HookedHub(await make_hub())
    sessions = LiveSessions(rooms, store, cast(LiveHub, hub), clock, settings)
    yield Scene(sessions, hub, room, people)
    await store.close()


def messages(frames: list[dict[str, Any]]) -> list[str]:
    return [f["text"] for f in frames if f["type"] == "message"]


async def test_an_event_just_after_the_read_is_held_then_sent_after_the_snapshot(
    scene: Scene,
) -> None:
    """What the room does between reading its state and the join's answer reaches the
    joiner once, after the snapshot and numbered right after it."""
    robin = scene.presence("robin")
    await scene.join(robin)
    sam = scene.presence("sam")

    async def robin_posts() -> None:
        answer = await scene.do(robin, c.Post("Welcome, everyone."))
        assert answer.refused is None

    scene.hub.after_next = robin_posts  # right after Sam's join has read the state
    assert await scene.join(sam) == Answer(None)  # the snapshot went out on the connection
    frames = await scene.recorders["sam"].until(lambda f: messages(f) != [])
    snapshot, *after = frames
    assert snapshot["type"] == "snapshot"
    assert [m["text"] for m in snapshot["messages"]] == []
    assert messages(after) == ["Welcome, everyone."]
    assert [f["seq"] for f in after] == list(
        range(snapshot["seq"] + 1, snapshot["seq"] + 1 + len(after))
    )


async def test_an_event_already_in_the_snapshot_is_not_sent_again(scene: Scene) -> None:
    robin = scene.presence("robin")
    await scene.join(robin)
    await scene.do(robin, c.Post("Before you came."))
    sam = scene.presence("sam")
    await scene.join(sam)
    await scene.do(robin, c.Post("After."))
    frames = await scene.recorders["sam"].until(lambda f: "After." in messages(f))
    snapshot, *after = frames
    assert [m["text"] for m in snapshot["messages"]] == ["Before you came."]
    assert messages(after) == ["After."]
    seqs = [f["seq"] for f in after]
    assert seqs == sorted(set(seqs))
    assert seqs[0] == snapshot["seq"] + 1


async def test_a_resume_sends_exactly_what_was_missed_then_its_answer(scene: Scene) -> None:
    robin, sam = scene.presence("robin"), scene.presence("sam")
    await scene.join(robin)
    await scene.join(sam)
    [snapshot] = await scene.recorders["sam"].until(lambda f: len(f) >= 1)
    await scene.sessions.part(sam, leaving=False)  # the phone lost its signal
    for text in ("one", "two", "three"):
        await scene.do(robin, c.Post(text))
    again = scene.presence("sam")
    answer = await scene.join(
        again, p.ResumeFrom(snapshot["session"]["key"], snapshot["epoch"], snapshot["seq"])
    )
    assert answer.frame is not None
    reply = json.loads(answer.frame)
    assert reply["resumed"] is True
    assert reply["post"] == {"code": "agreement_required", "message": reply["post"]["message"]}
    frames = await scene.recorders["sam"].until(lambda f: bool(f) and f[-1]["seq"] == reply["seq"])
    assert "snapshot" not in scene.recorders["sam"].types()
    assert [f["seq"] for f in frames] == list(range(snapshot["seq"] + 1, reply["seq"] + 1))
    assert messages(frames) == ["one", "two", "three"]


async def test_a_refused_join_leaves_nothing_subscribed(scene: Scene) -> None:
    robin, sam = scene.presence("robin"), scene.presence("sam")
    await scene.join(robin)
    await scene.do(robin, c.Lock())
    answer = await scene.join(sam)
    assert answer.refused == "locked"
    assert sam.seat is None
    await scene.do(robin, c.Post("Only for those inside."))
    await scene.recorders["robin"].until(lambda f: "Only for those inside." in messages(f))
    assert scene.recorders["sam"].frames == []


async def test_an_outage_while_entering_is_answered_and_leaves_nothing_subscribed(
    scene: Scene,
) -> None:
    robin, sam = scene.presence("robin"), scene.presence("sam")
    await scene.join(robin)
    real = scene.hub.transact

    async def unreachable(*args: Any, **kwargs: Any) -> Transition | None:
        raise Unavailable("the live hub is out of reach")

    scene.hub.transact = unreachable  # type: ignore[method-assign]
    answer = await scene.join(sam)
    scene.hub.transact = real  # type: ignore[method-assign]
    assert answer.refused == "unavailable"
    assert answer.frame is not None
    assert json.loads(answer.frame)["detail"] == {"retry_after": 2}
    assert sam.seat is None
    await scene.do(robin, c.Post("Still here."))
    await scene.recorders["robin"].until(lambda f: "Still here." in messages(f))
    assert scene.recorders["sam"].frames == []


async def test_leaving_unsubscribes_and_tells_the_room(scene: Scene) -> None:
    robin, sam = scene.presence("robin"), scene.presence("sam")
    await scene.join(robin)
    await scene.join(sam)
    answer = await scene.do(sam, c.Leave())
    assert answer.refused is None
    assert sam.seat is None
    frames = await scene.recorders["robin"].until(lambda f: any(x["type"] == "left" for x in f))
    assert [f["reason"] for f in frames if f["type"] == "left"] == ["left"]
    before = len(scene.recorders["sam"].frames)
    await scene.do(robin, c.Post("After Sam left."))
    await scene.recorders["robin"].until(lambda f: "After Sam left." in messages(f))
    assert len(scene.recorders["sam"].frames) == before
    again = await scene.do(sam, c.Leave())
    assert again.refused == "not_joined"
