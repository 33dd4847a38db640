"""Where the hub keeps things in Redis: every key's name, in one place.

All of one session's keys carry its room's hash tag, so a script touches one slot
and runs unchanged on Redis Cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from holdspace.records import split_session_key


def follower(worker_id: str) -> str:
    """A worker's name in a session's followers set. The '+' says it reads the parts a
    step wrote off the channel to keep its copy of the state current (a worker of an
    older version is listed bare, and is sent the events alone: see ``write.lua``)."""
    return worker_id + "+"


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str
    # Recent sessions' (state, log, followers) names: every step needs all three.
    _named: dict[str, tuple[str, str, str]] = field(default_factory=dict, compare=False)

    def session(self, session: str) -> tuple[str, str, str]:
        """The session's state, log and followers keys, in the write script's order."""
        names = self._named.get(session)
        if names is None:
            if len(self._named) >= 4096:
                self._named.clear()
            state = self.state(session)
            names = self._named[session] = (state, state + ":log", state + ":fol")
        return names

    def state(self, session: str) -> str:
        """The session's hash; also the name of its pub/sub channel."""
        room_id, starts = split_session_key(session)
        return f"{self.prefix}{{room:{room_id}}}:live:{starts}"

    def log(self, session: str) -> str:
        return self.state(session) + ":log"

    def followers(self, session: str) -> str:
        return self.state(session) + ":fol"

    @property
    def live(self) -> str:
        """The set of live session keys, for the ticker."""
        return self.prefix + "live"

    @property
    def due(self) -> str:
        """Sorted set: live session key -> when time next acts on it (ms), for the ticker."""
        return self.prefix + "due"

    @property
    def ticker(self) -> str:
        return self.prefix + "ticker"

    @property
    def workers(self) -> str:
        return self.prefix + "workers"

    def probe(self, worker_id: str) -> str:
        return f"{self.prefix}probe:{worker_id}"

    def relay(self, worker_id: str) -> str:
        """The worker's pub/sub channel for commands relayed to it, and their answers."""
        return f"{self.prefix}relay:{worker_id}"

    @property
    def links(self) -> str:
        """Hash: worker id -> how long its pings to Redis take (ms), for the relay."""
        return self.prefix + "links"
