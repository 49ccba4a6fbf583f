"""Emotion-genre affinity: MovieLens has no emotions, so the project reads them through genres.

A stance is a 7 x 19 matrix (emotions x genres, weights in [0, 1]). A movie's affinity with an emotion is
derived from its genres (the max or the mean of the matrix entries of the genres it carries). A group's
selections (training ratings) are weighted by `baseline + affinity(movie, group emotion)`: an all-zero row
(neutral: no preference) weighs every selection the same, which is the paper's plain count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from hybrid_recommender.labels import EMOTIONS, GENRES

STANCES = ("mood_congruence", "mood_repair")
AGGREGATIONS = ("max", "mean")


def affinity_matrix(config: Mapping, stance: str) -> pd.DataFrame:
    """The stance's matrix as a DataFrame (index: emotions, columns: genres) from the `affinity` parameters.

    `config` has `genres` (column order) and `stances: {stance: {emotion: [19 weights]}}`.
    """
    stances = config.get("stances", {})
    if stance not in stances:
        raise ValueError(f"unknown affinity stance {stance!r}; expected one of {sorted(stances)}")
    genres = list(config.get("genres", GENRES))
    if genres != list(GENRES):
        raise ValueError(f"affinity.genres must list the 19 MovieLens genres in order {list(GENRES)}, got {genres}")
    rows = stances[stance]
    missing = [e for e in EMOTIONS if e not in rows]
    extra = [e for e in rows if e not in EMOTIONS]
    if missing or extra:
        raise ValueError(f"affinity stance {stance!r} needs exactly the emotions {list(EMOTIONS)}; "
                         f"missing {missing}, unknown {extra}")
    matrix = pd.DataFrame([list(rows[e]) for e in EMOTIONS], index=list(EMOTIONS), dtype=np.float64)
    if matrix.shape != (len(EMOTIONS), len(GENRES)):
        raise ValueError(f"affinity stance {stance!r}: every emotion needs {len(GENRES)} weights "
                         f"(one per genre, in the order {list(GENRES)})")
    if not np.isfinite(matrix.to_numpy()).all() or (matrix.to_numpy() < 0).any():
        raise ValueError(f"affinity stance {stance!r}: weights must be finite and non-negative")
    matrix.columns = list(GENRES)
    matrix.index.name = "emotion"
    return matrix


def affinity_table(config: Mapping, stances: Sequence[str] = STANCES) -> pd.DataFrame:
    """All stances' matrices stacked, with a `stance` column (for reporting)."""
    return pd.concat([affinity_matrix(config, s).reset_index().assign(stance=s) for s in stances],
                     ignore_index=True)[["stance", "emotion", *GENRES]]


def movie_affinity(movies: pd.DataFrame, matrix: pd.DataFrame, aggregation: str = "max") -> pd.DataFrame:
    """Affinity of every movie with every emotion (index: item_id, columns: emotions), from its genres."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"unknown affinity aggregation {aggregation!r}; expected one of {list(AGGREGATIONS)}")
    flags = movies[list(matrix.columns)].to_numpy(dtype=np.float64)          # movies x genres
    weights = matrix.to_numpy()                                               # emotions x genres
    if aggregation == "mean":
        counts = flags.sum(axis=1, keepdims=True)
        values = (flags @ weights.T) / np.where(counts == 0, 1.0, counts)
    else:
        values = np.where(flags[:, None, :] > 0, weights[None, :, :], 0.0).max(axis=2)
    return pd.DataFrame(values, index=pd.Index(movies["item_id"].to_numpy(dtype=np.int64), name="item_id"),
                        columns=list(matrix.index))


def selection_weights(item_ids: np.ndarray, affinity: pd.DataFrame, emotion: str, baseline: float) -> np.ndarray:
    """Weight of each selected movie for a group with `emotion`: baseline + the movie's affinity."""
    if emotion not in affinity.columns:
        raise ValueError(f"unknown emotion {emotion!r}; expected one of {list(affinity.columns)}")
    if baseline < 0:
        raise ValueError(f"affinity baseline must be >= 0, got {baseline}")
    values = affinity[emotion].reindex(item_ids).fillna(0.0).to_numpy()
    return float(baseline) + values
