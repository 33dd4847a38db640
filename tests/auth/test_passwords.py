"""Password hashing: correctness, uniform failure, rehashing, staying off the event loop and
never queueing without bound; and which passwords are refused."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator

import pytest
from argon2 import PasswordHasher, Type, extract_parameters, profiles

from holdspace.auth.passwords import (
    BUSY_RETRY_AFTER,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    PROFILES,
    PasswordService,
    validate_password,
)
from holdspace.errors import Busy, InvalidInput

PASSWORD = "correct horse battery staple"


class RecordingService(PasswordService):
    """Records the work done in worker threads, so tests observe it without mocks or timing."""

    def __init__(self, profile: str = "test", *, max_concurrency: int = 2) -> None:
        super().__init__(profile, max_concurrency=max_concurrency)
        self.lock = threading.Lock()
        self.verified_hashes: list[str] = []
        self.hash_calls = 0

    def _hash_sync(self, password: str) -> str:
        with self.lock:
            self.hash_calls += 1
        return super()._hash_sync(password)

    def _verify_sync(self, password_hash: str, password: str) -> bool:
        with self.lock:
            self.verified_hashes.append(password_hash)
        return super()._verify_sync(password_hash, password)


class GatedService(PasswordService):
    """Holds each verify at a gate and tracks how many are inside at once."""

    def __init__(self, *, max_concurrency: int, max_waiting: int = 8) -> None:
        super().__init__("test", max_concurrency=max_concurrency, max_waiting=max_waiting)
        self.lock = threading.Lock()
        self.entered = threading.Semaphore(0)
        self.gate = threading.Event()
        self.active = 0
        self.max_active = 0
        self.finished = asyncio.Event()  # set on the loop each time a hash gives its place back

    def _finished(self) -> None:
        super()._finished()
        self.finished.set()

    def _verify_sync(self, password_hash: str, password: str) -> bool:
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        self.entered.release()
        try:
            if not self.gate.wait(timeout=30):
                raise TimeoutError("the test never opened the gate")
            return super()._verify_sync(password_hash, password)
        finally:
            with self.lock:
                self.active -= 1


class TimedService(PasswordService):
    """Records how long each verify took in its worker thread."""

    def __init__(self, profile: str, *, max_concurrency: int = 2) -> None:
        super().__init__(profile, max_concurrency=max_concurrency)
        self.lock = threading.Lock()
        self.durations: list[float] = []

    def _verify_sync(self, password_hash: str, password: str) -> bool:
        start = time.perf_counter()
        try:
            return super()._verify_sync(password_hash, password)
        finally:
            with self.lock:
                self.durations.append(time.perf_counter() - start)


@pytest.fixture
async def service() -> AsyncIterator[RecordingService]:
    svc = RecordingService()
    yield svc
    svc.close()


async def test_hash_then_verify_roundtrip(service: RecordingService) -> None:
    """A fresh hash is argon2id and verifies against its password without needing a rehash."""
    password_hash = await service.hash(PASSWORD)
    assert password_hash.startswith("$argon2id$")
    assert PASSWORD not in password_hash
    assert await service.verify(password_hash, PASSWORD) == (True, None)


async def test_hashes_are_salted(service: RecordingService) -> None:
    """The same password hashes differently each time, so equal passwords don't show."""
    assert await service.hash(PASSWORD) != await service.hash(PASSWORD)


async def test_wrong_password_is_refused(service: RecordingService) -> None:
    """A wrong password answers (False, None)."""
    password_hash = await service.hash(PASSWORD)
    assert await service.verify(password_hash, PASSWORD + "!") == (False, None)


async def test_unknown_user_does_the_same_work_and_answers_like_a_wrong_password(
    service: RecordingService,
) -> None:
    """With no stored hash the service still verifies, against a dummy with current parameters."""
    real_hash = await service.hash(PASSWORD)
    wrong = await service.verify(real_hash, "not the password")
    hashes_before = service.hash_calls

    unknown = await service.verify(None, PASSWORD)

    assert unknown == wrong == (False, None)
    assert len(service.verified_hashes) == 2
    dummy = service.verified_hashes[-1]
    assert dummy != real_hash
    assert extract_parameters(dummy) == service.parameters
    assert service.hash_calls == hashes_before + 1  # the dummy itself, computed lazily


async def test_dummy_hash_is_computed_once(service: RecordingService) -> None:
    """Repeated unknown-user logins reuse one dummy hash instead of paying for a hash each time."""
    for _ in range(3):
        assert await service.verify(None, PASSWORD) == (False, None)
    assert service.hash_calls == 1
    assert len(set(service.verified_hashes)) == 1
    assert len(service.verified_hashes) == 3


