"""SVD sanity check: 5-fold cross-validated RMSE/MAE of Surprise's plain SVD on MovieLens 100K.

Surprise's published figure for SVD on ML-100K (5-fold) is RMSE 0.934, MAE 0.737. Seeds are fixed (the folds
and the SVD initialisation), so two runs print the same numbers.

    .venv/bin/python benchmarks/svd_sanity.py [--datasets-dir ../shared/datasets] [--seed 0] [--folds 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
from surprise import SVD, Dataset, Reader
from surprise.model_selection import KFold, cross_validate

from hybrid_recommender.ingest.movielens import read_movielens
from hybrid_recommender.ingest.sources import find_source
from hybrid_recommender.paths import PROJECT_ROOT

PUBLISHED = {"rmse": 0.934, "mae": 0.737}


def load_ratings(datasets_dir: Path):
    source = find_source(datasets_dir, ["ml-100k.zip", "ml-100k"])
    if source is None:
        raise SystemExit(f"MovieLens 100K not found under {datasets_dir} (ml-100k.zip or ml-100k/)")
    return read_movielens(source)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_dir = Path(os.environ.get("HYBRID_DATASETS_DIR", PROJECT_ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--datasets-dir", type=Path, default=default_dir)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()

    ratings = load_ratings(args.datasets_dir)
    data = Dataset.load_from_df(ratings[["user_id", "item_id", "rating"]], Reader(rating_scale=(1, 5)))
    start = time.perf_counter()
    result = cross_validate(SVD(random_state=args.seed), data, measures=["rmse", "mae"],
                            cv=KFold(n_splits=args.folds, random_state=args.seed, shuffle=True), n_jobs=1)
    wall = time.perf_counter() - start
    print(f"Surprise SVD (defaults: 100 factors, 20 epochs), {args.folds}-fold CV on ML-100K "
          f"({len(ratings)} ratings), seed {args.seed}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs")
    print(f"{'measure':8} {'mean':>7} {'std':>7} {'folds':>40} {'published':>10}")
    for m in ("rmse", "mae"):
        values = np.asarray(result[f"test_{m}"])
        print(f"{m.upper():8} {values.mean():7.4f} {values.std():7.4f} {' '.join(f'{v:.4f}' for v in values):>40} "
              f"{PUBLISHED[m]:10.3f}")
    print(f"fit time per fold {np.mean(result['fit_time']):.2f} s, total {wall:.1f} s")


if __name__ == "__main__":
    main()
