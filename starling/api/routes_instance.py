"""Instance metadata (v1 and v2), /metrics for Prometheus, and the front page.

Clients pick features by the version string, so Starling reports the Mastodon version
whose API it follows. See docs/subsystems/api.md.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from starling import __version__, metrics
from starling.api.deps import SettingsDep, StoreDep, WorkersDep
from starling.api.render import Entity
from starling.store.base import Store
from starling.text import MAX_POST_CHARS

router = APIRouter(tags=["instance"])

MASTODON_API = "4.3.0"
VERSION = f"{MASTODON_API} (compatible; Starling {__version__})"
STATS_TTL_S = 300.0
TITLE = "Starling"
DESCRIPTION = "Twitter's core backend in Python, speaking the Mastodon client API."
CONFIGURATION: Entity = {
    "urls": {"streaming": None, "status": None},
    "vapid": {"public_key": ""},
    "accounts": {"max_featured_tags": 0, "max_pinned_statuses": 0},
    "statuses": {
        "max_characters": MAX_POST_CHARS,
        "max_media_attachments": 0,
        "characters_reserved_per_url": 23,
    },
    "media_attachments": {
        "supported_mime_types": [],
        "image_size_limit": 0,
        "image_matrix_limit": 0,
        "video_size_limit": 0,
        "video_frame_rate_limit": 0,
        "video_matrix_limit": 0,
    },
    "polls": {
        "max_options": 0,
        "max_characters_per_option": 0,
        "min_expiration": 0,
        "max_expiration": 0,
    },
    "translation": {"enabled": False},
}


def _stats(request: Request, store: Store) -> Entity:
    """Account and post totals, recounted at most every STATS_TTL_S (counting is a scan)."""
    cached: tuple[float, Entity] | None = getattr(request.app.state, "instance_stats", None)
    if cached is None or time.monotonic() - cached[0] > STATS_TTL_S:
        accounts, posts = store.totals()
        stats = {"user_count": accounts, "status_count": posts, "domain_count": 1}
        cached = (time.monotonic(), stats)
        request.app.state.instance_stats = cached
    return cached[1]


@router.get("/api/v1/instance")
@router.get("/api/v1/instance/", include_in_schema=False)
def instance_v1(request: Request, store: StoreDep, settings: SettingsDep) -> Entity:
    return {
        "uri": settings.public_domain,
        "title": TITLE,
        "short_description": DESCRIPTION,
        "description": DESCRIPTION,
        "email": "",
        "version": VERSION,
        "urls": {},  # no streaming API
        "stats": _stats(request, store),
        "thumbnail": None,
        "languages": ["en"],
        "registrations": True,
        "approval_required": False,
        "invites_enabled": False,
        "configuration": {k: CONFIGURATION[k] for k in ("statuses", "media_attachments", "polls")},
        "contact_account": None,
        "rules": [],
    }


@router.get("/api/v2/instance")
@router.get("/api/v2/instance/", include_in_schema=False)
def instance_v2(settings: SettingsDep) -> Entity:
    return {
        "domain": settings.public_domain,
        "title": TITLE,
        "version": VERSION,
        "source_url": f"{settings.public_url}/docs",
        "description": DESCRIPTION,
        "thumbnail": {"url": f"{settings.public_url}/thumbnail.png"},
        "icon": [],
        "languages": ["en"],
        "configuration": CONFIGURATION,
        "registrations": {
            "enabled": True,
            "approval_required": False,
            "message": None,
            "url": None,
        },
        "api_versions": {"mastodon": 2},
        "contact": {"email": "", "account": None},
        "rules": [],
    }


@router.get("/metrics", include_in_schema=False)
def prometheus_metrics(workers: WorkersDep) -> Response:
    # The backlog is the log's, not a process's: read fresh, it is right whichever
    # process answers, even when the workers run elsewhere or have died.
    for worker in workers:
        worker.backlog()
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


@router.get("/", include_in_schema=False)
def front_page() -> RedirectResponse:
    return RedirectResponse("/docs")
