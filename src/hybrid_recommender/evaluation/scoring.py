"""Run every system on the observations and count hits against the viewer's held-out ratings."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from tqdm.auto import tqdm

from hybrid_recommender.evaluation.statistics import (  # paired_differences: re-exported for the pipeline
    metric_values,
    paired_differences,
    percentile_interval,
    resampled_means,
)
from hybrid_recommender.recommender.base import Recommender, Viewer
from hybrid_recommender.recommender.baselines import DemographicSVD, GlobalSVD
from hybrid_recommender.recommender.ranking_metrics import (
    full_ranking_counts,
    rated_candidates_counts,
)

__all__ = ["ATTRIBUTE_COLUMNS", "aggregate_scores", "estimates_ratings", "paired_differences", "score_observations"]

# the viewer's (age group, gender, emotion) as each source gives them: the truth, or the face predictor's reading of
# a still face or of a video (fused, or one branch of the video emotion model alone)
ATTRIBUTE_COLUMNS = {"oracle": ("age_group", "gender", "emotion"),
                     "still": ("pred_age_group", "pred_gender", "pred_emotion"),
                     "video": ("pred_age_group", "pred_gender", "video_emotion"),
                     "video_cnn_branch": ("pred_age_group", "pred_gender", "video_emotion_cnn_branch"),
                     "video_lstm_branch": ("pred_age_group", "pred_gender", "video_emotion_lstm_branch")}
RELEVANCE = ("liked", "context")


RATING_ESTIMATORS = (DemographicSVD.__name__, GlobalSVD.__name__)


def estimates_ratings(rec: Recommender) -> bool:
    """Whether a recommender's scores are rating estimates (Surprise SVD means), so the rated-candidates protocol
    may require estimate >= threshold as Surprise's FAQ does; other scores only order the movies. A recommender
    loaded from its saved rankings (StoredRecommender) answers by the kind and settings it was saved with."""
    kind = getattr(rec, "kind", type(rec).__name__)
    method = getattr(rec, "method", None) or (getattr(rec, "settings", None) or {}).get("method")
    return kind in RATING_ESTIMATORS or method == "surprise_svd"


def score_observations(observations: pd.DataFrame, systems: Mapping[str, Recommender], train: pd.DataFrame,
                       test: pd.DataFrame, congruent: Mapping[str, frozenset], attributes: str, n: int,
                       relevant_min_rating: int, estimate_threshold: float) -> pd.DataFrame:
    """One row per (observation, system, protocol, relevance): hits, recommended and relevant counts, the viewer's
    number of held-out ratings and n (aggregate_scores' subset rule), the group the system used and (for the
    paper's hybrid) the favoured cluster. rated_candidates_threshold only for systems that estimate ratings."""
    cols = ATTRIBUTE_COLUMNS[attributes]
    history = train.groupby("user_id")["item_id"].agg(frozenset)
    held = test.groupby("user_id")["item_id"].agg(list)
    liked = test[test["rating"] >= relevant_min_rating].groupby("user_id")["item_id"].agg(frozenset)
    rows = []
    for obs in tqdm(observations.to_dict("records"), desc=f"score {attributes} observations", leave=False):
        uid = int(obs["user_id"])
        candidates = held.get(uid, [])
        relevant = {"liked": liked.get(uid, frozenset())}
        relevant["context"] = relevant["liked"] & congruent[obs["emotion"]]   # the viewer's true emotion
        viewer = Viewer(age_group=obs[cols[0]], gender=obs[cols[1]], emotion=obs[cols[2]],
                        rated_item_ids=history.get(uid, frozenset()))
        for name, rec in systems.items():
            group = rec.validate(viewer)
            ranking = rec.ranking(*group)
            top = rec.recommend(viewer, n)
            ex = top.explanation
            ages = ex["group"].get("age_groups") if isinstance(ex.get("group"), dict) else None
            group_used = ",".join(ages) if isinstance(ages, list) else str(ages or "")
            info = {"obs_id": obs["obs_id"], "user_id": uid, "age_group": obs["age_group"], "system": name,
                    "attributes": attributes, "group_used": group_used,
                    "fallback": ex.get("fallback", "none"), "favoured_cluster": int(ex.get("favoured_cluster", -1)),
                    "top_items": " ".join(map(str, top.item_ids)), "held_out": len(candidates), "top_n": int(n)}
            for rel_name, rel in relevant.items():
                counts = {"rated_candidates": rated_candidates_counts(ranking.item_ids, ranking.scores, candidates,
                                                                      rel, n, None)}
                if estimates_ratings(rec):
                    counts["rated_candidates_threshold"] = rated_candidates_counts(
                        ranking.item_ids, ranking.scores, candidates, rel, n, estimate_threshold)
                counts["full_ranking"] = full_ranking_counts(top.item_ids, rel)
                for protocol, (h, k, m) in counts.items():
                    rows.append({**info, "protocol": protocol, "relevance": rel_name, "hits": h, "recommended": k,
                                 "relevant": m})
    return pd.DataFrame(rows)


def aggregate_scores(scores: pd.DataFrame, n_boot: int, level: float, seed: int) -> pd.DataFrame:
    """Means over observations with cluster-bootstrap percentile intervals (viewers resampled within age groups,
    stratified for "all"; `statistics.viewer_draws`) per (system, attributes, relevance, protocol, rule) and age
    group: precision, recall, mean of per-observation F1 and F1 of the mean precision and recall. The
    rated-candidates protocols count only viewers with more than top_n held-out ratings (`subset`)."""
    info, est, boot = resampled_means(scores, n_boot, seed)
    out = info.drop(columns="obs_ids")
    for name, (e, b) in metric_values(est, boot).items():
        out[name] = e
        out[f"{name}_low"], out[f"{name}_high"] = percentile_interval(b, level)
    return out[AGGREGATE_COLUMNS]


AGGREGATE_COLUMNS = ["system", "attributes", "relevance", "protocol", "rule", "age_group", "observations", "viewers",
                     "excluded_observations", "subset", "undefined_precision", "undefined_recall",
                     *(f"{m}{s}" for m in ("precision", "recall", "mean_f1", "f1_of_means")
                       for s in ("", "_low", "_high"))]
