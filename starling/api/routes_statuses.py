"""Statuses: post, read, delete, favourite and reblog. See docs/subsystems/api.md."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header

from starling.api.deps import (
    ActionsDep,
    RendererDep,
    StoreDep,
    Viewer,
    WriteFavourites,
    WriteStatuses,
)
from starling.api.errors import ApiError
from starling.api.forms import Form, parsed, record_id
from starling.api.render import Entity
from starling.errors import NotFound
from starling.model import Post
from starling.store.base import Store
from starling.visibility import visible

router = APIRouter(tags=["statuses"])
MAX_IDEMPOTENCY_KEY = 200


class StatusForm(Form):
    status: str = ""
    in_reply_to_id: str | None = None
    visibility: str = "public"
    spoiler_text: str = ""
    sensitive: bool = False
    language: str | None = None
    media_ids: list[str] = []
    poll: Any = None
    scheduled_at: str | None = None

    def unsupported(self) -> str | None:
        """Why this request cannot be served, for features Starling does not have."""
        if self.media_ids:
            return "Media attachments are not supported"
        if self.poll:
            return "Polls are not supported"
        if self.scheduled_at:
            return "Scheduled posts are not supported"
        return None


def visible_post(store: Store, viewer_id: int | None, raw_id: str) -> Post:
    """A live post the viewer may see; anything else is simply not found."""
    post_id = record_id(raw_id)
    found = store.get_posts([post_id]).get(post_id)
    if found is None or found.deleted_at is not None or not visible(store, viewer_id, [found]):
        raise NotFound("Record not found")
    return found


@router.post("/api/v1/statuses")
def create_status(
    store: StoreDep,
    actions: ActionsDep,
    render: RendererDep,
    me: WriteStatuses,
    form: Annotated[StatusForm, Depends(parsed(StatusForm))],
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Entity:
    """Posts a status. Retries with the same Idempotency-Key answer the same status."""
    if (reason := form.unsupported()) is not None:
        raise ApiError(422, reason)
    if idempotency_key is not None and len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
        raise ApiError(422, "Validation failed: Idempotency-Key is too long")
    reply_to = visible_post(store, me, form.in_reply_to_id) if form.in_reply_to_id else None
    post = actions.post(
        me,
        form.status,
        reply_to_id=reply_to.id if reply_to else None,
        visibility=form.visibility,
        language=form.language or None,
        spoiler_text=form.spoiler_text,
        sensitive=form.sensitive,
        idempotency_key=idempotency_key or None,
    )
    return render.status(post, me)


@router.get("/api/v1/statuses/{status_id}")
def show_status(store: StoreDep, render: RendererDep, viewer: Viewer, status_id: str) -> Entity:
    return render.status(visible_post(store, viewer, status_id), viewer)


@router.delete("/api/v1/statuses/{status_id}")
def delete_status(
    actions: ActionsDep, render: RendererDep, me: WriteStatuses, status_id: str
) -> Entity:
    """Deletes one's own status; answers with it, and its source text for redrafting."""
    deleted = actions.delete(me, record_id(status_id))
    return render.status(deleted, me) | {"text": deleted.text}


@router.post("/api/v1/statuses/{status_id}/favourite")
def favourite(
    store: StoreDep, actions: ActionsDep, render: RendererDep, me: WriteFavourites, status_id: str
) -> Entity:
    liked = actions.like(me, visible_post(store, me, status_id).id)
    return render.status(liked, me)


@router.post("/api/v1/statuses/{status_id}/unfavourite")
def unfavourite(
    store: StoreDep, actions: ActionsDep, render: RendererDep, me: WriteFavourites, status_id: str
) -> Entity:
    unliked = actions.unlike(me, visible_post(store, me, status_id).id)
    return render.status(unliked, me)


@router.post("/api/v1/statuses/{status_id}/reblog")
def reblog(
    store: StoreDep, actions: ActionsDep, render: RendererDep, me: WriteStatuses, status_id: str
) -> Entity:
    """Reposts (once, however often asked); answers with the repost wrapping the original."""
    repost = actions.repost(me, visible_post(store, me, status_id).id)
    return render.status(repost, me)


@router.post("/api/v1/statuses/{status_id}/unreblog")
def unreblog(
    store: StoreDep, actions: ActionsDep, render: RendererDep, me: WriteStatuses, status_id: str
) -> Entity:
    original = actions.unrepost(me, visible_post(store, me, status_id).id)
    return render.status(original, me)
