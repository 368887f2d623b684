"""SimClusters on the bench world: the job's time, likes applied per second (in the
worker's batches of the log, as it applies live likes, and in one batch, as it rebuilds
on start), candidate query latency, and quality against the world's hidden truth (which
the job never reads): purity of KnownFor clusters and of InterestedIn against the planted
home communities, and the share of a viewer's candidates written in its home community.
Run: python -m bench.simclusters.
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from bench.common import machine, markdown_table, milliseconds, write_results
from bench.world import bench_data_dir, bench_settings, world_arguments
from starling.simclusters.candidates import candidates
from starling.simclusters.communities import Communities, Ids
from starling.simclusters.posts import PostVectors
from starling.simclusters.train import TrainParams, compute, read_follows
from starling.simclusters.versions import directory_in, new_version, save_version
from starling.store.sqlite import SqliteStore
from starling.workers.base import EventWorker
from starling.world.truth import load_truth

LIKES = (
    "SELECT l.post_id, l.account_id, l.created_at, p.author_id FROM likes l"
    " JOIN posts p ON p.id = l.post_id ORDER BY l.created_at DESC LIMIT ?"
)


class Truth:
    """Each account's planted home community, looked up by id."""

    def __init__(self, truth: dict[str, npt.NDArray[Any]]) -> None:
        order = np.argsort(truth["account_ids"])
        self.ids = truth["account_ids"][order]
        self.home = truth["home_community"][order]
        self.humans = truth["account_ids"][~truth["bot"]]

    def home_of(self, ids: Ids) -> Ids:
        return np.asarray(self.home[np.searchsorted(self.ids, ids)], np.int64)


def purity(labels: Ids, truth: Ids) -> float:
    """Share of items in the majority true class of their label."""
    table = np.zeros((labels.max() + 1, truth.max() + 1))
    np.add.at(table, (labels, truth), 1)
    return float(table.max(axis=1).sum() / table.sum())


def quality(model: Communities, truth: Truth) -> dict[str, float]:
    homes = truth.home_of(model.producer_ids)
    known = purity(model.known_for.astype(np.int64), homes)
    # Each cluster's community is its producers' majority; a consumer's top cluster names one.
    table = np.zeros((model.clusters, homes.max() + 1))
    np.add.at(table, (model.known_for, homes), 1)
    community = table.argmax(axis=1)
    has = np.diff(model.interest_ptr) > 0
    top = model.interest_clusters[model.interest_ptr[:-1][has]]
    interested = float(np.mean(community[top] == truth.home_of(model.consumer_ids[has])))
    largest = float(np.bincount(homes).max() / homes.size)
    return {"knownfor_purity": known, "interestedin_top_match": interested, "baseline": largest}


def replay_likes(
    path: str, posts: PostVectors, rebuilt: PostVectors, count: int
) -> tuple[float, float, dict[int, int]]:
    """Applies the newest `count` likes, oldest first, to `posts` in the worker's batches
    (its live path) and to `rebuilt` in one batch (its rebuild on start); returns likes/s
    of each and post authors."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rows = db.execute(LIKES, (count,)).fetchall()[::-1]
    db.close()
    post_ids, liker_ids, at_ms, _ = (np.array(c, dtype=np.int64) for c in zip(*rows, strict=True))
    batch = EventWorker.batch_size
    started = time.perf_counter()
    for start in tqdm(range(0, len(rows), batch), desc="likes", unit=" batches"):
        part = slice(start, start + batch)
        posts.add_likes(post_ids[part], liker_ids[part], at_ms[part])
    live_s = time.perf_counter() - started
    started = time.perf_counter()
    rebuilt.add_likes(post_ids, liker_ids, at_ms)
    rebuild_s = time.perf_counter() - started
    authors = {post: author for post, _, _, author in rows}
    return len(rows) / live_s, len(rows) / rebuild_s, authors


def query(
    posts: PostVectors, viewers: list[int], authors: dict[int, int], truth: Truth
) -> tuple[list[float], list[int], float]:
    seconds, found, same = [], [], []
    for viewer in viewers:
        started = time.perf_counter()
        ids, _ = candidates(posts, viewer)
        seconds.append(time.perf_counter() - started)
        found.append(int(ids.size))
        if ids.size:
            written = truth.home_of(np.array([authors[i] for i in ids.tolist()]))
            same.append(float(np.mean(written == truth.home_of(np.array([viewer]))[0])))
    return seconds, found, float(np.mean(same))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    world_arguments(parser, backends=False)
    parser.add_argument("--likes", type=int, default=500_000, help="newest likes replayed")
    parser.add_argument("--viewers", type=int, default=2_000)
    args = parser.parse_args(argv)
    data_dir = bench_data_dir(args.size, args.seed)
    settings = bench_settings(data_dir)
    store = SqliteStore(settings.store_path)
    started = time.perf_counter()
    follower, followee = read_follows(store, progress=True)
    read_s = time.perf_counter() - started
    store.close()
    started = time.perf_counter()
    model = compute(follower, followee, TrainParams(), new_version(), progress=True)
    compute_s = time.perf_counter() - started
    save_version(model, directory_in(data_dir))
    truth = Truth(load_truth(data_dir))
    posts, rebuilt = PostVectors(), PostVectors()
    now = int(time.time() * 1000)
    posts.reset(model, now)
    rebuilt.reset(model, now)
    likes_per_s, rebuild_likes_per_s, authors = replay_likes(
        str(settings.store_path), posts, rebuilt, args.likes
    )
    viewers = np.random.default_rng(args.seed).choice(truth.humans, args.viewers).tolist()
    seconds, found, same = query(posts, viewers, authors, truth)
    results = {
        "follows": int(follower.size),
        "producers": int(model.producer_ids.size),
        "consumers": int(model.consumer_ids.size),
        "clusters": model.clusters,
        "read_follows_s": read_s,
        "compute_s": compute_s,
        "likes_per_s": likes_per_s,
        "rebuild_likes_per_s": rebuild_likes_per_s,
        "query_ms": milliseconds(seconds),
        "candidates_p50": float(np.median(found)),
        "candidates_in_home_community": same,
        **quality(model, truth),
    }
    path = write_results("simclusters", results)
    print(f"\n{machine()}\n")
    query_ms = milliseconds(seconds)
    rows = [[k, v] for k, v in results.items() if k != "query_ms"]
    rows += [["query p50 (ms)", query_ms["p50"]], ["query p99 (ms)", query_ms["p99"]]]
    print(markdown_table(["measure", "value"], rows))
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
