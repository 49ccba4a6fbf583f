"""Fixtures of the evaluation tests: the project's parameters, a real MovieLens split, small real face sets and a
tiny face predictor trained on them by the face_models nodes (a few steps: it proves the wiring, not accuracy)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from hybrid_recommender.pipelines.evaluation import nodes
from hybrid_recommender.pipelines.face_models import nodes as face_model_nodes
from hybrid_recommender.pipelines.face_models.nodes import summarise_face_models
from hybrid_recommender.recommender import (
    DemographicSVD,
    GroupPopularity,
    HybridRecommender,
)
from hybrid_recommender.recommender.clustering import cluster_movies
from hybrid_recommender.recommender.ranking_metrics import split_ratings
from tests.conftest import project_parameters
from tests.face_models.conftest import (  # noqa: F401 - fixtures reused here
    SMALL,
    ckplus_table,
    empty_table,
    face_model_params,
    fer_small,
    utk_small,
)

AGE_RULE = project_parameters("inference")["age_choice"]   # the rule inference uses


def load_params(name: str) -> dict:
    return project_parameters(name)


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
    ratings, users, movies = movielens
    train, test = split_ratings(ratings, 0.2, 42)
    return train, test, users, movies


@pytest.fixture(scope="session")
def systems(split, rec_params, age_bins):
    """Group popularity, the demographic benchmark and the paper's hybrid fitted on the real train split."""
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
    p = face_model_params("smoke")
    p.update({"tracking": False, "workdir": str(tmp_path_factory.mktemp("fm_work"))})
    p["preprocessing"].update(SMALL)
    p["frame_cnn"].update({"max_steps": 3, "train_limit": 120, "backbones": ["face_vgg_xs"], "ten_crop_eval": [False]})
    p["video"]["lstm"]["frame_models"] = ["face_vgg_xs"]
    raf = empty_table()
    ck = empty_table(48)
    frame_cnns, _, _ = face_model_nodes.train_frame_cnns(*fer_small, *utk_small, utk_small[1], *ck, *raf, p,
                                                         load_params("data_engineering")["age_groups"], True)
    return face_model_nodes.assemble_predictor(frame_cnns, {}, {}, {}, p)


def pixels_rows(table, pixels):
    return np.ascontiguousarray(pixels[table["pixel_row"].to_numpy()])


@pytest.fixture(scope="session")
def evaluated(split, systems, params, rec_params, age_bins, tiny_predictor, utk_small, fer_small, ckplus_table):
    """The evaluation nodes end to end on small real data: viewers whose (age group, gender) and emotion have a
    face in the small face sets, real CK+ test sequences as face tracks, the tiny predictor, the fitted systems
    plus the improved hybrid."""
    train, test, users, movies = split
    predictions = nodes.held_out_face_predictions(tiny_predictor, *utk_small, *fer_small, *empty_table(), params,
                                                  AGE_RULE)
    age = predictions[predictions["role"] == "age"]
    have = set(map(tuple, age[["age_group", "gender"]].drop_duplicates().to_numpy()))
    tracks = nodes.held_out_track_predictions(tiny_predictor, *ckplus_table, *empty_table(), *fer_small,
                                              *empty_table(), params)
    viewers = nodes.evaluation_viewers(users, test, {**params, "n_observations": 40})
    viewers = viewers[[(a, g) in have and e in set(predictions["emotion"].dropna())
                       for a, g, e in zip(viewers["age_group"], viewers["gender"], viewers["emotion"])]]
    viewers = viewers.head(params["n_observations"]).reset_index(drop=True).assign(obs_id=lambda d: range(len(d)))
    weights, grid = nodes.improved_hybrid_weights(train, users, movies, params, rec_params, age_bins)
    every = nodes.evaluated_systems(systems, train, users, movies, weights, params, rec_params, age_bins)
    oracle = nodes.oracle_scores(viewers, every, train, test, movies, params, rec_params)
    observations = nodes.evaluation_observations(viewers, predictions, tracks, params)
    predicted = nodes.predicted_scores(observations, every, train, test, movies, params, rec_params)
    prf, differences, target = nodes.prf_by_age_group(oracle, predicted, params, rec_params)
    labelled = nodes.labelled_face_predictions(tiny_predictor, None, params, load_params("data_engineering"),
                                               AGE_RULE)
    products, factors, joint, per_attribute = nodes.face_attribute_accuracy(predictions, observations, tracks,
                                                                            labelled, params)
    summary = summarise_face_models(pd.DataFrame([{"dataset": "fer2013", "split": "test", "attribute": "emotion",
                                         "variant": "source/centre_crop", "accuracy": 0.25}]), pd.DataFrame())
    face_models = nodes.face_models_comparison(summary)
    clusters = nodes.favoured_clusters(every, rec_params, age_bins)
    report = nodes.evaluation_report(products, factors, joint, per_attribute, face_models, prf, differences, target,
                                     weights, clusters, observations, params)
    return {"evaluation_viewers": viewers, "improved_hybrid_weights": weights, "improved_hybrid_validation": grid,
            "evaluation_oracle_scores": oracle, "evaluation_face_predictions": predictions,
            "evaluation_track_predictions": tracks, "labelled_face_predictions": labelled,
            "evaluation_observations": observations, "evaluation_predicted_scores": predicted,
            "prf_by_age_group": prf, "prf_differences": differences, "improved_hybrid_target": target,
            "face_attribute_accuracy": products, "table_iii_factors": factors, "table_iii_joint": joint,
            "face_attribute_accuracy_per_attribute": per_attribute, "face_models_comparison": face_models,
            "favoured_clusters": clusters, "evaluation_report": report,
            "favoured_cluster_heatmap": nodes.favoured_cluster_heatmap(clusters),
            "prf_bar_chart": nodes.prf_bar_chart(prf, params)}
