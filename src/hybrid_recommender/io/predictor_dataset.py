"""Kedro dataset of the fused predictor: a folder (config.json + weights.safetensors), logged to MLflow."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import mlflow
from kedro.io import AbstractDataset

from hybrid_recommender.face_models.predictor import FaceAttributePredictor


class FacePredictorDataset(AbstractDataset[FaceAttributePredictor, FaceAttributePredictor]):
    """Saves a :class:`FaceAttributePredictor` into ``filepath`` (a folder) and, when a kedro-mlflow run is
    active and ``artifact_path`` is set, logs the folder as an MLflow artifact of that run."""

    def __init__(self, filepath: str, artifact_path: str | None = "face_attribute_predictor",
                 metadata: dict[str, Any] | None = None):
        self._filepath = Path(filepath)
        self._artifact_path = artifact_path
        self.metadata = metadata

    def load(self) -> FaceAttributePredictor:
        return FaceAttributePredictor.load(self._filepath)

    def save(self, data: FaceAttributePredictor) -> None:
        tmp = self._filepath.with_name(self._filepath.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        data.save(tmp)
        shutil.rmtree(self._filepath, ignore_errors=True)
        tmp.replace(self._filepath)
        if self._artifact_path and mlflow.active_run() is not None:
            mlflow.log_artifacts(str(self._filepath), self._artifact_path)

    def _exists(self) -> bool:
        return (self._filepath / "config.json").exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "artifact_path": self._artifact_path}
