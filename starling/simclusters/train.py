"""The SimClusters job: follow graph -> KnownFor -> InterestedIn, saved as a new version.

Producers (accounts with at least `min_followers` followers) are rows of a sparse
producer x follower matrix with L2-normalized rows, so its Gram matrix is the cosine
similarity of follower sets. Its top singular vectors embed every producer (spectral
clustering of the similarity graph without ever forming it); MiniBatchKMeans on the
normalized embeddings then gives each producer one cluster, scored by its cosine to the
cluster's centre. InterestedIn = follows x KnownFor, each row cut to its heaviest
clusters and normalized. See docs/subsystems/simclusters.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Never

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import MiniBatchKMeans
from sklearn.utils.extmath import randomized_svd
from tqdm import tqdm

from starling.simclusters.communities import Communities, Ids
from starling.simclusters.versions import new_version, save_version
from starling.store.base import Store
from starling.training import TooLittleData

FOLLOW_CHUNK = 1_000_000


@dataclass(frozen=True)
class TrainParams:
    min_followers: int = 20
    # None: one cluster per `producers_per_cluster` producers, at least two.
    clusters: int | None = None
    producers_per_cluster: int = 400
    max_clusters: int = 400
    dims: int = 48  # singular vectors embedding each producer
    interests_per_consumer: int = 20
    seed: int = 0


def train(store: Store, directory: Path, params: TrainParams, *, progress: bool = True) -> Path:
    """Computes the communities from the store's follow graph and saves a new version."""
    follower, followee = read_follows(store, progress=progress)
    communities = compute(follower, followee, params, new_version(), progress=progress)
    return save_version(communities, directory)


def read_follows(store: Store, *, progress: bool) -> tuple[Ids, Ids]:
    followers, followees = [], []
    with tqdm(desc="follows", unit=" edges", unit_scale=True, disable=not progress) as bar:
        for chunk_followers, chunk_followees in store.iter_follows(FOLLOW_CHUNK):
            followers.append(chunk_followers)
            followees.append(chunk_followees)
            bar.update(len(chunk_followers))
    empty = np.zeros(0, np.int64)
    return np.concatenate([empty, *followers]), np.concatenate([empty, *followees])


def compute(
    follower: Ids, followee: Ids, params: TrainParams, version: str, *, progress: bool = False
) -> Communities:
    with tqdm(total=4, desc="simclusters", disable=not progress) as steps:
        with _step(steps, "follow matrix"):
            producer_ids, producer_of = _producers(followee, params.min_followers)
            if producer_ids.size < 2:  # two communities at least
                raise TooLittleData(
                    f"{producer_ids.size} accounts have {params.min_followers} or more followers:"
                    " communities need 2"
                )
            kept = producer_of >= 0
            consumer_ids, consumer_of = np.unique(follower[kept], return_inverse=True)
            follows = _binary(
                consumer_of, producer_of[kept], (consumer_ids.size, producer_ids.size)
            )
        clusters = _cluster_count(producer_ids.size, params)
        with _step(steps, "producer embedding"):
            embedding = _embed(follows, params, clusters)
        with _step(steps, "clustering"):
            known_for, score = _cluster(embedding, clusters, params.seed)
        with _step(steps, "interested in"):
            known = sp.csr_matrix(
                (score, (np.arange(producer_ids.size), known_for)),
                shape=(producer_ids.size, clusters),
            )
            interests = _top_per_row(follows @ known, params.interests_per_consumer)
    return Communities(
        version=version,
        clusters=clusters,
        producer_ids=producer_ids,
        known_for=known_for.astype(np.int32),
        known_score=score.astype(np.float32),
        consumer_ids=consumer_ids.astype(np.int64),
        interest_ptr=interests.indptr.astype(np.int64),
        interest_clusters=interests.indices.astype(np.int32),
        interest_weights=interests.data.astype(np.float32),
    )


@contextmanager
def _step(steps: tqdm[Never], name: str) -> Iterator[None]:
    steps.set_postfix_str(name)
    yield
    steps.update()


def _producers(followee: Ids, min_followers: int) -> tuple[Ids, Ids]:
    """Ids of the producers, and each edge's producer row (-1 when not a producer)."""
    ids, column, followers = np.unique(followee, return_inverse=True, return_counts=True)
    is_producer = followers >= min_followers
    row = np.cumsum(is_producer) - 1
    return ids[is_producer], np.where(is_producer[column], row[column], -1)


def _binary(rows: Ids, columns: Ids, shape: tuple[int, int]) -> sp.csr_matrix:
    ones = np.ones(rows.size, dtype=np.float32)
    return sp.csr_matrix((ones, (rows, columns)), shape=shape)


def _cluster_count(producers: int, params: TrainParams) -> int:
    wanted = params.clusters or producers // params.producers_per_cluster
    return int(np.clip(wanted, 2, min(params.max_clusters, max(producers, 2))))


def _embed(follows: sp.csr_matrix, params: TrainParams, clusters: int) -> np.ndarray:
    """Row-normalized spectral embedding of the producers' follower-set similarity."""
    by_producer = sp.csr_matrix(follows.T)
    by_producer = _normalize_rows(by_producer)
    dims = max(1, min(params.dims, clusters, min(by_producer.shape) - 1))
    left, singular, _ = randomized_svd(by_producer, dims, n_iter=4, random_state=params.seed)
    embedding = left * singular
    norms = np.linalg.norm(embedding, axis=1, keepdims=True)
    return np.asarray(embedding / np.maximum(norms, 1e-12), dtype=np.float32)


def _cluster(embedding: np.ndarray, clusters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each producer's cluster and its cosine to the cluster's centre (above zero)."""
    kmeans = MiniBatchKMeans(n_clusters=clusters, random_state=seed, batch_size=4096, n_init=3).fit(
        embedding
    )
    labels = kmeans.labels_
    centres = kmeans.cluster_centers_
    centres = centres / np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
    score = np.einsum("ij,ij->i", embedding, centres[labels])
    return labels, np.maximum(score, 1e-3)


def _normalize_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    scale = sp.diags(1.0 / np.maximum(norms, 1e-12))
    return sp.csr_matrix(scale @ matrix)


def _top_per_row(matrix: sp.csr_matrix, keep: int) -> sp.csr_matrix:
    """Each row's `keep` heaviest entries, heaviest first, L2-normalized (built from
    arrays: scipy's own operations would sort each row by column)."""
    matrix = sp.csr_matrix(matrix)
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    order = np.lexsort((-matrix.data, rows))
    chosen = order[np.arange(order.size) - matrix.indptr[rows[order]] < keep]
    kept_rows, data = rows[chosen], matrix.data[chosen]
    norms = np.sqrt(np.bincount(kept_rows, data * data, minlength=matrix.shape[0]))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(kept_rows, minlength=matrix.shape[0]))])
    normalized = data / np.maximum(norms[kept_rows], 1e-12)
    return sp.csr_matrix((normalized, matrix.indices[chosen], indptr), shape=matrix.shape)
