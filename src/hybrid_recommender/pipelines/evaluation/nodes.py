"""Nodes of evaluation: thin wrappers around hybrid_recommender.evaluation, named for what they return."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from hybrid_recommender.evaluation import observations as obs_mod
from hybrid_recommender.evaluation import provenance, reporting, table_iii
from hybrid_recommender.evaluation.observation_runs import (
    log_evaluation,
    parent_metrics,
    run_params,
)
from hybrid_recommender.evaluation.results import render_results
from hybrid_recommender.evaluation.scoring import (
    ATTRIBUTE_COLUMNS,
    aggregate_scores,
    paired_differences,
    score_observations,
)
from hybrid_recommender.ingest.labelled_faces import read_labelled_faces
from hybrid_recommender.ingest.sources import DataSource
from hybrid_recommender.paths import PROJECT_ROOT
from hybrid_recommender.recommender import Recommender
from hybrid_recommender.recommender.improved import (
    ImprovedHybridRecommender,
    congruent_items,
    select_improved_hybrid,
)

log = logging.getLogger(__name__)
PREDICTED_SOURCES = ("still", "video", "video_cnn_branch", "video_lstm_branch")
PREDICTION_COLUMNS = ["face_id", "dataset", "age_group", "gender", "emotion", "pred_age_group", "pred_age_group_prob",
                      "pred_age_rule", "pred_age_expected", "pred_gender", "pred_gender_prob", "pred_emotion",
                      "pred_emotion_prob", "role"]


def _age_bins_of(data_params: Mapping) -> tuple[list, list]:
    return list(data_params["age_groups"]["edges"]), list(data_params["age_groups"]["labels"])


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
        params["context_stance"], float(cfg["liked_tolerance"]), int(cfg["max_validation_users"]),
        **{k: v for k, v in _improved(params, rec_params, age_bins).items() if k != "affinity"})
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
    age_name, emo_name = faces["age_dataset"], faces["emotion_dataset"]
    for name in (age_name, emo_name):
        if name not in tables:
            raise ValueError(f"evaluation.faces names {name!r}; expected one of {sorted(tables)}")
    age = obs_mod.held_out_faces(tables[age_name][0], ["age_group", "gender"], age_name)
    age = age[age["age_group"].isin(list(params["age_groups"]))]
    emo = obs_mod.held_out_faces(tables[emo_name][0], ["emotion"], emo_name)
    emo = emo[emo["emotion"].isin(list(params["emotion_distribution"]))]
    return (age, tables[age_name][1]), (emo, tables[emo_name][1])


def held_out_face_predictions(predictor, utkface_faces: pd.DataFrame, utkface_pixels: np.ndarray,
                              fer2013_faces: pd.DataFrame, fer2013_pixels: np.ndarray, rafdb_faces: pd.DataFrame,
                              rafdb_pixels: np.ndarray, params: Mapping, age_rule: Mapping) -> pd.DataFrame:
    """The face predictor's labels for every test face of the paper's age groups (age faces) and of the
    configured emotions (emotion faces): Table III is computed from them, observations look them up. The age
    group is chosen as inference chooses it (``age_rule``: ``inference.age_choice``)."""
    start = time.perf_counter()
    tables = {"utkface": (utkface_faces, utkface_pixels), "fer2013": (fer2013_faces, fer2013_pixels),
              "rafdb": (rafdb_faces, rafdb_pixels)}
    (age, age_px), (emo, emo_px) = _face_tables(params, tables)
    out = pd.concat([obs_mod.predict_faces(predictor, age, age_px, age_rule=age_rule).assign(role="age"),
                     obs_mod.predict_faces(predictor, emo, emo_px, age_rule=age_rule).assign(role="emotion")],
                    ignore_index=True)
    log.info("evaluation: predicted %d age faces and %d emotion faces in %.1fs", len(age), len(emo),
             time.perf_counter() - start)
    return out


def held_out_track_predictions(predictor, ckplus_faces: pd.DataFrame, ckplus_pixels: np.ndarray,
                               afew_faces: pd.DataFrame, afew_pixels: np.ndarray, fer2013_faces: pd.DataFrame,
                               fer2013_pixels: np.ndarray, rafdb_faces: pd.DataFrame, rafdb_pixels: np.ndarray,
                               params: Mapping) -> pd.DataFrame:
    """The video path (predict_sequence: both branches, fused) on every test sequence of the configured sequence
    data sets (per emotion, the first that shows it) and, for emotions no sequence shows, on every test still of
    that emotion as a one-frame track."""
    start = time.perf_counter()
    emotions = list(params["emotion_distribution"])
    sequences = {"ckplus": (ckplus_faces, ckplus_pixels), "afew": (afew_faces, afew_pixels)}
    parts, shown = [], set()
    for name in params["faces"]["track_datasets"]:
        faces, pixels = sequences[name]
        tracks = obs_mod.held_out_tracks(faces, emotions)
        tracks = tracks[~tracks["emotion"].isin(shown)]
        shown |= set(tracks["emotion"])
        if len(tracks):
            parts.append(obs_mod.predict_tracks(predictor, tracks, pixels, f"video path: {name} test sequences"))
    stills = {"fer2013": (fer2013_faces, fer2013_pixels), "rafdb": (rafdb_faces, rafdb_pixels)}
    name = params["faces"]["emotion_dataset"]
    unseen = [e for e in emotions if e not in shown]
    if unseen:
        faces = obs_mod.held_out_faces(stills[name][0], ["emotion"], name)
        faces = faces[faces["emotion"].isin(unseen)]
        parts.append(obs_mod.predict_tracks(predictor, obs_mod.still_tracks(faces), stills[name][1],
                                            f"video path: {name} stills of {', '.join(unseen)}"))
    out = pd.concat(parts, ignore_index=True)
    log.info("evaluation: video path on %d test sequences and %d one-frame stills in %.1fs",
             int((out["kind"] == "sequence").sum()), int((out["kind"] != "sequence").sum()),
             time.perf_counter() - start)
    return out


def evaluation_observations(viewers: pd.DataFrame, predictions: pd.DataFrame, tracks: pd.DataFrame,
                            params: Mapping) -> pd.DataFrame:
    """Each viewer with a composite still face and a face track, and the predictor's attributes from both paths."""
    age = predictions[predictions["role"] == "age"]
    emo = predictions[predictions["role"] == "emotion"]
    observed = obs_mod.assign_faces(viewers, age, emo, int(params["seed"]) + 1)
    observed = obs_mod.assign_tracks(observed, tracks, int(params["seed"]) + 2)
    observed = obs_mod.attach_predictions(observed, predictions.drop_duplicates("face_id"))
    log.info("evaluation: all three attributes right on %.1f%% of the observations (still), %.1f%% (video)",
             100 * observed["attributes_right"].mean(), 100 * observed["attributes_right_video"].mean())
    return observed


