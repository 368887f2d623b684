"""Domain records shared by the store, the actions layer and the API.

Times are integer milliseconds since the epoch; ids are Mastodon-format snowflakes
(see ids.py). Records are plain frozen dataclasses: the store returns them, nothing
mutates them. See docs/architecture.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Names of the sharded engagement counters (cache.Counters), as Mastodon names the counts.
FAVOURITES = "favourites"
REBLOGS = "reblogs"


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    username: str
    display_name: str
    created_at: int
    bot: bool = False
    region: str = ""
    note: str = ""
    followers_count: int = 0
    following_count: int = 0
    statuses_count: int = 0
    last_status_at: int | None = None
    last_active_at: int = 0


@dataclass(frozen=True, slots=True)
class Post:
    id: int
    author_id: int
    text: str
    created_at: int
    reply_to_id: int | None = None
    reply_to_account_id: int | None = None
    repost_of_id: int | None = None
    hashtags: tuple[str, ...] = ()
    mentions: tuple[int, ...] = ()
    language: str | None = None
    visibility: str = "public"
    spoiler_text: str = ""
    sensitive: bool = False
    deleted_at: int | None = None
    # Denormalised counts, written by the reconciliation job; live counts come from
    # the sharded counters (cache.Counters).
    favourites_count: int = 0
    reblogs_count: int = 0
    replies_count: int = 0

    @property
    def source_id(self) -> int:
        """The post a timeline entry shows: the original for a repost, else itself."""
        return self.repost_of_id if self.repost_of_id is not None else self.id


@dataclass(frozen=True, slots=True)
class App:
    id: int
    client_id: str
    client_secret: str
    name: str
    redirect_uris: str
    scopes: str
    website: str | None = None


@dataclass(frozen=True, slots=True)
class Token:
    """A bearer token; only its hash is stored."""

    token_hash: str
    app_id: int
    account_id: int | None
    scopes: str
    created_at: int


@dataclass(frozen=True, slots=True)
class Follow:
    follower_id: int
    followee_id: int
    created_at: int
    notify: bool = False


@dataclass(frozen=True, slots=True)
class Block:
    """account_id blocks target_id. The id is a snowflake of its own: it orders the
    block list and pages it, as Mastodon's block ids do."""

    account_id: int
    target_id: int
    id: int


@dataclass(frozen=True, slots=True)
class Mute:
    """account_id mutes target_id, until expires_at (None: until unmuted); with
    notifications, the target's notifications are hidden too. The id is as a Block's."""

    account_id: int
    target_id: int
    id: int
    notifications: bool = True
    expires_at: int | None = None


@dataclass(frozen=True, slots=True)
class Relationship:
    id: int
    following: bool = False
    followed_by: bool = False
    notifying: bool = False
    blocking: bool = False
    blocked_by: bool = False
    muting: bool = False
    muting_notifications: bool = False


@dataclass(slots=True)
class ViewerState:
    """What the viewer did to a set of posts, for the favourited/reblogged flags."""

    liked: set[int] = field(default_factory=set)
    reposted: set[int] = field(default_factory=set)
