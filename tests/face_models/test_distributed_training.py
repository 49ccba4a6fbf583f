"""Distributed training runs only the training step: the face_models ``train_frame_cnns`` node, run by Kedro's
SequentialRunner, trains a small frame CNN on real UTKFace faces in 1 process and then in 2 (``ddp_spawn``, CPU,
gloo) from the same data and seed; each node runs once, 2 processes really train, and the two models are within
noise of each other on the test faces (and both beat the majority class)."""

from __future__ import annotations

import math
import os
import pickle
import time
from collections import Counter

import mlflow
import pytest
import torch
from kedro.framework.hooks import hook_impl
from kedro.framework.hooks.manager import _create_hook_manager
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from mlflow.tracking import MlflowClient

from hybrid_recommender.face_models import make_heads
from hybrid_recommender.face_models.distributed import FrameCNNModule, TrainingFacts
from hybrid_recommender.face_models.hardware import usable_cpus
from hybrid_recommender.face_models.training import EMAAfterWarmup
from hybrid_recommender.ingest.sources import DataSource
from hybrid_recommender.ingest.utkface import read_utkface
from hybrid_recommender.labels import DEFAULT_AGE_BIN_EDGES as EDGES
from hybrid_recommender.labels import DEFAULT_AGE_GROUPS as GROUPS
from hybrid_recommender.pipelines.face_models import create_pipeline
from tests.conftest import require_shared
from tests.face_models.conftest import _subset, empty_table, face_model_params
from tests.face_models.test_pipeline import AGE_GROUPS

NODES = ("reframe_utkface_with_mtcnn", "train_frame_cnns")
ONE = {"accelerator": "cpu", "devices": 1, "strategy": "auto", "num_nodes": 1, "deterministic": True}
TWO = {**ONE, "devices": 2, "strategy": "ddp_spawn"}
BATCH = 64   # the global batch: Lightning's batch_size is per process, so 2 processes get 32 each


@pytest.fixture(scope="module")
def utkface():
    """2,000 training, 200 validation and every test face (about 780) of the shared UTKFace crops."""
    archive = require_shared("utkface_crop_part1.tar.gz") / "utkface_crop_part1.tar.gz"
    table = read_utkface(DataSource(archive), 64, {"train": 0.8, "val": 0.1, "test": 0.1}, EDGES, GROUPS)
    return _subset(table.index, table.pixels, {"train": 2000, "val": 200, "test": 10_000})


class NodeRuns:
    """Counts ``before_node_run`` per node name, with the process that ran it."""

    def __init__(self):
        self.counts: Counter[str] = Counter()
        self.pids: set[int] = set()

    @hook_impl
    def before_node_run(self, node):
        self.counts[node.name] += 1
        self.pids.add(os.getpid())


def _params(tmp_path, hardware: dict) -> dict:
    """Smoke settings narrowed to one small gender network on UTKFace, a few epochs, tracked in MLflow."""
    params = face_model_params("smoke")
    params.update(tracking=True, workdir=str(tmp_path / "work"), seed=11, hardware=hardware)
    params["preprocessing"].update(image_size=32, crop_size=28)   # half the pixels of 48/40 px: a faster step
    params["video"]["lstm"]["frame_models"] = ["face_vgg_xs"]
    params["frame_cnn"].update(
        backbones=["face_vgg_xs"], head_groups=[["gender"]], group_overrides={}, utkface_framing="source",
        train_datasets={"utkface": ["train"]}, val_datasets={"utkface": ["val"]}, eval_splits=["test"],
        train_limit=None, val_limit=None, eval_limit=None, limit_val_batches=None, ten_crop_eval=[False],
        max_steps=None, max_epochs=2, batch_size=BATCH // hardware["devices"], early_stopping_patience=20,
        precision="32-true", progress_bar=False, log_every_n_steps=5)
    return params


def _run(params: dict, utk) -> tuple[dict, NodeRuns, float]:
    """The two nodes through Kedro's SequentialRunner on a catalog of in-memory data sets."""
    empty = empty_table()
    inputs = {"utkface_faces": utk[0], "utkface_pixels": utk[1], "params:face_models": params,
              "params:data_engineering.age_groups": AGE_GROUPS, "params:data_engineering.fer2013.exclude_blank": True,
              **{f"{ds}_{part}": empty[i] for ds in ("fer2013", "ckplus", "rafdb")
                 for i, part in enumerate(("faces", "pixels"))}}
    outputs = ("frame_cnn_models", "frame_cnn_metrics", "frame_cnn_confusion_matrices")
    catalog = DataCatalog({**{k: MemoryDataset(v) for k, v in inputs.items()}, **{k: MemoryDataset() for k in outputs}})
    hooks, runs = _create_hook_manager(), NodeRuns()
    hooks.register(runs)
    start = time.perf_counter()
    SequentialRunner().run(create_pipeline().only_nodes(*NODES), catalog, hook_manager=hooks)
    seconds = time.perf_counter() - start
    model = catalog.load("frame_cnn_models")["models"]["face_vgg_xs_gender"]
    metrics = catalog.load("frame_cnn_metrics")
    row = metrics[(metrics["split"] == "test") & (metrics["attribute"] == "gender")].iloc[0]
    return {"accuracy": float(row["accuracy"]), "n": int(row["n"]), "info": model["info"],
            "run_id": model["run_id"]}, runs, seconds


