"""Fixtures of the evaluation tests: the project's parameters, a real MovieLens split, small real face sets and a
tiny face predictor trained on them by the face_models nodes (a few steps: it proves the wiring, not accuracy)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml

from hybrid_recommender.paths import PROJECT_ROOT
from tests.face_models.conftest import SMALL, ckplus_table, empty_table, fer_small, utk_small  # noqa: F401


def load_params(name: str) -> dict:
    return yaml.safe_load((PROJECT_ROOT / "conf" / "base" / f"parameters_{name}.yml").read_text())[name]


@pytest.fixture(scope="session")
def params():
    """Evaluation parameters sized for tests: 8 observations, a small grid, 200 bootstrap resamples."""
    p = copy.deepcopy(load_params("evaluation"))
    p["n_observations"] = 8
    p["bootstrap"]["resamples"] = 200
    p["improved_hybrid"]["grid"] = {"shrinkage": [10], "popularity_weight": [0.7, 1.0], "emotion_weight": [0.0, 0.1]}
    p["improved_hybrid"]["target_min_observations"] = 2
    return p


@pytest.fixture(scope="session")
def rec_params():
    return load_params("recommendation")


@pytest.fixture(scope="session")
def age_bins():
    return load_params("data_engineering")["age_groups"]


@pytest.fixture(scope="session")
def split(movielens):
    from hybrid_recommender.recommender.evaluation import split_ratings

    ratings, users, movies = movielens
    train, test = split_ratings(ratings, 0.2, 42)
    return train, test, users, movies


@pytest.fixture(scope="session")
def systems(split, rec_params, age_bins):
    """Group popularity, the demographic benchmark and the paper's hybrid fitted on the real train split."""
    from hybrid_recommender.recommender import DemographicSVD, GroupPopularity, HybridRecommender
    from hybrid_recommender.recommender.clustering import cluster_movies

    train, _, users, movies = split
    clusters = cluster_movies(movies, 11, seed=42, n_init=2)
    kw = {"min_users": 10, "min_ratings": 500, "seed": 42}
    svd = {**rec_params["svd"], "n_epochs": 5}
    recs = {"hybrid_surprise_svd": HybridRecommender(rec_params["affinity"], svd=svd, **kw),
            "demographic_svd": DemographicSVD(svd=svd, **kw), "group_popularity": GroupPopularity(**kw)}
    for rec in recs.values():
        rec.fit(train, users, movies, clusters, precompute=False)
    return recs


@pytest.fixture(scope="session")
def tiny_predictor(tmp_path_factory, fer_small, utk_small):
    """A face predictor trained for 3 steps by face_models' own nodes on small real sets (no accuracy claim)."""
    from hybrid_recommender.pipelines.face_models import nodes

    base = load_params("face_models")
    p = copy.deepcopy(base)
    p.update({"smoke": True, "tracking": False, "workdir": str(tmp_path_factory.mktemp("fm_work"))})
    p["preprocessing"].update(SMALL)
    p["smoke_overrides"]["frame_cnn"].update({"max_steps": 3, "train_limit": 120})
    raf = empty_table()
    ck = empty_table(48)
    frame_cnns, _, _ = nodes.train_frame_cnns(*fer_small, *utk_small, utk_small[1], *ck, *raf, p, True)
    return nodes.assemble_predictor(frame_cnns, {}, {}, {}, p)


def pixels_rows(table, pixels):
    return np.ascontiguousarray(pixels[table["pixel_row"].to_numpy()])
