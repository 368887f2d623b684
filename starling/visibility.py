"""Who may see a post: the rules behind Mastodon's four visibilities, in one place for the
actions layer, fan-out, home timelines and the API.

public and unlisted: anyone; private: the author's followers and mentioned accounts;
direct: mentioned accounts only; the author always; never an account the author blocks.
Every visibility but direct goes to
the author's followers' home timelines; direct goes to the mentioned accounts' instead.
Checked in one batch per list. See docs/subsystems/home.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from starling.model import Post
from starling.store.base import Store

VISIBILITIES = ("public", "unlisted", "private", "direct")
OPEN = ("public", "unlisted")


def reaches_followers(visibility: str) -> bool:
    """True when the post goes to its author's followers' home timelines."""
    return visibility != "direct"


def may_repost(visibility: str) -> bool:
    """Only posts anyone may see can be reposted, as in Mastodon."""
    return visibility in OPEN


def addressed_to(post: Post, viewer_id: int) -> bool:
    """A direct post's audience: its author and the accounts it mentions."""
    return post.author_id == viewer_id or viewer_id in post.mentions


def visible(store: Store, viewer_id: int | None, posts: Sequence[Post]) -> list[Post]:
    """The posts the viewer may see. An author who blocks the viewer shows it nothing, as
    Mastodon's status policy."""
    followed, blockers = _relations(store, viewer_id, posts)
    return [
        post
        for post in posts
        if post.author_id not in blockers and _may_see(post, viewer_id, followed)
    ]


def _relations(
    store: Store, viewer_id: int | None, posts: Sequence[Post]
) -> tuple[set[int], set[int]]:
    """Of the posts' other authors, those the viewer follows and those blocking the viewer
    (one query, if any)."""
    authors = {p.author_id for p in posts if p.author_id != viewer_id}
    if viewer_id is None or not authors:
        return set(), set()
    relationships = store.relationships(viewer_id, sorted(authors))
    return {r.id for r in relationships if r.following}, {
        r.id for r in relationships if r.blocked_by
    }


def _may_see(post: Post, viewer_id: int | None, followed: set[int]) -> bool:
    if post.visibility in OPEN or post.author_id == viewer_id:
        return True
    if viewer_id is None:
        return False
    if viewer_id in post.mentions:
        return True
    return post.visibility == "private" and post.author_id in followed
