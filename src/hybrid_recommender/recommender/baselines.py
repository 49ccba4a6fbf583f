"""The recommenders the hybrid is compared against, behind the same interface."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from hybrid_recommender.recommender.base import (
    Ranking,
    Recommender,
    ranked,
    stable_seed,
)
from hybrid_recommender.recommender.groups import GroupIndex
from hybrid_recommender.recommender.spark_als import SparkALS
from hybrid_recommender.recommender.svd import (
    fit_surprise_svd,
    surprise_group_scores,
    surprise_mean_predictions,
)


class _Demographic(Recommender):
    """Common part of the recommenders keyed by (age group, gender) with the thin-group widening rule."""

    def __init__(self, min_users: int = 10, min_ratings: int = 500, seed: int = 42, **kwargs: Any):
        super().__init__(**kwargs)
        self.min_users, self.min_ratings, self.seed = int(min_users), int(min_ratings), int(seed)

    def _fit(self, ratings, users, movies, clusters):
        self.ratings = ratings[["user_id", "item_id", "rating"]].reset_index(drop=True)
        self.items = np.sort(movies["item_id"].to_numpy(dtype=np.int64))
        self.groups = GroupIndex(self.ratings, users, self.age_groups, self.min_users, self.min_ratings)
        self._by_group: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def _rank(self, age_group, gender, emotion) -> Ranking:
        group = self.groups.resolve(age_group, gender)
        if group.key not in self._by_group:
            sub = self.ratings[self.ratings["user_id"].isin(group.user_ids)]
            self._by_group[group.key] = self._group_ranking(group, sub)
        items, scores = self._by_group[group.key]
        return Ranking(items, scores, {"method": self.name, "group": group.describe(), "fallback": group.fallback})

    def _group_ranking(self, group, sub: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


class DemographicSVD(_Demographic):
    """The paper's benchmark (after Vozalis & Margaritis 2007): Surprise SVD over the users of the viewer's age
    group and gender, every movie scored by its mean predicted rating over them; no emotion, no clusters.

    With ``als`` (engine ``spark``) the predictions come from one ALS model of all the training ratings instead
    of a Surprise SVD fitted on the group's ratings."""

    name = "demographic_svd"

    def __init__(self, svd: Mapping | None = None, als: SparkALS | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.svd_params = dict(svd or {})
        self.als = als
        self.engine = "spark" if als is not None else "surprise"

    def _fit(self, ratings, users, movies, clusters):
        super()._fit(ratings, users, movies, clusters)
        self._als_factors = self.als.factors(ratings) if self.als is not None else None

    def _rank(self, age_group, gender, emotion) -> Ranking:
        found = super()._rank(age_group, gender, emotion)
        found.explanation["engine"] = self.engine
        return found

    def _group_ranking(self, group, sub):
        n_ratings = np.bincount(pd.Index(self.items).get_indexer(sub["item_id"]), minlength=len(self.items))
        if self._als_factors is not None:
            scores = self._als_factors.mean_predictions(group.user_ids, self.items)
        else:
            scores = surprise_group_scores(sub, group.user_ids, self.items, self.svd_params, self.seed)
        return ranked(self.items, scores, n_ratings)


class GroupPopularity(_Demographic):
    """Most-rated movies within the viewer's (age group, gender); ties by mean rating, then item id."""

    name = "group_popularity"

    def _group_ranking(self, group, sub):
        stats = sub.groupby("item_id")["rating"].agg(["size", "mean"]).reindex(self.items).fillna(0.0)
        return ranked(self.items, stats["size"].to_numpy(), stats["mean"].to_numpy())


class GlobalSVD(Recommender):
    """Surprise SVD over every training user; a viewer gets the movies with the highest mean predicted rating
    over all users (no demographics, no emotion). With ``als`` (engine ``spark``): ALS instead of Surprise."""

    name = "global_svd"

    def __init__(self, svd: Mapping | None = None, seed: int = 42, als: SparkALS | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.svd_params, self.seed = dict(svd or {}), int(seed)
        self.als = als
        self.engine = "spark" if als is not None else "surprise"

    def _fit(self, ratings, users, movies, clusters):
        items = np.sort(movies["item_id"].to_numpy(dtype=np.int64))
        users_ = np.sort(ratings["user_id"].unique())
        if self.als is not None:
            scores = self.als.factors(ratings).mean_predictions(users_, items)
        else:
            algo, trainset = fit_surprise_svd(ratings, self.svd_params, self.seed)
            scores = surprise_mean_predictions(algo, trainset, users_, items)
        n_ratings = ratings.groupby("item_id").size().reindex(items).fillna(0).to_numpy()
        self._global = ranked(items, scores, n_ratings)
        self._n_users, self._n_ratings = int(len(users_)), int(len(ratings))

    def _key(self, age_group, gender, emotion):
        return ("all",)

    def _rank(self, age_group, gender, emotion) -> Ranking:
        return Ranking(*self._global, {"method": self.name, "group": {"age_groups": "all", "gender": "any",
                       "fallback": "none", "n_users": self._n_users, "n_ratings": self._n_ratings},
                       "fallback": "none", "engine": self.engine})


class RandomRecommender(Recommender):
    """A random order of every movie, seeded by (seed, age group, gender): same seed, same lists."""

    name = "random"

    def __init__(self, seed: int = 42, **kwargs: Any):
        super().__init__(**kwargs)
        self.seed = int(seed)

    def _fit(self, ratings, users, movies, clusters):
        self.items = np.sort(movies["item_id"].to_numpy(dtype=np.int64))

    def _rank(self, age_group, gender, emotion) -> Ranking:
        rng = np.random.default_rng(stable_seed(self.seed, age_group, gender))
        scores = rng.random(len(self.items))
        items, scores = ranked(self.items, scores)
        return Ranking(items, scores, {"method": self.name, "fallback": "none"})
