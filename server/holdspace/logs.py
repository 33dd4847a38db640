"""Logging: lines that never carry message text, tokens or client addresses — JSON for
machines, or plain lines for a person at a terminal (``auto``: whichever the output is).

Holdspace's own log calls pass identifiers only (``user_id``, ``conn``,
``room_id``). Two things underneath would leak, so they are filtered here:
uvicorn logs every WebSocket handshake with the request path and the client's
address on ``uvicorn.error`` even with its access log off, and at DEBUG the
websockets layer logs every frame's payload (message text) and every handshake
header (the session cookie). The
HTTP access log is replaced by one without addresses or query strings.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any, TextIO

_STANDARD = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                body[key] = value
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """One readable line: the time, the level, what happened, then its details."""

    def format(self, record: logging.LogRecord) -> str:
        when = self.formatTime(record, "%H:%M:%S")
        details = " ".join(
            f"{key}={value}"
            for key, value in vars(record).items()
            if key not in _STANDARD and not key.startswith("_")
        )
        line = f"{when} {record.levelname.lower():<7} {record.getMessage()}"
        if record.name.startswith("holdspace") and details:
            line = f"{line}  ({details})"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


class DropHandshakeLines(logging.Filter):
    """Drop uvicorn's per-handshake line (``<address> - "WebSocket <path>" ...``), and its
    "Uvicorn running on …" line: it comes before the app is ready, and Holdspace says
    when it is ready itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.msg, str):
            return True
        return '"WebSocket %s"' not in record.msg and not record.msg.startswith(
            "Uvicorn running on"
        )


class DropWireLines(logging.Filter):
    """Drop the websockets layer's DEBUG wire lines (``< ...`` received, ``> ...`` sent):
    they print every frame's payload and every handshake header, cookies included."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.levelno <= logging.DEBUG
            and isinstance(record.msg, str)
            and record.msg.startswith(("< ", "> "))
        )


# Loggers the WebSocket protocol writes frames to: uvicorn's server side and websockets'.
_FRAME_LOGGERS = ("uvicorn.error", "websockets", "websockets.server", "websockets.client")


def configure(level: str = "INFO", fmt: str = "auto", stream: TextIO | None = None) -> None:
    out = stream or sys.stderr
    handler = logging.StreamHandler(out)
    handler.addFilter(DropHandshakeLines())
    if fmt == "auto":
        fmt = "text" if out.isatty() else "json"
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    install_filters()


def install_filters() -> None:
    """Keep handshake lines and frame payloads out of every handler, whoever configured
    logging. Logger filters apply to what a logger writes itself, so they go on each one."""
    for name in ("uvicorn", *_FRAME_LOGGERS):
        logger = logging.getLogger(name)
        for kind in (DropHandshakeLines, DropWireLines):
            if not any(isinstance(f, kind) for f in logger.filters):
                logger.addFilter(kind())
