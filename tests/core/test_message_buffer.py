"""The recent-messages buffer: records in and out as they were, kept out of the
collector's sight, and what changed still noted for the hubs that store entries apart."""

from __future__ import annotations

import gc

from holdspace.core.state import NO_REACTIONS, MessageBuffer, MessageRecord

PLAIN = MessageRecord(1, "u1", "Sam", "hello", 1000.5)
REACTED = MessageRecord(
    2, "u2", "Lee", "me too", 1001.0, sensitive=True,
    reactions={"heart": frozenset({"u1", "u3"}), "thanks": frozenset()}, role="facilitator",
)  # fmt: skip


def test_records_read_back_as_they_were_written() -> None:
    buffer = MessageBuffer([(1, PLAIN)])
    buffer[2] = REACTED
    assert buffer[1] == PLAIN
    assert buffer[1].reactions is NO_REACTIONS
    assert buffer[2] == REACTED
    assert buffer.get(2) == REACTED
    assert buffer.get(3) is None
    assert buffer.values() == [PLAIN, REACTED]
    assert buffer.items() == [(1, PLAIN), (2, REACTED)]
    assert list(buffer) == [1, 2]
    assert buffer.pop(1) == PLAIN
    assert buffer.pop(1) is None
    assert list(buffer) == [2]


def test_the_collector_lets_go_of_what_it_keeps() -> None:
    """Kept for as long as the last 200 messages last, which under load outlives the young
    generation: as named tuples the collector went on walking each one in every older
    generation's pass."""
    buffer = MessageBuffer((seq, PLAIN._replace(seq=seq)) for seq in range(1, 6))
    buffer[6] = REACTED
    gc.collect()  # a record with reactions holds a tuple: that goes first, then the record
    gc.collect()
    assert not any(gc.is_tracked(kept) for kept in dict.values(buffer))


def test_writes_and_drops_are_still_noted() -> None:
    buffer = MessageBuffer([(1, PLAIN)])
    buffer.track()
    buffer[2] = REACTED
    del buffer[1]
    assert buffer.changes() == ([2], [1])
