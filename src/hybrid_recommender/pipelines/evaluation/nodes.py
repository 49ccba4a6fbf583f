"""Nodes of evaluation: thin wrappers around hybrid_recommender.evaluation, named for what they return."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from hybrid_recommender.evaluation import observations as obs_mod
from hybrid_recommender.evaluation import reporting
from hybrid_recommender.evaluation.observation_runs import (
    headline_metrics,
    log_evaluation,
    run_params,
)
from hybrid_recommender.evaluation.scoring import aggregate_scores, score_observations
from hybrid_recommender.recommender import Recommender
from hybrid_recommender.recommender.improved import (
    ImprovedHybridRecommender,
    congruent_items,
    select_improved_hybrid,
)

log = logging.getLogger(__name__)


def _roles(rec_params: Mapping) -> dict[str, str]:
    return {"proposed": f"hybrid_{rec_params['hybrid']['method']}", "benchmark": "demographic_svd",
            "improved": ImprovedHybridRecommender.name}


def _improved(params: Mapping, rec_params: Mapping, age_bins: Mapping) -> dict:
    """Constructor arguments of the improved hybrid (weights aside)."""
    groups = rec_params["groups"]
    return {"affinity": rec_params["affinity"], "stance": params["context_stance"],
            "affinity_aggregation": rec_params["hybrid"]["affinity_aggregation"],
            "min_users": groups["min_users"], "min_ratings": groups["min_ratings"],
            "age_bin_edges": age_bins["edges"], "age_groups": age_bins["labels"]}


# ------------------------------------------------------------------------------------------ face-free part
def evaluation_viewers(users: pd.DataFrame, test: pd.DataFrame, params: Mapping) -> pd.DataFrame:
    """The observations' viewers (stratified over the paper's age groups) and their drawn emotions."""
    viewers = obs_mod.sample_viewers(users, test, params)
    log.info("evaluation: %d observations, per age group %s", len(viewers),
             viewers.groupby("age_group", sort=False).size().to_dict())
    return viewers


def improved_hybrid_weights(train: pd.DataFrame, users: pd.DataFrame, movies: pd.DataFrame, params: Mapping,
                            rec_params: Mapping, age_bins: Mapping) -> tuple[dict, pd.DataFrame]:
    """The improved hybrid's weights chosen on a validation split of the training ratings, and the grid."""
    cfg = params["improved_hybrid"]
    dist = params["emotion_distribution"]
    weights, grid = select_improved_hybrid(
        train, users, movies, rec_params["affinity"], cfg["grid"], cfg["validation_fraction"], int(params["seed"]),
        int(params["top_n"]), int(params["relevant_min_rating"]), list(dist), list(dist.values()),
        params["context_stance"], float(cfg["liked_tolerance"]), **{k: v for k, v in _improved(params, rec_params, age_bins).items()
                                     if k != "affinity"})
    log.info("improved hybrid: chose %s on %d validation users", weights, int(grid["validation_users"].iloc[0]))
    return weights, grid


def evaluated_systems(recommenders: Mapping[str, Recommender], train: pd.DataFrame, users: pd.DataFrame,
                      movies: pd.DataFrame, weights: Mapping, params: Mapping, rec_params: Mapping,
                      age_bins: Mapping) -> dict[str, Recommender]:
    """Every recommender of the recommendation pipeline plus the improved hybrid fitted on the train split."""
    improved = ImprovedHybridRecommender(**_improved(params, rec_params, age_bins), **weights)
    improved.fit(train, users, movies, precompute=False)
    return {**dict(recommenders), improved.name: improved}


def _score(observations, systems, train, test, movies, params, rec_params, attributes) -> pd.DataFrame:
    start = time.perf_counter()
    congruent = congruent_items(movies, rec_params["affinity"], params["context_stance"],
                                rec_params["hybrid"]["affinity_aggregation"])
    scores = score_observations(observations, systems, train, test, congruent, attributes, int(params["top_n"]),
                                int(params["relevant_min_rating"]), float(params["estimate_threshold"]))
    log.info("evaluation: scored %d observations x %d systems (%s attributes) in %.1fs", len(observations),
             len(systems), attributes, time.perf_counter() - start)
    return scores


def oracle_scores(viewers: pd.DataFrame, systems: Mapping[str, Recommender], train: pd.DataFrame,
                  test: pd.DataFrame, movies: pd.DataFrame, params: Mapping, rec_params: Mapping) -> pd.DataFrame:
    """Hit counts of every system with the viewers' true age group, gender and emotion (no face model)."""
    return _score(viewers, systems, train, test, movies, params, rec_params, "oracle")