def predicted_scores(observations: pd.DataFrame, systems: Mapping[str, Recommender], train: pd.DataFrame,
                     test: pd.DataFrame, movies: pd.DataFrame, params: Mapping, rec_params: Mapping) -> pd.DataFrame:
    """Hit counts of every system with the attributes the face predictor read: from the still faces, from the
    face tracks (fused) and from each video branch alone (where the predictor has it), on the same observations."""
    sources = [a for a in PREDICTED_SOURCES if observations[ATTRIBUTE_COLUMNS[a][2]].notna().all()]
    return pd.concat([_score(observations, systems, train, test, movies, params, rec_params, a) for a in sources],
                     ignore_index=True)


def prf_by_age_group(oracle: pd.DataFrame, predicted: pd.DataFrame, params: Mapping,
                     rec_params: Mapping) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """P/R/F1 by age group for every attribute source (paper beside ours; intervals from resampling viewers), the
    paired differences proposed - benchmark and proposed - popularity (same resamples), and the improved
    hybrid's target check against group popularity and the benchmark."""
    scores = pd.concat([predicted, oracle], ignore_index=True)
    table = _prf(scores, params, rec_params)
    boot, roles = params["bootstrap"], _roles(rec_params)
    differences = paired_differences(scores, [(roles["proposed"], roles["benchmark"]),
                                              (roles["proposed"], "group_popularity")],
                                     int(boot["resamples"]), float(boot["level"]), int(params["seed"]))
    target = reporting.improved_hybrid_target(table, ImprovedHybridRecommender.name,
                                              ["group_popularity", "demographic_svd"],
                                              int(params["improved_hybrid"]["target_min_observations"]))
    return table, differences, target


