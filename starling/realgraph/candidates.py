"""Out-of-network candidates from the real graph: the posts engaged by the accounts a
viewer follows or engages with, two hops from the viewer (viewer -> accounts -> posts),
scored by weighted co-engagement with the engagers kept as social proof (GraphJet's
"liked by people you follow"). Every step is a numpy operation over whole columns.
See docs/subsystems/realgraph.md.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from starling.engagements import Engagements, IdArray
from starling.realgraph.arrays import Positions, lookup, runs
from starling.realgraph.graph import RealGraph, Snapshot
from starling.realgraph.weights import DEFAULT, Floats, Weights

PROOF_IDS = 3  # engager ids kept per post, heaviest first


@dataclass(frozen=True, slots=True)
class EngagedPosts:
    """Posts with their scores and social proof, as columns of equal length."""

    post_ids: IdArray
    author_ids: IdArray
    scores: Floats
    proof_counts: IdArray  # distinct seed accounts that engaged
    proof_ids: npt.NDArray[np.int64]  # (posts, PROOF_IDS): the heaviest of them, 0-padded

    @property
    def size(self) -> int:
        return len(self.post_ids)

    def take(self, index: Positions | npt.NDArray[np.bool_]) -> EngagedPosts:
        return EngagedPosts(*(getattr(self, f.name)[index] for f in fields(self)))

    def top(self, limit: int) -> EngagedPosts:
        """The best `limit`: highest score, then most proof, then newest post. Only the
        posts scoring at least the limit-th best score are sorted."""
        kept = self
        if 0 < limit < self.size:
            bar = np.partition(self.scores, self.size - limit)[self.size - limit]
            kept = self.take(np.flatnonzero(self.scores >= bar))
        order = np.lexsort((-kept.post_ids, -kept.proof_counts, -kept.scores))
        return kept.take(order[: max(limit, 0)])


def candidates(
    graph: RealGraph, viewer: int, follows: IdArray, limit: int, weights: Weights = DEFAULT
) -> EngagedPosts:
    """The viewer's top `limit` posts two hops away: engaged by the accounts it follows
    (`follows`) or has engaged with in the graph, without its own posts and those it has
    engaged with already."""
    snapshot = graph.snapshot()
    own = snapshot.edges_of(np.array([viewer], dtype=np.int64))
    seeds, seed_weights = _seeds(viewer, np.asarray(follows, dtype=np.int64), own, weights)
    found = engaged_posts(snapshot, seeds, seed_weights, weights)
    keep = (found.author_ids != viewer) & ~np.isin(found.post_ids, own.post)
    return found.take(keep).top(limit)


def engaged_posts(
    snapshot: Snapshot, accounts: IdArray, account_weights: Floats, weights: Weights = DEFAULT
) -> EngagedPosts:
    """Every post these accounts (sorted, distinct) engaged with. A post's score is the
    sum over its engagements of the engager's weight times the kind's; its social proof
    is its distinct engagers, heaviest first."""
    edges = snapshot.edges_of(accounts)
    engager = account_weights[np.searchsorted(accounts, edges.account)]
    order = np.lexsort((edges.account, -engager, edges.post))
    edges, engager = edges.take(order), engager[order]
    posts, bounds = runs(edges.post)
    group = np.repeat(np.arange(posts.size), np.diff(bounds))
    contribution = engager * weights.of_kinds(edges.kind)
    scores = np.bincount(group, weights=contribution, minlength=posts.size).astype(np.float64)
    counts, proof = _social_proof(edges, group, posts.size)
    return EngagedPosts(posts, edges.author[bounds[:-1]], scores, counts, proof)


def _seeds(
    viewer: int, follows: IdArray, own: Engagements, weights: Weights
) -> tuple[IdArray, Floats]:
    """The accounts one hop from the viewer (followed, or authors of posts it engaged
    with), sorted, and each one's weight."""
    engaged, times = np.unique(own.author, return_counts=True)
    seeds = np.union1d(follows, engaged)
    seeds = seeds[seeds != viewer]
    at, found = lookup(engaged, seeds)
    engagements = np.where(found, times[at] if engaged.size else 0, 0)
    followed = np.isin(seeds, follows)
    per_engagement = weights.per_engagement * np.minimum(engagements, weights.max_engagements)
    return seeds, weights.follow * followed + per_engagement


def _social_proof(
    edges: Engagements, group: Positions, posts: int
) -> tuple[IdArray, npt.NDArray[np.int64]]:
    """Per post, its distinct engagers and the first PROOF_IDS of them, from edges sorted
    by post with each post's heaviest engagers first."""
    first = np.ones(edges.size, dtype=np.bool_)
    first[1:] = (group[1:] != group[:-1]) | (edges.account[1:] != edges.account[:-1])
    engagers, of_post = edges.account[first], group[first]
    counts = np.bincount(of_post, minlength=posts).astype(np.int64)
    rank = np.arange(engagers.size) - np.searchsorted(of_post, of_post)
    shown = rank < PROOF_IDS
    proof = np.zeros((posts, PROOF_IDS), dtype=np.int64)
    proof[of_post[shown], rank[shown]] = engagers[shown]
    return counts, proof
