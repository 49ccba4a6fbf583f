"""One label vocabulary for every data set, and the age-group bins."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

# The paper's seven emotions, with FER2013's folder names, in FER2013's folder (alphabetical) order.
EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
# CK+ also labels contempt: kept as its own label, excluded from 7-class training by configuration.
EMOTION_VOCABULARY: tuple[str, ...] = (*EMOTIONS, "contempt")
# The two genders the models and recommenders use; "unknown" is kept only in the ingested tables.
BINARY_GENDERS: tuple[str, ...] = ("male", "female")
GENDERS: tuple[str, ...] = (*BINARY_GENDERS, "unknown")

# MovieLens 100K's 19 genre flags, in u.genre's order (the movie table's columns).
GENRES: tuple[str, ...] = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)

# The paper's four age groups plus the two it leaves out, so no face or user falls through.
DEFAULT_AGE_BIN_EDGES: tuple[int, ...] = (0, 8, 15, 25, 38, 48, 200)
DEFAULT_AGE_GROUPS: tuple[str, ...] = ("0-7", "8-14", "15-24", "25-37", "38-47", "48+")

# Source vocabularies -> canonical names.
FER2013_CSV_LABELS = {0: "angry", 1: "disgust", 2: "fear", 3: "happy", 4: "sad", 5: "surprise", 6: "neutral"}
RAFDB_LABELS = {1: "surprise", 2: "fear", 3: "disgust", 4: "happy", 5: "sad", 6: "angry", 7: "neutral"}
RAFDB_GENDERS = {0: "male", 1: "female", 2: "unknown"}
RAFDB_AGE_GROUPS = {0: "0-3", 1: "4-19", 2: "20-39", 3: "40-69", 4: "70+"}
EMOTION_SYNONYMS = {
    "anger": "angry",
    "angry": "angry",
    "contempt": "contempt",
    "disgust": "disgust",
    "fear": "fear",
    "happiness": "happy",
    "happy": "happy",
    "neutral": "neutral",
    "sad": "sad",
    "sadness": "sad",
    "surprise": "surprise",
}


def canonical_emotion(name: str) -> str | None:
    """Map a folder or label name of any supported data set to the canonical emotion, or None if unknown."""
    return EMOTION_SYNONYMS.get(name.strip().lower())


def emotion_categorical(values: Sequence) -> pd.Categorical:
    return pd.Categorical(values, categories=list(EMOTION_VOCABULARY))


def gender_categorical(values: Sequence) -> pd.Categorical:
    return pd.Categorical(values, categories=list(GENDERS))


def age_groups(
    ages: Sequence[float] | pd.Series,
    edges: Sequence[int] = DEFAULT_AGE_BIN_EDGES,
    labels: Sequence[str] = DEFAULT_AGE_GROUPS,
) -> pd.Categorical:
    """Bin ages in years into groups; bins are closed on the left (8-14 means 8 <= age < 15)."""
    if len(edges) != len(labels) + 1:
        raise ValueError(f"age bins: {len(edges)} edges need {len(edges) - 1} labels, got {len(labels)}")
    ages = pd.Series(ages, dtype="float64")
    binned = pd.cut(ages, bins=list(edges), labels=list(labels), right=False)
    return pd.Categorical(binned, categories=list(labels))


def age_group_of(age: float, edges: Sequence[int] = DEFAULT_AGE_BIN_EDGES,
                 labels: Sequence[str] = DEFAULT_AGE_GROUPS) -> str | None:
    """The age group of one age (for per-viewer calls outside a pipeline)."""
    if age is None or np.isnan(age):
        return None
    idx = int(np.searchsorted(edges, age, side="right")) - 1
    return labels[idx] if 0 <= idx < len(labels) else None
