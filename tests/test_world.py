"""The simulated world (starling.world) and the load generator (starling.world.load)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from starling import text
from starling.auth import verify_password
from starling.ids import id_at, ms_of
from starling.model import Account, Post
from starling.store.sqlite import SqliteStore
from starling.world import SIZES, WorldSummary, generate, load_world_meta
from starling.world.load import MIX, ServerUnreachable, run_load
from starling.world.spec import DAY_MS
from starling.world.stamps import snowflakes
from starling.world.truth import human_accounts, load_truth
from tests.fixtures_api import Api

NOW_MS = 1_760_000_000_000
SEED = 7


@dataclass
class Generated:
    store: SqliteStore
    data_dir: Path
    summary: WorldSummary
    accounts: list[Account]  # every account, in id order
    posts: list[Post]  # every post, newest first


def _all_posts(store: SqliteStore) -> list[Post]:
    posts: list[Post] = []
    while page := store.public_posts(max_id=posts[-1].id if posts else None, limit=500):
        posts += page
    return posts


@pytest.fixture(scope="module")
def world_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    stores: list[SqliteStore] = []

    def make(seed: int = SEED) -> Generated:
        data_dir = tmp_path_factory.mktemp("world")
        store = SqliteStore(data_dir / "starling.sqlite3")
        stores.append(store)
        summary = generate(store, data_dir, "tiny", seed, progress=False, now_ms=NOW_MS)
        ids = load_truth(data_dir)["account_ids"].tolist()
        accounts = store.get_accounts(ids)
        return Generated(
            store, data_dir, summary, [accounts[i] for i in sorted(ids)], _all_posts(store)
        )

    yield make
    for store in stores:
        store.close()


@pytest.fixture(scope="module")
def world(world_factory: Any) -> Generated:
    generated: Generated = world_factory()
    return generated


def _without_time(summary: WorldSummary) -> dict[str, Any]:
    fields = asdict(summary)
    del fields["seconds"]
    return fields


def test_same_seed_same_world_and_another_seed_another(
    world: Generated, world_factory: Any
) -> None:
    again = world_factory(SEED)
    assert _without_time(again.summary) == _without_time(world.summary)
    assert again.accounts[:20] == world.accounts[:20]
    assert again.posts[:20] == world.posts[:20]
    other = world_factory(SEED + 1)
    assert other.accounts[:20] != world.accounts[:20]
    assert other.posts[:20] != world.posts[:20]


def test_summary_matches_the_store(world: Generated) -> None:
    summary = world.summary
    assert summary.accounts == len(world.accounts) == SIZES["tiny"].accounts
    assert summary.posts == len(world.posts)
    assert summary.follows == sum(a.following_count for a in world.accounts)
    followers = sorted((a.followers_count for a in world.accounts), reverse=True)
    assert list(summary.top_follower_counts) == followers[: len(summary.top_follower_counts)]


def test_follower_counts_are_heavy_tailed(world: Generated) -> None:
    followers = np.array([a.followers_count for a in world.accounts])
    threshold = world.summary.celebrity_threshold
    assert followers.max() >= 10 * max(np.median(followers), 1)
    assert 3 <= (followers >= threshold).sum() <= len(followers) // 10


def test_some_followers_turned_notifications_on(world: Generated) -> None:
    top = max(world.accounts, key=lambda a: a.followers_count)
    notified = world.store.notify_followers(top.id, limit=10_000)
    assert 0 < len(notified) < top.followers_count / 4
    assert set(notified.tolist()) <= set(world.store.followers(top.id).tolist())


def test_account_counts_equal_the_rows(world: Generated) -> None:
    by_author: dict[int, list[Post]] = {}
    for post in world.posts:
        by_author.setdefault(post.author_id, []).append(post)
    for account in world.accounts:
        posts = by_author.get(account.id, [])
        assert account.statuses_count == len(posts)
        assert account.last_status_at == (posts[0].created_at if posts else None)
        assert account.followers_count == len(world.store.followers(account.id))
        assert account.following_count == len(world.store.following(account.id))
        assert account.last_active_at >= (account.last_status_at or 0)


def test_post_counts_equal_the_rows(world: Generated) -> None:
    ids = [p.id for p in world.posts]
    likes = world.store.like_counts(ids)
    replies: dict[int, int] = {}
    for post in world.posts:
        if post.reply_to_id is not None:
            replies[post.reply_to_id] = replies.get(post.reply_to_id, 0) + 1
    assert sum(likes.values()) > 0 and replies
    for post in world.posts:
        assert post.favourites_count == likes[post.id]
        assert post.replies_count == replies.get(post.id, 0)


def test_texts_fit_and_carry_their_hashtags(world: Generated) -> None:
    for post in world.posts:
        assert 0 < len(post.text) <= text.MAX_POST_CHARS
        assert list(post.hashtags) == text.hashtags(post.text)
    tagged = sum(1 for post in world.posts if post.hashtags)
    assert tagged > len(world.posts) // 2


def test_replies_follow_their_parent_and_mention_its_author(world: Generated) -> None:
    by_id = {p.id: p for p in world.posts}
    usernames = {a.id: a.username for a in world.accounts}
    replies = [p for p in world.posts if p.reply_to_id is not None]
    assert len(replies) > len(world.posts) // 20
    for reply in replies:
        parent = by_id[reply.reply_to_id]  # type: ignore[index]
        assert parent.id < reply.id and parent.created_at <= reply.created_at
        assert reply.reply_to_account_id == parent.author_id
        assert reply.mentions == (parent.author_id,)
        assert reply.text.startswith("@" + usernames[parent.author_id] + " ")


def test_ids_are_time_ordered_snowflakes(world: Generated) -> None:
    stamps = [(a.id, a.created_at) for a in world.accounts]
    stamps += [(p.id, p.created_at) for p in world.posts]
    for snowflake, created_at in stamps:
        assert ms_of(snowflake) == created_at < NOW_MS
    ms = np.array([5, 5, 5, 9, 12, 12], dtype=np.int64)
    expected = [id_at(5, 0), id_at(5, 1), id_at(5, 2), id_at(9, 0), id_at(12, 0), id_at(12, 1)]
    assert snowflakes(ms).tolist() == expected


def test_usernames_are_unique(world: Generated) -> None:
    names = [a.username.lower() for a in world.accounts]
    assert len(set(names)) == len(names)
    assert all(text.USERNAME_RE.match(name) for name in names)


def test_a_realistic_share_is_active(world: Generated) -> None:
    recent = NOW_MS - 7 * DAY_MS
    share = np.mean([a.last_active_at >= recent for a in world.accounts])
    assert 0.25 <= share <= 0.5


def test_demo_account(world: Generated) -> None:
    demo = world.store.get_account_by_username("demo")
    assert demo is not None
    assert demo.display_name == "Demo" and not demo.bot
    assert demo.last_active_at == NOW_MS
    password_hash = world.store.get_password_hash(demo.id)
    assert password_hash is not None and verify_password(password_hash, "demo-password")
    followees = set(world.store.following(demo.id).tolist())
    accounts = {a.id: a for a in world.accounts}
    stars = [
        i for i in followees if accounts[i].followers_count >= world.summary.celebrity_threshold
    ]
    assert len(stars) >= 3 and len(followees) - len(stars) >= 5
    assert demo.following_count == len(followees)


def test_truth_and_meta_are_saved(world: Generated) -> None:
    truth = load_truth(world.data_dir)
    n, communities = SIZES["tiny"].accounts, SIZES["tiny"].communities
    assert sorted(truth["account_ids"].tolist()) == [a.id for a in world.accounts]
    assert truth["interests"].shape == (n, communities)
    assert np.allclose(truth["interests"].sum(axis=1), 1.0, atol=1e-4)
    assert set(truth["home_community"].tolist()) <= set(range(communities))
    assert set(truth["word_community"].tolist()) == set(range(communities))
    meta = load_world_meta(world.data_dir)
    assert meta is not None
    assert meta["size"] == "tiny" and meta["seed"] == SEED
    assert meta["celebrity_threshold"] == world.summary.celebrity_threshold
    assert meta["accounts"] == world.summary.accounts
    assert json.loads((world.data_dir / "world" / "world.json").read_text()) == meta


def test_bots_are_ground_truth_for_spam(world: Generated) -> None:
    truth = load_truth(world.data_dir)
    bots = set(truth["account_ids"][truth["bot"]].tolist())
    flagged = {a.id for a in world.accounts if a.bot}
    assert flagged < bots  # some bots admit it, the others hide
    assert flagged
    spam = {tag for tags in truth["campaign_hashtags"].tolist() for tag in tags}
    bot_tags = [t for p in world.posts if p.author_id in bots for t in p.hashtags]
    human_tags = {t for p in world.posts if p.author_id not in bots for t in p.hashtags}
    assert bot_tags and set(bot_tags) <= spam
    assert not human_tags & spam


def test_human_accounts_are_world_accounts_without_bots(world: Generated) -> None:
    truth = load_truth(world.data_dir)
    bots = set(truth["account_ids"][truth["bot"]].tolist())
    picked = human_accounts(world.data_dir, 50, seed=1)
    assert len(set(picked)) == 50
    assert set(picked) <= {a.id for a in world.accounts} - bots
    assert human_accounts(world.data_dir, 50, seed=1) == picked


def test_no_meta_before_generation(tmp_path: Path) -> None:
    assert load_world_meta(tmp_path) is None


def test_unknown_size_is_refused(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    try:
        with pytest.raises(ValueError, match="unknown world size"):
            generate(store, tmp_path, "huge", 1, progress=False)
    finally:
        store.close()


# The load generator


def test_load_refuses_non_loopback_targets() -> None:
    with pytest.raises(ValueError, match="loopback"):
        run_load("http://192.0.2.1:8080", ["t"], rate=1, duration=1)


def test_load_stops_when_no_server_answers() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(
        ServerUnreachable, match=re.escape("no server answers at http://127.0.0.1:9")
    ):
        run_load(
            "http://127.0.0.1:9", ["t"], rate=10, duration=1, transport=httpx.MockTransport(refuse)
        )


def test_load_counts_requests_and_errors_by_status() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/reblog"):
            return httpx.Response(503)
        status = {"id": "1", "account": {"id": "2"}}
        return httpx.Response(200, json=[status] if request.method == "GET" else status)

    report = run_load(
        "http://127.0.0.1:9",
        ["a", "b"],
        rate=200,
        duration=0.5,
        transport=httpx.MockTransport(handler),
    )
    assert report.total == 100
    assert set(report.requests) == set(MIX)
    assert report.errors == {"503": report.requests["repost"]}
    table = report.table()
    assert "| repost |" in table and "| 503 |" in table
    assert report.percentile(99) >= report.percentile(50) > 0


def test_load_drives_the_real_api(api: Api) -> None:
    users = [api.register(f"loader{i}") for i in range(3)]
    report = run_load(
        "http://127.0.0.1:8080",
        [u.token for u in users],
        rate=100,
        duration=0.6,
        seed=3,
        transport=httpx.ASGITransport(app=api.client.app),
    )
    assert report.total == 60
    assert not [kind for kind in report.errors if kind.startswith("5")]
    assert report.requests["post"] > 0 and report.requests["home"] > 0
    store = api.runtime.store
    posted = sum(len(store.account_posts(int(u.id), exclude_reposts=True)) for u in users)
    assert posted == report.requests["post"] - report.failures["post"]
