"""The interface every recommender implements: fit on training ratings, recommend for a viewer's attributes.

A viewer is whoever stands in front of the camera: an age (group), a gender and an emotion, and optionally the
ids of movies already rated (to exclude). Recommenders precompute a ranked list per group at fit time, so
`recommend` is a dictionary look-up, a filter and a slice (well under a millisecond).
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from hybrid_recommender.labels import BINARY_GENDERS as GENDERS
from hybrid_recommender.labels import (
    DEFAULT_AGE_BIN_EDGES,
    DEFAULT_AGE_GROUPS,
    EMOTIONS,
    age_group_of,
)

UNKNOWN_GENDERS = (None, "unknown", "")


@dataclass(frozen=True)
class Viewer:
    """A viewer's attributes. Give `age_group` (one of the configured labels) or `age` in years."""

    age_group: str | None = None
    gender: str | None = None
    emotion: str = "neutral"
    age: float | None = None
    rated_item_ids: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self):
        object.__setattr__(self, "rated_item_ids", frozenset(int(i) for i in (self.rated_item_ids or ())))


@dataclass
class Recommendation:
    """A ranked top-N list: item ids, their scores (higher is better) and why they were chosen."""

    item_ids: list[int]
    scores: list[float]
    explanation: dict[str, Any]

    def __len__(self) -> int:
        return len(self.item_ids)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"rank": np.arange(1, len(self.item_ids) + 1), "item_id": self.item_ids,
                             "score": self.scores})


@dataclass
class Ranking:
    """A precomputed full ranking for one group; `sources` optionally tags each item (e.g. its cluster)."""

    item_ids: np.ndarray
    scores: np.ndarray
    explanation: dict[str, Any]
    sources: np.ndarray | None = None


def stable_seed(*parts: Any) -> int:
    """A seed derived from values, stable across processes (unlike hash())."""
    return zlib.crc32("|".join(map(str, parts)).encode())


