"""The one way a refusal is written over HTTP — an API error, or a WebSocket handshake
turned away — so every one carries its code's status, the same JSON body, and
``Retry-After`` when it says how long to wait."""

from __future__ import annotations

from starlette.responses import JSONResponse

from holdspace.errors import ClientError


def error_response(error: ClientError) -> JSONResponse:
    response = JSONResponse({"error": error.to_dict()}, status_code=error.http_status)
    retry = error.detail.get("retry_after")
    if isinstance(retry, int):
        response.headers["retry-after"] = str(retry)
    return response
