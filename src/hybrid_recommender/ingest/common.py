"""What every loader returns, and the bookkeeping of skipped records."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import pandas as pd

from hybrid_recommender.ingest.sources import DataSource

SKIP_COLUMNS = ["dataset", "file", "reason"]
T = TypeVar("T")


@dataclass
class SkipLog:
    """Records skipped during ingestion: each one is counted and named, never silently dropped.

    With a ``source``, a member name is written with the archive or folder it came from.
    """

    dataset: str
    source: DataSource | None = None
    rows: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, file: str, reason: str, line: int | None = None) -> None:
        where = self.source.where(file) if self.source is not None else file
        self.rows.append((self.dataset, where if line is None else f"{where}:{line}", reason))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=SKIP_COLUMNS).astype(str)


def empty_skips() -> pd.DataFrame:
    return pd.DataFrame(columns=SKIP_COLUMNS).astype(str)


def first_of_each(wanted: Mapping[str, T], key: Callable[[str, T], str], what: str, skips: SkipLog) -> dict[str, T]:
    """One record per ``key``: the first member in sorted path order is kept, every later one is a counted skip.

    The same face listed twice (UTKFace in crop_part1/ and UTKFace/, a CK+ frame in two emotion folders)
    would otherwise give two rows with one id, or two labels for one face.
    """
    kept: dict[str, T] = {}
    first: dict[str, str] = {}
    for name in sorted(wanted):
        k = key(name, wanted[name])
        if k in first:
            kept_in = first[k].rsplit("/", 1)[0] + "/" if "/" in first[k] else "the top folder"
            skips.add(name, f"duplicate {what}: kept the first in path order, in {kept_in}")
            continue
        first[k] = name
        kept[name] = wanted[name]
    return kept


@dataclass
class FaceTable:
    """Faces of one data set: an index table (one row per face) and a uint8 pixel array (N, H, W, C).

    ``index.pixel_row`` points into ``pixels``.
    """

    index: pd.DataFrame
    pixels: np.ndarray
    skips: pd.DataFrame