class Recommender(ABC):
    """Fit on training ratings; recommend a top-N list for a viewer's attributes and optional history."""

    name: str = "recommender"
    uses_emotion: bool = False

    def __init__(self, age_bin_edges: Sequence[int] = DEFAULT_AGE_BIN_EDGES,
                 age_groups: Sequence[str] = DEFAULT_AGE_GROUPS, emotions: Sequence[str] = EMOTIONS):
        self.age_bin_edges = tuple(age_bin_edges)
        self.age_groups = tuple(age_groups)
        self.emotions = tuple(emotions)
        self._rankings: dict[tuple, Ranking] = {}
        self._fitted = False

    # --- subclass API -------------------------------------------------------------------------------------
    @abstractmethod
    def _fit(self, ratings: pd.DataFrame, users: pd.DataFrame, movies: pd.DataFrame,
             clusters: pd.DataFrame | None) -> None:
        """Learn from training ratings (user_id, item_id, rating), users (user_id, age_group, gender)."""

    @abstractmethod
    def _rank(self, age_group: str, gender: str | None, emotion: str) -> Ranking:
        """The full ranking of candidate movies for one group (cached by the caller)."""

    def _key(self, age_group: str, gender: str | None, emotion: str) -> tuple:
        return (age_group, gender, emotion if self.uses_emotion else None)

    # --- public API ---------------------------------------------------------------------------------------
    def fit(self, ratings: pd.DataFrame, users: pd.DataFrame, movies: pd.DataFrame,
            clusters: pd.DataFrame | None = None, precompute: bool = True) -> Recommender:
        for col in ("user_id", "item_id", "rating"):
            if col not in ratings.columns:
                raise ValueError(f"ratings need columns user_id, item_id, rating; missing {col!r}")
        self._rankings = {}
        self._fit(ratings, users, movies, clusters)
        self._fitted = True
        if precompute:
            self.precompute()
        return self

    def precompute(self, progress: bool = False) -> None:
        """Rank every (age group, gender, emotion) group now, so `recommend` only looks lists up."""
        keys = [(a, g, e) for a in self.age_groups for g in (*GENDERS, None) for e in self.emotions]
        for a, g, e in tqdm(keys, desc=f"precompute {self.name}", leave=False, disable=not progress):
            self.ranking(a, g, e)

    def ranking(self, age_group: str, gender: str | None, emotion: str) -> Ranking:
        key = self._key(age_group, gender, emotion)
        found = self._rankings.get(key)
        if found is None:
            found = self._rankings[key] = self._rank(age_group, gender, emotion)
        return found

    def validate(self, viewer: Viewer) -> tuple[str, str | None, str]:
        """(age group, gender or None when unknown, emotion) of a viewer; ValueError naming what is expected."""
        if not isinstance(viewer, Viewer):
            raise ValueError(f"expected a Viewer, got {type(viewer).__name__}")
        age_group = viewer.age_group
        if age_group is None and viewer.age is not None:
            age_group = age_group_of(float(viewer.age), self.age_bin_edges, self.age_groups)
            if age_group is None:
                raise ValueError(f"age {viewer.age} is outside the age bins {list(self.age_bin_edges)}")
        if age_group not in self.age_groups:
            raise ValueError(f"unknown age group {age_group!r}; expected one of {list(self.age_groups)} "
                             f"(or give age in years)")
        gender = viewer.gender.lower() if isinstance(viewer.gender, str) else viewer.gender
        if gender in UNKNOWN_GENDERS:
            gender = None
        elif gender not in GENDERS:
            raise ValueError(f"unknown gender {viewer.gender!r}; expected one of {list(GENDERS)} or None/'unknown'")
        emotion = viewer.emotion.lower() if isinstance(viewer.emotion, str) else viewer.emotion
        if emotion not in self.emotions:
            raise ValueError(f"unknown emotion {viewer.emotion!r}; expected one of {list(self.emotions)}")
        return age_group, gender, emotion

    def recommend(self, viewer: Viewer, n: int = 10) -> Recommendation:
        """The top-n movies for a viewer, excluding the ones in `viewer.rated_item_ids`."""
        if not self._fitted:
            raise RuntimeError(f"{self.name}: call fit() before recommend()")
        if int(n) < 1:
            raise ValueError(f"n must be a positive number of movies, got {n}")
        age_group, gender, emotion = self.validate(viewer)
        ranking = self.ranking(age_group, gender, emotion)
        return self._select(ranking, viewer, int(n), (age_group, gender, emotion))

    def _select(self, ranking: Ranking, viewer: Viewer, n: int, group: tuple) -> Recommendation:
        items = ranking.item_ids
        if viewer.rated_item_ids:
            keep = ~np.isin(items, np.fromiter(viewer.rated_item_ids, dtype=np.int64))
            picked = np.flatnonzero(keep)[:n]
        else:
            picked = np.arange(min(n, len(items)))
        if len(picked) == 0:
            raise ValueError(f"{self.name}: no movie left to recommend for group {group} after excluding "
                             f"{len(viewer.rated_item_ids)} already-rated movies")
        explanation = dict(ranking.explanation)
        explanation.update({"recommender": self.name, "viewer_group": {
            "age_group": group[0], "gender": group[1] or "unknown", "emotion": group[2]},
            "excluded_already_rated": int(len(viewer.rated_item_ids))})
        if len(picked) < n:
            explanation["short_list"] = f"only {len(picked)} of {n} movies left after exclusions"
        explanation.update(self._explain_picked(ranking, picked))
        item_ids = [int(i) for i in items[picked]]
        scores = [float(s) for s in ranking.scores[picked]]
        explanation["scores"] = dict(zip(item_ids, [round(s, 4) for s in scores]))
        return Recommendation(item_ids, scores, explanation)

    def _explain_picked(self, ranking: Ranking, picked: np.ndarray) -> dict[str, Any]:
        return {}


def ranked(item_ids: Iterable[int], scores: Iterable[float], *tie_breaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Items sorted by decreasing score, ties by the extra keys (decreasing) and then by increasing item id."""
    item_ids = np.asarray(list(item_ids) if not isinstance(item_ids, np.ndarray) else item_ids, dtype=np.int64)
    scores = np.asarray(list(scores) if not isinstance(scores, np.ndarray) else scores, dtype=np.float64)
    keys = [item_ids, *[-np.asarray(t, dtype=np.float64) for t in reversed(tie_breaks)], -scores]
    order = np.lexsort(keys)
    return item_ids[order], scores[order]
