"""GET /api/v1/timelines/for_you, its streaming variant, the seen reports and the explain
endpoint. See docs/subsystems/foryou.md and docs/subsystems/api.md."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any, ClassVar

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse

from starling.ads.placement import promoted_marker
from starling.api.deps import ForYouDep, ReadStatuses, RendererDep, SettingsDep, WriteStatuses
from starling.api.errors import ApiError
from starling.api.forms import Form, parse_uint, parsed
from starling.api.paging import Paged, add_link, cursor
from starling.api.render import Entity
from starling.api.statuses import Renderer
from starling.foryou.timeline import PAGE_SIZE, ForYouTimeline, Served
from starling.mixer import Candidates

router = APIRouter(tags=["timelines"])

RANKING_HEADER = "X-Starling-Ranking"  # heavy, light, heuristic, chronological or stale
STREAM_LIMIT = 200  # entries one stream answers at most
SEEN_IDS = 200  # ids one seen report holds at most


class ForYouForm(Paged):
    limit: int = PAGE_SIZE
    max_limit: ClassVar[int] = PAGE_SIZE


class StreamForm(Form):
    limit: int = PAGE_SIZE


class SeenForm(Form):
    ids: list[str] | str = []


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
    and min_id (rel="prev") ask only for posts newer than the newest shown. The
    X-Starling-Ranking header names the ranking tier that served the page."""
    page = form.page()
    served = for_you.serve(me, since_id=page.since_id, min_id=page.min_id, limit=page.limit)
    response.headers[RANKING_HEADER] = served.ranking
    # The links' cursors are ids, so they name the page's oldest and newest posts.
    ids = sorted((p.id for p in served.posts), reverse=True)
    add_link(response, settings.public_url, request.url, ids)
    return _rendered(render, served, me)


@router.get("/api/v1/timelines/for_you/stream")
def stream(
    for_you: ForYouDep,
    render: RendererDep,
    me: ReadStatuses,
    form: Annotated[StreamForm, Depends(parsed(StreamForm))],
) -> StreamingResponse:
    """Up to `limit` (at most 200) entries as NDJSON, in ranked order, written as they are
    produced: a first line {"ranking": tier}, then one Mastodon Status per line. The
    first page is written as soon as it is ranked; the next come from the same ranked
    list, each recorded as served when it is written."""
    limit = min(max(form.limit, 1), STREAM_LIMIT)
    return StreamingResponse(
        _lines(for_you, render, me, limit),
        media_type="application/x-ndjson",
    )


def _lines(for_you: ForYouTimeline, render: Renderer, me: int, limit: int) -> Iterator[str]:
    for number, served in enumerate(for_you.pages(me, limit)):
        if number == 0:
            yield json.dumps({"ranking": served.ranking}) + "\n"
        for status in _rendered(render, served, me):
            yield json.dumps(status) + "\n"


def _rendered(render: Renderer, served: Served, me: int) -> list[Entity]:
    return marked_promoted(render.statuses(served.posts, me), served.page)


@router.post("/api/v1/timelines/for_you/seen")
def seen(
    for_you: ForYouDep,
    me: WriteStatuses,
    form: Annotated[SeenForm, Depends(parsed(SeenForm))],
) -> dict[str, Any]:
    """Entries the client showed on screen (`ids[]`, at most 200): never served again.
    Served is not seen: an entry served but scrolled past is left out by the served
    record; this one also holds what another client of the viewer showed."""
    raw = form.ids if isinstance(form.ids, list) else [form.ids]
    ids = [parse_uint(value) for value in raw]
    if not raw or len(raw) > SEEN_IDS or any(i is None or i == 0 for i in ids):
        raise ApiError(422, f"Validation failed: ids must be 1 to {SEEN_IDS} status ids")
    for_you.report_seen(me, [i for i in ids if i is not None])
    return {}


@router.get("/api/v1/timelines/for_you/explain/{entry_id}")
def explain(for_you: ForYouDep, me: ReadStatuses, entry_id: str) -> dict[str, Any]:
    """Why an entry of the viewer's For You timeline was served: its source, score,
    ranking tier, features, social proof and the filters it passed."""
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
