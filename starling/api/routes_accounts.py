"""Accounts: registration, credentials, profiles, lookup, posts, follows, relationships.

See docs/subsystems/api.md.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from starling.api.deps import (
    ActionsDep,
    ReadAccounts,
    ReadFollows,
    RendererDep,
    SettingsDep,
    StoreDep,
    Viewer,
    WriteFollows,
    app_token,
)
from starling.api.errors import ApiError
from starling.api.forms import Form, parse_uint, parsed, record_id
from starling.api.paging import Paged, add_link
from starling.api.render import Entity, account, credential_account, relationship, token
from starling.errors import NotFound
from starling.hidden import sources_of, without_hidden
from starling.ids import now_ms
from starling.model import Account, Token
from starling.store.base import Store
from starling.visibility import visible

router = APIRouter(tags=["accounts"])


class RegisterForm(Form):
    username: str = ""
    password: str = ""
    email: str | None = None  # a login for the password grant; Starling sends no mail
    agreement: bool = False
    locale: str = "en"


class LookupForm(Form):
    acct: str = ""


class IdsForm(Form):
    id: list[str] | str = []


class FollowForm(Form):
    notify: bool = False
    reblogs: bool = True  # accepted; reposts of followed accounts are always shown


class AccountPostsForm(Paged):
    exclude_reblogs: bool = False
    exclude_replies: bool = False
    pinned: bool = False
    only_media: bool = False
    tagged: str | None = None


def load_account(store: Store, account_id: int) -> Account:
    found = store.get_accounts([account_id]).get(account_id)
    if found is None:
        raise NotFound("Record not found")
    return found


def relationship_of(store: Store, viewer_id: int, account_id: int) -> Entity:
    return relationship(store.relationships(viewer_id, [account_id])[0])


@router.post("/api/v1/accounts")
def register(
    actions: ActionsDep,
    caller: Annotated[Token, Depends(app_token("write:accounts"))],
    form: Annotated[RegisterForm, Depends(parsed(RegisterForm))],
) -> Entity:
    """Creates an account (with an app token) and answers with the new user's token."""
    if not form.agreement:
        raise ApiError(422, "Validation failed: Agreement must be accepted")
    if not form.password:
        raise ApiError(422, "Validation failed: Password can't be blank")
    created = actions.register(form.username, form.password, email=form.email)
    secret = actions.issue_token(caller.app_id, created.id, caller.scopes)
    return token(secret, caller.scopes, now_ms())


@router.get("/api/v1/accounts/verify_credentials")
def verify_credentials(store: StoreDep, settings: SettingsDep, me: ReadAccounts) -> Entity:
    """The token's own account, with its `source` settings."""
    return credential_account(load_account(store, me), settings.public_url)


@router.get("/api/v1/accounts/lookup")
def lookup(
    store: StoreDep,
    settings: SettingsDep,
    _viewer: Viewer,
    form: Annotated[LookupForm, Depends(parsed(LookupForm))],
) -> Entity:
    """An account by `acct`: 'name', '@name' or 'name@this-domain'."""
    name, _, domain = form.acct.lstrip("@").partition("@")
    found = store.get_account_by_username(name) if name else None
    if found is None or domain not in ("", settings.public_domain):
        raise NotFound("Record not found")
    return account(found, settings.public_url)


@router.get("/api/v1/accounts/relationships")
def relationships(
    store: StoreDep, me: ReadFollows, form: Annotated[IdsForm, Depends(parsed(IdsForm))]
) -> list[Entity]:
    """The caller's relationship to each existing account of `id[]`, in the order asked."""
    raw = form.id if isinstance(form.id, list) else [form.id]
    asked = list(dict.fromkeys(n for n in map(parse_uint, raw) if n is not None))
    existing = store.get_accounts(asked)
    found = [i for i in asked if i in existing]
    return [relationship(r) for r in store.relationships(me, found)] if found else []


@router.get("/api/v1/accounts/{account_id}")
def show(store: StoreDep, settings: SettingsDep, _viewer: Viewer, account_id: str) -> Entity:
    return account(load_account(store, record_id(account_id)), settings.public_url)


@router.get("/api/v1/accounts/{account_id}/statuses")
def account_statuses(
    request: Request,
    response: Response,
    store: StoreDep,
    settings: SettingsDep,
    render: RendererDep,
    viewer: Viewer,
    account_id: str,
    form: Annotated[AccountPostsForm, Depends(parsed(AccountPostsForm))],
) -> list[Entity]:
    """The account's posts, newest first, paged by max_id / since_id / min_id."""
    author = load_account(store, record_id(account_id))
    if form.pinned or form.only_media:
        return []  # Starling has neither pinned posts nor media
    if viewer is not None and store.relationships(viewer, [author.id])[0].blocked_by:
        return []  # as Mastodon: an account shows those it blocks nothing
    page = form.page()
    posts = store.account_posts(
        author.id,
        max_id=page.max_id,
        since_id=page.since_id,
        min_id=page.min_id,
        limit=page.limit,
        exclude_reposts=form.exclude_reblogs,
        exclude_replies=form.exclude_replies,
    )
    add_link(response, settings.public_url, request.url, [p.id for p in posts])
    tag = (form.tagged or "").lstrip("#").lower()
    shown = [p for p in posts if not tag or tag in p.hashtags]
    # The profile's own posts stay whoever reads it; reposts of hidden authors go.
    shown = without_hidden(store, viewer, shown, sources_of(store, shown), exempt=author.id)
    return render.statuses(visible(store, viewer, shown), viewer)


@router.post("/api/v1/accounts/{account_id}/follow")
def follow(
    store: StoreDep,
    actions: ActionsDep,
    me: WriteFollows,
    account_id: str,
    form: Annotated[FollowForm, Depends(parsed(FollowForm))],
) -> Entity:
    """Follows the account (idempotent); answers with the relationship."""
    target = record_id(account_id)
    actions.follow(me, target, notify=form.notify)
    return relationship_of(store, me, target)


@router.post("/api/v1/accounts/{account_id}/unfollow")
def unfollow(store: StoreDep, actions: ActionsDep, me: WriteFollows, account_id: str) -> Entity:
    target = record_id(account_id)
    actions.unfollow(me, target)
    return relationship_of(store, me, target)
