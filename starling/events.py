"""The event log's schema: one frozen dataclass per event type (seed: the Kafka topics).

Each event carries everything its consumers need, so no consumer reads the store back to
learn what happened: `PostCreated` has the text, language, hashtags, mentions and the
author's region and bot flag (search, trends, ranking), `PostDeleted` the same fields a
consumer must subtract, engagement events the post, its author and the actor.

On the log an event is its type name plus a JSON payload holding its fields and a schema
version ("v"). Decoding checks every field's type and refuses a payload from a newer
schema, so a malformed or future event fails loudly instead of being half-applied.
See docs/subsystems/eventlog.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeAlias

from starling.model import Account, Post

SCHEMA_VERSION = 1

JsonValue: TypeAlias = int | str | bool | list[int] | list[str] | None
Payload: TypeAlias = dict[str, JsonValue]


class EventDecodeError(ValueError):
    """A payload that does not match its event type's schema."""


@dataclasses.dataclass(frozen=True, slots=True)
class AccountCreated:
    TYPE: ClassVar[str] = "account.created"
    id: int
    username: str
    region: str
    bot: bool
    created_at: int

    @property
    def ts(self) -> int:
        return self.created_at

    @property
    def partition_key(self) -> int:
        return self.id

    @classmethod
    def of(cls, account: Account) -> AccountCreated:
        return cls(account.id, account.username, account.region, account.bot, account.created_at)


@dataclasses.dataclass(frozen=True, slots=True)
class _PostEvent:
    """The fields of a post that consumers index or count, with its author's."""

    id: int
    author_id: int
    text: str
    language: str | None
    hashtags: tuple[str, ...]
    mentions: tuple[int, ...]
    visibility: str
    reply_to_id: int | None
    reply_to_account_id: int | None
    repost_of_id: int | None
    repost_of_author_id: int | None
    created_at: int
    author_region: str
    author_bot: bool

    @property
    def partition_key(self) -> int:
        return self.author_id

    @property
    def source_id(self) -> int:
        """The post a timeline entry shows: the original for a repost, else itself."""
        return self.repost_of_id if self.repost_of_id is not None else self.id


@dataclasses.dataclass(frozen=True, slots=True)
class PostCreated(_PostEvent):
    """A post or a repost (repost_of_id set) became visible to its audience."""

    TYPE: ClassVar[str] = "post.created"

    @property
    def ts(self) -> int:
        return self.created_at

    @classmethod
    def of(cls, post: Post, author: Account, repost_of_author_id: int | None) -> PostCreated:
        return cls(**_post_fields(post, author, repost_of_author_id))


@dataclasses.dataclass(frozen=True, slots=True)
class PostDeleted(_PostEvent):
    """A post was tombstoned; carries the fields consumers counted when it was created."""

    TYPE: ClassVar[str] = "post.deleted"
    deleted_at: int

    @property
    def ts(self) -> int:
        return self.deleted_at

    @classmethod
    def of(cls, post: Post, author: Account, repost_of_author_id: int | None) -> PostDeleted:
        if post.deleted_at is None:
            raise ValueError(f"post {post.id} is not deleted")
        fields = _post_fields(post, author, repost_of_author_id)
        return cls(**fields, deleted_at=post.deleted_at)


@dataclasses.dataclass(frozen=True, slots=True)
class _FollowEvent:
    follower_id: int
    followee_id: int
    created_at: int

    @property
    def ts(self) -> int:
        return self.created_at

    @property
    def partition_key(self) -> int:
        # The follower's timeline is what changes: its follows and unfollows stay in order.
        return self.follower_id


@dataclasses.dataclass(frozen=True, slots=True)
class FollowCreated(_FollowEvent):
    TYPE: ClassVar[str] = "follow.created"


@dataclasses.dataclass(frozen=True, slots=True)
class FollowDeleted(_FollowEvent):
    TYPE: ClassVar[str] = "follow.deleted"


@dataclasses.dataclass(frozen=True, slots=True)
class _LikeEvent:
    """An engagement: the post, the post's author and the actor."""

    post_id: int
    post_author_id: int
    actor_id: int
    created_at: int

    @property
    def ts(self) -> int:
        return self.created_at

    @property
    def partition_key(self) -> int:
        return self.post_author_id


@dataclasses.dataclass(frozen=True, slots=True)
class LikeCreated(_LikeEvent):
    TYPE: ClassVar[str] = "like.created"


