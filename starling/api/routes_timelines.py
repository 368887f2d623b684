"""GET /api/v1/timelines/home and /api/v1/timelines/public. See docs/subsystems/api.md."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from starling.api.deps import HomeDep, ReadStatuses, RendererDep, SettingsDep, StoreDep, Viewer
from starling.api.forms import parsed
from starling.api.paging import Paged, add_link
from starling.api.render import Entity
from starling.hidden import without_hidden

router = APIRouter(tags=["timelines"])


class PublicForm(Paged):
    local: bool = False
    remote: bool = False
    only_media: bool = False


@router.get("/api/v1/timelines/home")
def home(
    request: Request,
    response: Response,
    home: HomeDep,
    settings: SettingsDep,
    render: RendererDep,
    me: ReadStatuses,
    form: Annotated[Paged, Depends(parsed(Paged))],
) -> list[Entity]:
    """The Following timeline. Reading it also marks the account active (home.read
    does that itself, after checking for inactivity), which keeps fan-out writing to it."""
    page = form.page()
    entries = home.read(
        me, max_id=page.max_id, since_id=page.since_id, min_id=page.min_id, limit=page.limit
    )
    add_link(response, settings.public_url, request.url, [p.id for p in entries])
    # home.read shows only what the viewer may see: followed authors' posts and direct
    # posts to the viewer; no second visibility pass.
    return render.statuses(entries, me)


@router.get("/api/v1/timelines/public")
def public(
    request: Request,
    response: Response,
    store: StoreDep,
    settings: SettingsDep,
    render: RendererDep,
    viewer: Viewer,
    form: Annotated[PublicForm, Depends(parsed(PublicForm))],
) -> list[Entity]:
    """Public posts of every account, newest first (no reposts)."""
    if form.remote or form.only_media:
        return []  # every account is local, and there is no media
    page = form.page()
    posts = store.public_posts(
        max_id=page.max_id, since_id=page.since_id, min_id=page.min_id, limit=page.limit
    )
    add_link(response, settings.public_url, request.url, [p.id for p in posts])
    # As Mastodon: without the authors the viewer blocks, mutes or is blocked by.
    return render.statuses(without_hidden(store, viewer, posts, {}), viewer)
