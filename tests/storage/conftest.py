"""The ``store`` fixture: every contract test runs once per backend listed in BACKENDS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from holdspace.storage.base import Store
from holdspace.storage.sqlite import SQLiteStore

# Adding a backend here runs the whole contract suite against it.
BACKENDS = ["sqlite"]


async def _open(backend: str, tmp_path: Path) -> Store:
    if backend == "sqlite":
        return await SQLiteStore.open(tmp_path / "data" / "holdspace.db")
    pytest.fail(f"unknown store backend {backend!r}")


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened = await _open(request.param, tmp_path)
    try:
        yield opened
    finally:
        await opened.close()