def labelled_face_predictions(predictor, source: DataSource | None, params: Mapping,
                              data_params: Mapping, age_rule: Mapping) -> pd.DataFrame:
    """The predictor's labels for a user's own faces labelled with all three attributes (empty without them)."""
    if source is None:
        return pd.DataFrame(columns=PREDICTION_COLUMNS)
    table = read_labelled_faces(source, data_params["utkface"]["image_size"], *_age_bins_of(data_params))
    if len(table.skips):
        log.warning("labelled faces: %d rows skipped (%s)", len(table.skips),
                    "; ".join(table.skips["reason"].value_counts().head(3).index))
    return obs_mod.predict_faces(predictor, table.index, table.pixels, age_rule=age_rule).assign(role="joint")


def face_attribute_accuracy(predictions: pd.DataFrame, observations: pd.DataFrame, tracks: pd.DataFrame,
                            labelled: pd.DataFrame, params: Mapping):
    """Table III as the product of its margins, the margins with Wilson intervals, the joint table where faces
    carry all three labels, and each attribute's accuracy per path (still, video fused, each branch)."""
    groups = list(params["age_groups"])
    factors = table_iii.table_iii_factors(predictions, groups)
    joint, _ = table_iii.table_iii_joint(labelled, groups)
    if labelled.empty:
        joint = joint.iloc[:0]           # no labelled faces: the table's header only (the CSV stays readable)
    return (table_iii.table_iii_products(factors, groups), factors, joint,
            reporting.per_attribute_accuracy(predictions, observations, tracks))


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


def evaluation_report(products: pd.DataFrame, factors: pd.DataFrame, joint: pd.DataFrame,
                      per_attribute: pd.DataFrame, face_models: pd.DataFrame, prf: pd.DataFrame,
                      differences: pd.DataFrame, target: pd.DataFrame, weights: Mapping, clusters: pd.DataFrame,
                      observations: pd.DataFrame, params: Mapping) -> str:
    """The markdown report: every table, paper vs ours."""
    settings = {"top_n": params["top_n"], "relevant_min_rating": params["relevant_min_rating"],
                "estimate_threshold": params["estimate_threshold"], "n_boot": params["bootstrap"]["resamples"],
                "seed": params["seed"], "min_observations": params["improved_hybrid"]["target_min_observations"]}
    table_md = "\n\n".join([table_iii.products_markdown(products), "Margins (Wilson 95% intervals):",
                             table_iii.factors_markdown(factors),
                             table_iii.joint_markdown(joint) if len(joint) else
                             "No joint table: no faces labelled with all three attributes (docs/evaluation.md "
                             "gives the layout of a user's own labelled faces)."])
    return reporting.evaluation_report(table_md, per_attribute, face_models, prf, differences, target, weights,
                                       clusters, observations, list(dict.fromkeys(prf["system"])), settings)


