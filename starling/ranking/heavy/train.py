"""The heavy ranker's training job (`starling train heavy`): the newest impressions,
each row's history read from the store's engagements before the moment it was served,
PyTorch on the CPU with early stopping on the latest slice of the train split; the
weights are saved as numpy arrays, a new version the server picks up.
See docs/subsystems/heavy_ranker.md#training.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from tqdm import tqdm

from starling.artifacts import new_version
from starling.engagements import Engagements
from starling.ranking.dataset import TRAIN, Impressions, load_newest
from starling.ranking.heavy.evaluation import auc, log_loss
from starling.ranking.heavy.history import Recent, recent
from starling.ranking.heavy.inputs import CandidateInputs, HistoryInputs, history_of
from starling.ranking.heavy.model import HeavyConfig, HeavyModel, models_in
from starling.ranking.heavy.network import HeavyNetwork
from starling.ranking.heavy.posts import shown_posts
from starling.ranking.heavy.tokens import AUTHOR_BUCKETS, VOCAB, author_buckets, token_matrix
from starling.ranking.model import MIN_SCALE, squash
from starling.store.base import Store
from starling.world.engagement import ACTIONS

ENGAGEMENT_CHUNK = 100_000
Rows = npt.NDArray[np.intp]


@dataclass(frozen=True)
class TrainParams:
    vocab: int = VOCAB
    author_buckets: int = AUTHOR_BUCKETS
    dim: int = 32
    heads: int = 2
    layers: int = 2
    ffn: int = 64
    history: int = 32
    batch: int = 256
    learning_rate: float = 1e-3
    max_epochs: int = 30
    patience: int = 2  # epochs without a better validation loss before stopping
    validation_share: float = 0.1  # the latest train rows, held out for early stopping
    seed: int = 0
    # Batches this small gain nothing from a second thread, and it contends with the
    # server on a shared machine (a step took 4x longer with two on two busy cores).
    threads: int = 1


@dataclass(frozen=True)
class Trained:
    path: Path
    model: HeavyModel


class Examples:
    """Impressions joined with their histories and post texts, handed out in batches."""

    def __init__(
        self, impressions: Impressions, store: Store, config: HeavyConfig, progress: bool
    ) -> None:
        self.impressions = impressions
        self.config = config
        self.engagements = read_engagements(store, progress)
        self.recent = recent(
            self.engagements, impressions.viewer_id, impressions.served_at_ms, config.history
        )
        engaged = self.engagements.post[self.recent.positions[self.recent.valid]]
        self.posts = shown_posts(store, np.union1d(engaged, impressions.post_id).tolist())
        shown = [self.posts.get(p) for p in impressions.post_id.tolist()]
        self.candidate_tokens = token_matrix(shown, config.vocab, config.text_length)
        self.candidate_authors = author_buckets(impressions.author_id, config.author_buckets)

    def batch(self, rows: Rows) -> tuple[HistoryInputs, CandidateInputs]:
        """One candidate per row, with the row's own history."""
        c = self.config
        picked = Recent(self.recent.positions[rows], self.recent.valid[rows])
        history = history_of(
            self.engagements, picked, self.posts, c.vocab, c.text_length, c.author_buckets
        )
        candidates = CandidateInputs(
            tokens=self.candidate_tokens[rows][:, None],
            authors=self.candidate_authors[rows][:, None],
            features=self.impressions.features[rows][:, None],
        )
        return history, candidates


def train(store: Store, data_dir: Path, params: TrainParams, *, progress: bool = True) -> Trained:
    """Trains on the newest impressions in `data_dir` and saves a new model version."""
    impressions_version, impressions = load_newest(data_dir)
    model, _ = fit_model(impressions, impressions_version, store, params, progress=progress)
    return Trained(models_in(data_dir).save(model.version, model.save), model)


def fit_model(
    impressions: Impressions,
    impressions_version: str,
    store: Store,
    params: TrainParams,
    *,
    progress: bool = True,
) -> tuple[HeavyModel, Examples]:
    """A model from the train split of `impressions` (not saved), with its test figures,
    and the examples it was trained on (every row's inputs, for scoring the test split)."""
    config = HeavyConfig(
        feature_names=impressions.feature_names,
        vocab=params.vocab,
        author_buckets=params.author_buckets,
        history=params.history,
        dim=params.dim,
        heads=params.heads,
        layers=params.layers,
        ffn=params.ffn,
    )
    examples = Examples(impressions, store, config, progress)
    fit_rows, validation_rows, test_rows = split_rows(impressions, params.validation_share)
    if not len(fit_rows) or not len(validation_rows):
        raise ValueError(f"too few train impressions to train on ({len(fit_rows)})")
    torch.manual_seed(params.seed)
    torch.set_num_threads(params.threads)
    mean, std = feature_scale(impressions.features[fit_rows])
    network = HeavyNetwork(config, mean, std)
    epochs, validation_loss = fit(network, examples, fit_rows, validation_rows, params, progress)
    version = new_version()
    trained: dict[str, object] = {
        "impressions": impressions_version,
        "rows": {"fit": len(fit_rows), "validation": len(validation_rows), "test": len(test_rows)},
        "epochs": epochs,
        "validation_loss": validation_loss,
        "params": asdict(params),
    }
    model = network.export(version, trained)
    if len(test_rows):
        trained["test"] = evaluate(model, examples, test_rows)
        model = network.export(version, trained)
    return model, examples


