"""An asyncio client for Holdspace: sign in, join a room, send commands, follow events.

Reconnects by itself and resumes by ``seq``: after a dropped connection the
client receives exactly the events it missed, or a fresh snapshot (``resync``)
when the server no longer has them all.
"""

from holdspace_client.client import Client, CommandError, ConnectionLost
from holdspace_client.http import HttpError, login, my_rooms, register

__all__ = ["Client", "CommandError", "ConnectionLost", "HttpError", "login", "my_rooms", "register"]
