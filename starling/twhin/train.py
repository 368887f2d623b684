"""The embeddings job: follows and engagements -> one dense vector per account, saved as a
new version.

TwHIN trains a translation model with in-batch negatives on GPUs. Without a deep-learning
framework, on two cores, this job factorizes the graph instead, which is what skip-gram
with negative sampling does implicitly (Levy & Goldberg 2014; NetMF, Qiu et al. 2018):
the relations (follow 1; like 1, repost 2, reply 2 to the post's author, summed per pair
and damped by log1p) form one weighted account graph, symmetrized and normalized as a
lazy random walk, (I + D^-1/2 A D^-1/2) / 2, whose eigenvalues lie in [0, 1] (the
follower/followee split of a near-bipartite graph cannot flip signs). Its top
eigenvectors after the trivial one (randomized SVD), scaled by their eigenvalues and
L2-normalized, are the embeddings: accounts that follow and engage with the same
accounts end up close. Deterministic, and minutes on a million accounts.
See docs/subsystems/twhin.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.utils.extmath import randomized_svd
from tqdm import tqdm

from starling.artifacts import new_version
from starling.engagements import EngagementKind, Engagements
from starling.store.base import Store
from starling.training import TooLittleData
from starling.twhin.embeddings import Embeddings, Ids, artifacts_in

CHUNK = 1_000_000


@dataclass(frozen=True)
class TrainParams:
    dims: int = 64
    like: float = 1.0
    repost: float = 2.0
    reply: float = 2.0
    # Eigenvalues raised to this power: proximity after that many lazy-walk steps, which
    # weighs community-wide directions far above local noise (NetMF's window).
    walk_steps: int = 5
    power_iterations: int = 4
    seed: int = 0

    def kind_weights(self) -> np.ndarray:
        weights = np.zeros(len(EngagementKind))
        weights[[EngagementKind.LIKE, EngagementKind.REPOST, EngagementKind.REPLY]] = (
            self.like, self.repost, self.reply,
        )  # fmt: skip
        return weights


@dataclass(frozen=True)
class Graph:
    """The relations the job reads, as columns."""

    follower: Ids
    followee: Ids
    engagements: Engagements


def train(store: Store, data_dir: Path, params: TrainParams, *, progress: bool = True) -> Path:
    """Embeds every account of the store's graph and saves a new version."""
    embeddings = compute(read_graph(store, progress=progress), params, new_version(), progress)
    return artifacts_in(data_dir).save(embeddings.version, embeddings.save)


def read_graph(store: Store, *, progress: bool) -> Graph:
    followers, followees = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    with tqdm(desc="follows", unit=" edges", unit_scale=True, disable=not progress) as bar:
        for chunk_followers, chunk_followees in store.iter_follows(CHUNK):
            followers.append(chunk_followers)
            followees.append(chunk_followees)
            bar.update(len(chunk_followers))
    with tqdm(desc="engagements", unit=" edges", unit_scale=True, disable=not progress) as bar:
        chunks = []
        for chunk in store.iter_engagements(0, CHUNK):
            chunks.append(chunk)
            bar.update(chunk.size)
    return Graph(np.concatenate(followers), np.concatenate(followees), Engagements.concat(chunks))


def compute(graph: Graph, params: TrainParams, version: str, progress: bool = False) -> Embeddings:
    if not graph.follower.size and not graph.engagements.size:
        raise TooLittleData("no follows or engagements to embed yet")
    steps = tqdm(total=3, desc="embeddings", disable=not progress)
    engaged = graph.engagements
    ids = np.unique(
        np.concatenate([graph.follower, graph.followee, engaged.account, engaged.author])
    )
    n = ids.size
    follows = _matrix(ids, graph.follower, graph.followee, np.ones(graph.follower.size), n)
    follows.data[:] = 1.0  # a follow counts once
    weights = params.kind_weights()[engaged.kind]
    engagement = _matrix(ids, engaged.account, engaged.author, weights, n)
    engagement.data = np.log1p(engagement.data)
    relations = follows + engagement
    relations = relations + relations.T
    relations.setdiag(0)
    steps.update()
    degree = np.asarray(relations.sum(axis=1)).ravel()
    scale = sp.diags(1.0 / np.sqrt(np.maximum(degree, 1e-12)))
    lazy = (sp.identity(n, format="csr") + scale @ relations @ scale) * 0.5
    components = max(1, min(params.dims + 1, n - 1))
    vectors, values, _ = randomized_svd(
        sp.csr_matrix(lazy), components, n_iter=params.power_iterations, random_state=params.seed
    )
    steps.update()
    # The first eigenvector is the trivial one (proportional to sqrt(degree)): it says
    # nothing about whom an account resembles.
    embedded = vectors[:, 1:] * values[1:] ** params.walk_steps if components > 1 else vectors
    norms = np.linalg.norm(embedded, axis=1, keepdims=True)
    unit = np.asarray(embedded / np.maximum(norms, 1e-12), dtype=np.float32)
    steps.update()
    steps.close()
    return Embeddings(version=version, account_ids=ids.astype(np.int64), vectors=unit)


def _matrix(ids: Ids, rows: Ids, columns: Ids, data: np.ndarray, n: int) -> sp.csr_matrix:
    """An n x n matrix over `ids` (duplicates summed)."""
    at = np.searchsorted(ids, rows), np.searchsorted(ids, columns)
    return sp.csr_matrix((data.astype(np.float64), at), shape=(n, n))
