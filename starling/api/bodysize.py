"""Refuses request bodies over `max_body_bytes` with 413, before they are parsed.

The declared Content-Length is checked first; a body streamed without one (or lying
about it) is counted as it arrives. See docs/subsystems/api.md.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from starling.api.errors import ApiError, error_response

TOO_LARGE = "Request body too large"


class BodySizeMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and (len(declared) > 18 or int(declared) > self.max_bytes):
            await error_response(413, TOO_LARGE)(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the endpoint's body read, so the API's handler answers.
                    raise ApiError(413, TOO_LARGE)
            return message

        await self.app(scope, counting_receive, send)
