"""Blocks and mutes: block, unblock, mute, unmute, and the lists of each.

Each write answers the caller's relationship to the account, as Mastodon's; the lists
are accounts, newest block or mute first, paged by block or mute id in the Link header.
See docs/subsystems/api.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Request, Response

from starling.api.deps import (
    ActionsDep,
    ReadBlocks,
    ReadMutes,
    SettingsDep,
    StoreDep,
    WriteBlocks,
    WriteMutes,
)
from starling.api.forms import Form, parsed, record_id
from starling.api.paging import PagedAccounts, add_link
from starling.api.render import Entity, account, iso_time
from starling.api.routes_accounts import relationship_of
from starling.model import Block, Mute
from starling.store.base import Store

router = APIRouter(tags=["blocks"])
Row = TypeVar("Row", Block, Mute)


class MuteForm(Form):
    notifications: bool = True  # hide the account's notifications too
    duration: int = 0  # seconds; 0 mutes until unmuted


@router.post("/api/v1/accounts/{account_id}/block")
def block(store: StoreDep, actions: ActionsDep, me: WriteBlocks, account_id: str) -> Entity:
    """Blocks the account (idempotent); the follows both ways end."""
    target = record_id(account_id)
    actions.block(me, target)
    return relationship_of(store, me, target)


@router.post("/api/v1/accounts/{account_id}/unblock")
def unblock(store: StoreDep, actions: ActionsDep, me: WriteBlocks, account_id: str) -> Entity:
    target = record_id(account_id)
    actions.unblock(me, target)
    return relationship_of(store, me, target)


@router.post("/api/v1/accounts/{account_id}/mute")
def mute(
    store: StoreDep,
    actions: ActionsDep,
    me: WriteMutes,
    account_id: str,
    form: Annotated[MuteForm, Depends(parsed(MuteForm))],
) -> Entity:
    """Mutes the account; muting again changes `notifications` and `duration`."""
    target = record_id(account_id)
    actions.mute(me, target, notifications=form.notifications, duration_s=form.duration)
    return relationship_of(store, me, target)


@router.post("/api/v1/accounts/{account_id}/unmute")
def unmute(store: StoreDep, actions: ActionsDep, me: WriteMutes, account_id: str) -> Entity:
    target = record_id(account_id)
    actions.unmute(me, target)
    return relationship_of(store, me, target)


@router.get("/api/v1/blocks")
def blocks(
    request: Request,
    response: Response,
    store: StoreDep,
    settings: SettingsDep,
    me: ReadBlocks,
    form: Annotated[PagedAccounts, Depends(parsed(PagedAccounts))],
) -> list[Entity]:
    page = form.page()
    rows = store.blocks(
        me, max_id=page.max_id, since_id=page.since_id, min_id=page.min_id, limit=page.limit
    )
    return [entity for entity, _ in listed(request, response, store, settings.public_url, rows)]


@router.get("/api/v1/mutes")
def mutes(
    request: Request,
    response: Response,
    store: StoreDep,
    settings: SettingsDep,
    me: ReadMutes,
    form: Annotated[PagedAccounts, Depends(parsed(PagedAccounts))],
) -> list[Entity]:
    """Muted accounts, each with `mute_expires_at` (null: until unmuted), as Mastodon's."""
    page = form.page()
    rows = store.mutes(
        me, max_id=page.max_id, since_id=page.since_id, min_id=page.min_id, limit=page.limit
    )
    return [
        entity | {"mute_expires_at": None if m.expires_at is None else iso_time(m.expires_at)}
        for entity, m in listed(request, response, store, settings.public_url, rows)
    ]


def listed(
    request: Request, response: Response, store: Store, base: str, rows: Sequence[Row]
) -> list[tuple[Entity, Row]]:
    """The listed accounts' entities with their rows, and the page's Link header."""
    add_link(response, base, request.url, [row.id for row in rows])
    targets = store.get_accounts([row.target_id for row in rows])
    return [(account(targets[row.target_id], base), row) for row in rows]