async def test_corrupt_stored_hash_fails_like_a_wrong_password(
    service: RecordingService, caplog: pytest.LogCaptureFixture
) -> None:
    """An unusable stored hash is logged and answered like a failed login, after the usual work."""
    assert await service.verify("not-a-hash", PASSWORD) == (False, None)
    assert service.verified_hashes[-1] != "not-a-hash"
    assert "could not be verified" in caplog.text


async def test_rehash_when_parameters_are_stronger_than_the_stored_hash() -> None:
    """A hash made with weaker parameters verifies and comes back rehashed with the current ones."""
    weak_hash = PasswordHasher.from_parameters(PROFILES["test"]).hash(PASSWORD)
    service = PasswordService("rfc9106-low-memory")
    try:
        assert await service.verify(weak_hash, "wrong password") == (False, None)

        ok, new_hash = await service.verify(weak_hash, PASSWORD)

        assert ok
        assert new_hash is not None
        assert extract_parameters(new_hash) == profiles.RFC_9106_LOW_MEMORY
        assert await service.verify(new_hash, PASSWORD) == (True, None)
    finally:
        service.close()


@pytest.mark.parametrize("limit", [1, 2, 3])
async def test_at_most_max_concurrency_verifies_run_at_once(limit: int) -> None:
    """However many logins arrive, no more than ``max_concurrency`` verifies run at once."""
    service = GatedService(max_concurrency=limit)
    password_hash = PasswordHasher.from_parameters(PROFILES["test"]).hash(PASSWORD)
    try:
        tasks = [asyncio.create_task(service.verify(password_hash, PASSWORD)) for _ in range(6)]

        def wait_for_entries(count: int) -> bool:
            return all(service.entered.acquire(timeout=30) for _ in range(count))

        assert await asyncio.to_thread(wait_for_entries, limit)
        for _ in range(20):  # let every other task get as far as it can
            await asyncio.sleep(0)
        with service.lock:
            assert service.active == limit
        assert not service.entered.acquire(blocking=False)

        service.gate.set()
        results = await asyncio.gather(*tasks)
    finally:
        service.gate.set()
        service.close()

    assert results == [(True, None)] * 6
    assert service.max_active == limit


async def test_event_loop_stays_responsive_while_verifying() -> None:
    """With real parameters, other coroutines keep running while four verifies are in flight.
    One hashing thread: on a two-core machine that leaves the loop a core, so what is
    measured is where the hashing runs, not how the kernel shares out busy cores."""
    service = TimedService("rfc9106-low-memory", max_concurrency=1)
    try:
        password_hash = await service.hash(PASSWORD)
        done = asyncio.Event()
        lags: list[float] = []
        interval = 0.005

        async def ticker() -> None:
            while not done.is_set():
                start = time.perf_counter()
                await asyncio.sleep(interval)
                lags.append(time.perf_counter() - start - interval)

        async def verify_all() -> list[tuple[bool, str | None]]:
            try:
                return await asyncio.gather(
                    *(service.verify(password_hash, PASSWORD) for _ in range(4))
                )
            finally:
                done.set()

        tick_task = asyncio.create_task(ticker())
        results = await verify_all()
        await tick_task
    finally:
        service.close()

    assert results == [(True, None)] * 4
    assert len(service.durations) == 4
    max_lag = max(lags)
    # Had a verify run on the loop, the lag would be at least one whole verify.
    assert max_lag < 0.1, f"loop lag {max_lag:.3f}s, verifies {service.durations}"
    assert max_lag < min(service.durations) / 2, (max_lag, service.durations)
    assert len(lags) >= 4


def test_production_profile_meets_rfc_9106_low_memory() -> None:
    """The default profile is argon2id with at least RFC 9106's low-memory parameters."""
    service = PasswordService()
    try:
        params = service.parameters
        assert service.profile == "rfc9106-low-memory"
        assert params == profiles.RFC_9106_LOW_MEMORY
        assert params.type is Type.ID
        assert params.time_cost >= 3
        assert params.memory_cost >= 65536
        assert params.salt_len >= 16
        assert params.hash_len >= 32
    finally:
        service.close()


def test_unknown_profile_is_rejected() -> None:
    """A typo in the profile name fails loudly rather than falling back to weak parameters."""
    with pytest.raises(ValueError, match="unknown password profile"):
        PasswordService("fast")


def test_max_concurrency_must_be_positive() -> None:
    """A zero limit would deadlock every login, so it is refused up front."""
    with pytest.raises(ValueError, match="max_concurrency"):
        PasswordService("test", max_concurrency=0)


@pytest.mark.parametrize(
    "password",
    [
        "lowercase only words",
        "blue kettle morning",
        "x7Qm-2xWd-R9ta",
        "MaryJane1985",
        "a strong start " + "a" * (MAX_PASSWORD_LENGTH - 15),
    ],
)
def test_validate_password_accepts_uncommon_passwords_of_any_composition(password: str) -> None:
    """No composition rules: words, symbols or none, any case, up to the length limit."""
    validate_password(password)


