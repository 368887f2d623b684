"""For You candidate recall: for sampled viewers of a generated world, the posts of the
last 48 hours each would engage with (drawn from the world's hidden engagement model,
starling/world/engagement.py), and the share of them that each source's top 500
retrieves: in-network (newest posts of the follows), real graph, SimClusters, TwHIN, and
all of them together. The sources are fed from the world's follows and engagements as
serving feeds them (real graph and post vectors from the window's engagements, TwHIN's
index from its posts and engagements; communities and embeddings trained on the whole
store). Also the TwHIN job's time, the index's build rate and its query latency.
Run: python -m bench.foryou_recall [--size demo|bench].
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from bench.common import machine, markdown_table, milliseconds, write_results
from bench.world import bench_data_dir, bench_settings, world_arguments
from starling.foryou.filters import MIN_SIMILARITY
from starling.ids import SEQUENCE_BITS, id_at, ms_of
from starling.realgraph import RealGraph
from starling.realgraph import candidates as graph_candidates
from starling.simclusters.candidates import CandidateParams
from starling.simclusters.candidates import candidates as cluster_candidates
from starling.simclusters.posts import PostVectors
from starling.simclusters.train import TrainParams as ClusterParams
from starling.simclusters.train import compute as communities
from starling.store.base import IdArray, Store
from starling.store.sqlite import SqliteStore
from starling.twhin.posts import AUTHOR, WEIGHTS, PostEmbeddings
from starling.twhin.train import TrainParams, read_graph
from starling.twhin.train import compute as embeddings
from starling.window import WINDOW_MS
from starling.world.engagement import ACTIONS, POSITIVE, EngagementTruth, sample
from starling.world.truth import load_truth

LIMIT = 500
SOURCES = ("in-network", "real-graph", "simclusters", "twhin")
THRESHOLDS = (MIN_SIMILARITY, 0.3, 0.5)  # the social-proof rule in force first, then stricter ones


@dataclass(frozen=True)
class Window:
    """The original, live posts of the last 48 hours, newest first."""

    post: IdArray
    author: IdArray

    @classmethod
    def read(cls, store: Store, since: int) -> Window:
        rows = [
            (p.id, p.author_id)
            for chunk in store.iter_posts(id_at(since) - 1, 50_000)
            for p in chunk
            if p.deleted_at is None and p.repost_of_id is None
        ]
        table = np.array(rows, np.int64).reshape(-1, 2)[::-1]
        return cls(table[:, 0].copy(), table[:, 1].copy())


class Follows:
    def __init__(self, follower: IdArray, followee: IdArray) -> None:
        order = np.lexsort((followee, follower))
        self.follower, self.followee = follower[order], followee[order]

    def of(self, viewer: int) -> IdArray:
        lo, hi = np.searchsorted(self.follower, [viewer, viewer + 1])
        return self.followee[lo:hi]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    world_arguments(parser, backends=False)
    parser.add_argument("--viewers", type=int, default=300)
    args = parser.parse_args(argv)
    data_dir = bench_data_dir(args.size, args.seed)
    store = SqliteStore(bench_settings(data_dir).store_path)
    try:
        now = ms_of(store.max_post_id())
        since = now - WINDOW_MS
        graph = read_graph(store, progress=True)
        window = Window.read(store, since)
    finally:
        store.close()
    follows = Follows(graph.follower, graph.followee)
    engaged = graph.engagements
    recent = engaged.take(np.argsort(engaged.time, kind="stable"))
    recent = recent.take((recent.time >= since) & ((recent.post >> SEQUENCE_BITS) >= since))
    figures: dict[str, object] = {"size": args.size, "posts_48h": int(window.post.size)}

    real = RealGraph()
    for i in range(0, recent.size, real.segment_edges):
        real.add(recent.take(slice(i, i + real.segment_edges)))

    model = communities(graph.follower, graph.followee, ClusterParams(), "bench", progress=True)
    vectors = PostVectors()
    vectors.reset(model, now)
    vectors.add_likes(recent.post, recent.account, recent.time)

    started = time.perf_counter()
    trained = embeddings(graph, TrainParams(), "bench", progress=True)
    figures["twhin_train_s"] = time.perf_counter() - started
    twhin = PostEmbeddings(trained)
    started = time.perf_counter()
    kinds = np.concatenate([np.full(window.post.size, AUTHOR), recent.kind.astype(np.int64)])
    added = twhin.add(
        np.concatenate([window.post, recent.post]),
        np.concatenate([window.author, recent.account]),
        np.array([WEIGHTS[k] for k in kinds.tolist()]),
    )
    figures["twhin_index_adds_per_s"] = added / (time.perf_counter() - started)

    truth = EngagementTruth.load(data_dir)
    hidden = load_truth(data_dir)
    humans = hidden["account_ids"][~hidden["bot"]]
    rng = np.random.default_rng(args.seed)
    picked = [v for v in rng.permutation(humans).tolist() if follows.of(v).size][: args.viewers]
    recalls: dict[str, list[float]] = {s: [] for s in (*SOURCES, "all", "ceiling")}
    vouched: dict[str, list[float]] = {
        f"{s}, similarity >= {t}": [] for s in ("simclusters", "twhin") for t in THRESHOLDS
    }
    seconds: list[float] = []
    for viewer in tqdm(picked, desc="viewers"):
        following = follows.of(viewer)
        wanted = engaged_posts(truth, rng, viewer, following, window, now)
        if not wanted.size:
            continue
        clusters, cluster_sim = cluster_candidates(
            vectors, viewer, CandidateParams(limit=LIMIT, shortlist=2 * LIMIT)
        )
        started = time.perf_counter()
        near, near_sim = twhin.similar(viewer, LIMIT)
        seconds.append(time.perf_counter() - started)
        found = {
            "in-network": window.post[np.isin(window.author, following)][:LIMIT],
            "real-graph": graph_candidates(real, viewer, following, LIMIT).post_ids,
            "simclusters": clusters,
            "twhin": near,
        }
        for source, ids in found.items():
            recalls[source].append(share(ids, wanted))
        recalls["all"].append(share(np.concatenate(list(found.values())), wanted))
        recalls["ceiling"].append(min(1.0, LIMIT / wanted.size))
        for threshold in THRESHOLDS:
            for source, ids, sim in (
                ("simclusters", clusters, cluster_sim),
                ("twhin", near, near_sim),
            ):
                kept = share(ids[sim >= threshold], wanted)
                vouched[f"{source}, similarity >= {threshold}"].append(kept)
    recall = {k: float(np.mean(v)) for k, v in recalls.items()}
    past_proof = {k: float(np.mean(v)) for k, v in vouched.items()}
    figures |= {"viewers": len(recalls["all"]), "recall_at_500": recall}
    figures |= {"recall_past_social_proof": past_proof, "twhin_query_ms": milliseconds(seconds)}
    print(f"For You candidate recall, {args.size} world. {machine()}\n")
    rows = [[k, f"{v:.3f}"] for k, v in recall.items()]
    rows += [[k, f"{v:.3f}"] for k, v in past_proof.items()]
    print(markdown_table(["source", "recall@500"], rows))
    print(f"\n{figures}")
    print(f"\nresults: {write_results(f'foryou_recall_{args.size}', figures)}")


def engaged_posts(
    truth: EngagementTruth,
    rng: np.random.Generator,
    viewer: int,
    following: IdArray,
    window: Window,
    now: int,
) -> IdArray:
    """The window's posts (not the viewer's own) the viewer likes, replies to or reposts,
    drawn from the hidden model."""
    mine = window.author == viewer
    posts, authors = window.post[~mine], window.author[~mine]
    probabilities = truth.probabilities(
        np.full(posts.size, viewer, np.int64),
        posts,
        authors,
        np.isin(authors, following),
        now - (posts >> SEQUENCE_BITS),
    )
    drawn = sample(rng, probabilities)[:, [ACTIONS.index(a) for a in POSITIVE]]
    found: IdArray = posts[drawn.any(axis=1)]
    return found


def share(retrieved: IdArray, wanted: IdArray) -> float:
    return float(np.isin(wanted, retrieved).mean())


if __name__ == "__main__":
    main()
