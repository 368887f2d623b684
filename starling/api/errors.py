"""Errors the way Mastodon clients expect them: JSON {"error": "..."} with the right status.

Every failure path (actions, validation, routing, unexpected bugs) ends in one of these
handlers, so no client ever sees an HTML error page. A backend outage (the store, or a
cache that a route could not do without) is 503 with Retry-After, never 500.
See docs/subsystems/api.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from starling.cache.errors import CacheUnavailable
from starling.errors import ActionError
from starling.mixer import SourceTimedOut
from starling.store.base import StoreUnavailable

RETRY_AFTER_S = 5
UNAVAILABLE = "Service temporarily unavailable, retry later"


class ApiError(ActionError):
    """An error raised by the HTTP layer itself, with any status.

    `description` becomes OAuth's `error_description` (RFC 6749 section 5.2).
    """

    def __init__(self, status: int, message: str, description: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.description = description


def error_response(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def describe(errors: Sequence[Any]) -> str:
    """One line for a list of pydantic errors: 'Validation failed: limit: Input should be...'."""
    parts = []
    for error in errors:
        where = ".".join(
            str(part) for part in error.get("loc", ()) if part not in ("body", "query")
        )
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg", ""))
    return "Validation failed: " + "; ".join(parts)


async def _action_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ActionError)
    body = {"error": exc.message}
    if isinstance(exc, ApiError) and exc.description:
        body["error_description"] = exc.description
    return JSONResponse(body, status_code=exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return error_response(exc.status_code, str(exc.detail), exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, describe(exc.errors()))


async def _unavailable(request: Request, exc: Exception) -> Response:
    return error_response(503, UNAVAILABLE, {"Retry-After": str(RETRY_AFTER_S)})


async def _unexpected(request: Request, exc: Exception) -> Response:
    # The traceback still reaches the server log; the client gets no internals.
    return error_response(500, "Internal server error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(ActionError, _action_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StoreUnavailable, _unavailable)
    app.add_exception_handler(CacheUnavailable, _unavailable)
    # Every candidate source of a timeline failed: the same promise of a retry.
    app.add_exception_handler(SourceTimedOut, _unavailable)
    app.add_exception_handler(Exception, _unexpected)