@dataclasses.dataclass(frozen=True, slots=True)
class LikeDeleted(_LikeEvent):
    TYPE: ClassVar[str] = "like.deleted"


@dataclasses.dataclass(frozen=True, slots=True)
class _AccountEdgeEvent:
    """A block or a mute: the acting account and its target."""

    actor_id: int
    target_id: int
    created_at: int

    @property
    def ts(self) -> int:
        return self.created_at

    @property
    def partition_key(self) -> int:
        # The actor's timeline is what changes: its blocks and mutes stay in order.
        return self.actor_id


@dataclasses.dataclass(frozen=True, slots=True)
class BlockCreated(_AccountEdgeEvent):
    """Also implies the follows both ways are gone (each has its follow.deleted)."""

    TYPE: ClassVar[str] = "block.created"


@dataclasses.dataclass(frozen=True, slots=True)
class BlockDeleted(_AccountEdgeEvent):
    TYPE: ClassVar[str] = "block.deleted"


@dataclasses.dataclass(frozen=True, slots=True)
class MuteCreated(_AccountEdgeEvent):
    """A new mute, or new settings for one (muting again)."""

    TYPE: ClassVar[str] = "mute.created"
    notifications: bool
    expires_at: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class MuteDeleted(_AccountEdgeEvent):
    TYPE: ClassVar[str] = "mute.deleted"


Event: TypeAlias = (
    AccountCreated
    | PostCreated
    | PostDeleted
    | FollowCreated
    | FollowDeleted
    | LikeCreated
    | LikeDeleted
    | BlockCreated
    | BlockDeleted
    | MuteCreated
    | MuteDeleted
)
EVENT_TYPES: dict[str, type[Event]] = {
    cls.TYPE: cls
    for cls in (
        AccountCreated,
        PostCreated,
        PostDeleted,
        FollowCreated,
        FollowDeleted,
        LikeCreated,
        LikeDeleted,
        BlockCreated,
        BlockDeleted,
        MuteCreated,
        MuteDeleted,
    )
}


def to_payload(event: Event) -> Payload:
    payload: Payload = {"v": SCHEMA_VERSION}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        payload[field.name] = list(value) if isinstance(value, tuple) else value
    return payload


def decode(event_type: str, payload: Mapping[str, Any]) -> Event:
    """The typed event of a log entry; EventDecodeError when it does not fit the schema."""
    cls = EVENT_TYPES.get(event_type)
    if cls is None:
        raise EventDecodeError(f"unknown event type {event_type!r}")
    version = payload.get("v")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise EventDecodeError(f"{event_type}: unsupported schema version {version!r}")
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        if field.name not in payload:
            raise EventDecodeError(f"{event_type}: missing field {field.name!r}")
        values[field.name] = _check(event_type, field, payload[field.name])
    return cls(**values)


def _post_fields(post: Post, author: Account, repost_of_author_id: int | None) -> dict[str, Any]:
    return {
        "id": post.id,
        "author_id": post.author_id,
        "text": post.text,
        "language": post.language,
        "hashtags": post.hashtags,
        "mentions": post.mentions,
        "visibility": post.visibility,
        "reply_to_id": post.reply_to_id,
        "reply_to_account_id": post.reply_to_account_id,
        "repost_of_id": post.repost_of_id,
        "repost_of_author_id": repost_of_author_id,
        "created_at": post.created_at,
        "author_region": author.region,
        "author_bot": author.bot,
    }


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _list_of(check: Callable[[object], bool]) -> Callable[[object], bool]:
    return lambda value: isinstance(value, list) and all(check(v) for v in value)


# Field annotations (strings under postponed evaluation) and how a JSON value is checked.
_CHECKS: dict[str, Callable[[object], bool]] = {
    "int": _is_int,
    "int | None": lambda v: v is None or _is_int(v),
    "str": lambda v: isinstance(v, str),
    "str | None": lambda v: v is None or isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "tuple[int, ...]": _list_of(_is_int),
    "tuple[str, ...]": _list_of(lambda v: isinstance(v, str)),
}


def _check(event_type: str, field: dataclasses.Field[Any], value: object) -> object:
    if not _CHECKS[str(field.type)](value):
        raise EventDecodeError(f"{event_type}: field {field.name!r} has bad value {value!r}")
    return tuple(value) if isinstance(value, list) else value
