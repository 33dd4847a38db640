"""The room core: every room rule, once, with no I/O.

Commands go in with the acting participant and the current time; events come
out. Nothing here awaits, touches a socket, a database or the clock, so the same
rules run unchanged on every backend and are tested without any of them.
"""
