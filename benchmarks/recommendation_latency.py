"""Recommendation latency: p50/p95 of `recommend(viewer, n)` for a new viewer, models loaded.

Loads the fitted recommenders the recommendation pipeline saved (data/06_models/recommenders/: rankings as
parquet, explanations as JSON, read without pickle), then times single calls for random
viewers (random age group, gender, emotion and, for half of them, the rated movies of a random training user to
exclude). Target: p95 <= 20 ms.

    .venv/bin/python benchmarks/recommendation_latency.py [--calls 2000] [--n 10] [--seed 0]
    # first: kedro run --env fast --pipelines clustering,recommendation
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.labels import EMOTIONS
from hybrid_recommender.paths import PROJECT_ROOT
from hybrid_recommender.recommender import Viewer, load_recommender, load_recommenders
from hybrid_recommender.recommender.store import META_FILE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=PROJECT_ROOT / "data" / "06_models" / "recommenders",
                        help="folder written by the recommendation pipeline (save_recommender(s)); never a pickle")
    parser.add_argument("--train", type=Path,
                        default=PROJECT_ROOT / "data" / "05_model_input" / "ratings_train.parquet")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    try:
        if (args.models / META_FILE).is_file():                # one recommender's folder
            one = load_recommender(args.models)
            recommenders = {one.name: one}
        else:
            recommenders = load_recommenders(args.models)
    except InputDataError as exc:
        raise SystemExit(f"Error: {exc}") from None
    load_s = time.perf_counter() - start
    histories = list(pd.read_parquet(args.train).groupby("user_id")["item_id"].agg(frozenset))
    genders = ("male", "female", None)

    rng = np.random.default_rng(args.seed)
    first = next(iter(recommenders.values()))
    viewers = [Viewer(age_group=first.age_groups[rng.integers(len(first.age_groups))],
                      gender=genders[rng.integers(3)], emotion=EMOTIONS[rng.integers(len(EMOTIONS))],
                      rated_item_ids=histories[rng.integers(len(histories))] if rng.random() < 0.5 else ())
               for _ in range(args.calls)]
    size_mb = sum(f.stat().st_size for f in args.models.rglob("*") if f.is_file()) / 1e6
    print(f"{args.calls} recommend(viewer, n={args.n}) calls per recommender, models loaded in {load_s:.2f} s "
          f"({size_mb:.1f} MB); {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print(f"{'recommender':22} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, rec in recommenders.items():
        rec.recommend(viewers[0], args.n)                     # warm-up
        times = np.empty(len(viewers))
        for i, viewer in enumerate(viewers):
            t0 = time.perf_counter()
            rec.recommend(viewer, args.n)
            times[i] = time.perf_counter() - t0
        ms = times * 1e3
        print(f"{name:22} {np.percentile(ms, 50):8.3f} {np.percentile(ms, 95):8.3f} {np.percentile(ms, 99):8.3f} "
              f"{ms.max():8.3f}")


if __name__ == "__main__":
    main()
