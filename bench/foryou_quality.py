"""For You ranking quality on held-out viewers of a generated world: NDCG@35 (gain = the
positive actions a row drew) and AUC of P(like) for chronological order, the heuristic
scorer, the light ranker, the heavy rung (light, then the heavy ranker on the light's
best 500) and the oracle (the world's hidden engagement model), over a few seeds (each
seed samples its own viewers, labels and train/test split; the light and heavy rankers
are trained on that seed's train split, the heavy ranker with PyTorch). The rankers are
the table in starling/ranking/evaluate.py. Run: python -m bench.foryou_quality [--size demo].
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.common import machine, markdown_table, write_results
from bench.world import bench_data_dir, bench_settings, world_arguments
from starling.config import Settings, scaled_thresholds
from starling.mixer import Query
from starling.mixer.candidates import Candidates
from starling.ranking.dataset import TEST
from starling.ranking.evaluate import WITH_HEAVY, Context, Quality, evaluate
from starling.ranking.features import of_group
from starling.ranking.heavy.score import ScoreWeights
from starling.ranking.heavy.train import TrainParams as HeavyParams
from starling.ranking.heavy.train import fit_model, probabilities
from starling.ranking.impressions import ImpressionParams, build_impressions
from starling.ranking.quality import LowQuality
from starling.ranking.state import ACCOUNT_READ, FeatureState
from starling.ranking.train import fit
from starling.runtime import open_runtime
from starling.simclusters.index import open_index
from starling.simclusters.train import TrainParams, train
from starling.simclusters.versions import directory_in
from starling.workers.features import FeatureWorker
from starling.world.engagement import EngagementTruth
from starling.world.truth import load_truth, load_world_meta


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    world_arguments(parser, backends=False)
    parser.add_argument("--viewers", type=int, default=2_000, help="sampled per seed")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--clusters", type=int, help="compute SimClusters communities with this many first"
    )
    parser.add_argument("--heavy-epochs", type=int, default=HeavyParams.max_epochs)
    parser.set_defaults(size="demo")
    args = parser.parse_args(argv)
    data_dir = bench_data_dir(args.size, args.seed)
    meta = load_world_meta(data_dir)
    assert meta is not None
    thresholds = scaled_thresholds(int(meta["celebrity_threshold"]))
    runtime = open_runtime(bench_settings(data_dir, workers="none", **thresholds), workers="none")
    truth = EngagementTruth.load(data_dir)
    if args.clusters:
        print(train(runtime.store, directory_in(data_dir), TrainParams(clusters=args.clusters)))
    runs: list[list[Quality]] = []
    sizes = []
    heavy_params = HeavyParams(max_epochs=args.heavy_epochs)
    weights = ScoreWeights.of(Settings())  # Twitter's 2023 weights
    try:
        for seed in range(args.seeds):
            params = ImpressionParams(viewers=args.viewers, seed=seed)
            impressions = build_impressions(runtime, params)
            test = impressions.of_split(TEST)
            sizes.append((len(impressions), len(np.unique(test.viewer_id))))
            heavy, examples = fit_model(impressions, f"seed {seed}", runtime.store, heavy_params)
            print(f"heavy ranker, seed {seed}: {heavy.trained}")
            p = probabilities(heavy, examples, np.flatnonzero(impressions.split == TEST))
            context = Context(truth, fit(impressions), heavy=p, weights=weights)
            runs.append(evaluate(test, context, WITH_HEAVY))
    finally:
        runtime.close()
    spam = low_quality_vs_truth(data_dir, int(meta["now_ms"]))
    rows, results = table(runs)
    clusters = open_index(data_dir).current()
    header = (
        f"{args.size} world, {clusters.clusters if clusters else 0} SimClusters, "
        f"{args.viewers} viewers x {args.seeds} seeds "
        f"(impressions, held-out viewers per seed: {sizes}); {machine()}"
    )
    write_results(
        f"foryou_quality_{args.size}{f'_{args.clusters}' if args.clusters else ''}",
        {"header": header, "rankers": results, "low_quality": dict(spam)},
    )
    print(header)
    print(markdown_table(["ranker", "NDCG@35", "AUC (like)", "x chronological", "of oracle"], rows))
    print(markdown_table(["low-quality filter, every account as an author", "value"], spam))


def low_quality_vs_truth(data_dir: Path, served_at: int) -> list[tuple[str, int]]:
    """The low-quality filter applied to every account of the world as an author (the
    feature state rebuilt as of the world's end), against the hidden bot truth."""
    runtime = open_runtime(Settings(data_dir=data_dir, workers="none"), workers="none")
    try:
        state = FeatureState()
        FeatureWorker(runtime.log, runtime.store, state, clock=lambda: served_at).rebuild()
    finally:
        runtime.close()
    truth = load_truth(data_dir)
    accounts, bots, declared = truth["account_ids"], truth["bot"], truth["bot_flagged"]
    names = of_group("account-features")[: len(ACCOUNT_READ) - 1]  # the author's columns
    block = state.read_accounts(accounts, served_at)[:, : len(names)]
    batch = Candidates.of(np.zeros(len(accounts), np.int64)).with_features(names, block)
    removed = ~LowQuality().keep(Query(0), batch)
    return [
        ("accounts removed", int(removed.sum())),
        ("of which bots (truth)", int((removed & bots).sum())),
        ("bots", int(bots.sum())),
        ("declared bots removed", int((removed & declared).sum())),
        ("declared bots", int(declared.sum())),
    ]


def table(runs: list[list[Quality]]) -> tuple[list[list[str]], list[dict[str, float | str]]]:
    """Per ranker: mean and spread over seeds, and the NDCG ratios to chronological and
    to the oracle (both means over seeds of the per-seed ratio)."""
    names = [q.ranker for q in runs[0]]
    ndcg = np.array([[q.ndcg for q in run] for run in runs])  # seeds x rankers
    auc = np.array([[q.auc for q in run] for run in runs])
    chrono, best = ndcg[:, names.index("chronological")], ndcg[:, names.index("oracle")]
    rows: list[list[str]] = []
    results: list[dict[str, float | str]] = []
    for j, name in enumerate(names):
        vs_chrono, vs_oracle = (ndcg[:, j] / chrono).mean(), (ndcg[:, j] / best).mean()
        rows.append(
            [
                name,
                f"{ndcg[:, j].mean():.3f} ± {ndcg[:, j].std():.3f}",
                f"{auc[:, j].mean():.3f} ± {auc[:, j].std():.3f}",
                f"{vs_chrono:.2f}x",
                f"{100 * vs_oracle:.0f}%",
            ]
        )
        results.append(
            {
                "ranker": name,
                "ndcg": float(ndcg[:, j].mean()),
                "auc": float(auc[:, j].mean()),
                "vs_chronological": float(vs_chrono),
                "of_oracle": float(vs_oracle),
            }
        )
    return rows, results


if __name__ == "__main__":
    main()
