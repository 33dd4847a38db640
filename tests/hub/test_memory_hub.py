"""What only the embedded hub does: its log costs the collector nothing to keep."""

from __future__ import annotations

import gc

from holdspace.core import commands as c
from holdspace.live.memory import MemoryHub
from holdspace.protocol import encode_event, encode_notice
from tests.hub.test_hub_contract import KEY, command, seat_facilitator


async def test_the_log_is_not_walked_by_the_collector() -> None:
    """Up to a thousand events per session wait in the log for a resume. Kept as objects
    the collector tracks, every one was walked again by each older-generation pass; kept
    as plain tuples of a number, a string and a flag, the collector lets go of them the
    first time it sees them, and a resume still gets every event as it was sent."""
    hub = MemoryHub(encode_event, encode_notice)
    await seat_facilitator(hub)
    for i in range(20):
        await hub.transact(KEY, command("fac", c.Post(f"m{i}")))
    gc.collect()
    log = hub._sessions[KEY].log
    assert len(log) == 22
    assert not any(gc.is_tracked(entry) for entry in log)
    missed = await hub.since(KEY, "epoch-1", 20)
    assert missed is not None
    assert [(d.seq, '"m19"' in d.frame) for d in missed] == [(21, False), (22, True)]
    await hub.close()