@pytest.mark.real_data
@pytest.mark.slow
@pytest.mark.kedro_run
def test_two_spawned_processes_train_the_node_once_and_match_one(tmp_path, monkeypatch, utkface):
    uri, previous = f"sqlite:///{tmp_path}/mlflow.db", mlflow.get_tracking_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)   # the spawned processes' environment too
    mlflow.set_tracking_uri(uri)
    results = {}
    try:   # a temporary artifact store too: without one MLflow writes to ./mlruns of the checkout
        experiment = mlflow.create_experiment("distributed", artifact_location=(tmp_path / "mlruns").as_uri())
        with mlflow.start_run(experiment_id=experiment, run_name="kedro_parent"):
            for name, hardware in (("one", ONE), ("two", TWO)):
                results[name] = _run(_params(tmp_path / name, hardware), utkface)
    finally:
        mlflow.set_tracking_uri(previous)
    for name, (result, runs, seconds) in results.items():
        print(f"{name}: {seconds:.1f} s, test accuracy {result['accuracy']:.3f} of {result['n']}, "
              f"fit {result['info']['fit_seconds']:.1f} s, {result['info']['steps']} steps")
        assert dict(runs.counts) == dict.fromkeys(NODES, 1), runs.counts    # no node ran twice, in any process
        assert runs.pids == {os.getpid()}
    one, _, _ = results["one"]
    two, _, _ = results["two"]
    # 2 processes trained, neither of them this one; 1 process trained here
    assert (one["info"]["world_size"], one["info"]["training_processes"], one["info"]["trained_in_this_process"]) \
        == (1, 1, True)
    assert (two["info"]["world_size"], two["info"]["training_processes"], two["info"]["trained_in_this_process"]) \
        == (2, 2, False)
    assert two["info"]["threads_per_process"] == max(1, usable_cpus() // 2)   # shared, not oversubscribed
    # the same global batch: the same steps, the one-cycle completed in both
    assert two["info"]["steps"] == one["info"]["steps"] == one["info"]["planned_steps"] > 0
    assert two["info"]["schedule_completed"] and two["info"]["temperatures"]   # calibrated after the fit, here
    # what ran is in each network's MLflow run, and rank 0's metrics reached it from its own process
    client = MlflowClient(uri)
    for result, size in ((one, "1"), (two, "2")):
        run = client.get_run(result["run_id"])
        assert run.data.params["world_size"] == run.data.params["training_processes"] == size
        assert "val/loss" in run.data.metrics and run.info.status == "FINISHED"
        assert "checkpoint" in {a.path for a in client.list_artifacts(result["run_id"])}
    # within noise: the difference of two accuracies on n test faces, each with binomial variance p(1-p)/n
    n, p = one["n"], (one["accuracy"] + two["accuracy"]) / 2
    assert n == two["n"] > 500
    tolerance = 3 * math.sqrt(2 * p * (1 - p) / n)
    assert abs(one["accuracy"] - two["accuracy"]) <= tolerance, (one["accuracy"], two["accuracy"], tolerance)
    # and both learnt: above the majority class by 3 standard errors
    labels = utkface[0].loc[utkface[0]["split"] == "test", "gender"].dropna()
    majority = float(labels.value_counts(normalize=True).iloc[0])
    floor = majority + 3 * math.sqrt(majority * (1 - majority) / n)
    print(f"|difference| {abs(one['accuracy'] - two['accuracy']):.3f} <= {tolerance:.3f}; majority {majority:.3f}, "
          f"floor {floor:.3f}")
    assert min(one["accuracy"], two["accuracy"]) > floor, (one["accuracy"], two["accuracy"], floor)


def test_what_the_spawned_processes_receive_pickles():
    """ddp_spawn pickles the module and callbacks into each process: the EMA callback's averaging closure is
    rebuilt with its decay after the round trip (Lightning's own would not pickle)."""
    ema = pickle.loads(pickle.dumps(EMAAfterWarmup(decay=0.5, start_fraction=0.3)))
    assert (ema.decay, ema.start_fraction) == (0.5, 0.3)
    average, current = torch.zeros(2), torch.ones(2)
    torch.testing.assert_close(ema._kwargs["avg_fn"](average, current, torch.tensor(1)), torch.full((2,), 0.5))
    heads = make_heads(GROUPS)
    module = FrameCNNModule("face_vgg_xs", heads, pretrained=False, dropout=0.1, optimizer="sgd", lr=0.1,
                            momentum=0.9, weight_decay=0.0, label_smoothing=0.0,
                            class_weights={h: [1.0] * len(c) for h, c in heads.items()},
                            head_weights=dict.fromkeys(heads, 1.0), schedule="constant", warmup_fraction=0.0,
                            channels_last=False)
    copy = pickle.loads(pickle.dumps(module))
    for (name, a), (_, b) in zip(module.state_dict().items(), copy.state_dict().items()):
        torch.testing.assert_close(a, b, msg=name)
    pickle.loads(pickle.dumps(TrainingFacts()))
