"""The services the edge calls, filled in when the app starts (they need I/O to open)."""

from __future__ import annotations

from holdspace.accounts import Accounts
from holdspace.rooms import Rooms
from holdspace.sessions import LiveSessions


class Services:
    def __init__(self) -> None:
        self._accounts: Accounts | None = None
        self._rooms: Rooms | None = None
        self._sessions: LiveSessions | None = None

    def fill(self, accounts: Accounts, rooms: Rooms, sessions: LiveSessions) -> None:
        self._accounts, self._rooms, self._sessions = accounts, rooms, sessions

    @property
    def ready(self) -> bool:
        return self._sessions is not None

    @property
    def accounts(self) -> Accounts:
        if self._accounts is None:
            raise RuntimeError("the app has not started")
        return self._accounts

    @property
    def rooms(self) -> Rooms:
        if self._rooms is None:
            raise RuntimeError("the app has not started")
        return self._rooms

    @property
    def sessions(self) -> LiveSessions:
        if self._sessions is None:
            raise RuntimeError("the app has not started")
        return self._sessions
