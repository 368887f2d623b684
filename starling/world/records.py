"""Turns slices of the world's numpy columns into the store's records.

See docs/subsystems/world.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import MISSING, Field, fields
from itertools import repeat
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from starling.model import Account, Follow, Post
from starling.text import hashtags
from starling.world.build import NO_TIME, World
from starling.world.names import display_name
from starling.world.population import REGIONS
from starling.world.stamps import Ints

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

LANGUAGE = "en"

T = TypeVar("T", bound="DataclassInstance")


def _build(make: type[T], columns: dict[str, list[Any]]) -> list[T]:
    """One record per row of equally long keyword columns; absent fields take defaults.

    Positional construction through map() is several times faster than keywords per row.
    """
    if unknown := set(columns) - {f.name for f in fields(make)}:
        raise ValueError(f"{make.__name__} has no fields {sorted(unknown)}")
    return list(map(make, *(_column(f, columns) for f in fields(make))))


def _column(f: Field[Any], columns: dict[str, list[Any]]) -> Iterable[Any]:
    if f.name in columns:
        return columns[f.name]
    if f.default is MISSING:
        raise ValueError(f"no column for the required field {f.name}")
    return repeat(f.default)


def _optional(column: Ints) -> list[int | None]:
    return [None if value == NO_TIME else value for value in column.tolist()]


def account_records(world: World, rows: slice) -> list[Account]:
    pop, counts = world.population, world.counts
    usernames = pop.usernames[rows]
    return _build(
        Account,
        {
            "id": pop.ids[rows].tolist(),
            "username": usernames,
            "display_name": [display_name(u) for u in usernames],
            "created_at": pop.created_ms[rows].tolist(),
            "bot": pop.bot_flag[rows].tolist(),
            "region": [REGIONS[r] for r in pop.region[rows].tolist()],
            "followers_count": counts.followers[rows].tolist(),
            "following_count": counts.following[rows].tolist(),
            "statuses_count": counts.statuses[rows].tolist(),
            "last_status_at": _optional(counts.last_status_ms[rows]),
            "last_active_at": counts.last_active_ms[rows].tolist(),
        },
    )


def post_records(world: World, rows: slice) -> list[Post]:
    history, pop, counts = world.history, world.population, world.counts
    is_reply = history.reply_to[rows] >= 0
    parent = history.reply_to[rows].clip(min=0)  # row 0 stands in where there is none
    parent_author = history.author[parent]
    reply_account = np.where(is_reply, pop.ids[parent_author], NO_TIME)
    mentioned = [
        pop.usernames[a] if r else None
        for a, r in zip(parent_author.tolist(), is_reply.tolist(), strict=True)
    ]
    texts = world.texts.render(rows, mentioned)
    return _build(
        Post,
        {
            "id": history.ids[rows].tolist(),
            "author_id": pop.ids[history.author[rows]].tolist(),
            "text": texts,
            "created_at": history.created_ms[rows].tolist(),
            "reply_to_id": _optional(np.where(is_reply, history.ids[parent], NO_TIME)),
            "reply_to_account_id": _optional(reply_account),
            "hashtags": [tuple(hashtags(text)) for text in texts],
            "mentions": [() if a == NO_TIME else (a,) for a in reply_account.tolist()],
            "language": [LANGUAGE] * len(texts),
            "favourites_count": counts.favourites[rows].tolist(),
            "replies_count": counts.replies[rows].tolist(),
        },
    )


def follow_records(world: World, rows: slice) -> list[Follow]:
    follows, ids = world.follows, world.population.ids
    return _build(
        Follow,
        {
            "follower_id": ids[follows.follower[rows]].tolist(),
            "followee_id": ids[follows.followee[rows]].tolist(),
            "created_at": follows.created_ms[rows].tolist(),
            "notify": follows.notify[rows].tolist(),
        },
    )


def like_rows(world: World, rows: slice) -> list[tuple[int, int, int]]:
    """(account_id, post_id, created_at), the order `Transaction.insert_like` takes."""
    likes = world.likes
    return list(
        zip(
            world.population.ids[likes.account[rows]].tolist(),
            world.history.ids[likes.post[rows]].tolist(),
            likes.created_ms[rows].tolist(),
            strict=True,
        )
    )
