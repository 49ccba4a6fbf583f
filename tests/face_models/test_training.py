"""Short real-data training runs: a nested MLflow run with metrics, and determinism (same seed, same metrics)."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from hybrid_recommender.face_models.data import face_set
from hybrid_recommender.face_models.preprocessing import Preprocessing
from hybrid_recommender.face_models.tracking import ChildRun, child_run
from hybrid_recommender.face_models.training import evaluate_frame_cnn, predict_heads, train_frame_cnn
from tests.face_models.conftest import SMALL

CFG = {"max_epochs": 1, "max_steps": 4, "batch_size": 32, "lr": 2e-3, "class_weight_power": 0.5,
       "progress_bar": False, "log_every_n_steps": 1, "limit_val_batches": 1}


def _sets(fer_small, utk_small):
    prep = Preprocessing(**SMALL)
    train = [face_set("fer2013", *fer_small, prep, ["train"]), face_set("utkface", *utk_small, prep, ["train"])]
    val = [face_set("fer2013", *fer_small, prep, ["val"]), face_set("utkface", *utk_small, prep, ["val"])]
    return prep, train, val


@pytest.mark.real_data
@pytest.mark.slow
def test_short_real_run_lands_a_nested_mlflow_run_with_metrics(tmp_path, fer_small, utk_small):
    prep, train, val = _sets(fer_small, utk_small)
    assert {h for s in train for h, v in s.labels.items() if (v >= 0).any()} == {"emotion", "gender", "age_group"}
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    try:
        experiment = mlflow.set_experiment("face_models_test")
        with mlflow.start_run(run_name="kedro_parent") as parent:
            with child_run("frame_cnn_regnetx_002") as run:
                net, info = train_frame_cnn("regnetx_002", train, val, prep, CFG, run, tmp_path / "work", seed=3)
                rows, figures = evaluate_frame_cnn("regnetx_002", net, [("fer2013", "val", "source", val[0])], prep,
                                                   [False])
                run.log_figure(next(iter(figures.values())), "confusion/fer2013_val.png")
            client = MlflowClient()
            assert client.get_run(parent.info.run_id).info.status == "RUNNING"   # the logger did not end it
        children = client.search_runs([experiment.experiment_id],
                                      filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
        assert len(children) == 1
        child = children[0]
        assert child.info.status == "FINISHED" and child.data.params["backbone"] == "regnetx_002"
        assert "train/loss_step" in child.data.metrics and "val/loss" in child.data.metrics
        assert "val/emotion_acc" in child.data.metrics and "val/gender_acc" in child.data.metrics
        artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"checkpoint", "confusion"} <= artifacts
        assert info["steps"] == 4 and rows[0]["n"] == 100
    finally:
        mlflow.set_tracking_uri(previous)


@pytest.mark.real_data
@pytest.mark.slow
def test_same_seed_same_metrics(tmp_path, fer_small, utk_small):
    prep, train, val = _sets(fer_small, utk_small)
    results = []
    for attempt in range(2):
        net, _ = train_frame_cnn("regnetx_002", train, val, prep, {**CFG, "max_steps": 3}, ChildRun(None),
                                 tmp_path / f"run{attempt}", seed=7)
        results.append(predict_heads(net, val[0].images, prep))
    for head in results[0]:
        np.testing.assert_array_equal(results[0][head], results[1][head])
    other, _ = train_frame_cnn("regnetx_002", train, val, prep, {**CFG, "max_steps": 3}, ChildRun(None),
                               tmp_path / "other", seed=8)
    assert not np.array_equal(predict_heads(other, val[0].images, prep)["emotion"], results[0]["emotion"])
