"""The schema of the store of record: one versioned list of migrations for every backend.

Each migration is a tuple of statements written once, with dialect fragments in braces
(`{integer}`, `{flag}`, `{without_rowid}`, `{log_offset}`, see dialect.py) that each
backend renders. A database records the versions it has applied (SQLite: PRAGMA
user_version; PostgreSQL: table schema_versions); opening an older one applies the
missing migrations in order, one transaction each. See docs/subsystems/store.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from starling.store.base import StoreError
from starling.store.dialect import Dialect

Migration = tuple[str, ...]

# Hashtags and mentions are stored space-separated: tags are word characters and
# mentions are ids, so neither can contain a space, and splitting beats JSON on load.
_V1_CORE: Migration = (
    """CREATE TABLE accounts (
        id {integer} PRIMARY KEY,
        username TEXT NOT NULL,
        username_lower TEXT NOT NULL UNIQUE,
        display_name TEXT NOT NULL DEFAULT '',
        note TEXT NOT NULL DEFAULT '',
        created_at {integer} NOT NULL,
        bot {flag} NOT NULL DEFAULT 0,
        region TEXT NOT NULL DEFAULT '',
        followers_count {integer} NOT NULL DEFAULT 0,
        following_count {integer} NOT NULL DEFAULT 0,
        statuses_count {integer} NOT NULL DEFAULT 0,
        last_status_at {integer},
        last_active_at {integer} NOT NULL DEFAULT 0,
        password_hash TEXT
    )""",
    """CREATE TABLE posts (
        id {integer} PRIMARY KEY,
        author_id {integer} NOT NULL,
        text TEXT NOT NULL,
        created_at {integer} NOT NULL,
        reply_to_id {integer},
        reply_to_account_id {integer},
        repost_of_id {integer},
        hashtags TEXT NOT NULL DEFAULT '',
        mentions TEXT NOT NULL DEFAULT '',
        language TEXT,
        visibility TEXT NOT NULL DEFAULT 'public',
        spoiler_text TEXT NOT NULL DEFAULT '',
        sensitive {flag} NOT NULL DEFAULT 0,
        deleted_at {integer},
        favourites_count {integer} NOT NULL DEFAULT 0,
        reblogs_count {integer} NOT NULL DEFAULT 0,
        replies_count {integer} NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX posts_author ON posts (author_id, id)",
    # The atomic repost check-and-set: one live repost per (author, original).
    """CREATE UNIQUE INDEX posts_live_repost ON posts (author_id, repost_of_id)
        WHERE repost_of_id IS NOT NULL AND deleted_at IS NULL""",
    "CREATE INDEX posts_repost_of ON posts (repost_of_id) WHERE repost_of_id IS NOT NULL",
    """CREATE TABLE follows (
        follower_id {integer} NOT NULL,
        followee_id {integer} NOT NULL,
        created_at {integer} NOT NULL,
        notify {flag} NOT NULL DEFAULT 0,
        PRIMARY KEY (follower_id, followee_id)
    ){without_rowid}""",
    "CREATE INDEX follows_followee ON follows (followee_id, follower_id)",
    # Few follows notify; without this a celebrity's lookup would scan every follower.
    "CREATE INDEX follows_notify ON follows (followee_id, follower_id) WHERE notify = 1",
    """CREATE TABLE likes (
        account_id {integer} NOT NULL,
        post_id {integer} NOT NULL,
        created_at {integer} NOT NULL,
        PRIMARY KEY (account_id, post_id)
    ){without_rowid}""",
    "CREATE INDEX likes_post ON likes (post_id)",
    """CREATE TABLE apps (
        id {integer} PRIMARY KEY,
        client_id TEXT NOT NULL UNIQUE,
        client_secret TEXT NOT NULL,
        name TEXT NOT NULL,
        redirect_uris TEXT NOT NULL,
        scopes TEXT NOT NULL,
        website TEXT
    )""",
    """CREATE TABLE tokens (
        token_hash TEXT PRIMARY KEY,
        app_id {integer} NOT NULL REFERENCES apps (id),
        account_id {integer} REFERENCES accounts (id),
        scopes TEXT NOT NULL,
        created_at {integer} NOT NULL
    ){without_rowid}""",
    """CREATE TABLE events (
        "offset" {log_offset},
        type TEXT NOT NULL,
        payload TEXT NOT NULL,
        ts {integer} NOT NULL
    )""",
    """CREATE TABLE consumer_offsets (
        grp TEXT PRIMARY KEY,
        "offset" {integer} NOT NULL
    ){without_rowid}""",
)

# Indexes a bulk load dropped, with the SQL that rebuilds them (see defer_indexes).
_V2_PENDING_INDEXES: Migration = (
    "CREATE TABLE pending_indexes (name TEXT PRIMARY KEY, sql TEXT NOT NULL){without_rowid}",
)

