"""docs/PROTOCOL.md stays honest: everything the server can put on the wire is documented."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import fields
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from holdspace import protocol as p
from holdspace.core import commands as c
from holdspace.core import events as e
from holdspace.core.events import EVENT_TYPES
from holdspace.core.room import apply
from holdspace.core.state import RoomConfig, RoomState
from holdspace.errors import Code
from holdspace.web.ws import COOKIE

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "PROTOCOL.md"
SERVER = ROOT / "server" / "holdspace"

# Direct (unsequenced) frames. The scan below must find exactly these: a new one
# fails the test until it is documented and added here.
DIRECT_FRAMES = frozenset({"hello", "snapshot", "resync", "reply", "error", "pong", "service"})
# Notices: frames for particular people, outside the room's sequence. The scan below must
# find exactly these, too.
NOTICES = frozenset(
    {
        "whisper", "arrival", "arrival_left", "admitted", "declined", "removed", "session_over",
        "turn_outcome", "session_summary", "post_state", "signed_out",
    }
)  # fmt: skip
# Close codes sent outside CloseCode: 1011 by ws.py (internal error) and uvicorn (keepalive).
EXTRA_CLOSE_CODES = (1011,)
ERROR_KEYS = frozenset({"type", "code", "message", "detail", "id"})
INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


# -- the document -------------------------------------------------------------------


@cache
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text of the ``## ...`` section whose heading contains ``title``."""
    match = re.search(
        rf"^## [^\n]*{re.escape(title)}[^\n]*\n(.*?)(?=^## |\Z)", doc(), re.MULTILINE | re.DOTALL
    )
    assert match is not None, f"docs/PROTOCOL.md has no section titled {title!r}"
    return match.group(1)


def backticked(text: str) -> set[str]:
    """Every inline-code span in ``text``."""
    return set(re.findall(r"`([^`\n]+)`", text))


def code_blocks() -> Iterator[tuple[str, str]]:
    """Every fenced code block as (language, body)."""
    for match in re.finditer(r"^```(\w*)\n(.*?)^```", doc(), re.MULTILINE | re.DOTALL):
        yield match.group(1), match.group(2)


def example_frames() -> list[tuple[str, dict[str, Any]]]:
    """Every example frame: ``→`` lines (client to server), ``←`` lines and json blocks (server)."""
    frames: list[tuple[str, dict[str, Any]]] = []
    for language, body in code_blocks():
        if language == "json":
            frames.append(("←", json.loads(body)))
            continue
        for line in body.splitlines():
            if line.startswith(("→ ", "← ")):
                frames.append((line[0], json.loads(line[2:])))
    return frames


# -- the server source ----------------------------------------------------------------


