"""Errors the actions layer raises on purpose; the API maps each to its HTTP status.
See docs/subsystems/actions.md."""

from __future__ import annotations


class ActionError(Exception):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ActionError):
    status = 404


class Forbidden(ActionError):
    status = 403


class Invalid(ActionError):
    """Input that fails validation (Mastodon answers 422)."""

    status = 422


class Unauthorized(ActionError):
    status = 401
