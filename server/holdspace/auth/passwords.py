"""Password hashing with argon2id, kept off the event loop; and which passwords to refuse.

A verify costs hundreds of milliseconds of CPU on purpose, so it runs in a small
dedicated thread pool behind a semaphore: a burst of logins waits its turn instead of
stalling every room served by this worker or exhausting its memory (each hash
holds ``memory_cost`` KiB while it runs). The wait is bounded too: past a few
callers per worker, more are refused at once with :class:`~holdspace.errors.Busy`
and a ``Retry-After``, so a flood of logins can't make every sign-in take tens of
seconds (nor hold a request, a socket and its memory each for as long).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Final, ParamSpec, TypeVar

from argon2 import Parameters, PasswordHasher, Type, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from holdspace.errors import Busy, Code, InvalidInput

__all__ = [
    "BUSY_RETRY_AFTER",
    "DEFAULT_PROFILE",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "MIN_STRENGTH",
    "PROFILES",
    "PasswordService",
    "check_password_length",
    "validate_password",
]

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_R = TypeVar("_R")

MIN_PASSWORD_LENGTH: Final = 10
MAX_PASSWORD_LENGTH: Final = 1024

# zxcvbn's score runs 0-4: 0 is "too guessable" (under 10^3 guesses: "password123"),
# 1 "very guessable" (under 10^6: "Password123!", "jennifer1990"). Both are refused.
MIN_STRENGTH: Final = 2
# The estimate reads at most this many characters: its cost grows with length (about
# 10 ms at 32 on a slow core), and a password whose start is this weak is weak.
_STRENGTH_CHARS: Final = 32
# zxcvbn keeps the caller's words (user_inputs) in a module-global dictionary while it
# works, so two estimates at once, from two apps' loops in one process, must not overlap.
_STRENGTH_LOCK = threading.Lock()

# Seconds a caller refused for a full hashing queue is asked to wait: a queue of a
# few verifies clears in about that long with the production profile.
BUSY_RETRY_AFTER: Final = 2

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


def check_password_length(password: str) -> None:
    """The cheap half of :func:`validate_password`, fit to run before any limit is spent."""
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


def validate_password(password: str, user_inputs: Iterable[str] = ()) -> None:
    """Length, and not one of the passwords people most often choose. No composition
    rules: they push people to weaker, predictable passwords ("Password1!").

    ``user_inputs`` (the username, the display name) count as well-known words, so
    "sam.lee2024" is refused for sam.lee. The estimate costs up to about 10 ms of CPU on
    the calling thread: call it once a request has passed its rate limit.
    """
    check_password_length(password)
    # Imported on first use: its word lists take 13 MB, and most workers only ever check
    # tokens (a sign-in doesn't come here, only choosing a password does).
    from zxcvbn import zxcvbn

    words = [word for word in user_inputs if word]
    with _STRENGTH_LOCK:
        score = int(zxcvbn(password[:_STRENGTH_CHARS], user_inputs=words)["score"])
    if score < MIN_STRENGTH:
        raise InvalidInput(
            "That password is one many people use, so it would be easy to guess. "
            "Please choose another: a few unrelated words work well.",
            code=Code.COMMON_PASSWORD,
            field="password",
        )


class PasswordService:
    """Hashes and verifies passwords; one instance per worker process and event loop.

    At most ``max_concurrency`` hashes run at once and ``max_waiting`` more callers wait
    for one; any caller beyond that is refused at once with :class:`Busy`.
    """

    def __init__(
        self, profile: str = DEFAULT_PROFILE, *, max_concurrency: int = 2, max_waiting: int = 8
    ) -> None:
        try:
            parameters = PROFILES[profile]
        except KeyError:
            known = ", ".join(sorted(PROFILES))
            raise ValueError(f"unknown password profile {profile!r} (known: {known})") from None
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if max_waiting < 0:
            raise ValueError("max_waiting must not be negative")
        self.profile = profile
        self.max_concurrency = max_concurrency
        self.max_waiting = max_waiting
        # Hashes admitted and not yet finished: running, waiting for the semaphore, or
        # (after their caller was cancelled) still in a worker thread. Touched only on
        # the event loop; a finished thread hands its decrement back to the loop.
        self._pending = 0
        self._hasher = PasswordHasher.from_parameters(parameters)
        self._semaphore = asyncio.Semaphore(max_concurrency)
        # The semaphore keeps waiting callers out of the pool's own (unbounded) queue, so
        # a cancelled waiter never leaves work behind; the pool bounds running hashes even
        # when a cancelled caller has released its slot while its thread still works.
        self._executor = ThreadPoolExecutor(
            max_workers=max_concurrency, thread_name_prefix="holdspace-argon2"
        )
        self._dummy_lock = threading.Lock()
        self._dummy_hash: str | None = None

    @property
    def parameters(self) -> Parameters:
        return PROFILES[self.profile]

    @property
    def pending(self) -> int:
        """Hashes admitted and not yet finished (read it on the service's event loop)."""
        return self._pending

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
        # Admission is decided before the first await, so callers arriving together
        # can't all slip past the bound.
        if self._pending >= self.max_concurrency + self.max_waiting:
            raise Busy(
                "A lot of people are signing in right now. Please try again in a moment.",
                retry_after=BUSY_RETRY_AFTER,
            )
        self._pending += 1
        submitted = False
        try:
            async with self._semaphore:
                loop = asyncio.get_running_loop()
                job = self._executor.submit(partial(fn, *args, **kwargs))
                submitted = True
                # Counted until the thread is done, not until the caller stops waiting:
                # a cancelled caller's hash still occupies a worker.
                job.add_done_callback(lambda _: self._finished_in_thread(loop))
                return await asyncio.wrap_future(job)
        finally:
            if not submitted:
                self._pending -= 1

    def _finished_in_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        # A loop that has closed meanwhile (shutdown) has nobody left counting.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._finished)

    def _finished(self) -> None:
        self._pending -= 1

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