@cache
def modules() -> tuple[tuple[Path, ast.Module], ...]:
    return tuple(
        (path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
        for path in sorted(SERVER.rglob("*.py"))
    )


def string_constant(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


@cache
def error_codes() -> frozenset[str]:
    """Every code in the catalogue (``holdspace.errors.Code``)."""
    return frozenset(code.value for code in Code)


def bare_codes() -> list[str]:
    """Codes spelled as strings outside the catalogue: ``code="..."`` arguments and
    class-level ``code = "..."``. There should be none."""
    found: list[str] = []
    for path, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    value = string_constant(keyword.value)
                    if keyword.arg == "code" and value is not None:
                        found.append(f"{path.name}:{node.lineno} {value}")
            elif isinstance(node, ast.ClassDef):
                for statement in node.body:
                    targets = (
                        statement.targets
                        if isinstance(statement, ast.Assign)
                        else [statement.target]
                        if isinstance(statement, ast.AnnAssign)
                        else []
                    )
                    value = string_constant(getattr(statement, "value", None))
                    if value is not None and any(
                        isinstance(t, ast.Name) and t.id == "code" for t in targets
                    ):
                        found.append(f"{path.name}:{statement.lineno} {value}")
    return found


def _kinds(node: ast.expr, tree: ast.Module) -> set[str]:
    """The string constants an ``encode`` call's first argument can take."""
    value = string_constant(node)
    if value is not None:
        return {value}
    if isinstance(node, ast.IfExp):
        return _kinds(node.body, tree) | _kinds(node.orelse, tree)
    if isinstance(node, ast.Name):
        found: set[str] = set()
        for other in ast.walk(tree):
            if isinstance(other, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == node.id for t in other.targets
            ):
                found |= _kinds(other.value, tree)
        return found
    return set()


def _protocol_names(path: Path, tree: ast.Module) -> tuple[set[str], set[str]]:
    """How ``tree`` refers to the protocol module, and to its ``encode`` function."""
    modules_as: set[str] = set()
    encode_as = {"encode"} if path == SERVER / "protocol.py" else set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "holdspace":
            modules_as |= {a.asname or a.name for a in node.names if a.name == "protocol"}
        elif isinstance(node, ast.ImportFrom) and node.module == "holdspace.protocol":
            encode_as |= {a.asname or a.name for a in node.names if a.name == "encode"}
    return modules_as, encode_as


@cache
def direct_frames() -> frozenset[str]:
    """Every frame type passed to ``protocol.encode`` anywhere in the server."""
    kinds: set[str] = set()
    for path, tree in modules():
        modules_as, encode_as = _protocol_names(path, tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            is_encode = (isinstance(func, ast.Name) and func.id in encode_as) or (
                isinstance(func, ast.Attribute)
                and func.attr == "encode"
                and isinstance(func.value, ast.Name)
                and func.value.id in modules_as
            )
            if is_encode:
                kinds |= _kinds(node.args[0], tree)
    return frozenset(kinds)


def notice_kinds() -> frozenset[str]:
    """Every kind of notice the core can send: one class each in ``core.events``."""
    found: set[str] = set()
    pending = list(e.Notice.__subclasses__())
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        if "type" in vars(cls):
            found.add(cls.type)
    return frozenset(found)


@cache
def notice_fields() -> dict[str, frozenset[str]]:
    """The fields of each notice, read off notices the room core really sends: a waiting
    room's arrival, admission, departure and decline, a whisper and its answer, a pass
    (whose outcome only the facilitators hear), a removal, and the end of the session for
    someone still waiting and for the facilitators, and a sign-out."""
    config = RoomConfig(
        "room_x", "room_x:0", "Room", capacity=8, starts_at=0.0, ends_at=3600.0, waiting_room=True
    )
    state = RoomState(config=config, epoch="e1")
    steps: list[tuple[str, c.Command]] = [
        ("fac", c.Join("f1", "Fac", "facilitator")),
        ("amy", c.Join("a1", "Amy", "member")),
        ("fac", c.Admit("amy")),
        ("amy", c.Whisper("I need a moment")),
        ("fac", c.WhisperReply("amy", "We're here.")),
        ("amy", c.Agree()),
        ("amy", c.SetMode("sharer")),
        ("fac", c.StartRound("check_in")),
        ("amy", c.Pass()),
        ("bo", c.Join("b1", "Bo", "member")),
        ("fac", c.Decline("bo")),
        ("fac", c.Remove("amy")),
        ("cy", c.Join("c1", "Cy", "member")),
        ("cy", c.Disconnect("c1")),
        ("dot", c.Join("d1", "Dot", "member")),
        ("dot", c.SignOut("d:dots-phone")),
        ("fac", c.EndSession()),
    ]
    found: dict[str, frozenset[str]] = {}
    for actor, command in steps:
        t = apply(state, actor, command, 60.0)
        assert t.error is None, t.error
        for notice in t.notices:
            found.setdefault(notice.type, frozenset(json.loads(p.encode_notice(notice))))
    return found


def close_codes() -> list[int]:
    declared = [v for k, v in vars(p.CloseCode).items() if k.isupper() and isinstance(v, int)]
    return [*declared, *EXTRA_CLOSE_CODES]


def instants(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """Every (key, value) in ``value`` whose key names an instant."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from instants(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from instants(v, key)
    elif key in ("at", "deadline", "since") or key.endswith(("_at", "until")):
        yield key, value


# -- the tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.COMMANDS))
def test_every_command_is_documented(name: str) -> None:
    """Each client command in the COMMANDS registry has its own heading in the commands section."""
    assert re.search(rf"^### `{re.escape(name)}`", section("Commands"), re.MULTILINE)


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_every_event_type_is_documented(name: str) -> None:
    """Each room event type in EVENT_TYPES has its own heading in the events section."""
    assert re.search(rf"^### `{re.escape(name)}`", section("Room events"), re.MULTILINE)


def test_the_direct_frame_scan_finds_every_direct_frame() -> None:
    """The source scan finds exactly the known direct frames, so a new one can't go unnoticed."""
    assert direct_frames() == DIRECT_FRAMES


@pytest.mark.parametrize("name", sorted(DIRECT_FRAMES))
def test_every_direct_frame_is_documented(name: str) -> None:
    """Each direct (unsequenced) frame has its own heading in the direct frames section."""
    assert re.search(rf"^### `{re.escape(name)}`", section("Direct frames"), re.MULTILINE)


def test_the_notice_scan_finds_every_notice() -> None:
    """The source scan finds exactly the known notices, and the core really sends each."""
    assert notice_kinds() == NOTICES
    assert set(notice_fields()) == NOTICES


@pytest.mark.parametrize("name", sorted(NOTICES))
def test_every_notice_is_documented(name: str) -> None:
    """Each notice has its own heading in the notices section."""
    assert re.search(rf"^### `{re.escape(name)}`", section("Notices"), re.MULTILINE)


@pytest.mark.parametrize("code", close_codes())
def test_every_close_code_is_documented(code: int) -> None:
    """Each close code the server can send appears in the close codes table."""
    assert str(code) in backticked(section("Close codes"))


def test_every_error_code_comes_from_the_catalogue() -> None:
    """No layer spells an error code as a bare string: they all come from ``Code``."""
    assert bare_codes() == []


def test_each_code_answers_http_with_a_fitting_status() -> None:
    """Every code maps to one HTTP status, a client or service error."""
    for code in Code:
        assert code.status in (400, 401, 403, 404, 409, 429, 503), code


@pytest.mark.parametrize("code", sorted(error_codes()))
def test_every_error_code_is_documented(code: str) -> None:
    """Each error code literal in the server source appears in the error codes section."""
    assert code in backticked(section("Error codes"))


def test_limits_version_and_cookie_match_the_code() -> None:
    """The protocol version, both frame limits and the cookie name are the code's own."""
    assert f'"protocol":{p.PROTOCOL_VERSION}' in doc()
    assert str(p.MAX_FRAME_BYTES) in doc()
    assert str(p.TRANSPORT_MAX_BYTES) in doc()
    assert f"`{COOKIE}`" in doc()


def test_example_client_frames_parse() -> None:
    """Every example client frame is accepted by the server's own parser."""
    sent = [frame for direction, frame in example_frames() if direction == "→"]
    assert {frame["type"] for frame in sent} == set(p.COMMANDS)
    for frame in sent:
        assert p.parse(json.dumps(frame)).type == frame["type"]


def test_example_server_frames_match_the_code() -> None:
    """Every example server frame has a known type; events and notices carry exactly their
    fields. (A ``whisper`` sent by the server is the notice; the client's is the command.)"""
    received = [frame for direction, frame in example_frames() if direction == "←"]
    assert {frame["type"] for frame in received} == set(EVENT_TYPES) | DIRECT_FRAMES | NOTICES
    for frame in received:
        kind = frame["type"]
        if kind in NOTICES:
            assert set(frame) == notice_fields()[kind], frame
        elif kind in EVENT_TYPES:
            expected = {"type"} | {f.name for f in fields(EVENT_TYPES[kind])}
            assert set(frame) == expected, frame
        elif kind == "error":
            assert set(frame) <= ERROR_KEYS, frame
            assert frame["code"] in error_codes(), frame
        elif kind == "reply":
            assert frame["ok"] is True, frame
        else:
            assert kind in DIRECT_FRAMES, frame
        for key, value in instants(frame):
            assert value is None or INSTANT.fullmatch(value), (key, value)


def test_the_overview_lists_every_frame_of_each_kind() -> None:
    """The overview's table of the four kinds of frames names exactly what the code has."""
    overview = section("Overview")

    def row(kind: str) -> set[str]:
        match = re.search(rf"^\| {kind} \|[^\n]*$", overview, re.MULTILINE)
        assert match is not None, f"the overview has no row for {kind}"
        return backticked(match.group(0).rsplit("|", 2)[-2])

    assert row("Commands") == set(p.COMMANDS)
    assert row("Direct frames") == DIRECT_FRAMES
    assert row("Notices") == NOTICES
    assert row("Room events") == set(EVENT_TYPES)