# Idempotency-Key records live with the posts they made, so a retry after a crash between
# the commit and the cache's record still finds the post (the cache is the fast path).
_V3_IDEMPOTENCY_KEYS: Migration = (
    """CREATE TABLE idempotency_keys (
        account_id {integer} NOT NULL,
        key TEXT NOT NULL,
        post_id {integer} NOT NULL,
        created_at {integer} NOT NULL,
        PRIMARY KEY (account_id, key)
    ){without_rowid}""",
)

# The e-mail given at registration, the login Mastodon clients send to the password
# grant. Unique whatever its case; accounts without one (NULL) never collide.
_V4_ACCOUNT_EMAIL: Migration = (
    "ALTER TABLE accounts ADD COLUMN email TEXT",
    "CREATE UNIQUE INDEX accounts_email ON accounts (lower(email))",
)

# Which consumer of a group reads the outbox now, and until when (eventlog/outbox.py).
_V5_CONSUMER_LEASES: Migration = (
    """CREATE TABLE consumer_leases (
        grp TEXT PRIMARY KEY,
        consumer TEXT NOT NULL,
        expires_at {integer} NOT NULL
    ){without_rowid}""",
)

# Blocks and mutes (Mastodon's). Each row has a snowflake id of its own that orders and
# pages the lists; the *_target indexes answer "who blocks the viewer" and the timeline
# filter's batch read. A mute past expires_at counts as gone until it is replaced.
_V6_BLOCKS_AND_MUTES: Migration = (
    """CREATE TABLE blocks (
        account_id {integer} NOT NULL,
        target_id {integer} NOT NULL,
        id {integer} NOT NULL,
        PRIMARY KEY (account_id, target_id)
    ){without_rowid}""",
    "CREATE INDEX blocks_target ON blocks (target_id, account_id)",
    "CREATE UNIQUE INDEX blocks_list ON blocks (account_id, id)",
    """CREATE TABLE mutes (
        account_id {integer} NOT NULL,
        target_id {integer} NOT NULL,
        id {integer} NOT NULL,
        notifications {flag} NOT NULL DEFAULT 1,
        expires_at {integer},
        PRIMARY KEY (account_id, target_id)
    ){without_rowid}""",
    "CREATE UNIQUE INDEX mutes_list ON mutes (account_id, id)",
)

# Promotion campaigns (starling/ads/). Regions and interests are space-separated, as
# hashtags are; the status index answers the live campaigns every API process reloads.
_V7_AD_CAMPAIGNS: Migration = (
    """CREATE TABLE ad_campaigns (
        id {integer} PRIMARY KEY,
        advertiser_id {integer} NOT NULL,
        post_id {integer} NOT NULL,
        budget_cents {integer} NOT NULL CHECK (budget_cents > 0),
        bid_cpm_cents {integer} NOT NULL CHECK (bid_cpm_cents > 0),
        starts_at {integer} NOT NULL,
        ends_at {integer} NOT NULL,
        status TEXT NOT NULL,
        regions TEXT NOT NULL DEFAULT '',
        interests TEXT NOT NULL DEFAULT '',
        created_at {integer} NOT NULL,
        CHECK (ends_at > starts_at)
    )""",
    "CREATE INDEX ad_campaigns_status ON ad_campaigns (status, ends_at)",
)

# What each campaign has spent (millicents), the store of record's side of the budgets
# cache: a page adds its charged impressions here, and a cache that lost a campaign's
# total (a restart) is seeded from it (starling/ads/spend.py).
_V8_CAMPAIGN_SPEND: Migration = (
    "ALTER TABLE ad_campaigns ADD COLUMN spent_millicents {integer} NOT NULL DEFAULT 0",
)

MIGRATIONS: tuple[Migration, ...] = (
    _V1_CORE,
    _V2_PENDING_INDEXES,
    _V3_IDEMPOTENCY_KEYS,
    _V4_ACCOUNT_EMAIL,
    _V5_CONSUMER_LEASES,
    _V6_BLOCKS_AND_MUTES,
    _V7_AD_CAMPAIGNS,
    _V8_CAMPAIGN_SPEND,
)


def render(dialect: Dialect, migrations: Sequence[Migration] = MIGRATIONS) -> tuple[Migration, ...]:
    return tuple(tuple(map(dialect.render, statements)) for statements in migrations)


def missing(found: int, migrations: Sequence[Migration]) -> list[tuple[int, Migration]]:
    """The (version, statements) a database at version `found` lacks, oldest first.
    Refuses a database newer than this code."""
    if found > len(migrations):
        raise StoreError(f"schema version {found} is newer than this code ({len(migrations)})")
    return [(v, statements) for v, statements in enumerate(migrations, start=1) if v > found]