def prf_by_age_group_oracle(scores: pd.DataFrame, params: Mapping, rec_params: Mapping) -> tuple[pd.DataFrame, str]:
    """Precision/recall/F1 by age group with oracle attributes, both protocols and rules (table and markdown)."""
    table = _prf(scores, params, rec_params)
    md = ("# Precision / recall / F1 at N, oracle attributes (no face model)\n\n"
          + reporting.prf_markdown(table, list(dict.fromkeys(table["system"])), "oracle", "liked") + "\n")
    return table, md


def _prf(scores: pd.DataFrame, params: Mapping, rec_params: Mapping) -> pd.DataFrame:
    boot = params["bootstrap"]
    agg = aggregate_scores(scores, int(boot["resamples"]), float(boot["level"]), int(params["seed"]))
    return reporting.prf_by_age_group(agg, {k: v for k, v in _roles(rec_params).items() if k != "improved"})


# ------------------------------------------------------------------------------------------------ faces
def _face_tables(params: Mapping, tables: Mapping[str, tuple[pd.DataFrame, np.ndarray]]):
    faces = params["faces"]
    splits = faces["splits"]
    age_name, emo_name = faces["age_dataset"], faces["emotion_dataset"]
    for name in (age_name, emo_name):
        if name not in tables:
            raise ValueError(f"evaluation.faces names {name!r}; expected one of {sorted(tables)}")
    age = obs_mod.held_out_faces(tables[age_name][0], splits, ["age_group", "gender"], age_name)
    age = age[age["age_group"].isin(list(params["age_groups"]))]
    emo = obs_mod.held_out_faces(tables[emo_name][0], splits, ["emotion"], emo_name)
    emo = emo[emo["emotion"].isin(list(params["emotion_distribution"]))]
    return (age, tables[age_name][1]), (emo, tables[emo_name][1])


def held_out_face_predictions(predictor, utkface_faces: pd.DataFrame, utkface_pixels: np.ndarray,
                              fer2013_faces: pd.DataFrame, fer2013_pixels: np.ndarray, rafdb_faces: pd.DataFrame,
                              rafdb_pixels: np.ndarray, params: Mapping) -> pd.DataFrame:
    """The face predictor's labels for every held-out face of the paper's age groups (age faces) and of the
    configured emotions (emotion faces): Table III is computed from them, observations look them up."""
    start = time.perf_counter()
    tables = {"utkface": (utkface_faces, utkface_pixels), "fer2013": (fer2013_faces, fer2013_pixels),
              "rafdb": (rafdb_faces, rafdb_pixels)}
    (age, age_px), (emo, emo_px) = _face_tables(params, tables)
    out = pd.concat([obs_mod.predict_faces(predictor, age, age_px).assign(role="age"),
                     obs_mod.predict_faces(predictor, emo, emo_px).assign(role="emotion")], ignore_index=True)
    log.info("evaluation: predicted %d age faces and %d emotion faces in %.1fs", len(age), len(emo),
             time.perf_counter() - start)
    return out


def evaluation_observations(viewers: pd.DataFrame, predictions: pd.DataFrame, params: Mapping) -> pd.DataFrame:
    """Each viewer with a composite face (matching held-out faces) and the predictor's attributes for it."""
    age = predictions[predictions["role"] == "age"]
    emo = predictions[predictions["role"] == "emotion"]
    observed = obs_mod.assign_faces(viewers, age, emo, int(params["seed"]) + 1)
    observed = obs_mod.attach_predictions(observed, predictions.drop_duplicates("face_id"))
    log.info("evaluation: all three attributes right on %.1f%% of the observations",
             100 * observed["attributes_right"].mean())
    return observed


def predicted_scores(observations: pd.DataFrame, systems: Mapping[str, Recommender], train: pd.DataFrame,
                     test: pd.DataFrame, movies: pd.DataFrame, params: Mapping, rec_params: Mapping) -> pd.DataFrame:
    """Hit counts of every system with the attributes the face predictor read from the composite faces."""
    return _score(observations, systems, train, test, movies, params, rec_params, "predicted")


