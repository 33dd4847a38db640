"""The few HTTP calls a non-browser client needs: getting a bearer token."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any


class HttpError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        error = body.get("error", {})
        super().__init__(f"{status} {error.get('code')}: {error.get('message')}")
        self.status = status
        self.code = error.get("code")


def _call(url: str, body: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # noqa: S310 - the caller chooses the server
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers=headers,
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            result: dict[str, Any] = json.loads(response.read())
            return result
    except urllib.error.HTTPError as error:
        raise HttpError(error.code, json.loads(error.read() or b"{}")) from None


async def login(base_url: str, username: str, password: str) -> str:
    """Sign in and return a bearer token."""
    body = {"username": username, "password": password, "bearer": True}
    result = await asyncio.to_thread(_call, base_url.rstrip("/") + "/api/auth/login", body)
    return str(result["token"])


async def register(
    base_url: str, username: str, password: str, display_name: str, invite: str | None = None
) -> str:
    """Create a member account and return a bearer token. With an ``invite`` code the new
    member joins its group too, and the sign-up isn't held to the per-address limit."""
    body: dict[str, Any] = {
        "username": username,
        "password": password,
        "display_name": display_name,
        "bearer": True,
    }
    if invite is not None:
        body["invite"] = invite
    result = await asyncio.to_thread(_call, base_url.rstrip("/") + "/api/auth/register", body)
    return str(result["token"])


async def my_rooms(base_url: str, token: str) -> list[dict[str, Any]]:
    """The rooms this account belongs to, each with its next session."""
    result = await asyncio.to_thread(_call, base_url.rstrip("/") + "/api/rooms", None, token)
    rooms: list[dict[str, Any]] = result["rooms"]
    return rooms
