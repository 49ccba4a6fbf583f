"""Nodes of recommendation: thin wrappers around hybrid_recommender.recommender, named for what they return."""

from __future__ import annotations

import json
import logging

import pandas as pd

from hybrid_recommender.recommender import Recommender, Viewer, build_recommenders
from hybrid_recommender.recommender.affinity import affinity_table
from hybrid_recommender.recommender.base import GENDERS
from hybrid_recommender.recommender.ranking_metrics import (
    compare_recommenders,
    split_ratings,
)

log = logging.getLogger(__name__)


def train_test_ratings(ratings: pd.DataFrame, params: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-user random holdout of the ratings (seeded): (train, test)."""
    train, test = split_ratings(ratings, params["split"]["test_fraction"], params["seed"])
    log.info("ratings split: %d train, %d test", len(train), len(test))
    return train, test


def emotion_genre_affinity(params: dict) -> pd.DataFrame:
    """The emotion x genre affinity matrices of every listed stance, stacked (for reporting)."""
    return affinity_table(params["affinity"], params["list_stances"])


def fitted_recommenders(train: pd.DataFrame, users: pd.DataFrame, movies: pd.DataFrame, clusters: pd.DataFrame,
                        params: dict, age_bins: dict) -> dict[str, Recommender]:
    """Every recommender fitted on the training ratings, with its per-group rankings precomputed.

    ``recommendation.engine`` picks the rating model: ``surprise`` (Surprise SVD per group / cluster) or ``spark``
    (one PySpark ALS, fitted once on ``train`` in the session that hooks.SparkHooks started; the pandas training
    ratings go to Spark through Arrow, see docs/recommendation.md "The Spark engine").
    """
    engine = params.get("engine", "surprise")
    log.info("recommendation engine: %s", engine)
    recs = build_recommenders(params, params["affinity"], age_bins)
    for name, rec in recs.items():
        log.info("fitting %s", name)
        rec.fit(train, users, movies, clusters, precompute=False)
        rec.precompute(progress=True)
    return recs


def hybrid_recommender(recommenders: dict[str, Recommender], params: dict) -> Recommender:
    """The configured hybrid recommender (method, stance), saved on its own for real-time use."""
    return recommenders[f"hybrid_{params['hybrid']['method']}"]


def _group_rows(rec: Recommender, movies: pd.DataFrame, n: int, stance: str | None) -> list[dict]:
    titles = movies.set_index("item_id")["title"]
    rows = []
    for age_group in rec.age_groups:
        for gender in GENDERS:
            for emotion in rec.emotions:
                viewer = Viewer(age_group=age_group, gender=gender, emotion=emotion)
                got = rec.recommend(viewer, n, stance=stance) if stance else rec.recommend(viewer, n)
                if len(got) == 0:
                    raise ValueError(f"{rec.name}: empty list for {(age_group, gender, emotion, stance)}")
                ex = got.explanation
                group = ex.get("group", {})
                for rank, (item, score) in enumerate(zip(got.item_ids, got.scores), start=1):
                    rows.append({
                        "recommender": rec.name, "stance": stance or "none", "age_group": age_group,
                        "gender": gender, "emotion": emotion, "rank": rank, "item_id": item,
                        "title": titles.get(item, ""), "score": score,
                        "favoured_cluster": ex.get("favoured_cluster", -1),
                        "favoured_cluster_top_genres": ex.get("favoured_cluster_top_genres", ""),
                        "fallback": ex.get("fallback", "none"),
                        "group_age_groups": ",".join(group.get("age_groups", [])) if isinstance(
                            group.get("age_groups"), list) else str(group.get("age_groups", "")),
                        "group_gender": group.get("gender", ""), "group_users": group.get("n_users", 0),
                        "group_ratings": group.get("n_ratings", 0),
                        "explanation": json.dumps(ex, default=str),
                    })
    return rows


def group_recommendations(hybrid: Recommender, movies: pd.DataFrame, params: dict) -> pd.DataFrame:
    """The hybrid's ranked top-N list with its explanation for every (age group, gender, emotion) group and
    every listed affinity stance (one row per listed movie)."""
    rows = []
    for stance in params["list_stances"]:
        rows += _group_rows(hybrid, movies, int(params["top_n"]), stance)
    table = pd.DataFrame(rows)
    log.info("group lists: %d groups x %d stances, fallbacks: %s",
             table.groupby(["age_group", "gender", "emotion"]).ngroups, len(params["list_stances"]),
             table.drop_duplicates(["stance", "age_group", "gender", "emotion"])["fallback"].value_counts().to_dict())
    return table


def group_recommendation_summary(lists: pd.DataFrame) -> pd.DataFrame:
    """One row per (stance, group): the explanation columns and the listed titles, for a reader."""
    keys = ["recommender", "stance", "age_group", "gender", "emotion"]
    first = lists.sort_values("rank").groupby(keys, sort=False).first().reset_index()
    titles = lists.sort_values("rank").groupby(keys, sort=False)["title"].agg(" | ".join).rename("titles")
    cols = [*keys, "favoured_cluster", "favoured_cluster_top_genres", "fallback", "group_age_groups",
            "group_gender", "group_users", "group_ratings"]
    return first[cols].merge(titles.reset_index(), on=keys)


def baseline_group_recommendations(recommenders: dict[str, Recommender], movies: pd.DataFrame,
                                   params: dict) -> pd.DataFrame:
    """Every recommender's list for every group (the hybrids under their configured stance), to compare them."""
    rows = []
    for rec in recommenders.values():
        rows += _group_rows(rec, movies, int(params["top_n"]), None)
    return pd.DataFrame(rows).drop(columns=["explanation"])


def recommender_comparison(recommenders: dict[str, Recommender], train: pd.DataFrame, test: pd.DataFrame,
                           users: pd.DataFrame, params: dict) -> pd.DataFrame:
    """Precision/recall/hit rate at N on the held-out ratings for every recommender (and emotion)."""
    cmp = params["compare"]
    return compare_recommenders(recommenders, train, test, users, int(params["top_n"]), cmp["emotions"],
                                cmp["relevant_min_rating"])


def recommendation_metrics(comparison: pd.DataFrame) -> dict:
    """Each recommender's metrics averaged over the emotions, as MLflow metrics:
    ``recommendation/<recommender>/<metric>`` (e.g. ``recommendation/hybrid/precision_at_10``)."""
    metrics = {}
    means = comparison.drop(columns=["emotion", "users"]).groupby("recommender").mean()
    for name, row in means.iterrows():
        for metric, value in row.items():
            metrics[f"recommendation/{name}/{metric}"] = {"value": float(value), "step": 0}
    return metrics