def prf_by_age_group(oracle: pd.DataFrame, predicted: pd.DataFrame, params: Mapping,
                     rec_params: Mapping) -> tuple[pd.DataFrame, pd.DataFrame]:
    """P/R/F1 by age group for predicted and oracle attributes (paper beside ours), and the improved hybrid's
    target check against group popularity and the benchmark."""
    table = _prf(pd.concat([predicted, oracle], ignore_index=True), params, rec_params)
    target = reporting.improved_hybrid_target(table, ImprovedHybridRecommender.name,
                                              ["group_popularity", "demographic_svd"],
                                              int(params["improved_hybrid"]["target_min_observations"]))
    return table, target


def face_attribute_accuracy(predictions: pd.DataFrame, observations: pd.DataFrame,
                            params: Mapping) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table III (composite faces) and the per-attribute accuracies, beside the paper."""
    return (reporting.face_attribute_accuracy(predictions, list(params["age_groups"])),
            reporting.per_attribute_accuracy(predictions, observations))


def face_models_comparison(summary: pd.DataFrame) -> pd.DataFrame:
    """The face models' summary (CNN branch, LSTM branch, fused, ...) beside the paper's AFEW numbers."""
    return reporting.face_models_comparison(summary)


def favoured_clusters(recommenders: Mapping[str, Recommender], rec_params: Mapping,
                      age_bins: Mapping) -> pd.DataFrame:
    """Fig. 5's data: the paper's hybrid's favoured cluster for every (gender, age group, emotion)."""
    return reporting.favoured_clusters(recommenders[_roles(rec_params)["proposed"]], list(age_bins["labels"]))


def favoured_cluster_heatmap(clusters: pd.DataFrame) -> plt.Figure:
    """Fig. 5 as a heatmap."""
    return reporting.favoured_cluster_heatmap(clusters)


def prf_bar_chart(prf: pd.DataFrame, params: Mapping) -> plt.Figure:
    """P/R/F1 bars by age group (predicted attributes) for both protocols, the paper's values marked."""
    return reporting.prf_bar_chart(prf, list(dict.fromkeys(prf["system"])), rule=params["plot_rule"])


def evaluation_report(table_iii: pd.DataFrame, per_attribute: pd.DataFrame, face_models: pd.DataFrame,
                      prf: pd.DataFrame, target: pd.DataFrame, weights: Mapping, clusters: pd.DataFrame,
                      observations: pd.DataFrame, params: Mapping) -> str:
    """The markdown report: every table, paper vs ours."""
    settings = {"top_n": params["top_n"], "relevant_min_rating": params["relevant_min_rating"],
                "estimate_threshold": params["estimate_threshold"], "n_boot": params["bootstrap"]["resamples"],
                "seed": params["seed"], "min_observations": params["improved_hybrid"]["target_min_observations"]}
    return reporting.evaluation_report(table_iii, per_attribute, face_models, prf, target, weights, clusters,
                                       observations, list(dict.fromkeys(prf["system"])), settings)


def evaluation_mlflow_runs(observations: pd.DataFrame, oracle: pd.DataFrame, predicted: pd.DataFrame,
                           prf: pd.DataFrame, table_iii: pd.DataFrame, per_attribute: pd.DataFrame,
                           face_models: pd.DataFrame, target: pd.DataFrame, clusters: pd.DataFrame, report: str,
                           prf_chart: plt.Figure, cluster_heatmap: plt.Figure, weights: Mapping, params: Mapping,
                           rec_params: Mapping) -> dict:
    """A new MLflow parent run for this evaluation (tables, the two plots, report as artifacts; headline metrics)
    with one child run per observation (its params and every system's metrics); returns the run ids."""
    roles = _roles(rec_params)
    artifacts = {"prf_by_age_group.csv": prf, "face_attribute_accuracy.csv": table_iii,
                 "face_attribute_accuracy_per_attribute.csv": per_attribute, "face_models_comparison.csv": face_models,
                 "improved_hybrid_target.csv": target, "favoured_clusters.csv": clusters,
                 "observations.csv": observations, "evaluation_report.md": report,
                 "prf_by_age_group.png": prf_chart, "favoured_clusters.png": cluster_heatmap}
    scores = pd.concat([predicted, oracle], ignore_index=True)
    out = log_evaluation(observations, scores, headline_metrics(prf, table_iii, observations),
                         run_params(params, roles, weights, len(observations)), artifacts, roles["proposed"],
                         params["mlflow"]["experiment"], params["mlflow"]["run_name"])
    log.info("evaluation: MLflow parent run %s with %d observation runs (%.1fs)", out["parent_run_id"],
             out["child_runs"], out["seconds"])
    return out
