"""Run every system on the observations and count hits against the viewer's held-out ratings."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from tqdm.auto import tqdm

from hybrid_recommender.recommender.base import Recommender, Viewer
from hybrid_recommender.recommender.baselines import DemographicSVD, GlobalSVD
from hybrid_recommender.recommender.ranking_metrics import (
    PROTOCOLS,
    UNDEFINED_RULES,
    bootstrap_means,
    full_ranking_counts,
    rated_candidates_counts,
    with_metrics,
)

ATTRIBUTE_COLUMNS = {"oracle": ("age_group", "gender", "emotion"),
                     "predicted": ("pred_age_group", "pred_gender", "pred_emotion")}
RELEVANCE = ("liked", "context")


def estimates_ratings(rec: Recommender) -> bool:
    """Whether a recommender's scores are rating estimates (Surprise SVD means), so the rated-candidates protocol
    may require estimate >= threshold as Surprise's FAQ does; other scores only order the movies."""
    return isinstance(rec, (DemographicSVD, GlobalSVD)) or getattr(rec, "method", None) == "surprise_svd"


def score_observations(observations: pd.DataFrame, systems: Mapping[str, Recommender], train: pd.DataFrame,
                       test: pd.DataFrame, congruent: Mapping[str, frozenset], attributes: str, n: int,
                       relevant_min_rating: int, estimate_threshold: float) -> pd.DataFrame:
    """One row per (observation, system, protocol, relevance): hits, recommended and relevant counts, plus the
    group the system used and (for the paper's hybrid) the favoured cluster."""
    cols = ATTRIBUTE_COLUMNS[attributes]
    history = train.groupby("user_id")["item_id"].agg(frozenset)
    held = test.groupby("user_id")["item_id"].agg(list)
    liked = test[test["rating"] >= relevant_min_rating].groupby("user_id")["item_id"].agg(frozenset)
    rows = []
    for obs in tqdm(observations.to_dict("records"), desc=f"score {attributes} observations", leave=False):
        uid = int(obs["user_id"])
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
            info = {"obs_id": obs["obs_id"], "user_id": uid, "age_group": obs["age_group"], "system": name,
                    "attributes": attributes, "group_used": ",".join(ages) if isinstance(ages, list) else str(ages or ""),
                    "fallback": ex.get("fallback", "none"), "favoured_cluster": int(ex.get("favoured_cluster", -1)),
                    "top_items": " ".join(map(str, top.item_ids))}
            threshold = estimate_threshold if estimates_ratings(rec) else None
            for rel_name, rel in relevant.items():
                counts = {"full_ranking": full_ranking_counts(top.item_ids, rel),
                          "rated_candidates": rated_candidates_counts(ranking.item_ids, ranking.scores, held[uid],
                                                                      rel, n, threshold)}
                for protocol in PROTOCOLS:
                    h, k, m = counts[protocol]
                    rows.append({**info, "protocol": protocol, "relevance": rel_name, "hits": h, "recommended": k,
                                 "relevant": m})
    return pd.DataFrame(rows)


def aggregate_scores(scores: pd.DataFrame, n_boot: int, level: float, seed: int) -> pd.DataFrame:
    """Means with percentile bootstrap intervals per (system, attributes, relevance, protocol, rule) and age group
    (and `all`): precision, recall, mean of per-observation F1 and F1 of the mean precision and recall."""
    keys = ["system", "attributes", "relevance", "protocol"]
    rows = []
    for rule in UNDEFINED_RULES:
        table = with_metrics(scores, rule)
        for key, part in table.groupby(keys, sort=False):
            for age_group, sub in [*part.groupby("age_group", sort=False), ("all", part)]:
                stats = bootstrap_means({"precision": sub["precision"], "recall": sub["recall"], "f1": sub["f1"]},
                                        n_boot, level, seed)
                row = {**dict(zip(keys, key)), "rule": rule, "age_group": age_group, "observations": len(sub),
                       "undefined_precision": int((sub["recommended"] == 0).sum()),
                       "undefined_recall": int((sub["relevant"] == 0).sum())}
                for name, out in (("precision", "precision"), ("recall", "recall"), ("f1", "mean_f1"),
                                  ("f1_of_means", "f1_of_means")):
                    row[out], row[f"{out}_low"], row[f"{out}_high"] = stats[name]
                rows.append(row)
    return pd.DataFrame(rows)
