"""What every loader returns, and the bookkeeping of skipped records."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

SKIP_COLUMNS = ["dataset", "file", "reason"]


@dataclass
class SkipLog:
    """Records skipped during ingestion: each one is counted and named, never silently dropped."""

    dataset: str
    rows: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, file: str, reason: str) -> None:
        self.rows.append((self.dataset, file, reason))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=SKIP_COLUMNS).astype(str)


def empty_skips() -> pd.DataFrame:
    return pd.DataFrame(columns=SKIP_COLUMNS).astype(str)


@dataclass
class FaceTable:
    """Faces of one data set: an index table (one row per face) and a uint8 pixel array (N, H, W, C).

    ``index.pixel_row`` points into ``pixels``.
    """

    index: pd.DataFrame
    pixels: np.ndarray
    skips: pd.DataFrame
