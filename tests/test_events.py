"""The log's schema: every event round-trips through its payload, and a payload that
does not fit its type is refused whole."""

from __future__ import annotations

import dataclasses
import json

import pytest

from starling.events import (
    SCHEMA_VERSION,
    AccountCreated,
    BlockCreated,
    BlockDeleted,
    Event,
    EventDecodeError,
    FollowCreated,
    FollowDeleted,
    LikeCreated,
    LikeDeleted,
    MuteCreated,
    MuteDeleted,
    PostCreated,
    PostDeleted,
    decode,
    to_payload,
)
from starling.model import Account, Post

AUTHOR = Account(1, "ada", "Ada", 0, bot=True, region="eu")
POST = Post(
    id=10,
    author_id=1,
    text="hello #a @bo",
    created_at=1_000,
    reply_to_id=4,
    reply_to_account_id=2,
    hashtags=("a",),
    mentions=(2,),
    language="en",
    visibility="unlisted",
)
EVERY_EVENT: list[Event] = [
    AccountCreated.of(AUTHOR),
    PostCreated.of(POST, AUTHOR, None),
    PostCreated.of(dataclasses.replace(POST, id=11, repost_of_id=10), AUTHOR, 1),
    PostDeleted.of(dataclasses.replace(POST, deleted_at=2_000), AUTHOR, None),
    FollowCreated(1, 2, 5),
    FollowDeleted(1, 2, 6),
    LikeCreated(10, 1, 2, 7),
    LikeDeleted(10, 1, 2, 8),
    BlockCreated(1, 2, 9),
    BlockDeleted(1, 2, 10),
    MuteCreated(1, 2, 11, notifications=True, expires_at=None),
    MuteCreated(1, 3, 12, notifications=False, expires_at=99),
    MuteDeleted(1, 2, 13),
]


@pytest.mark.parametrize("event", EVERY_EVENT, ids=lambda e: e.TYPE)
def test_every_event_round_trips_through_json(event: Event) -> None:
    payload = json.loads(json.dumps(to_payload(event)))
    assert payload["v"] == SCHEMA_VERSION
    assert decode(event.TYPE, payload) == event


def test_post_events_carry_what_consumers_need_without_the_store() -> None:
    created = PostCreated.of(POST, AUTHOR, None)
    assert (created.text, created.language, created.hashtags, created.mentions) == (
        "hello #a @bo",
        "en",
        ("a",),
        (2,),
    )
    assert (created.author_region, created.author_bot, created.ts) == ("eu", True, 1_000)
    deleted = PostDeleted.of(dataclasses.replace(POST, deleted_at=2_000), AUTHOR, None)
    assert (deleted.hashtags, deleted.author_id, deleted.created_at, deleted.ts) == (
        ("a",),
        1,
        1_000,
        2_000,
    )


def test_a_live_post_cannot_make_a_deleted_event() -> None:
    with pytest.raises(ValueError, match="not deleted"):
        PostDeleted.of(POST, AUTHOR, None)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"follower_id": "1"}, "bad value"),
        ({"follower_id": True}, "bad value"),
        ({"follower_id": None}, "bad value"),
        ({"v": SCHEMA_VERSION + 1}, "unsupported schema version"),
        ({"v": None}, "unsupported schema version"),
    ],
)
def test_a_payload_that_does_not_fit_is_refused(change: dict[str, object], message: str) -> None:
    payload = {**to_payload(FollowCreated(1, 2, 5)), **change}
    with pytest.raises(EventDecodeError, match=message):
        decode("follow.created", payload)


def test_missing_fields_and_unknown_types_are_refused() -> None:
    payload = to_payload(LikeCreated(10, 1, 2, 7))
    del payload["actor_id"]
    with pytest.raises(EventDecodeError, match="missing field 'actor_id'"):
        decode("like.created", payload)
    with pytest.raises(EventDecodeError, match="unknown event type"):
        decode("like.exploded", to_payload(LikeCreated(10, 1, 2, 7)))


def test_list_fields_must_hold_the_right_kind() -> None:
    payload = to_payload(PostCreated.of(POST, AUTHOR, None))
    payload["mentions"] = ["2"]
    with pytest.raises(EventDecodeError, match="mentions"):
        decode("post.created", payload)
