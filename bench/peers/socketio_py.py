"""The fan-out benchmark's python-socketio peer: the same room fan-out as Holdspace,
written the way python-socketio's documentation shows it.

    REDIS_URL=redis://127.0.0.1:6379/0 python bench/peers/socketio_py.py [PORT]

One process: an ``AsyncServer`` on the ASGI integration with the Redis client
manager (every emit goes through Redis, as it would with several workers),
served by uvicorn. The port comes from the first argument, else ``PORT`` (8000).

Protocol (the benchmark's load generator speaks it, ``SocketIOClient``):

- ``join`` ``{room}``: enter the room; the acknowledgement is ``{"ok": true}``;
- ``post`` ``{room, text}``: ``message`` ``{text}`` to every other member of the room.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import socketio
import uvicorn

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

sio = socketio.AsyncServer(async_mode="asgi", client_manager=socketio.AsyncRedisManager(REDIS_URL))
app = socketio.ASGIApp(sio)


async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
    return True


async def join(sid: str, data: dict[str, Any]) -> dict[str, bool]:
    await sio.enter_room(sid, data["room"])
    return {"ok": True}


async def post(sid: str, data: dict[str, Any]) -> None:
    await sio.emit("message", {"text": data["text"]}, room=data["room"], skip_sid=sid)


# `sio.on(event, handler)`, the decorator's plain form (mypy can't see through the
# untyped decorator).
sio.on("connect", connect)
sio.on("join", join)
sio.on("post", post)


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("PORT", "8000"))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
