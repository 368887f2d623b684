"""The heavy ranker's forward pass in numpy, over the weights the training job saved:
what the server runs (no PyTorch). Candidate isolation is built in: the history is
encoded on its own, and each candidate attends to the history and to itself only, so a
candidate's probabilities do not depend on the other candidates of its batch.
See docs/subsystems/heavy_ranker.md#architecture.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from starling.artifacts import Artifacts
from starling.ranking.heavy.history import HISTORY
from starling.ranking.heavy.inputs import CandidateInputs, Floats, HistoryInputs
from starling.ranking.heavy.tokens import AUTHOR_BUCKETS, TEXT_LENGTH, VOCAB
from starling.ranking.model import DIRECTORY
from starling.world.engagement import ACTIONS

EPS = 1e-5  # layer norm, as torch's default
Weights = dict[str, npt.NDArray[np.float32]]


@dataclass(frozen=True)
class HeavyConfig:
    """The shape of a model; saved with its weights."""

    feature_names: tuple[str, ...]
    vocab: int = VOCAB
    text_length: int = TEXT_LENGTH
    author_buckets: int = AUTHOR_BUCKETS
    history: int = HISTORY
    dim: int = 32
    heads: int = 2
    layers: int = 2
    ffn: int = 64
    actions: tuple[str, ...] = ACTIONS  # the output columns

    def __post_init__(self) -> None:
        if self.dim % self.heads:
            raise ValueError(f"dim {self.dim} is not a multiple of heads {self.heads}")

    @classmethod
    def of_json(cls, text: str) -> HeavyConfig:
        raw = json.loads(text)
        return cls(
            **{
                **raw,
                "feature_names": tuple(raw["feature_names"]),
                "actions": tuple(raw["actions"]),
            }
        )


def models_in(data_dir: Path) -> Artifacts:
    """`<data_dir>/ranking/heavy-ranker-<version>.npz`."""
    return Artifacts(data_dir / DIRECTORY, "heavy-ranker-")


@dataclass(frozen=True)
class HeavyModel:
    config: HeavyConfig
    weights: Weights
    version: str = ""
    trained: dict[str, Any] = field(default_factory=dict)  # how it was trained, for people

    def save(self, path: Path) -> None:
        arrays: dict[str, Any] = {f"w:{name}": value for name, value in self.weights.items()}
        arrays["config"] = np.array(json.dumps(asdict(self.config)))
        arrays["trained"] = np.array(json.dumps(self.trained))
        with path.open("wb") as out:
            np.savez(out, **arrays)

    @classmethod
    def load(cls, path: Path, version: str) -> HeavyModel:
        with np.load(path, allow_pickle=False) as saved:
            return cls(
                config=HeavyConfig.of_json(str(saved["config"])),
                weights={n[2:]: saved[n].astype(np.float32) for n in saved.files if n[:2] == "w:"},
                version=version,
                trained=json.loads(str(saved["trained"])),
            )

    def predict(self, history: HistoryInputs, candidates: CandidateInputs) -> Floats:
        """P(action) per candidate: B x C x 5, columns in the order of `ACTIONS`."""
        w, config = self.weights, self.config
        h = self._items(history.tokens, history.authors) + w["actions.weight"][history.actions]
        dense = _standardise(candidates.features, w["features.mean"], w["features.std"])
        c = self._items(candidates.tokens, candidates.authors)
        c = c + _linear(dense, w, "dense")
        valid = history.valid
        for layer in range(config.layers):
            p = f"layers.{layer}."
            hn, cn = _norm(h, w, p + "norm1"), _norm(c, w, p + "norm1")
            attended_h, attended_c = self._attend(hn, cn, valid, p)
            h, c = h + attended_h, c + attended_c
            h = h + _feed_forward(_norm(h, w, p + "norm2"), w, p)
            c = c + _feed_forward(_norm(c, w, p + "norm2"), w, p)
        logits = _linear(_norm(c, w, "norm"), w, "heads")
        probabilities: Floats = 0.5 * (1.0 + np.tanh(0.5 * logits))  # sigmoid, no overflow
        return probabilities

    def _items(self, tokens: npt.NDArray[np.int32], authors: npt.NDArray[np.int32]) -> Floats:
        """Mean of the tokens' embeddings (padding left out) plus the author's."""
        present = (tokens != 0)[..., None].astype(np.float32)
        summed = (self.weights["tokens.weight"][tokens] * present).sum(axis=-2)
        pooled = summed / np.maximum(present.sum(axis=-2), 1.0)
        embedded: Floats = pooled + self.weights["authors.weight"][authors]
        return embedded

    def _attend(
        self, h: Floats, c: Floats, valid: npt.NDArray[np.bool_], prefix: str
    ) -> tuple[Floats, Floats]:
        """Multi-head attention under the isolation mask: a history item sees the valid
        history and itself; a candidate sees the valid history and itself."""
        w, heads = self.weights, self.config.heads
        qh, kh, vh = (_split(_linear(h, w, prefix + n), heads) for n in "qkv")
        qc, kc, vc = (_split(_linear(c, w, prefix + n), heads) for n in "qkv")
        scale = np.float32(1.0 / np.sqrt(qh.shape[-1]))
        seen = valid[:, None, None, :]  # B x 1 x 1 x H
        # History to history (its own item always visible, so no row is empty).
        scores = (qh @ kh.swapaxes(-1, -2)) * scale
        own = np.eye(scores.shape[-1], dtype=np.bool_)
        scores = np.where(seen | own, scores, -np.inf)
        weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
        out_h = (weights @ vh) / weights.sum(axis=-1, keepdims=True)
        # Candidates to the history and to themselves, never to each other.
        to_history = np.where(seen, (qc @ kh.swapaxes(-1, -2)) * scale, -np.inf)
        to_self = (qc * kc).sum(axis=-1, keepdims=True) * scale
        top = np.maximum(to_history.max(axis=-1, keepdims=True), to_self)
        e_history, e_self = np.exp(to_history - top), np.exp(to_self - top)
        total = e_history.sum(axis=-1, keepdims=True) + e_self
        out_c = (e_history @ vh + e_self * vc) / total
        return _linear(_merge(out_h), w, prefix + "o"), _linear(_merge(out_c), w, prefix + "o")


def _standardise(features: Floats, mean: Floats, std: Floats) -> Floats:
    """Signed log1p (counts are heavy-tailed), then the train split's mean and spread."""
    logged = np.sign(features) * np.log1p(np.abs(features))
    standardised: Floats = ((logged - mean) / std).astype(np.float32)
    return standardised


def _linear(x: Floats, w: Weights, name: str) -> Floats:
    out: Floats = x @ w[name + ".weight"].T + w[name + ".bias"]
    return out


def _norm(x: Floats, w: Weights, name: str) -> Floats:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    out: Floats = (x - mean) / np.sqrt(var + EPS) * w[name + ".weight"] + w[name + ".bias"]
    return out


def _feed_forward(x: Floats, w: Weights, prefix: str) -> Floats:
    return _linear(np.maximum(_linear(x, w, prefix + "ffn1"), 0.0), w, prefix + "ffn2")


def _split(x: Floats, heads: int) -> Floats:
    """B x N x D -> B x heads x N x D/heads."""
    b, n, d = x.shape
    split: Floats = x.reshape(b, n, heads, d // heads).transpose(0, 2, 1, 3)
    return split


def _merge(x: Floats) -> Floats:
    b, heads, n, d = x.shape
    merged: Floats = x.transpose(0, 2, 1, 3).reshape(b, n, heads * d)
    return merged