def split_rows(impressions: Impressions, validation_share: float) -> tuple[Rows, Rows, Rows]:
    """(fit, validation, test): validation is the latest share of the train split by
    serving time, as the next day's traffic would be."""
    train_rows = np.flatnonzero(impressions.split == TRAIN)
    train_rows = train_rows[np.argsort(impressions.served_at_ms[train_rows], kind="stable")]
    held = round(len(train_rows) * validation_share)
    cut = len(train_rows) - max(held, 1)
    return train_rows[:cut], train_rows[cut:], np.flatnonzero(impressions.split != TRAIN)


def feature_scale(features: npt.NDArray[np.float32]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread of the signed-log features (a constant column gets spread 1), in
    float64: summed in float32 over a column of many rows, a constant one (the time of
    day, when every impression is served at one instant) drifted to a spread of 4e-4,
    and a served value off it by 1 became thousands of spreads."""
    logged = squash(features)
    std = logged.std(axis=0)
    return logged.mean(axis=0), np.where(std > MIN_SCALE, std, 1.0)


def fit(
    network: HeavyNetwork,
    examples: Examples,
    fit_rows: Rows,
    validation_rows: Rows,
    params: TrainParams,
    progress: bool,
) -> tuple[int, float]:
    """Adam on the five heads' summed log losses until the validation loss stops
    improving; the network keeps its best epoch's weights."""
    optimiser = torch.optim.Adam(network.parameters(), lr=params.learning_rate)
    loss_of = torch.nn.BCEWithLogitsLoss()
    rng = np.random.default_rng(params.seed)
    labels = torch.as_tensor(examples.impressions.labels, dtype=torch.float32)
    best, best_state, best_epoch = float("inf"), copy.deepcopy(network.state_dict()), 0
    bar = tqdm(total=params.max_epochs, desc="heavy ranker", unit=" epochs", disable=not progress)
    for epoch in range(1, params.max_epochs + 1):
        network.train()
        for rows in _batches(rng.permutation(fit_rows), params.batch):
            logits = network(*tensors(*examples.batch(rows)))[:, 0]
            loss = loss_of(logits, labels[rows])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        validation = log_loss(predict(network, examples, validation_rows, params.batch),
                              examples.impressions.labels[validation_rows])  # fmt: skip
        bar.update()
        bar.set_postfix(validation_loss=f"{validation:.4f}")
        if validation < best:
            best, best_state, best_epoch = validation, copy.deepcopy(network.state_dict()), epoch
        elif epoch - best_epoch >= params.patience:
            break
    bar.close()
    network.load_state_dict(best_state)
    return best_epoch, best


def predict(network: HeavyNetwork, examples: Examples, rows: Rows, batch: int) -> np.ndarray:
    network.eval()
    with torch.no_grad():
        parts = [
            torch.sigmoid(network(*tensors(*examples.batch(part)))[:, 0]).numpy()
            for part in _batches(rows, batch)
        ]
    return np.concatenate(parts) if parts else np.zeros((0, len(ACTIONS)), np.float32)


def probabilities(model: HeavyModel, examples: Examples, rows: Rows) -> np.ndarray:
    """P(action) of `rows` (rows x 5) by the numpy model the server runs."""
    parts = [model.predict(*examples.batch(part))[:, 0] for part in _batches(rows, 512)]
    return np.concatenate(parts) if parts else np.zeros((0, len(ACTIONS)), np.float32)


def evaluate(model: HeavyModel, examples: Examples, rows: Rows) -> dict[str, dict[str, float]]:
    """Log loss and AUC per action on `rows`, from the numpy model the server runs."""
    p = probabilities(model, examples, rows)
    labels = examples.impressions.labels[rows]
    return {
        action: {"log_loss": log_loss(p[:, i], labels[:, i]), "auc": auc(p[:, i], labels[:, i])}
        for i, action in enumerate(ACTIONS)
    }


def read_engagements(store: Store, progress: bool) -> Engagements:
    with tqdm(desc="engagements", unit=" rows", unit_scale=True, disable=not progress) as bar:
        chunks = []
        for chunk in store.iter_engagements(0, ENGAGEMENT_CHUNK):
            chunks.append(chunk)
            bar.update(chunk.size)
    return Engagements.concat(chunks)


def _batches(rows: Rows, size: int) -> Iterator[Rows]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def tensors(history: HistoryInputs, candidates: CandidateInputs) -> list[torch.Tensor]:
    """The network's inputs, in the order of its forward's arguments."""
    return [
        torch.as_tensor(history.tokens, dtype=torch.long),
        torch.as_tensor(history.authors, dtype=torch.long),
        torch.as_tensor(history.actions, dtype=torch.long),
        torch.as_tensor(history.valid),
        torch.as_tensor(candidates.tokens, dtype=torch.long),
        torch.as_tensor(candidates.authors, dtype=torch.long),
        torch.as_tensor(candidates.features),
    ]
