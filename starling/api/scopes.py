"""OAuth scopes: parsing, the ones that exist, and what a granted set covers.

'read' covers 'read:statuses' and every other child; the legacy 'follow' covers the
follow, block and mute children Mastodon moved under read/write. See docs/subsystems/api.md.
"""

from __future__ import annotations

import re

from starling.api.errors import ApiError

SCOPE_RE = re.compile(
    r"^(?:(?:read|write|follow|push|profile)(?::[a-z_]+)?|admin:(?:read|write)(?::[a-z_]+)?)$"
)
FOLLOW_CHILDREN = frozenset(
    {"read:follows", "write:follows", "read:blocks", "write:blocks", "read:mutes", "write:mutes"}
)
DEFAULT = "read"


def split(raw: str | list[str] | None) -> list[str]:
    """Scopes from a parameter: space or '+' separated, or a list; duplicates dropped."""
    parts = raw if isinstance(raw, list) else [raw or ""]
    words = (w for part in parts for w in part.replace("+", " ").split())
    return list(dict.fromkeys(words))


def known(words: list[str]) -> str:
    """The scopes as stored (space separated); 422 when any does not exist."""
    unknown = [w for w in words if not SCOPE_RE.match(w)]
    if unknown:
        raise ApiError(422, f"Validation failed: unknown scopes: {' '.join(unknown)}")
    return " ".join(words) or DEFAULT


def allows(granted: str, needed: str) -> bool:
    scopes = set(granted.split())
    parent = needed.split(":", 1)[0]
    return (
        needed in scopes or parent in scopes or ("follow" in scopes and needed in FOLLOW_CHILDREN)
    )


def within(requested: list[str], granted: str) -> bool:
    return all(allows(granted, scope) for scope in requested)
