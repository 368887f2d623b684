"""Mastodon entities for accounts, relationships, apps and tokens; times and URLs.

Statuses need batched lookups and live in statuses.py. Ids are strings, times ISO 8601
in UTC with milliseconds. See docs/subsystems/api.md.
"""

from __future__ import annotations

import time
from typing import Any

from starling.model import Account, App, Relationship
from starling.text import to_html

Entity = dict[str, Any]


# time.strftime on a struct from gmtime: a third of datetime's cost, and a page of
# statuses renders dozens of times.
def iso_time(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def iso_date(ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ms // 1000))


def account(record: Account, base: str) -> Entity:
    url = f"{base}/@{record.username}"
    return {
        "id": str(record.id),
        "username": record.username,
        "acct": record.username,
        "display_name": record.display_name,
        "locked": False,
        "bot": record.bot,
        "discoverable": True,
        "indexable": True,
        "group": False,
        "created_at": iso_time(record.created_at),
        "note": to_html(record.note, base) if record.note else "",
        "url": url,
        "uri": f"{base}/users/{record.username}",
        "avatar": f"{base}/avatars/original/missing.png",
        "avatar_static": f"{base}/avatars/original/missing.png",
        "header": f"{base}/headers/original/missing.png",
        "header_static": f"{base}/headers/original/missing.png",
        "followers_count": record.followers_count,
        "following_count": record.following_count,
        "statuses_count": record.statuses_count,
        "last_status_at": iso_date(record.last_status_at) if record.last_status_at else None,
        "hide_collections": False,
        "noindex": False,
        "emojis": [],
        "roles": [],
        "fields": [],
    }


def credential_account(record: Account, base: str) -> Entity:
    """The account as its owner sees it (verify_credentials): with `source`."""
    source = {
        "privacy": "public",
        "sensitive": False,
        "language": None,
        "note": record.note,
        "fields": [],
        "follow_requests_count": 0,
        "hide_collections": False,
        "discoverable": True,
        "indexable": True,
    }
    return {**account(record, base), "source": source}


def relationship(record: Relationship) -> Entity:
    return {
        "id": str(record.id),
        "following": record.following,
        "showing_reblogs": record.following,
        "notifying": record.notifying,
        "languages": None,
        "followed_by": record.followed_by,
        "blocking": record.blocking,
        "blocked_by": record.blocked_by,
        "muting": record.muting,
        "muting_notifications": record.muting_notifications,
        "requested": False,
        "requested_by": False,
        "domain_blocking": False,
        "endorsed": False,
        "note": "",
    }


def application(record: App, *, with_secret: bool) -> Entity:
    uris = record.redirect_uris.split()
    entity: Entity = {
        "id": str(record.id),
        "name": record.name,
        "website": record.website,
        "scopes": record.scopes.split(),
        "redirect_uri": "\n".join(uris),
        "redirect_uris": uris,
        "vapid_key": "",
    }
    if with_secret:
        entity |= {
            "client_id": record.client_id,
            "client_secret": record.client_secret,
            "client_secret_expires_at": 0,
        }
    return entity


def token(access_token: str, scopes: str, created_ms: int) -> Entity:
    return {
        "access_token": access_token,
        "token_type": "Bearer",
        "scope": scopes,
        "created_at": created_ms // 1000,
    }
