"""MLflow: the one way this project creates nested runs (a run per trained model, per evaluation, per observation).

A run is created through ``MlflowClient`` with an explicit ``mlflow.parentRunId`` tag (the kedro-mlflow run when
one is active, or a given parent), so nothing depends on which run is active and a re-run makes new runs.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

EXPERIMENT = "hybrid_recommender"
PARENT_TAG = "mlflow.parentRunId"
MAX_BATCH = 1000    # MLflow's log_batch limit on metrics per call
MAX_BATCH_PARAMS = 100   # ... and on params (and tags) per call
MAX_PARAM = 6000    # MLflow's limit on a param value's length
MAX_TAG = 8000      # MLflow's limit on a tag value's length


def _flatten(d: Mapping, prefix: str = "") -> dict[str, str]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = str(v)[:500]
    return out


def experiment_id(client: MlflowClient, name: str = EXPERIMENT) -> str:
    """The active run's experiment (kedro-mlflow's), else ``name`` (created when missing)."""
    active = mlflow.active_run()
    if active is not None:
        return active.info.experiment_id
    found = client.get_experiment_by_name(name)
    return found.experiment_id if found else client.create_experiment(name)


def ensure_experiment(client: MlflowClient, name: str, artifact_location: str | None = None) -> str:
    """The id of experiment ``name``: restored when deleted, created at ``artifact_location`` when missing (given,
    so that its artifacts never land in MLflow's default ./mlruns of the working directory)."""
    found = client.get_experiment_by_name(name)
    if found is None:
        return client.create_experiment(name, artifact_location=artifact_location)
    if found.lifecycle_stage == "deleted":
        client.restore_experiment(found.experiment_id)
    return found.experiment_id


class ChildRun:
    """A nested MLflow run, or a do-nothing stand-in when tracking is off."""

    def __init__(self, run_id: str | None, experiment_id: str | None = None):
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.client = MlflowClient() if run_id else None

    @property
    def active(self) -> bool:
        return self.run_id is not None

    def log_params(self, params: Mapping) -> None:
        """Nested params flattened (``a.b``), in one batch: against a tracking server, one round trip."""
        if not self.active:
            return
        flat = _flatten(params)
        try:
            self.log_batch(params=flat)
        except Exception:  # noqa: BLE001 - a param logged before with another value: keep the others, one by one
            for k, v in flat.items():
                with contextlib.suppress(Exception):
                    self.client.log_param(self.run_id, k, v)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Metrics in batches of MLflow's limit (one round trip per 1000 values)."""
        if self.active:
            self.log_batch({k.replace("@", "_"): v for k, v in metrics.items()}, step=step)

    def log_figure(self, figure, name: str) -> None:
        if self.active:
            self.client.log_figure(self.run_id, figure, name)

    def log_figures(self, figures: Mapping[str, Any], folder: str) -> None:
        for key, figure in figures.items():
            self.log_figure(figure, f"{folder}/{key}")

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

    def log_batch(self, metrics: Mapping[str, float] | None = None, params: Mapping[str, Any] | None = None,
                  tags: Mapping[str, Any] | None = None, step: int | None = None) -> None:
        """Many metrics, flat params and tags in few calls (MLflow's ``log_batch``, 1000 metrics a call)."""
        if not self.active:
            return
        now = int(time.time() * 1000)
        ms = [Metric(k, float(v), now, step or 0) for k, v in (metrics or {}).items()]
        ps = [Param(k, str(v)[:MAX_PARAM]) for k, v in (params or {}).items()]
        ts = [RunTag(k, str(v)[:MAX_TAG]) for k, v in (tags or {}).items()]
        for i in range(0, len(ms), MAX_BATCH):
            self.client.log_batch(self.run_id, metrics=ms[i:i + MAX_BATCH])
        for i in range(0, max(len(ps), len(ts)), MAX_BATCH_PARAMS):    # params and tags: 100 a call
            self.client.log_batch(self.run_id, params=ps[i:i + MAX_BATCH_PARAMS], tags=ts[i:i + MAX_BATCH_PARAMS])

    def log_objects(self, objects: Mapping[str, Any]) -> None:
        """Tables (csv), texts and matplotlib figures as artifacts, each under its name."""
        if not self.active:
            return
        with tempfile.TemporaryDirectory() as tmp:
            for name, obj in objects.items():
                path = Path(tmp) / name
                if isinstance(obj, pd.DataFrame):
                    obj.to_csv(path, index=False)
                elif isinstance(obj, str):
                    path.write_text(obj)
                else:
                    obj.savefig(path, dpi=110, bbox_inches="tight")
            self.client.log_artifacts(self.run_id, tmp)

    def lightning_logger(self):
        """Lightning's MLFlowLogger writing into this run (not a run of its own), or False without tracking."""
        if not self.active:
            return False
        # imported here: Lightning is heavy and only training needs it (evaluation logs runs without it)
        from pytorch_lightning.loggers import MLFlowLogger

        return MLFlowLogger(tracking_uri=mlflow.get_tracking_uri(), run_id=self.run_id, log_model=False)

    def finish(self, status: str = "FINISHED") -> None:
        if self.active:
            self.client.set_terminated(self.run_id, status)


def start_run(name: str, tags: Mapping[str, str] | None = None, parent: ChildRun | None = None,
              experiment: str = EXPERIMENT, *, in_experiment_id: str | None = None, nested: bool = True) -> ChildRun:
    """A new run: a child of ``parent`` when given, else of the active run (kedro-mlflow's) when there is one,
    else a top-level run of ``experiment``. ``in_experiment_id`` puts it in that experiment instead;
    ``nested=False`` makes it nobody's child. The caller finishes it (:meth:`ChildRun.finish`)."""
    client = MlflowClient()
    all_tags = dict(tags or {})
    active = mlflow.active_run()
    parent_id = parent.run_id if parent is not None else (active.info.run_id if active is not None else None)
    if nested and parent_id is not None:
        all_tags[PARENT_TAG] = parent_id
    exp = in_experiment_id or (parent.experiment_id if parent is not None and parent.experiment_id
                               else experiment_id(client, experiment))
    run = client.create_run(experiment_id=exp, tags=all_tags, run_name=name)
    return ChildRun(run.info.run_id, exp)


@contextlib.contextmanager
def child_run(name: str, enabled: bool = True, tags: Mapping[str, str] | None = None) -> Iterator[ChildRun]:
    """A run for one model: a child of the active run (kedro-mlflow's) when there is one, else a top-level run;
    FAILED if the block raises. With ``enabled=False`` nothing is logged."""
    if not enabled:
        yield ChildRun(None)
        return
    child = start_run(name, tags)
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
