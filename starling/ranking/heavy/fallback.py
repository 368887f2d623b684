"""The heavy ranker the package ships: a small model trained on the demo world, in
float16, served until the data dir holds a trained version (`make run` installs without
PyTorch, so the demo cannot train one). `python -m starling.ranking.heavy.fallback
--data-dir DIR` replaces it with DIR's newest trained model.
See docs/subsystems/heavy_ranker.md#shipped-model.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from starling.artifacts import Newest
from starling.ranking.heavy.model import HeavyModel, models_in

SHIPPED = Path(__file__).resolve().parent / "shipped" / "heavy-ranker.npz"
VERSION = "shipped"


def shipped_model() -> HeavyModel:
    return HeavyModel.load(SHIPPED, VERSION)


def newest_or_shipped(data_dir: Path) -> Newest[HeavyModel]:
    """The newest model trained in `data_dir`, else the shipped one."""
    return Newest(models_in(data_dir), HeavyModel.load, fallback=shipped_model)


def ship(data_dir: Path, to: Path = SHIPPED) -> Path:
    """Writes `data_dir`'s newest trained model as the shipped one, weights in float16."""
    versions = models_in(data_dir).versions()
    if not versions:
        raise ValueError(f"no trained heavy ranker in {data_dir}: run `starling train heavy`")
    model = HeavyModel.load(models_in(data_dir).path(versions[-1]), versions[-1])
    half = {name: w.astype(np.float16) for name, w in model.weights.items()}
    trained = {**model.trained, "version": versions[-1]}
    to.parent.mkdir(parents=True, exist_ok=True)
    replace(model, weights=half, trained=trained).save(to)  # type: ignore[arg-type]
    return to


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    path = ship(args.data_dir)
    print(f"{path}: {path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
