"""The heavy ranker's numpy inference: one viewer's full history (32 engagements) and
500 candidates (what the light ranker passes on) in one forward pass, then the final
score; medians and p99 over many runs. Untrained weights of the served shape cost the
same as trained ones. Run: python -m bench.heavy_ranker [--runs N] [--candidates N].
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np

from bench.common import machine, markdown_table, milliseconds, write_results
from starling.config import Settings
from starling.mixer.candidates import FEATURES
from starling.ranking.heavy.inputs import CandidateInputs, HistoryInputs
from starling.ranking.heavy.model import HeavyConfig, HeavyModel
from starling.ranking.heavy.score import ScoreWeights, final_scores

WORDS = 12  # tokens of a typical world post; the rest of the row is padding


def served_shape() -> HeavyModel:
    """The default model's weights, from the training network (PyTorch is only needed
    to make them; the timed code never calls it)."""
    from starling.ranking.heavy.network import HeavyNetwork

    config = HeavyConfig(feature_names=FEATURES)
    features = len(FEATURES)
    return HeavyNetwork(config, np.zeros(features), np.ones(features)).export("bench", {})


def inputs(
    config: HeavyConfig, candidates: int, rng: np.random.Generator
) -> tuple[HistoryInputs, CandidateInputs]:
    def tokens(*shape: int) -> np.ndarray:
        found = rng.integers(1, config.vocab, (*shape, config.text_length)).astype(np.int32)
        found[..., WORDS:] = 0
        return found

    h = config.history
    history = HistoryInputs(
        tokens=tokens(1, h),
        authors=rng.integers(0, config.author_buckets, (1, h)).astype(np.int32),
        actions=rng.integers(0, 3, (1, h)).astype(np.int8),
        valid=np.ones((1, h), dtype=np.bool_),
    )
    return history, CandidateInputs(
        tokens=tokens(1, candidates),
        authors=rng.integers(0, config.author_buckets, (1, candidates)).astype(np.int32),
        features=rng.integers(0, 1000, (1, candidates, len(config.feature_names))).astype(
            np.float32
        ),
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--candidates", type=int, default=500)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    model = served_shape()
    history, candidates = inputs(model.config, args.candidates, rng)
    weights = ScoreWeights.of(Settings())
    out_of_network = rng.random(args.candidates) < 0.5
    authors = rng.integers(0, 100, args.candidates)
    forward, scored = [], []
    for _ in range(args.runs):
        started = time.perf_counter()
        probabilities = model.predict(history, candidates)[0]
        middle = time.perf_counter()
        final_scores(probabilities, out_of_network, authors, weights)
        forward.append(middle - started)
        scored.append(time.perf_counter() - started)
    results = {
        "candidates": args.candidates,
        "runs": args.runs,
        "forward_ms": milliseconds(forward),
        "forward_and_final_score_ms": milliseconds(scored),
    }
    print(machine())
    rows = [
        ["forward pass", *results["forward_ms"].values()],
        ["forward pass + final score", *results["forward_and_final_score_ms"].values()],
    ]
    headers = [f"{args.candidates} candidates, ms", *results["forward_ms"].keys()]
    print(markdown_table(headers, rows))
    print(write_results("heavy_ranker", results))


if __name__ == "__main__":
    main()
