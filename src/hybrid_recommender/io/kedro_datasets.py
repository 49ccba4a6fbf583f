"""The project's Kedro datasets: raw data sets as downloaded, and memory-mapped pixel arrays."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from kedro.io import AbstractDataset, DatasetError

from hybrid_recommender.io.sources import DataSource, find_source

log = logging.getLogger(__name__)


class RawSourceDataset(AbstractDataset[None, "DataSource | None"]):
    """A data set as its users download it, looked up under ``root`` by candidate names (archive or folder).

    Loads a :class:`DataSource` handle that nodes read lazily, or None when no candidate exists: whether a
    missing data set is an error is the pipeline's call (some are optional).
    """

    def __init__(self, root: str, candidates: list[str], metadata: dict[str, Any] | None = None):
        self._root = Path(root)
        self._candidates = list(candidates)
        self.metadata = metadata

    def load(self) -> DataSource | None:
        return find_source(self._root, self._candidates)

    def save(self, data: None) -> None:
        raise DatasetError("RawSourceDataset is read-only: raw data sets are never written by the project.")

    def _exists(self) -> bool:
        return find_source(self._root, self._candidates) is not None

    def _describe(self) -> dict[str, Any]:
        return {"root": str(self._root), "candidates": self._candidates}


class NpyArrayDataset(AbstractDataset[np.ndarray, np.ndarray]):
    """A numpy array in ``.npy`` form, memory-mapped read-only on load so large pixel arrays stay on disk."""

    def __init__(self, filepath: str, mmap: bool = True, metadata: dict[str, Any] | None = None):
        self._filepath = Path(filepath)
        self._mmap = mmap
        self.metadata = metadata

    def load(self) -> np.ndarray:
        return np.load(self._filepath, mmap_mode="r" if self._mmap else None, allow_pickle=False)

    def save(self, data: np.ndarray) -> None:
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._filepath.with_suffix(".tmp.npy")
        np.save(tmp, np.ascontiguousarray(data), allow_pickle=False)
        tmp.replace(self._filepath)

    def _exists(self) -> bool:
        return self._filepath.exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "mmap": self._mmap}
