"""The paper's recommender (Section III-C, Fig. 4): favoured genre cluster of a (age group, gender, emotion)
group, then SVD ratings of the movies in that cluster."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from hybrid_recommender.recommender.affinity import (
    STANCES,
    affinity_matrix,
    movie_affinity,
    selection_weights,
)
from hybrid_recommender.recommender.base import (
    Ranking,
    Recommendation,
    Recommender,
    Viewer,
    ranked,
)
from hybrid_recommender.recommender.clustering import cluster_profiles
from hybrid_recommender.recommender.groups import GroupIndex, ResolvedGroup
from hybrid_recommender.recommender.spark_als import SparkALS
from hybrid_recommender.recommender.svd import (
    surprise_group_scores,
    truncated_svd_group_scores,
)

METHODS = ("surprise_svd", "truncated_svd")


def favoured_cluster(item_clusters: Sequence[int], weights: Sequence[float] | None = None) -> tuple[int, pd.Series]:
    """The cluster with the largest (weighted) count of selected movies, and every cluster's weighted count
    in decreasing order. Ties go to the larger plain count, then the smaller cluster id.

    >>> favoured_cluster([1, 1, 1, 2, 3, 3, 4, 1, 1])[0]
    1
    """
    item_clusters = np.asarray(item_clusters, dtype=np.int64)
    if len(item_clusters) == 0:
        raise ValueError("a group with no selected movies has no favoured cluster")
    weights = np.ones(len(item_clusters)) if weights is None else np.asarray(weights, dtype=np.float64)
    if weights.shape != item_clusters.shape:
        raise ValueError(f"{len(weights)} weights for {len(item_clusters)} selected movies")
    table = pd.DataFrame({"cluster": item_clusters, "w": weights}).groupby("cluster")["w"].agg(["sum", "size"])
    table = table.reset_index().sort_values(["sum", "size", "cluster"], ascending=[False, False, True])
    counts = pd.Series(table["sum"].to_numpy(), index=table["cluster"].to_numpy(), name="weighted_count")
    return int(counts.index[0]), counts


class HybridRecommender(Recommender):
    """Favoured cluster by affinity-weighted selections, then a group SVD over that cluster's movies.

    Movies of the favoured cluster come first (ranked by the group score); when the viewer has already rated
    too many of them, the list is topped up from the next clusters in weighted-count order, and the
    explanation says so.

    With ``als`` (engine ``spark``), method ``surprise_svd`` scores a (group, cluster) by one ALS model of all the
    training ratings (mean over the group's users of the predicted rating) instead of a Surprise SVD fitted on
    the group's ratings of the cluster; the favoured-cluster algorithm is the same.
    """

    name = "hybrid"
    uses_emotion = True

    def __init__(self, affinity: Mapping, stance: str = "mood_congruence", method: str = "surprise_svd",
                 affinity_baseline: float = 0.25, affinity_aggregation: str = "max",
                 min_users: int = 10, min_ratings: int = 500, svd: Mapping | None = None,
                 truncated_rank: int = 10, top_genres: int = 3, seed: int = 42,
                 stances: Sequence[str] | None = None, als: SparkALS | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if method not in METHODS:
            raise ValueError(f"unknown hybrid method {method!r}; expected one of {list(METHODS)}")
        self.affinity_config = dict(affinity)
        self.stances = tuple(stances or [s for s in STANCES if s in self.affinity_config.get("stances", {})])
        if stance not in self.stances:
            raise ValueError(f"unknown affinity stance {stance!r}; expected one of {list(self.stances)}")
        self.stance = stance
        self.method = method
        self.affinity_baseline = float(affinity_baseline)
        self.affinity_aggregation = affinity_aggregation
        self.min_users, self.min_ratings = int(min_users), int(min_ratings)
        self.svd_params = dict(svd or {})
        self.truncated_rank = int(truncated_rank)
        self.top_genres = int(top_genres)
        self.seed = int(seed)
        self.als = als
        self.engine = "spark" if als is not None else "surprise"
        self.name = f"hybrid_{method}"

    # --- fit ----------------------------------------------------------------------------------------------
    def _fit(self, ratings, users, movies, clusters):
        if clusters is None:
            raise ValueError("the hybrid recommender needs the movie clusters (item_id, cluster)")
        self.item_cluster = clusters.set_index("item_id")["cluster"].astype(np.int64)
        unknown = np.setdiff1d(ratings["item_id"].unique(), self.item_cluster.index)
        if len(unknown):
            raise ValueError(f"{len(unknown)} rated movies have no cluster (e.g. {unknown[:5].tolist()})")
        self.ratings = ratings[["user_id", "item_id", "rating"]].reset_index(drop=True)
        self.groups = GroupIndex(self.ratings, users, self.age_groups, self.min_users, self.min_ratings)
        profiles = cluster_profiles(movies, clusters, top=self.top_genres)
        self.cluster_genres = dict(zip(profiles["cluster"], profiles["top_genres"]))
        self.cluster_items = {int(c): np.sort(g["item_id"].to_numpy(dtype=np.int64))
                              for c, g in clusters.groupby("cluster")}
        self.affinity = {s: movie_affinity(movies, affinity_matrix(self.affinity_config, s),
                                           self.affinity_aggregation) for s in self.stances}
        self._cluster_scores: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._ratings_by_user = self.ratings.set_index("user_id").sort_index()
        self._als_factors = self.als.factors(ratings) if self.als is not None and self.method == "surprise_svd" \
            else None

    def precompute(self, progress: bool = False) -> None:
        keys = [(a, g, e, s) for s in self.stances for a in self.age_groups for g in ("male", "female", None)
                for e in self.emotions]
        for a, g, e, s in tqdm(keys, desc=f"precompute {self.name}", leave=False, disable=not progress):
            self.ranking(a, g, e, s)

    def ranking(self, age_group: str, gender: str | None, emotion: str, stance: str | None = None) -> Ranking:
        stance = stance or self.stance
        if stance not in self.stances:
            raise ValueError(f"unknown affinity stance {stance!r}; expected one of {list(self.stances)}")
        key = (age_group, gender, emotion, stance)
        found = self._rankings.get(key)
        if found is None:
            found = self._rankings[key] = self._rank(age_group, gender, emotion, stance)
        return found

    def recommend(self, viewer: Viewer, n: int = 10, stance: str | None = None) -> Recommendation:
        if not self._fitted:
            raise RuntimeError(f"{self.name}: call fit() before recommend()")
        if int(n) < 1:
            raise ValueError(f"n must be a positive number of movies, got {n}")
        group = self.validate(viewer)
        return self._select(self.ranking(*group, stance), viewer, int(n), group)

    # --- ranking ------------------------------------------------------------------------------------------
    def group_selections(self, group: ResolvedGroup) -> pd.DataFrame:
        """The group's selected movies: every training rating of its users."""
        return self._ratings_by_user.loc[self._ratings_by_user.index.intersection(group.user_ids)].reset_index()

    def _scores(self, group: ResolvedGroup, cluster: int, selections: pd.DataFrame):
        key = (group.key, cluster)
        if key not in self._cluster_scores:
            items = self.cluster_items[cluster]
            sub = selections[selections["item_id"].isin(items)]
            if self._als_factors is not None:
                scores = self._als_factors.mean_predictions(group.user_ids, items)
            elif self.method == "surprise_svd":
                scores = surprise_group_scores(sub, group.user_ids, items, self.svd_params, self.seed)
            else:
                scores = truncated_svd_group_scores(sub, group.user_ids, items, self.truncated_rank)
            n_ratings = np.bincount(pd.Index(items).get_indexer(sub["item_id"]), minlength=len(items))
            self._cluster_scores[key] = ranked(items, scores, n_ratings)
        return self._cluster_scores[key]

    def _rank(self, age_group, gender, emotion, stance="mood_congruence") -> Ranking:
        group = self.groups.resolve(age_group, gender)
        selections = self.group_selections(group)
        sel_items = selections["item_id"].to_numpy(dtype=np.int64)
        weights = selection_weights(sel_items, self.affinity[stance], emotion, self.affinity_baseline)
        favoured, counts = favoured_cluster(self.item_cluster.reindex(sel_items).to_numpy(), weights)
        order = [favoured] + [int(c) for c in counts.index[1:]]
        order += [c for c in sorted(self.cluster_items) if c not in order]   # clusters the group never selected
        parts = [self._scores(group, c, selections) for c in order]
        explanation = {
            "method": self.method, "stance": stance,
            **({"engine": self.engine} if self.method == "surprise_svd" else {}),
            "group": group.describe(), "fallback": group.fallback,
            "favoured_cluster": favoured, "favoured_cluster_top_genres": self.cluster_genres.get(favoured, ""),
            "selected_movies": int(len(sel_items)), "weighted_selections": round(float(weights.sum()), 3),
            "cluster_weighted_counts": {int(c): round(float(v), 2) for c, v in counts.items()},
        }
        return Ranking(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), explanation,
                       np.concatenate([np.full(len(p[0]), c, dtype=np.int64) for c, p in zip(order, parts)]))

    def _explain_picked(self, ranking: Ranking, picked: np.ndarray) -> dict:
        return topped_up_explanation(ranking, picked, self.cluster_genres)


def topped_up_explanation(ranking: Ranking, picked: np.ndarray, cluster_genres: Mapping[int, str]) -> dict:
    """The clusters (and their genres) a list was topped up from, beyond the favoured one; {} when none."""
    favoured = ranking.explanation["favoured_cluster"]
    others = sorted({int(c) for c in ranking.sources[picked] if c != favoured})
    if others:
        return {"topped_up_from_clusters": others,
                "topped_up_cluster_top_genres": {c: cluster_genres.get(c, "") for c in others}}
    return {}
