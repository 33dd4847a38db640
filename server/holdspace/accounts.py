"""Accounts and sign-in: registration, login, bearer/cookie session tokens.

Throttling is checked *before* any password hashing, and hashing runs off the
event loop (see :mod:`holdspace.auth.passwords`), so a burst of logins can
neither stall live rooms nor be used to guess passwords quickly. An unknown
user and a wrong password get the same answer after the same work. The limits
are chosen so that people sharing an address don't lock each other out: see
:mod:`holdspace.auth.throttle`.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable
from dataclasses import replace

from holdspace.auth.passwords import PasswordService, check_password_length, validate_password
from holdspace.auth.throttle import (
    Attempt,
    LoginLimits,
    LoginThrottle,
    SignupLimits,
    SignupThrottle,
)
from holdspace.auth.tokens import hash_token, new_token
from holdspace.clock import Clock
from holdspace.core.text import clean_name
from holdspace.errors import (
    Busy,
    ClientError,
    Code,
    Conflict,
    Forbidden,
    InvalidInput,
    Throttled,
)
from holdspace.names import imitation_refusal, reserved_refusal
from holdspace.records import Role, User
from holdspace.storage.base import Store

log = logging.getLogger("holdspace.accounts")

_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{2,31}")
BAD_LOGIN = "That username and password don't match an account."


def validate_username(username: str) -> str:
    if not _USERNAME.fullmatch(username):
        raise InvalidInput(
            "Usernames are 3–32 letters, digits, dots, dashes or underscores.",
            code=Code.INVALID_USERNAME,
        )
    return username


class Accounts:
    def __init__(
        self,
        store: Store,
        passwords: PasswordService,
        clock: Clock,
        *,
        token_ttl_seconds: float,
        registration_open: bool = True,
        login_limits: LoginLimits | None = None,
        signup_limits: SignupLimits | None = None,
    ) -> None:
        self._store = store
        self._passwords = passwords
        self._clock = clock
        self._ttl = token_ttl_seconds
        self._registration_open = registration_open
        self._logins = LoginThrottle(clock, login_limits)
        # Registration spends a hash too: capped per client address, or per invite.
        self._signups = SignupThrottle(clock, signup_limits)

    async def create(self, username: str, password: str, display_name: str, role: Role) -> User:
        """Create an account (the admin CLI and registration share this)."""
        name = await self._check_new(username, password, display_name, role)
        validate_password(password, (username, name))
        return await self._create(username, password, name, role)

    async def _check_new(self, username: str, password: str, display_name: str, role: Role) -> str:
        """The cheap checks on a new account, made before any limit is spent; return the
        cleaned display name."""
        validate_username(username)
        check_password_length(password)
        name = clean_name(display_name)
        refusal = reserved_refusal(name) if role == "member" else None
        if refusal is not None:
            raise refusal
        if await self._store.get_user_by_username(username) is not None:
            raise Conflict(
                "That username is taken. Please choose another.", code=Code.USERNAME_TAKEN
            )
        return name

    async def _create(self, username: str, password: str, name: str, role: Role) -> User:
        password_hash = await self._passwords.hash(password)
        try:
            user = await self._store.create_user(
                username=username,
                display_name=name,
                password_hash=password_hash,
                role=role,
                now=self._clock.now(),
            )
        except Conflict:  # someone took it while we were hashing
            raise Conflict(
                "That username is taken. Please choose another.", code=Code.USERNAME_TAKEN
            ) from None
        log.info("account created", extra={"user_id": user.id, "role": role})
        return user

    async def register(
        self,
        username: str,
        password: str,
        display_name: str,
        address: str,
        *,
        invite_id: str | None = None,
    ) -> tuple[User, str]:
        """Create a member account and sign it in.

        ``invite_id`` names a usable invite the newcomer brought (see
        :meth:`holdspace.rooms.Rooms.signup_invite`): the sign-up then counts against that
        invite's limit instead of the address's. Redeeming it is the caller's to do."""
        if not self._registration_open:
            raise Forbidden("New accounts are created by an administrator here.", code=Code.CLOSED)
        name = await self._check_new(username, password, display_name, "member")
        wait = self._signups.check(address, invite_id)
        if wait is not None:
            raise _throttled(wait)
        try:
            # After the limit: the strength estimate costs milliseconds of CPU.
            validate_password(password, (username, name))
            user = await self._create(username, password, name, "member")
        except Busy:
            self._signups.refund(address, invite_id)
            raise
        return user, await self._issue(user)

    async def login(self, username: str, password: str, address: str) -> tuple[User, str]:
        attempt = self._logins.check(username, address)
        if not isinstance(attempt, Attempt):
            raise _throttled(attempt)
        try:
            user = await self._store.get_user_by_username(username)
            password_hash = user.password_hash if user else None
            ok, new_hash = await self._passwords.verify(password_hash, password)
        except Exception:  # never checked (the hashing queue was full, the store away)
            self._logins.cancelled(attempt)
            raise
        if user is None or not ok:
            log.info("login refused", extra={"user_id": user.id if user else None})
            raise ClientError(BAD_LOGIN, code=Code.BAD_CREDENTIALS)
        self._logins.succeeded(attempt)
        if new_hash is not None:
            await self._store.set_password_hash(user.id, new_hash)
        log.info("login", extra={"user_id": user.id})
        return user, await self._issue(user)

    async def rename(self, user: User, display_name: str) -> User:
        """Change how ``user`` is known. A member's name may not claim a role, nor look like
        the name of a facilitator of any group they are in. Live sessions show the new name
        from the member's next join."""
        name = clean_name(display_name)
        if user.role == "member":
            refusal = reserved_refusal(name) or imitation_refusal(
                name, await self.facilitator_names(user)
            )
            if refusal is not None:
                raise refusal
        await self._store.set_display_name(user.id, name)
        log.info("display name changed", extra={"user_id": user.id})
        return replace(user, display_name=name)

    async def facilitator_names(self, user: User) -> list[str]:
        """The names of the facilitators of every group ``user`` is in (not their own)."""
        names: list[str] = []
        for room in await self._store.rooms_for_user(user.id):
            for facilitator_id in room.facilitator_ids:
                facilitator = await self._store.get_user(facilitator_id)
                if facilitator is not None and facilitator.id != user.id:
                    names.append(facilitator.display_name)
        return names

    async def set_password(self, user: User, password: str) -> None:
        validate_password(password, (user.username, user.display_name))
        await self._store.set_password_hash(user.id, await self._passwords.hash(password))
        await self._store.revoke_user_tokens(user.id)

    async def authenticate(self, token: str | None) -> User | None:
        if not token or len(token) > 256:
            return None
        return await self._store.get_token_user(hash_token(token), self._clock.now())

    async def signed_in(self, tokens: Iterable[str]) -> set[str]:
        """Those of the tokens still signed in: one store call for many. (Who they are is
        read again when it matters: a join authenticates afresh.)"""
        by_hash = {hash_token(t): t for t in tokens if t and len(t) <= 256}
        valid = await self._store.valid_tokens(list(by_hash), self._clock.now())
        return {by_hash[h] for h in valid}

    async def logout(self, token: str) -> None:
        await self._store.revoke_token(hash_token(token))

    async def _issue(self, user: User) -> str:
        token = new_token()
        now = self._clock.now()
        await self._store.create_token(
            token_hash=hash_token(token), user_id=user.id, now=now, expires_at=now + self._ttl
        )
        return token


def _throttled(wait: float) -> Throttled:
    seconds = max(1, math.ceil(wait))  # waiting exactly this long must be enough
    return Throttled(
        f"Too many attempts. Please wait {seconds} s and try again.", retry_after=seconds
    )