@pytest.mark.parametrize(
    "password",
    [
        "password123",
        "Password123!",
        "qwertyuiop",
        "1234567890",
        "iloveyou123",
        "aaaaaaaaaa",
        "x" * MAX_PASSWORD_LENGTH,
    ],
)
def test_validate_password_refuses_common_passwords_kindly(password: str) -> None:
    """The passwords people most often choose are refused with a code, a reason and a hint."""
    with pytest.raises(InvalidInput) as info:
        validate_password(password)
    assert info.value.code == "common_password"
    assert info.value.http_status == 400
    assert "easy to guess" in info.value.message
    assert "a few unrelated words" in info.value.message
    assert info.value.detail == {"field": "password"}


def test_a_password_made_of_the_person_s_own_name_is_refused() -> None:
    """Username and display name count as well-known words for the person choosing."""
    validate_password("riverstone1987")
    with pytest.raises(InvalidInput) as info:
        validate_password("riverstone1987", ["riverstone", "River Stone"])
    assert info.value.code == "common_password"


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("", "at least 10"),
        ("a" * (MIN_PASSWORD_LENGTH - 1), "at least 10"),
        ("x" * (MAX_PASSWORD_LENGTH + 1), "at most 1024"),
    ],
)
def test_validate_password_rejects_bad_lengths(password: str, fragment: str) -> None:
    """Too short or too long raises InvalidInput with a message fit to show the member."""
    with pytest.raises(InvalidInput) as info:
        validate_password(password)
    assert info.value.code == "invalid"
    assert fragment in info.value.message


async def test_a_full_queue_refuses_at_once_with_retry_after() -> None:
    """With every worker busy and every waiting place taken, one more verify (or hash) is
    refused at once with Busy; the ones admitted all finish once the workers free up."""
    service = GatedService(max_concurrency=2, max_waiting=3)
    password_hash = PasswordHasher.from_parameters(PROFILES["test"]).hash(PASSWORD)
    try:
        admitted = [asyncio.create_task(service.verify(password_hash, PASSWORD)) for _ in range(5)]
        await asyncio.sleep(0)  # each task is admitted (or not) in its first step
        assert service.pending == 5

        for attempt in (service.verify(password_hash, PASSWORD), service.hash(PASSWORD)):
            with pytest.raises(Busy) as busy:
                await attempt
            assert busy.value.code == "busy"
            assert busy.value.http_status == 503
            assert busy.value.detail == {"retry_after": BUSY_RETRY_AFTER}
        assert service.pending == 5  # a refusal takes no place

        service.gate.set()
        assert await asyncio.gather(*admitted) == [(True, None)] * 5
        # Each thread hands its place back before its caller resumes.
        assert service.pending == 0
        assert await service.verify(password_hash, PASSWORD) == (True, None)
    finally:
        service.gate.set()
        service.close()
    assert service.max_active == 2


async def test_no_waiting_places_means_only_the_running_hashes() -> None:
    """``max_waiting=0``: one verify per worker thread, and nothing waits."""
    service = GatedService(max_concurrency=1, max_waiting=0)
    password_hash = PasswordHasher.from_parameters(PROFILES["test"]).hash(PASSWORD)
    try:
        running = asyncio.create_task(service.verify(password_hash, PASSWORD))
        assert await asyncio.to_thread(service.entered.acquire, timeout=30)
        with pytest.raises(Busy):
            await service.verify(password_hash, PASSWORD)
        service.gate.set()
        assert await running == (True, None)
    finally:
        service.gate.set()
        service.close()


async def test_a_cancelled_caller_s_hash_keeps_its_place_until_its_thread_is_done() -> None:
    """Cancelling a caller doesn't free its place while its hash still occupies a worker, so
    cancelled requests can't pile unbounded work up behind the pool."""
    service = GatedService(max_concurrency=1, max_waiting=0)
    password_hash = PasswordHasher.from_parameters(PROFILES["test"]).hash(PASSWORD)
    try:
        running = asyncio.create_task(service.verify(password_hash, PASSWORD))
        assert await asyncio.to_thread(service.entered.acquire, timeout=30)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        assert service.pending == 1
        with pytest.raises(Busy):
            await service.verify(password_hash, PASSWORD)

        service.finished.clear()
        service.gate.set()
        await asyncio.wait_for(service.finished.wait(), 30)
        assert service.pending == 0
        assert await service.verify(password_hash, PASSWORD) == (True, None)
    finally:
        service.gate.set()
        service.close()


def test_max_waiting_must_not_be_negative() -> None:
    """A negative queue makes no sense and is refused up front."""
    with pytest.raises(ValueError, match="max_waiting"):
        PasswordService("test", max_waiting=-1)
