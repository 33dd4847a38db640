"""The HTTP JSON API: accounts, rooms, schedules, invites, the moderation record.

Browsers authenticate with an HttpOnly, SameSite=Lax session cookie; other
clients with ``Authorization: Bearer``. Cookie-authenticated writes must come
from an allowed ``Origin`` with a JSON body, which a cross-site form cannot send.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from holdspace import protocol
from holdspace.accounts import Accounts
from holdspace.auth.tokens import device_key
from holdspace.clock import iso
from holdspace.core.links import linkify
from holdspace.errors import ClientError, Code, Forbidden, InvalidInput, NotAuthenticated
from holdspace.records import Bar, Invite, Room, User
from holdspace.rooms import Rooms
from holdspace.settings import Settings
from holdspace.web.refusals import error_response
from holdspace.web.services import Services
from holdspace.web.ws import cookie_name

MAX_BODY = 64 * 1024
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def ok(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(protocol.plain(body), status_code=status)


def user_data(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "name": user.display_name, "role": user.role}


def invite_data(invite: Invite) -> dict[str, Any]:
    data = asdict(invite)
    data.pop("code_hash")
    return data


class Api:
    def __init__(self, services: Services, settings: Settings) -> None:
        self.services = services
        self.settings = settings

    @property
    def accounts(self) -> Accounts:
        return self.services.accounts

    @property
    def rooms(self) -> Rooms:
        return self.services.rooms

    def routes(self) -> list[Route]:
        return [
            Route("/api", self.info, methods=["GET"]),
            Route("/api/crisis", self.crisis, methods=["GET"]),
            Route("/api/auth/register", self.register, methods=["POST"]),
            Route("/api/auth/login", self.login, methods=["POST"]),
            Route("/api/auth/logout", self.logout, methods=["POST"]),
            Route("/api/auth/me", self.me, methods=["GET"]),
            Route("/api/auth/me", self.update_me, methods=["PATCH"]),
            Route("/api/rooms", self.list_rooms, methods=["GET"]),
            Route("/api/rooms", self.create_room, methods=["POST"]),
            Route("/api/rooms/{room_id}", self.get_room, methods=["GET"]),
            Route("/api/rooms/{room_id}", self.update_room, methods=["PATCH"]),
            Route("/api/rooms/{room_id}/sessions", self.sessions, methods=["GET"]),
            Route("/api/rooms/{room_id}/roster", self.roster, methods=["GET"]),
            Route("/api/rooms/{room_id}/moderation", self.moderation, methods=["GET"]),
            Route("/api/rooms/{room_id}/invites", self.list_invites, methods=["GET"]),
            Route("/api/rooms/{room_id}/invites", self.create_invite, methods=["POST"]),
            Route(
                "/api/rooms/{room_id}/invites/{invite_id}", self.revoke_invite, methods=["DELETE"]
            ),
            Route("/api/rooms/{room_id}/bars", self.list_bars, methods=["GET"]),
            Route("/api/rooms/{room_id}/bars", self.bar, methods=["POST"]),
            Route("/api/rooms/{room_id}/bars/{user_id}", self.unbar, methods=["DELETE"]),
            Route("/api/invites/redeem", self.redeem, methods=["POST"]),
        ]

    # -- plumbing -------------------------------------------------------------

    @staticmethod
    def _bearer(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    async def _user(self, request: Request) -> User:
        bearer = self._bearer(request)
        if bearer is None and request.method in _UNSAFE:
            self._check_cookie_write(request)
        user = await self.accounts.authenticate(
            bearer or request.cookies.get(cookie_name(self.settings))
        )
        if user is None:
            raise NotAuthenticated("Please sign in.")
        return user

    def _check_cookie_write(self, request: Request) -> None:
        origin = request.headers.get("origin")
        if origin is not None and origin not in self.settings.origins:
            raise Forbidden(
                "This request came from a page we don't recognise.", code=Code.BAD_ORIGIN
            )

    @staticmethod
    async def _json(request: Request) -> dict[str, Any]:
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            raise InvalidInput("Send a JSON body (Content-Type: application/json).")
        too_large = InvalidInput("That request is too large.", code=Code.TOO_LARGE)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY:
            raise too_large
        chunks, size = [], 0
        async for chunk in request.stream():  # stop reading past the cap
            size += len(chunk)
            if size > MAX_BODY:
                raise too_large
            chunks.append(chunk)
        body = b"".join(chunks)
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            raise InvalidInput("That body isn't valid JSON.", code=Code.BAD_JSON) from None
        if not isinstance(data, dict):
            raise InvalidInput("The body must be a JSON object.", code=Code.BAD_JSON)
        return data

    @staticmethod
    def _str(data: dict[str, Any], name: str) -> str:
        value = data.get(name)
        if not isinstance(value, str):
            raise InvalidInput(f"`{name}` is required.", field=name)
        return value

    @staticmethod
    def _address(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def _signed_in(
        self, user: User, token: str, bearer: bool, extra: dict[str, Any] | None = None
    ) -> JSONResponse:
        body = {"user": user_data(user), **(extra or {})}
        if bearer:
            return ok({**body, "token": token})
        response = ok(body)
        response.set_cookie(
            cookie_name(self.settings),
            token,
            max_age=int(self.settings.token_ttl_hours * 3600),
            httponly=True,
            samesite="lax",
            secure=self.settings.cookie_secure,
            path="/",
        )
        return response

    # -- accounts -------------------------------------------------------------

    async def info(self, request: Request) -> Response:
        return ok(
            {
                "name": "holdspace",
                "protocol": protocol.PROTOCOL_VERSION,
                "quick_exit_url": self.settings.quick_exit_url,
            }
        )

    async def crisis(self, request: Request) -> Response:
        resources = self.settings.crisis_resources
        return ok({"crisis_resources": resources, "crisis_resources_html": linkify(resources)})

    async def register(self, request: Request) -> Response:
        """A member account, signed in. With a valid ``invite`` code the sign-up counts
        against that invite's limit rather than the address's (a group signing up together
        from one network), and the new member joins its group: ``room`` in the answer
        (null if its last use went to someone else meanwhile)."""
        self._check_cookie_write(request)
        data = await self._json(request)
        code = data.get("invite")
        if code is not None and not isinstance(code, str):
            raise InvalidInput("`invite` must be text.", field="invite")
        code = code.strip() if code else None  # a form's empty field: no invite
        invite = await self.rooms.signup_invite(code) if code else None
        user, token = await self.accounts.register(
            self._str(data, "username"),
            self._str(data, "password"),
            self._str(data, "display_name"),
            self._address(request),
            invite_id=invite.id if invite else None,
        )
        extra: dict[str, Any] = {}
        if code:
            try:
                room = await self.rooms.redeem(user, code)
            except ClientError:
                extra["room"] = None
            else:
                extra["room"] = await self._describe(room, user)
        response = self._signed_in(user, token, data.get("bearer") is True, extra)
        response.status_code = 201
        return response

    async def login(self, request: Request) -> Response:
        self._check_cookie_write(request)
        data = await self._json(request)
        user, token = await self.accounts.login(
            self._str(data, "username"), self._str(data, "password"), self._address(request)
        )
        return self._signed_in(user, token, data.get("bearer") is True)

    async def logout(self, request: Request) -> Response:
        token = self._bearer(request)
        if token is None:
            self._check_cookie_write(request)
            token = request.cookies.get(cookie_name(self.settings))
        if token:
            user = await self.accounts.authenticate(token)
            await self.accounts.logout(token)
            if user is not None:
                await self.services.sessions.sign_out(user, device_key(token))
        response = ok({"ok": True})
        response.delete_cookie(
            cookie_name(self.settings),
            path="/",
            httponly=True,
            samesite="lax",
            secure=self.settings.cookie_secure,
        )
        return response

    async def me(self, request: Request) -> Response:
        return ok({"user": user_data(await self._user(request))})

    async def update_me(self, request: Request) -> Response:
        user = await self._user(request)
        data = await self._json(request)
        if "display_name" in data:
            user = await self.accounts.rename(user, self._str(data, "display_name"))
        return ok({"user": user_data(user)})

    # -- rooms ----------------------------------------------------------------

    async def _describe(self, room: Room, user: User) -> dict[str, Any]:
        return await self.rooms.describe(room, user, await self.rooms.facilitator_names(room))

    async def list_rooms(self, request: Request) -> Response:
        user = await self._user(request)
        rooms = await self.rooms.mine(user)
        return ok({"rooms": [await self._describe(r, user) for r in rooms]})

    async def create_room(self, request: Request) -> Response:
        user = await self._user(request)
        room = await self.rooms.create(user, await self._json(request))
        return ok({"room": await self._describe(room, user)}, 201)

    async def get_room(self, request: Request) -> Response:
        user = await self._user(request)
        room = await self.rooms.visible(user, request.path_params["room_id"])
        return ok({"room": await self._describe(room, user)})

    async def update_room(self, request: Request) -> Response:
        user = await self._user(request)
        spec = await self._json(request)
        room = await self.rooms.update(user, request.path_params["room_id"], spec)
        if "waiting_room" in spec:  # the one setting that applies to a live session at once
            await self.services.sessions.reconfigure(room, user)
        return ok({"room": await self._describe(room, user)})

    async def sessions(self, request: Request) -> Response:
        user = await self._user(request)
        room = await self.rooms.visible(user, request.path_params["room_id"])
        windows = await self.rooms.windows(room, count=10)
        return ok(
            {
                "sessions": [
                    {
                        "key": w.key,
                        "starts_at": w.starts_at,
                        "ends_at": w.ends_at,
                        "lobby_opens_at": w.lobby_opens_at,
                    }
                    for w in windows
                ]
            }
        )

    async def roster(self, request: Request) -> Response:
        user = await self._user(request)
        room = await self.rooms.manageable(user, request.path_params["room_id"])
        members = await self.rooms.store.roster(room.id)
        return ok({"members": [{"id": m.id, "name": m.display_name} for m in members]})

    async def moderation(self, request: Request) -> Response:
        user = await self._user(request)
        entries = await self.rooms.moderation_record(user, request.path_params["room_id"])
        names: dict[str, str | None] = {}

        async def name(user_id: str | None) -> str | None:
            if user_id is None:
                return None
            if user_id not in names:
                person = await self.rooms.store.get_user(user_id)
                names[user_id] = person.display_name if person else None
            return names[user_id]

        return ok(
            {
                "entries": [
                    {**asdict(e), "actor_name": await name(e.actor_id),
                     "target_name": await name(e.target_id)}
                    for e in entries
                ]
            }
        )  # fmt: skip

    async def list_invites(self, request: Request) -> Response:
        user = await self._user(request)
        invites = await self.rooms.invites(user, request.path_params["room_id"])
        return ok({"invites": [invite_data(i) for i in invites]})

    async def create_invite(self, request: Request) -> Response:
        user = await self._user(request)
        data = await self._json(request)
        max_uses = data.get("max_uses")
        hours = data.get("expires_in_hours", 24 * 7)
        if max_uses is not None and (not isinstance(max_uses, int) or isinstance(max_uses, bool)):
            raise InvalidInput("`max_uses` must be a whole number.", field="max_uses")
        if hours is not None and (not isinstance(hours, int | float) or isinstance(hours, bool)):
            raise InvalidInput("`expires_in_hours` must be a number.", field="expires_in_hours")
        invite, code = await self.rooms.invite(
            user, request.path_params["room_id"], max_uses, hours
        )
        return ok({"invite": invite_data(invite), "code": code}, 201)

    async def revoke_invite(self, request: Request) -> Response:
        user = await self._user(request)
        await self.rooms.revoke_invite(
            user, request.path_params["room_id"], request.path_params["invite_id"]
        )
        return ok({"ok": True})

    async def _bar_data(self, bar: Bar) -> dict[str, Any]:
        member = await self.rooms.store.get_user(bar.user_id)
        return {
            "user_id": bar.user_id,
            "name": member.display_name if member else "",
            "by": bar.by,
            "reason": bar.reason,
            "at": bar.at,
        }

    async def list_bars(self, request: Request) -> Response:
        user = await self._user(request)
        bars = await self.rooms.barred(user, request.path_params["room_id"])
        return ok({"bars": [await self._bar_data(b) for b in bars]})

    async def bar(self, request: Request) -> Response:
        user = await self._user(request)
        data = await self._json(request)
        user_id = self._str(data, "user_id")
        reason = data.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise InvalidInput("`reason` must be text.", field="reason")
        room_id = request.path_params["room_id"]
        await self.rooms.bar(user, room_id, user_id, reason)
        bars = await self.rooms.barred(user, room_id)
        found = next((b for b in bars if b.user_id == user_id), None)  # None if unbarred since
        return ok({"bar": None if found is None else await self._bar_data(found)})

    async def unbar(self, request: Request) -> Response:
        user = await self._user(request)
        await self.rooms.unbar(user, request.path_params["room_id"], request.path_params["user_id"])
        return ok({"ok": True})

    async def redeem(self, request: Request) -> Response:
        user = await self._user(request)
        room = await self.rooms.redeem(user, self._str(await self._json(request), "code"))
        return ok({"room": await self._describe(room, user)})


async def client_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ClientError)
    return error_response(exc)


__all__ = ["Api", "client_error", "iso"]
