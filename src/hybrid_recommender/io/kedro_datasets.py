"""The project's Kedro datasets: raw data sets as downloaded, memory-mapped pixel arrays, fitted recommenders
(the face attribute predictor's is in :mod:`.predictor_dataset`: it loads torch), figures handed on within a run.

Writes go to a temporary name that replaces the target only when complete, and is removed on failure (an
interrupted run leaves old or new complete files, never a partial or temporary one).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from kedro.io import AbstractDataset, DatasetError
from kedro_datasets.matplotlib import MatplotlibDataset
from matplotlib.figure import Figure

from hybrid_recommender.ingest.clip_cache import ClipFaceCache
from hybrid_recommender.ingest.sources import DataSource, find_source
from hybrid_recommender.recommender import store

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


class DownloadedSourceDataset(RawSourceDataset):
    """A :class:`RawSourceDataset` that a download node may fill: it saves ``{file name: bytes}`` into ``root``
    (an empty dict when the data set was already there), each file complete or not at all.

    ``root`` is the user's datasets folder: it must exist and is never created, so a mistyped path is not hidden.
    """

    def save(self, data: dict[str, bytes]) -> None:
        if data and not self._root.is_dir():
            raise DatasetError(f"{self._root}: not a folder, so {', '.join(data)} cannot be written there.")
        for name, payload in data.items():
            target = self._root / name
            tmp = target.with_name(f".{name}.tmp")
            try:
                tmp.write_bytes(payload)
                tmp.replace(target)
            finally:
                tmp.unlink(missing_ok=True)


class ClipFaceCacheDataset(AbstractDataset[None, ClipFaceCache]):
    """The catalog's handle on a :class:`ClipFaceCache` folder: the node that detects faces reads and fills it
    clip by clip (a run interrupted half-way keeps the clips it finished)."""

    def __init__(self, path: str, metadata: dict[str, Any] | None = None):
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> ClipFaceCache:
        return ClipFaceCache(self._path)

    def save(self, data: None) -> None:
        raise DatasetError("ClipFaceCacheDataset is filled clip by clip through the handle it loads, not saved whole.")

    def _exists(self) -> bool:
        return self._path.is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}


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
        try:
            np.save(tmp, np.ascontiguousarray(data), allow_pickle=False)
            tmp.replace(self._filepath)
        finally:
            tmp.unlink(missing_ok=True)

    def _exists(self) -> bool:
        return self._filepath.exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "mmap": self._mmap}


class RecommenderDataset(AbstractDataset):
    """One fitted recommender as a folder of data (JSON + parquet, see recommender/store.py), loaded without pickle.

    ``many: true`` holds a dict of recommenders by name (one subfolder each).
    """

    def __init__(self, filepath: str, many: bool = False, metadata: dict[str, Any] | None = None):
        self._filepath = Path(filepath)
        self._many = bool(many)
        self.metadata = metadata

    def load(self) -> Any:
        return store.load_recommenders(self._filepath) if self._many else store.load_recommender(self._filepath)

    def save(self, data: Any) -> None:
        if self._many:
            store.save_recommenders(data, self._filepath)
        else:
            store.save_recommender(data, self._filepath)

    def _exists(self) -> bool:
        return (self._filepath / (store.INDEX_FILE if self._many else store.META_FILE)).is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "many": self._many}


class FigureDataset(MatplotlibDataset):
    """A PNG written (and previewed in Kedro-Viz) like ``matplotlib.MatplotlibDataset``'s, and the figure handed on
    to later nodes of the run that drew it: a PNG cannot be loaded back as a figure."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._figure: Figure | None = None

    def save(self, data: Figure) -> None:
        super().save(data)
        self._figure = data

    def load(self) -> Figure:
        if self._figure is None:
            raise DatasetError(f"{self._filepath}: the figure is handed on only within the run that draws it; "
                               "run its plotting node too")
        return self._figure
