"""Mastodon paging: max_id / since_id / min_id / limit in, a Link header out.

Lists are newest first. rel="next" carries max_id of the last item (older entries),
rel="prev" min_id of the first (newer ones); an empty page has no Link header.
See docs/subsystems/api.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from starlette.datastructures import URL
from starlette.responses import Response

from starling.api.errors import ApiError
from starling.api.forms import MAX_ID, Form

DEFAULT_LIMIT = 20
MAX_LIMIT = 40
CURSORS = ("max_id", "since_id", "min_id")


@dataclass(frozen=True, slots=True)
class Page:
    max_id: int | None = None
    since_id: int | None = None
    min_id: int | None = None
    limit: int = DEFAULT_LIMIT


class Paged(Form):
    max_limit: ClassVar[int] = MAX_LIMIT
    max_id: str | None = None
    since_id: str | None = None
    min_id: str | None = None
    limit: int = DEFAULT_LIMIT

    def page(self) -> Page:
        return Page(
            max_id=cursor("max_id", self.max_id),
            since_id=cursor("since_id", self.since_id),
            min_id=cursor("min_id", self.min_id),
            limit=min(max(self.limit, 1), self.max_limit),
        )


class PagedAccounts(Paged):
    """Lists of accounts (blocks, mutes) page 40 at a time and up to 80, as Mastodon."""

    max_limit: ClassVar[int] = 80
    limit: int = 40


def cursor(name: str, value: str | None) -> int | None:
    """A paging id; ids beyond any that can exist are clamped, not refused."""
    if not value:
        return None
    if not value.isascii() or not value.isdigit():
        raise ApiError(422, f"Validation failed: {name} must be an id")
    return MAX_ID if len(value) > 19 else min(int(value), MAX_ID)


def add_link(response: Response, origin: str, url: URL, ids: Sequence[int]) -> None:
    """Sets the Link header for a page whose entry ids are `ids` (newest first). Links
    name the instance's public origin, as its entities do, whatever host was asked."""
    if not ids:
        return
    public = URL(origin)
    base = url.replace(scheme=public.scheme, netloc=public.netloc).remove_query_params(CURSORS)
    older = base.include_query_params(max_id=str(ids[-1]))
    newer = base.include_query_params(min_id=str(ids[0]))
    response.headers["Link"] = f'<{older}>; rel="next", <{newer}>; rel="prev"'
