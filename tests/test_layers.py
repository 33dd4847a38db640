"""The server's layers point one way: each package imports only what lies beneath it.

    web  →  sessions, rooms, accounts  →  live, storage  →  core, schedule, records
                                                              ↘  errors, clock

Read off the source with ``ast``, so a new import that breaks a rule fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVER = Path(__file__).resolve().parent.parent / "server" / "holdspace"

# What each part of the server must never import (module prefixes).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    # The pure core: rules only, no I/O, no backend, no wire.
    "core": (
        "holdspace.live", "holdspace.storage", "holdspace.web", "holdspace.sessions",
        "holdspace.rooms", "holdspace.accounts", "holdspace.protocol", "holdspace.app",
        "holdspace.schedule",
    ),
    # Durable records: beneath everything that uses them.
    "storage": (
        "holdspace.live", "holdspace.web", "holdspace.sessions", "holdspace.rooms",
        "holdspace.accounts", "holdspace.app",
    ),
    # The hubs: fan-out and state, told how to encode rather than importing the wire.
    "live": (
        "holdspace.storage", "holdspace.web", "holdspace.sessions", "holdspace.rooms",
        "holdspace.accounts", "holdspace.protocol", "holdspace.app",
    ),
    # The edge: it hands commands to the live-sessions service and never steers the hub.
    "web": ("holdspace.live.base", "holdspace.live.memory", "holdspace.live.redis"),
    "records.py": ("holdspace",),
    "schedule.py": ("holdspace.storage", "holdspace.live", "holdspace.web", "holdspace.core"),
}  # fmt: skip


def imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def files(part: str) -> list[Path]:
    target = SERVER / part
    return sorted(target.rglob("*.py")) if target.is_dir() else [target]


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_each_layer_imports_only_what_lies_beneath_it(part: str) -> None:
    wrong = [
        f"{path.relative_to(SERVER)}:{line} imports {name}"
        for path in files(part)
        for line, name in imports(path)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[part])
    ]
    assert wrong == []


def test_nothing_on_the_web_edge_touches_the_hub() -> None:
    """Not by import, and not by reaching through a service (``….hub``)."""
    reaching = [
        f"{path.relative_to(SERVER)}:{node.lineno}"
        for path in files("web")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr == "hub"
    ]
    assert reaching == []