def evaluation_provenance(predictor, inference: Mapping, fer2013_source: DataSource | None,
                          utkface_source: DataSource | None, ckplus_source: DataSource | None,
                          rafdb_source: DataSource | None, afew_source: DataSource | None,
                          movielens_100k_source: DataSource | None, movielens_1m_source: DataSource | None,
                          parameters: Mapping) -> dict[str, str]:
    """What produced this evaluation: git commit, the predictor's hashes, every seed, each data set's fingerprint
    (of the MovieLens version the run read: ``data_engineering.movielens.version``)."""
    version = parameters["data_engineering"]["movielens"]["version"]
    sources = {"fer2013": fer2013_source, "utkface": utkface_source, "ckplus": ckplus_source,
               "rafdb": rafdb_source, "afew": afew_source,
               f"movielens_{version}": movielens_1m_source if version == "1m" else movielens_100k_source}
    inventory = pd.DataFrame([{"dataset": k, "present": v is not None, "path": str(v.path) if v else ""}
                              for k, v in sources.items()])
    card = predictor.model_card
    fer = parameters["data_engineering"]["fer2013"]
    split = (f"val {fer['validation_fraction']:g} of Training (stratified, seed {fer['split_seed']}), test PublicTest"
             if fer["protocol"] == "carved" else "val PublicTest, test PrivateTest")
    return {"environment": str(card.get("environment", "unknown")),
            "protocol": f"test splits only (face_splits.csv); FER2013 {fer['protocol']}: {split}",
            "predictor_trained_at": str(card.get("trained_at", "unknown")),
            **provenance.evaluation_provenance(inventory, PROJECT_ROOT / inference["resources"]["predictor"],
                                               parameters)}


def evaluation_mlflow_runs(observations: pd.DataFrame, oracle: pd.DataFrame, predicted: pd.DataFrame,
                           prf: pd.DataFrame, differences: pd.DataFrame, products: pd.DataFrame,
                           factors: pd.DataFrame, per_attribute: pd.DataFrame, face_models: pd.DataFrame,
                           target: pd.DataFrame, clusters: pd.DataFrame, report: str, prf_chart: plt.Figure,
                           cluster_heatmap: plt.Figure, weights: Mapping, run_provenance: Mapping, params: Mapping,
                           rec_params: Mapping) -> tuple[dict, dict]:
    """A new MLflow parent run for this evaluation (per-age metrics with intervals and paired differences,
    provenance as params and tags, tables and plots as artifacts) with one run per observation in the
    observations experiment; returns the run ids, and the provenance with the parent run it went to."""
    roles = _roles(rec_params)
    artifacts = {"prf_by_age_group.csv": prf, "prf_differences.csv": differences,
                 "face_attribute_accuracy.csv": products, "table_iii_factors.csv": factors,
                 "face_attribute_accuracy_per_attribute.csv": per_attribute, "face_models_comparison.csv": face_models,
                 "improved_hybrid_target.csv": target, "favoured_clusters.csv": clusters,
                 "observations.csv": observations, "evaluation_report.md": report,
                 "prf_by_age_group.png": prf_chart, "favoured_clusters.png": cluster_heatmap}
    scores = pd.concat([predicted, oracle], ignore_index=True)
    out = log_evaluation(observations, scores, parent_metrics(prf, products, observations, differences),
                         run_params(params, roles, weights, len(observations)), artifacts, roles["proposed"],
                         params["mlflow"]["experiment"], params["mlflow"]["run_name"], provenance=run_provenance)
    log.info("evaluation: MLflow parent run %s with %d observation runs in experiment %s (%.1fs)",
             out["parent_run_id"], out["child_runs"], out["observations_experiment_id"], out["seconds"])
    return out, {**run_provenance, "parent_run_id": out["parent_run_id"]}


def evaluation_results_markdown(per_attribute: pd.DataFrame, prf: pd.DataFrame, differences: pd.DataFrame,
                                factors: pd.DataFrame, run_provenance: Mapping, params: Mapping) -> str:
    """The docs' results section, rendered from this run's tables (scripts/publish_results.py publishes it)."""
    tables = {"per_attribute": per_attribute, "prf": prf, "differences": differences, "factors": factors}
    return render_results(_as_saved(tables), run_provenance, run_provenance.get("environment", "run"))


def _as_saved(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The tables as their CSV files read back, so the rendering here equals one from the published copies."""
    return {k: pd.read_csv(io.StringIO(t.to_csv(index=False))) for k, t in tables.items()}
