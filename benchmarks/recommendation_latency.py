"""Recommendation latency: p50/p95 of `recommend(viewer, n)` for a new viewer, models loaded.

Loads the fitted recommenders the recommendation pipeline saved (data/06_models/recommenders.pkl), then times
single calls for random viewers (random age group, gender, emotion and, for half of them, the rated movies of a
random training user to exclude). Target: p95 <= 20 ms.

    .venv/bin/python benchmarks/recommendation_latency.py [--calls 2000] [--n 10] [--seed 0]
    # first: kedro run --env fast --pipelines clustering && kedro run --env fast --pipelines recommendation
"""

from __future__ import annotations

import argparse
import os
import pickle
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hybrid_recommender.labels import EMOTIONS
from hybrid_recommender.paths import PROJECT_ROOT
from hybrid_recommender.recommender import Viewer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=PROJECT_ROOT / "data" / "06_models" / "recommenders.pkl")
    parser.add_argument("--train", type=Path,
                        default=PROJECT_ROOT / "data" / "05_model_input" / "ratings_train.parquet")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.models.exists():
        raise SystemExit(f"{args.models} not found: run `kedro run --env fast --pipelines clustering` and "
                         f"`--pipelines recommendation` first")

    start = time.perf_counter()
    with open(args.models, "rb") as f:
        recommenders = pickle.load(f)
    load_s = time.perf_counter() - start
    histories = list(pd.read_parquet(args.train).groupby("user_id")["item_id"].agg(frozenset))
    genders = ("male", "female", None)

    rng = np.random.default_rng(args.seed)
    first = next(iter(recommenders.values()))
    viewers = [Viewer(age_group=first.age_groups[rng.integers(len(first.age_groups))],
                      gender=genders[rng.integers(3)], emotion=EMOTIONS[rng.integers(len(EMOTIONS))],
                      rated_item_ids=histories[rng.integers(len(histories))] if rng.random() < 0.5 else ())
               for _ in range(args.calls)]
    print(f"{args.calls} recommend(viewer, n={args.n}) calls per recommender, models loaded in {load_s:.2f} s "
          f"({args.models.stat().st_size / 1e6:.1f} MB); {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs")
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
