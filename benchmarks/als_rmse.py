"""Held-out RMSE of the two rating engines on MovieLens 100K: Surprise SVD (the `surprise` engine) and PySpark ALS
(the `spark` engine) with its defaults and a few variations, on the project's train/test split.

    .venv/bin/python benchmarks/als_rmse.py [--datasets-dir ../shared/datasets]

Needs the `spark` extra and Java 17. Prints a markdown table (docs/recommendation.md, "The Spark engine").
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import yaml

from hybrid_recommender.evaluation.markdown import markdown_rows
from hybrid_recommender.ingest.movielens import read_movielens
from hybrid_recommender.ingest.sources import find_source
from hybrid_recommender.paths import PROJECT_ROOT
from hybrid_recommender.recommender.ranking_metrics import split_ratings
from hybrid_recommender.recommender.spark_als import fit_als, spark_session
from hybrid_recommender.recommender.svd import fit_surprise_svd

VARIANTS = {"defaults": {}, "reg_param 0.05": {"reg_param": 0.05}, "reg_param 0.2": {"reg_param": 0.2},
            "rank 20": {"rank": 20}, "max_iter 20": {"max_iter": 20}, "biases: false (plain ALS)": {"biases": False}}


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean((predicted - actual) ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_dir = Path(os.environ.get("HYBRID_DATASETS_DIR", PROJECT_ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--datasets-dir", type=Path, default=default_dir)
    args = parser.parse_args()
    source = find_source(args.datasets_dir, ["ml-100k.zip", "ml-100k"])
    if source is None:
        raise SystemExit(f"MovieLens 100K not found under {args.datasets_dir} (ml-100k.zip or ml-100k/)")
    params = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_recommendation.yml").read_text())["recommendation"]
    train, test = split_ratings(read_movielens(source)[0], params["split"]["test_fraction"], params["seed"])
    actual = test["rating"].to_numpy(dtype=float)
    rows = []
    start = time.perf_counter()
    algo, _ = fit_surprise_svd(train, params["svd"], params["seed"])
    svd = np.array([algo.predict(u, i).est for u, i in zip(test["user_id"], test["item_id"])])
    rows.append(["Surprise SVD (project defaults)", f"{rmse(svd, actual):.4f}", f"{time.perf_counter() - start:.1f}"])
    spark = spark_session()
    for name, change in VARIANTS.items():
        start = time.perf_counter()
        factors = fit_als(spark, train, {**params["als"], **change}, params["seed"])
        als = factors.predict(test["user_id"].to_numpy(), test["item_id"].to_numpy())
        rows.append([f"Spark ALS, {name}", f"{rmse(als, actual):.4f}", f"{time.perf_counter() - start:.1f}"])
    spark.stop()
    print(f"ML-100K, split_ratings(test_fraction={params['split']['test_fraction']}, seed={params['seed']}): "
          f"{len(train)} train, {len(test)} test ratings\n")
    print(markdown_rows(["model", "held-out RMSE", "fit + predict s"], rows))


if __name__ == "__main__":
    main()
