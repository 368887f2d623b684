"""Blocked and muted authors, hidden from a viewer's timelines.

As Mastodon's `excluded_from_timeline_account_ids`: the accounts the viewer blocks, those
blocking the viewer, and those it mutes (until the mute expires). A post is hidden when
its author is, and a repost also when its original's author is. One store read per
list (`Store.hidden_authors`), none for an anonymous viewer. See docs/subsystems/home.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from starling.model import Post
from starling.store.base import Store


def hidden_authors(store: Store, viewer_id: int | None, author_ids: Iterable[int]) -> set[int]:
    """Of these authors, those hidden from the viewer; never the viewer itself."""
    wanted = sorted(set(author_ids) - {viewer_id})
    if viewer_id is None or not wanted:
        return set()
    return store.hidden_authors(viewer_id, wanted)


def without_hidden(
    store: Store,
    viewer_id: int | None,
    posts: Sequence[Post],
    sources: Mapping[int, Post],
    *,
    exempt: int | None = None,
) -> list[Post]:
    """The posts, in order, but those by hidden authors or reposting their posts (as
    `shown`)."""
    flags = shown(store, viewer_id, posts, sources, exempt=exempt)
    return [post for post, keep in zip(posts, flags, strict=True) if keep]


def shown(
    store: Store,
    viewer_id: int | None,
    posts: Sequence[Post],
    sources: Mapping[int, Post],
    *,
    exempt: int | None = None,
) -> list[bool]:
    """For each post, whether it stays: not by a hidden author nor reposting one's post;
    the viewer's own posts and reposts always stay, as Mastodon's feed filter. `sources`
    holds the reposts' originals (one not in it is not judged); the `exempt` author is
    never hidden (a profile shows its own posts whoever reads it, as Mastodon)."""

    def authors(post: Post) -> tuple[int, ...]:
        if post.author_id == viewer_id:
            return ()
        source = sources.get(post.repost_of_id) if post.repost_of_id is not None else None
        return (post.author_id,) if source is None else (post.author_id, source.author_id)

    per_post = [authors(post) for post in posts]
    wanted = {author for each in per_post for author in each} - {exempt}
    hidden = hidden_authors(store, viewer_id, wanted)
    if not hidden:
        return [True] * len(posts)
    return [hidden.isdisjoint(each) for each in per_post]


def sources_of(store: Store, posts: Sequence[Post]) -> dict[int, Post]:
    """The originals of the reposts among posts (one read, none without reposts)."""
    wanted = sorted({p.repost_of_id for p in posts if p.repost_of_id is not None})
    return store.get_posts(wanted) if wanted else {}
