"""Durable record types shared by every store implementation."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import time
from typing import Literal

Role = Literal["member", "facilitator", "admin"]
ROLES: tuple[Role, ...] = ("member", "facilitator", "admin")

Visibility = Literal["closed", "open"]


def parse_role(value: str) -> Role:
    """A role read back from a store; anything else means the store is damaged."""
    for role in ROLES:
        if role == value:
            return role
    raise ValueError(f"unknown role in store: {value!r}")


def parse_visibility(value: str) -> Visibility:
    if value == "open":
        return "open"
    if value == "closed":
        return "closed"
    raise ValueError(f"unknown visibility in store: {value!r}")


def new_id(prefix: str) -> str:
    """Opaque, unguessable identifiers: nothing about a room or member can be enumerated."""
    return f"{prefix}_{secrets.token_hex(8)}"


def session_key(room_id: str, starts_at: float) -> str:
    """Names one session of a room: its id and when it starts (whole seconds)."""
    return f"{room_id}:{int(starts_at)}"


def split_session_key(key: str) -> tuple[str, str]:
    """A session key's room id and start, as :func:`session_key` joined them."""
    room_id, _, starts = key.partition(":")
    return room_id, starts


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str  # login name: private, unique case-insensitively
    display_name: str  # the pseudonym others see
    role: Role
    password_hash: str
    created_at: float


@dataclass(frozen=True, slots=True)
class WeeklyRule:
    """A recurring meeting: on these weekdays (0 = Monday) at this local wall-clock time."""

    days: tuple[int, ...]
    start: time
    duration_minutes: int


@dataclass(frozen=True, slots=True)
class OneOff:
    """A single meeting at a local wall-clock date and time (ISO ``YYYY-MM-DDTHH:MM``)."""

    start: str
    duration_minutes: int


@dataclass(frozen=True, slots=True)
class Schedule:
    timezone: str = "UTC"
    weekly: tuple[WeeklyRule, ...] = ()
    one_off: tuple[OneOff, ...] = ()


@dataclass(frozen=True, slots=True)
class Room:
    id: str
    name: str
    description: str
    capacity: int
    guidelines: str  # the group agreement members affirm each session
    owner_id: str
    facilitator_ids: tuple[str, ...]  # owner first, then co-facilitators
    schedule: Schedule
    lobby_minutes: int
    visibility: Visibility
    created_at: float
    crisis_resources: str = ""
    archived: bool = False
    waiting_room: bool = False  # arrivals wait until a facilitator admits them
    show_passes: bool = False  # members see who passed in a round (else only facilitators)

    def is_facilitator(self, user_id: str) -> bool:
        return user_id in self.facilitator_ids


@dataclass(frozen=True, slots=True)
class Invite:
    id: str
    room_id: str
    code_hash: str  # only the hash of the code is kept
    created_by: str
    created_at: float
    expires_at: float | None
    max_uses: int | None  # None: unlimited until expiry or revocation
    uses: int = 0
    revoked_at: float | None = None

    def usable(self, now: float) -> bool:
        if self.revoked_at is not None:
            return False
        if self.expires_at is not None and now >= self.expires_at:
            return False
        return self.max_uses is None or self.uses < self.max_uses


@dataclass(frozen=True, slots=True)
class Bar:
    """A member a facilitator has barred from a room: no future session lets them in."""

    room_id: str
    user_id: str
    by: str  # who barred them
    reason: str | None
    at: float


@dataclass(frozen=True, slots=True)
class ModerationEntry:
    """One line of a room's moderation record: who did what to whom, when, why. Never text."""

    room_id: str
    at: float
    actor_id: str | None  # None: the room itself (an expiry, a timeout)
    action: str
    target_id: str | None = None
    session_key: str | None = None
    reason: str | None = None
    detail: dict[str, str | int | float | bool | None] = field(default_factory=dict)
