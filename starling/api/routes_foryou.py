"""GET /api/v1/timelines/for_you and its explain endpoint. See docs/subsystems/foryou.md
and docs/subsystems/api.md."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from fastapi import APIRouter, Depends, Request, Response

from starling.ads.placement import promoted_marker
from starling.api.deps import ForYouDep, ReadStatuses, RendererDep, SettingsDep
from starling.api.errors import ApiError
from starling.api.forms import parsed
from starling.api.paging import Paged, add_link, cursor
from starling.api.render import Entity
from starling.foryou.timeline import PAGE_SIZE
from starling.mixer import Candidates

router = APIRouter(tags=["timelines"])


class ForYouForm(Paged):
    limit: int = PAGE_SIZE
    max_limit: ClassVar[int] = PAGE_SIZE


@router.get("/api/v1/timelines/for_you")
def for_you(
    request: Request,
    response: Response,
    for_you: ForYouDep,
    settings: SettingsDep,
    render: RendererDep,
    me: ReadStatuses,
    form: Annotated[ForYouForm, Depends(parsed(ForYouForm))],
) -> list[Entity]:
    """The ranked timeline, best first. A page is never served twice, so the next page
    (rel="next") is simply what is best among the rest, whatever its max_id; since_id
    and min_id (rel="prev") ask only for posts newer than the newest shown."""
    page = form.page()
    served = for_you.serve(me, since_id=page.since_id, min_id=page.min_id, limit=page.limit)
    entries = served.records()
    # The links' cursors are ids, so they name the page's oldest and newest posts.
    add_link(
        response, settings.public_url, request.url, sorted((p.id for p in entries), reverse=True)
    )
    return marked_promoted(render.statuses(entries, me), served)


@router.get("/api/v1/timelines/for_you/explain/{entry_id}")
def explain(for_you: ForYouDep, me: ReadStatuses, entry_id: str) -> dict[str, Any]:
    """Why an entry of the viewer's For You timeline was served: its source, score,
    features, social proof and the filters it passed."""
    wanted = cursor("id", entry_id)
    found = None if wanted is None else for_you.explain(me, wanted)
    if found is None:
        raise ApiError(404, "Record not found")
    return {"id": str(wanted), **found}


def marked_promoted(entities: list[Entity], page: Candidates) -> list[Entity]:
    """Promoted entries carry `promoted` (campaign and advertiser); clients ignore a
    field they do not know."""
    promoted = {
        str(post_id): promoted_marker(campaign, advertiser)
        for post_id, campaign, advertiser in zip(
            page.post_id.tolist(), page.campaign_id.tolist(), page.author_id.tolist(), strict=True
        )
        if campaign
    }
    if not promoted:
        return entities
    return [e | {"promoted": promoted[e["id"]]} if e["id"] in promoted else e for e in entities]
