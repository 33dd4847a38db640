"""Password hashing with argon2id, kept off the event loop.

A verify costs hundreds of milliseconds of CPU on purpose, so it runs in a small
dedicated thread pool behind a semaphore: a burst of logins queues up instead of
stalling every room served by this worker or exhausting its memory (each hash
holds ``memory_cost`` KiB while it runs).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Final, ParamSpec, TypeVar

from argon2 import Parameters, PasswordHasher, Type, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from holdspace.errors import InvalidInput

__all__ = [
    "DEFAULT_PROFILE",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "PROFILES",
    "PasswordService",
    "validate_password",
]

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_R = TypeVar("_R")

MIN_PASSWORD_LENGTH: Final = 10
MAX_PASSWORD_LENGTH: Final = 1024

DEFAULT_PROFILE: Final = "rfc9106-low-memory"

PROFILES: Final[dict[str, Parameters]] = {
    # RFC 9106's second recommended option: argon2id, t=3, m=64 MiB, p=4.
    "rfc9106-low-memory": profiles.RFC_9106_LOW_MEMORY,
    # Only for the test suite: the smallest cost argon2 accepts, with normal-sized
    # salt and tag so hashes still look like real ones.
    "test": Parameters(
        type=Type.ID,
        version=19,
        salt_len=16,
        hash_len=16,
        time_cost=1,
        memory_cost=8,
        parallelism=1,
    ),
}


def validate_password(password: str) -> None:
    """Length is the only rule: composition rules push people to weaker, predictable passwords."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"Please choose a password of at least {MIN_PASSWORD_LENGTH} characters. "
            "A few unrelated words work well.",
            min_length=MIN_PASSWORD_LENGTH,
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"Passwords can be at most {MAX_PASSWORD_LENGTH} characters.",
            max_length=MAX_PASSWORD_LENGTH,
        )


class PasswordService:
    """Hashes and verifies passwords; one instance per worker process and event loop."""

    def __init__(self, profile: str = DEFAULT_PROFILE, *, max_concurrency: int = 2) -> None:
        try:
            parameters = PROFILES[profile]
        except KeyError:
            known = ", ".join(sorted(PROFILES))
            raise ValueError(f"unknown password profile {profile!r} (known: {known})") from None
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.profile = profile
        self.max_concurrency = max_concurrency
        self._hasher = PasswordHasher.from_parameters(parameters)
        self._semaphore = asyncio.Semaphore(max_concurrency)
        # The semaphore bounds waiting callers; the pool bounds running hashes even
        # when a cancelled caller has released its slot while its thread still works.
        self._executor = ThreadPoolExecutor(
            max_workers=max_concurrency, thread_name_prefix="holdspace-argon2"
        )
        self._dummy_lock = threading.Lock()
        self._dummy_hash: str | None = None

    @property
    def parameters(self) -> Parameters:
        return PROFILES[self.profile]

    async def hash(self, password: str) -> str:
        return await self._run(self._hash_sync, password)

    async def verify(self, password_hash: str | None, password: str) -> tuple[bool, str | None]:
        """Return ``(ok, new_hash)``; ``new_hash`` is set when the stored hash should be replaced.

        ``password_hash=None`` (no such user) does the same work against a dummy hash
        and answers exactly like a wrong password, so the two cannot be told apart.
        """
        return await self._run(self._check_sync, password_hash, password)

    def close(self) -> None:
        """Let the worker threads go; pending calls still finish."""
        self._executor.shutdown(wait=False)

    async def _run(self, fn: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
        async with self._semaphore:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, partial(fn, *args, **kwargs))

    # The methods below run in worker threads, never on the event loop. They are
    # separate methods so tests can observe the work done without mocks.

    def _hash_sync(self, password: str) -> str:
        return self._hasher.hash(password)

    def _verify_sync(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except VerifyMismatchError:
            return False

    def _get_dummy_hash(self) -> str:
        """Computed once, with the current parameters, so its verify costs what a real one does."""
        with self._dummy_lock:
            if self._dummy_hash is None:
                self._dummy_hash = self._hash_sync(secrets.token_urlsafe(24))
            return self._dummy_hash

    def _check_sync(self, password_hash: str | None, password: str) -> tuple[bool, str | None]:
        if password_hash is None:
            self._verify_sync(self._get_dummy_hash(), password)
            return False, None
        try:
            ok = self._verify_sync(password_hash, password)
        except (InvalidHashError, VerificationError):
            # A corrupt or foreign stored hash is our fault, not the member's: log it,
            # spend the usual time, and answer like any failed login.
            log.warning("stored password hash could not be verified", exc_info=True)
            self._verify_sync(self._get_dummy_hash(), password)
            return False, None
        if not ok:
            return False, None
        if self._hasher.check_needs_rehash(password_hash):
            return True, self._hash_sync(password)
        return True, None
