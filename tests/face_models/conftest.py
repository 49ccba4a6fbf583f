"""Small real face sets for the face_models tests, built from ../shared/datasets with the ingestion code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hybrid_recommender.ingest.ckplus import read_ckplus
from hybrid_recommender.ingest.fer2013 import read_fer2013
from hybrid_recommender.ingest.sources import DataSource
from hybrid_recommender.ingest.utkface import read_utkface
from hybrid_recommender.labels import DEFAULT_AGE_BIN_EDGES as EDGES
from hybrid_recommender.labels import DEFAULT_AGE_GROUPS as GROUPS
from tests.conftest import project_parameters, require_shared

SMALL = {"image_size": 48, "crop_size": 40}


def face_model_params(env: str = "smoke") -> dict:
    """The face_models parameters as Kedro merges them for ``env`` (base + the environment's keys)."""
    return project_parameters("face_models", env)


def _subset(index: pd.DataFrame, pixels: np.ndarray, per_split: dict[str, int], seed: int = 0):
    """A few rows per split, re-indexed into a compact pixel array (as data_engineering would write it)."""
    parts = []
    for split, n in per_split.items():
        rows = index[index["split"] == split]
        parts.append(rows.sample(n=min(n, len(rows)), random_state=seed))
    sub = pd.concat(parts).reset_index(drop=True)
    px = np.ascontiguousarray(pixels[sub["pixel_row"].to_numpy()])
    sub["pixel_row"] = np.arange(len(sub))
    return sub, px


@pytest.fixture(scope="session")
def fer_small(shared_datasets):
    table = read_fer2013(DataSource(require_shared("fer2013.zip") / "fer2013.zip"), EDGES, GROUPS, "carved", 0.1, 13)
    return _subset(table.index, table.pixels, {"train": 300, "val": 100, "test": 100})


@pytest.fixture(scope="session")
def utk_small(shared_datasets):
    table = read_utkface(DataSource(require_shared("utkface_crop_part1.tar.gz") / "utkface_crop_part1.tar.gz"), 64,
                         {"train": 0.8, "val": 0.1, "test": 0.1}, EDGES, GROUPS)
    return _subset(table.index, table.pixels, {"train": 300, "val": 60, "test": 60})


@pytest.fixture(scope="session")
def ckplus_table(shared_datasets):
    table = read_ckplus(DataSource(require_shared("ckplus48.zip") / "ckplus48.zip"), 10,
                        {"train": 0.7, "val": 0.15, "test": 0.15}, EDGES, GROUPS)
    return table.index, table.pixels


def empty_table(size: int = 64):
    cols = ["face_id", "dataset", "source_file", "split", "pixel_row", "emotion", "gender", "age", "age_group",
            "source_age_group", "subject", "sequence_id", "frame_index", "fold", "is_blank"]
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols}), np.zeros((0, size, size, 3), np.uint8)
