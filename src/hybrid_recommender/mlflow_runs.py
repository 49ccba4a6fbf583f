"""MLflow: one child run per trained model, nested under the kedro-mlflow run when there is one."""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import mlflow
from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)


def _flatten(d: Mapping, prefix: str = "") -> dict[str, str]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = str(v)[:500]
    return out


class ChildRun:
    """A nested MLflow run, or a do-nothing stand-in when tracking is off."""

    def __init__(self, run_id: str | None):
        self.run_id = run_id
        self.client = MlflowClient() if run_id else None

    @property
    def active(self) -> bool:
        return self.run_id is not None

    def log_params(self, params: Mapping) -> None:
        if self.active:
            for k, v in _flatten(params).items():
                try:
                    self.client.log_param(self.run_id, k, v)
                except Exception:  # noqa: BLE001 - a param logged twice with another value is not fatal
                    pass

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        if self.active:
            for k, v in metrics.items():
                self.client.log_metric(self.run_id, k.replace("@", "_"), float(v), step=step)

    def log_figure(self, figure, name: str) -> None:
        if self.active:
            self.client.log_figure(self.run_id, figure, name)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        if self.active:
            p = Path(path)
            if p.is_dir():
                self.client.log_artifacts(self.run_id, str(p), artifact_path)
            else:
                self.client.log_artifact(self.run_id, str(p), artifact_path)

    def log_text(self, text: str, name: str) -> None:
        if self.active:
            self.client.log_text(self.run_id, text, name)

    def lightning_logger(self):
        """Lightning's MLFlowLogger writing into this run (not a run of its own), or False without tracking."""
        if not self.active:
            return False
        from pytorch_lightning.loggers import MLFlowLogger

        return MLFlowLogger(tracking_uri=mlflow.get_tracking_uri(), run_id=self.run_id, log_model=False)

    def finish(self, status: str = "FINISHED") -> None:
        if self.active:
            self.client.set_terminated(self.run_id, status)


@contextlib.contextmanager
def child_run(name: str, enabled: bool = True, tags: Mapping[str, str] | None = None) -> Iterator[ChildRun]:
    """A run for one model: a child of the active run (kedro-mlflow's) when there is one, else a top-level run.

    Without an active run and with ``enabled=False`` nothing is logged.
    """
    parent = mlflow.active_run()
    if not enabled:
        yield ChildRun(None)
        return
    client = MlflowClient()
    all_tags = dict(tags or {})
    if parent is not None:
        experiment_id = parent.info.experiment_id
        all_tags["mlflow.parentRunId"] = parent.info.run_id
    else:
        experiment_id = mlflow.get_experiment_by_name("hybrid_recommender")
        experiment_id = (experiment_id.experiment_id if experiment_id is not None
                         else mlflow.create_experiment("hybrid_recommender"))
    run = client.create_run(experiment_id=experiment_id, tags=all_tags, run_name=name)
    child = ChildRun(run.info.run_id)
    try:
        yield child
    except BaseException:
        child.finish("FAILED")
        raise
    child.finish("FINISHED")


def log_member_figures(members: Mapping[str, Mapping], figures: Mapping[str, Any]) -> dict[str, list[str]]:
    """Log each video member's confusion matrices to the member's own nested run.

    ``members``: SVM and LSTM members by name, each with the ``run_id`` of its run (``None``: tracking off);
    ``figures``: :func:`~hybrid_recommender.face_models.training.evaluate_video`'s figures, keyed
    ``video__<member>__<dataset>__<split>.png``. Each lands as ``confusion/<dataset>__<split>.png`` in the run of
    its member. Returns the artifact names logged per member.
    """
    logged: dict[str, list[str]] = {}
    for name, member in members.items():
        run = ChildRun(member.get("run_id"))
        prefix = f"video__{name}__"
        for key, figure in figures.items():
            if key.startswith(prefix) and run.active:
                run.log_figure(figure, f"confusion/{key.removeprefix(prefix)}")
                logged.setdefault(name, []).append(f"confusion/{key.removeprefix(prefix)}")
    return logged


def scratch_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
