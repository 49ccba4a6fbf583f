"""An improved hybrid beside the paper's: emotion as a soft preference, a group score that counts the choosers.

The paper's hybrid restricts the list to one favoured cluster and ranks it by the mean predicted rating, which
favours rarely watched, well-rated films. This one ranks every movie for the viewer's (age group, gender) by

    score = (1 - w_pop) * quality + w_pop * popularity + w_emo(emotion) * affinity(movie, emotion)

* quality: the group's mean rating of the movie shrunk towards the movie's mean over all training users
  (`shrinkage` pseudo-ratings), mapped from [1, 5] to [0, 1];
* popularity: the share of group choosers relative to the group's most-rated movie, in [0, 1];
* affinity: the movie's emotion-genre affinity (the same matrices as the paper's hybrid) and w_emo is
  `emotion_weight`, forced to 0 for a neutral face.

Its three weights are chosen on a validation split carved from the training ratings (`select_improved_hybrid`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from hybrid_recommender.recommender.affinity import affinity_matrix, movie_affinity
from hybrid_recommender.recommender.base import Ranking, Recommender, Viewer, ranked
from hybrid_recommender.recommender.groups import GroupIndex
from hybrid_recommender.recommender.ranking_metrics import (
    full_ranking_counts,
    precision_recall_f1,
    rated_candidates_counts,
    split_ratings,
)

NEUTRAL = "neutral"


class ImprovedHybridRecommender(Recommender):
    """Group quality (shrunk mean) blended with group popularity, plus a soft emotion-genre preference."""

    name = "improved_hybrid"
    uses_emotion = True

    def __init__(self, affinity: Mapping, stance: str = "mood_congruence", affinity_aggregation: str = "max",
                 shrinkage: float = 10.0, popularity_weight: float = 0.5, emotion_weight: float = 0.1,
                 min_users: int = 10, min_ratings: int = 500, **kwargs: Any):
        super().__init__(**kwargs)
        self.affinity_config, self.stance, self.affinity_aggregation = dict(affinity), stance, affinity_aggregation
        self.set_weights(shrinkage, popularity_weight, emotion_weight)
        self.min_users, self.min_ratings = int(min_users), int(min_ratings)

    def set_weights(self, shrinkage: float, popularity_weight: float, emotion_weight: float) -> None:
        """Change the three weights (drops cached rankings; the group statistics are kept)."""
        if shrinkage < 0 or not 0 <= popularity_weight <= 1 or emotion_weight < 0:
            raise ValueError(f"need shrinkage >= 0, 0 <= popularity_weight <= 1, emotion_weight >= 0; got "
                             f"{shrinkage}, {popularity_weight}, {emotion_weight}")
        self.shrinkage, self.popularity_weight = float(shrinkage), float(popularity_weight)
        self.emotion_weight = float(emotion_weight)
        self._rankings = {}

    def _fit(self, ratings, users, movies, clusters):
        self.items = np.sort(movies["item_id"].to_numpy(dtype=np.int64))
        self.ratings = ratings[["user_id", "item_id", "rating"]].reset_index(drop=True)
        self.groups = GroupIndex(self.ratings, users, self.age_groups, self.min_users, self.min_ratings)
        stats = self.ratings.groupby("item_id")["rating"].mean()
        self.prior = stats.reindex(self.items).fillna(float(self.ratings["rating"].mean())).to_numpy()
        matrix = affinity_matrix(self.affinity_config, self.stance)
        self.affinity = movie_affinity(movies, matrix, self.affinity_aggregation).reindex(self.items).fillna(0.0)
        self._group_stats: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def _stats(self, group) -> tuple[np.ndarray, np.ndarray]:
        """(number of group users who rated each movie, sum of their ratings)."""
        if group.key not in self._group_stats:
            sub = self.ratings[self.ratings["user_id"].isin(group.user_ids)]
            pos = pd.Index(self.items).get_indexer(sub["item_id"])
            count = np.bincount(pos, minlength=len(self.items)).astype(np.float64)
            total = np.bincount(pos, weights=sub["rating"].to_numpy(np.float64), minlength=len(self.items))
            self._group_stats[group.key] = (count, total)
        return self._group_stats[group.key]

    def _rank(self, age_group, gender, emotion) -> Ranking:
        group = self.groups.resolve(age_group, gender)
        count, total = self._stats(group)
        shrunk = (total + self.shrinkage * self.prior) / np.maximum(count + self.shrinkage, 1e-12)
        shrunk = np.where(count + self.shrinkage > 0, shrunk, self.prior)
        quality = (shrunk - 1.0) / 4.0
        popularity = count / max(count.max(), 1.0)
        w_emo = 0.0 if emotion == NEUTRAL else self.emotion_weight
        score = (1 - self.popularity_weight) * quality + self.popularity_weight * popularity
        score = score + w_emo * self.affinity[emotion].to_numpy()
        items, scores = ranked(self.items, score, count)
        return Ranking(items, scores, {
            "method": self.name, "group": group.describe(), "fallback": group.fallback, "stance": self.stance,
            "weights": {"shrinkage": self.shrinkage, "popularity_weight": self.popularity_weight,
                        "emotion_weight": w_emo}})


def select_improved_hybrid(train: pd.DataFrame, users: pd.DataFrame, movies: pd.DataFrame, affinity: Mapping,
                           grid: Mapping[str, Sequence[float]], validation_fraction: float, seed: int, n: int,
                           relevant_min_rating: int, emotions: Sequence[str], emotion_probabilities: Sequence[float],
                           context_stance: str, liked_tolerance: float = 0.01,
                           max_validation_users: int | None = None, **kwargs: Any) -> tuple[dict[str, float], pd.DataFrame]:
    """The chosen weights, and every grid point's validation scores.

    The validation split is carved from `train` only (per-user holdout, seed + 1). Each validation user is a
    viewer with their true age group and gender and an emotion drawn from `emotion_probabilities`. Every grid
    point gets F1@n (undefined -> 0) under both protocols for two relevance definitions: liked, and liked and
    congruent with the emotion (context). The rule: among the points whose liked F1 (mean of the protocols) is
    within `liked_tolerance` (relative) of the best, take the one with the best context F1 — the emotion is
    used as far as it costs (almost) nothing on plain relevance. With more than `max_validation_users` validation
    users, a seeded sample of that many scores the grid (its cost is users x grid points).
    """
    inner, val = split_ratings(train, validation_fraction, seed + 1)
    rec = ImprovedHybridRecommender(affinity, **kwargs).fit(inner, users, movies, precompute=False)
    congruent = congruent_items(movies, affinity, context_stance, kwargs.get("affinity_aggregation", "max"))
    val_users = np.sort(val["user_id"].unique())
    if max_validation_users is not None and len(val_users) > int(max_validation_users):
        val_users = np.sort(np.random.default_rng(seed + 3).choice(val_users, int(max_validation_users), replace=False))
    people = users.set_index("user_id").loc[val_users, ["age_group", "gender"]]
    rng = np.random.default_rng(seed + 2)
    probs = np.asarray(emotion_probabilities, float)
    drawn = rng.choice(list(emotions), size=len(people), p=probs / probs.sum())
    history = inner.groupby("user_id")["item_id"].agg(frozenset)
    held = val.groupby("user_id")["item_id"].agg(list)
    liked = val[val["rating"] >= relevant_min_rating].groupby("user_id")["item_id"].agg(frozenset)
    keys = ("shrinkage", "popularity_weight", "emotion_weight")
    parts = [f"{rel}.{proto}" for rel in ("liked", "context") for proto in ("full_ranking", "rated_candidates")]
    rows = []
    for values in tqdm(list(itertools.product(*(grid[k] for k in keys))), desc="improved hybrid grid", leave=False):
        rec.set_weights(*values)
        counts = {k: [] for k in parts}
        for (uid, (age_group, gender)), emotion in zip(people.iterrows(), drawn):
            ranking = rec.ranking(str(age_group), gender, emotion)
            top = rec.recommend(Viewer(str(age_group), gender, emotion, rated_item_ids=history.get(uid, ())), n)
            rel = liked.get(uid, frozenset())
            for rel_name, relevant in (("liked", rel), ("context", rel & congruent[emotion])):
                for proto, (h, k, m) in (("full_ranking", full_ranking_counts(top.item_ids, relevant)),
                                         ("rated_candidates", rated_candidates_counts(
                                             ranking.item_ids, None, held[uid], relevant, n, None))):
                    counts[f"{rel_name}.{proto}"].append((h, k, m))
        means = {k: float(precision_recall_f1(*np.reshape(v, (-1, 3)).T)[2].mean()) for k, v in counts.items()}
        rows.append({**dict(zip(keys, values)), **{f"f1.{k}": v for k, v in means.items()},
                     "liked": (means["liked.full_ranking"] + means["liked.rated_candidates"]) / 2,
                     "context": (means["context.full_ranking"] + means["context.rated_candidates"]) / 2,
                     "validation_users": len(people)})
    table = pd.DataFrame(rows)
    table["eligible"] = table["liked"] >= (1 - float(liked_tolerance)) * table["liked"].max()
    best = table[table["eligible"]].sort_values(["context", "liked", *keys],
                                                ascending=[False, False, True, True, True]).iloc[0]
    table["chosen"] = (table[list(keys)] == best[list(keys)]).all(axis=1)
    return {k: float(best[k]) for k in keys}, table


def congruent_items(movies: pd.DataFrame, affinity: Mapping, stance: str, aggregation: str = "max") -> dict:
    """Per emotion, the movies congruent with it under the stance (affinity > 0); an emotion with no preference
    (an all-zero row, e.g. neutral) finds every movie congruent."""
    table = movie_affinity(movies, affinity_matrix(affinity, stance), aggregation)
    out = {}
    for emotion in table.columns:
        col = table[emotion]
        out[emotion] = frozenset(int(i) for i in (col.index if not (col > 0).any() else col.index[col > 0]))
    return out
