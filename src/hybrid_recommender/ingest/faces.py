"""Building the face index table shared by all face data sets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hybrid_recommender.labels import (
    DEFAULT_AGE_BIN_EDGES,
    DEFAULT_AGE_GROUPS,
    age_groups,
    emotion_categorical,
    gender_categorical,
)

FACE_COLUMNS = [
    "face_id", "dataset", "source_file", "split", "pixel_row", "emotion", "gender", "age", "age_group",
    "source_age_group", "subject", "sequence_id", "frame_index", "fold", "is_blank",
]


def face_index(
    records: list[dict],
    dataset: str,
    age_edges: Sequence[int] = DEFAULT_AGE_BIN_EDGES,
    age_labels: Sequence[str] = DEFAULT_AGE_GROUPS,
) -> pd.DataFrame:
    """Typed index of faces; each record holds what its data set knows, the rest is missing.

    Columns: face_id (unique), dataset, source_file, split (train/val/test), pixel_row (row in the pixel
    array), emotion/gender (categoricals over the canonical vocabularies), age (years, float), age_group
    (binned from age), source_age_group (a data set's own coarser bins, e.g. RAF-DB's), subject,
    sequence_id, frame_index (-1 for stills), fold (subject-wise fold, -1 if none), is_blank.
    """
    frame = pd.DataFrame.from_records(records, columns=[c for c in FACE_COLUMNS if c not in ("dataset", "pixel_row")])
    frame.insert(1, "dataset", dataset)
    frame.insert(4, "pixel_row", np.arange(len(frame), dtype="int64"))
    for col in ("face_id", "source_file", "split", "subject", "sequence_id", "source_age_group"):
        frame[col] = frame[col].astype("string")
    frame["emotion"] = emotion_categorical(frame["emotion"])
    frame["gender"] = gender_categorical(frame["gender"])
    frame["age"] = frame["age"].astype("float64")
    frame["age_group"] = age_groups(frame["age"], age_edges, age_labels)
    frame["frame_index"] = frame["frame_index"].fillna(-1).astype("int64")
    frame["fold"] = frame["fold"].fillna(-1).astype("int64")
    frame["is_blank"] = frame["is_blank"].eq(True)   # missing (a set that does not flag blanks) is False
    return frame
