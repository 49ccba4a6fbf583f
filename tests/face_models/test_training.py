"""Short real-data training runs: a nested MLflow run with metrics, and determinism (same seed, same metrics)."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from hybrid_recommender.face_models import make_heads
from hybrid_recommender.face_models.data import face_set
from hybrid_recommender.face_models.params import FaceModelsParams
from hybrid_recommender.face_models.preprocessing import Preprocessing
from hybrid_recommender.face_models.training import (
    accuracy_by_age_group,
    age_metrics,
    evaluate_frame_cnn,
    predict_heads,
    train_frame_cnn,
)
from hybrid_recommender.labels import DEFAULT_AGE_GROUPS, age_groups
from hybrid_recommender.mlflow_runs import ChildRun, child_run
from tests.face_models.conftest import SMALL, face_model_params

_SMOKE = face_model_params("smoke")
# the smoke environment's emotion-network settings, as the node hands them to train_frame_cnn
CFG = FaceModelsParams.model_validate(_SMOKE).frame_cnn_for("emotion").model_copy(update={
    "backbones": ["face_vgg_xs"], "max_steps": 4, "batch_size": 32, "progress_bar": False, "log_every_n_steps": 1,
    "limit_val_batches": 1, "accelerator": "cpu", "precision": "32-true", "ema_decay": None})
HEADS = make_heads(DEFAULT_AGE_GROUPS)


def _sets(fer_small, utk_small, heads=HEADS):
    prep = Preprocessing(**SMALL)
    train = [face_set("fer2013", *fer_small, prep, heads, ["train"]), face_set("utkface", *utk_small, prep, heads, ["train"])]
    val = [face_set("fer2013", *fer_small, prep, heads, ["val"]), face_set("utkface", *utk_small, prep, heads, ["val"])]
    return prep, train, val


@pytest.mark.real_data
@pytest.mark.slow
def test_short_real_run_lands_a_nested_mlflow_run_with_metrics(tmp_path, fer_small, utk_small):
    prep, train, val = _sets(fer_small, utk_small)
    assert {h for s in train for h, v in s.labels.items() if (v >= 0).any()} == {"emotion", "gender", "age_group", "age"}
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    try:
        # A temporary artifact store too: without one MLflow writes the artifacts to ./mlruns of the checkout.
        experiment_id = mlflow.create_experiment("face_models_test", artifact_location=(tmp_path / "mlruns").as_uri())
        experiment = mlflow.set_experiment(experiment_id=experiment_id)
        with mlflow.start_run(run_name="kedro_parent") as parent:
            with child_run("frame_cnn_face_vgg_xs") as run:
                net, info = train_frame_cnn("face_vgg_xs", HEADS, train, val, prep, CFG, run, tmp_path / "work", seed=3)
                rows, figures = evaluate_frame_cnn("face_vgg_xs", net, [("fer2013", "val", "source", val[0])], prep,
                                                   [False])
                run.log_figure(next(iter(figures.values())), "confusion/fer2013_val.png")
            client = MlflowClient()
            assert client.get_run(parent.info.run_id).info.status == "RUNNING"   # the logger did not end it
        children = client.search_runs([experiment.experiment_id],
                                      filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
        assert len(children) == 1
        child = children[0]
        assert child.info.status == "FINISHED" and child.data.params["backbone"] == "face_vgg_xs"
        assert "train/loss_step" in child.data.metrics and "val/loss" in child.data.metrics
        assert "val/emotion_acc" in child.data.metrics and "val/gender_acc" in child.data.metrics
        artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"checkpoint", "confusion"} <= artifacts
        # every sampled validation face that face_set keeps (the carved validation holds a few of Training's blanks)
        assert info["steps"] == 4 and rows[0]["n"] == len(val[0].images) > 90
    finally:
        mlflow.set_tracking_uri(previous)


@pytest.mark.real_data
@pytest.mark.slow
def test_same_seed_same_metrics(tmp_path, fer_small, utk_small):
    prep, train, val = _sets(fer_small, utk_small)
    results, cfg = [], CFG.model_copy(update={"max_steps": 3})
    for attempt in range(2):
        net, _ = train_frame_cnn("face_vgg_xs", HEADS, train, val, prep, cfg, ChildRun(None), tmp_path / f"run{attempt}",
                                 seed=7)
        results.append(predict_heads(net, val[0].images, prep))
    for head in results[0]:
        np.testing.assert_array_equal(results[0][head], results[1][head])
    other, _ = train_frame_cnn("face_vgg_xs", HEADS, train, val, prep, cfg, ChildRun(None), tmp_path / "other", seed=8)
    assert not np.array_equal(predict_heads(other, val[0].images, prep)["emotion"], results[0]["emotion"])


@pytest.mark.real_data
@pytest.mark.slow
def test_the_age_head_follows_the_configured_age_groups(tmp_path, fer_small, utk_small):
    """Other age groups in data_engineering.age_groups: every age is labelled and the age head learns them."""
    edges, labels = [0, 15, 30, 50, 200], ["0-14", "15-29", "30-49", "50+"]
    index, pixels = utk_small
    index = index.assign(age_group=age_groups(index["age"], edges, labels).astype(object))
    heads = make_heads(labels)
    prep, train, val = _sets(fer_small, (index, pixels), heads)
    utk = train[1]
    assert (utk.labels["age_group"] >= 0).all() and set(utk.labels["age_group"]) == {0, 1, 2, 3}
    net, info = train_frame_cnn("face_vgg_xs", heads, train, val, prep, CFG.model_copy(update={"max_steps": 2}),
                                ChildRun(None), tmp_path / "work", seed=1, age_edges=edges)
    # the head learns years 0..100; each configured group's probability is the sum over its years
    assert net.heads["age"].out_features == 101 and net.classes["age_group"] == tuple(labels)
    probs = predict_heads(net, utk.images, prep)
    assert probs["age_group"].shape == (len(utk), 4) and probs["age"].shape == (len(utk), 101)
    np.testing.assert_allclose(probs["age_group"][:, 1], probs["age"][:, 15:30].sum(1), rtol=1e-5)
    np.testing.assert_allclose(probs["age_expected"], probs["age"] @ np.arange(101), rtol=1e-4)
    assert set(info["temperatures"]) == {"emotion", "gender", "age"}   # calibrated on the validation faces
    groups_only = CFG.model_copy(update={"max_steps": 2, "age_head": CFG.age_head.model_copy(
        update={"target": "groups"})})
    net, _ = train_frame_cnn("face_vgg_xs", heads, train, val, prep, groups_only, ChildRun(None),
                             tmp_path / "groups", seed=1, age_edges=edges)
    assert net.heads["age_group"].out_features == 4 and "age_expected" not in predict_heads(net, utk.images, prep)


@pytest.mark.real_data
@pytest.mark.slow
def test_ema_before_its_first_update_leaves_the_trained_weights(tmp_path, fer_small, utk_small):
    """An EMA that has not started yet (start step beyond the run) must not hand back the initial weights."""
    prep, train, val = _sets(fer_small, utk_small)
    cfg = CFG.model_copy(update={"max_steps": 3})
    plain, _ = train_frame_cnn("face_vgg_xs", HEADS, train, val, prep, cfg, ChildRun(None), tmp_path / "plain", seed=7)
    late_cfg = cfg.model_copy(update={"ema_decay": 0.999, "ema_start_fraction": 2.0})
    late, _ = train_frame_cnn("face_vgg_xs", HEADS, train, val, prep, late_cfg, ChildRun(None), tmp_path / "late", seed=7)
    for head, probs in predict_heads(plain, val[0].images, prep).items():
        np.testing.assert_allclose(predict_heads(late, val[0].images, prep)[head], probs, atol=1e-6)
    early_cfg = cfg.model_copy(update={"ema_decay": 0.5, "ema_start_fraction": 0.0})
    early, _ = train_frame_cnn("face_vgg_xs", HEADS, train, val, prep, early_cfg, ChildRun(None), tmp_path / "early",
                               seed=7)
    assert not np.allclose(predict_heads(early, val[0].images, prep)["emotion"],
                           predict_heads(plain, val[0].images, prep)["emotion"])


def test_accuracy_by_age_group_counts_only_faces_labelled_with_both():
    """Gender right/wrong for six faces: per group, over the viewers' groups, unlabelled faces left out."""
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7], [0.5, 0.5], [0.1, 0.9]])
    gender = np.array([0, 0, 0, 1, -1, 1])          # right, wrong, right, right, (unknown), right
    ages = np.array([0, 1, 1, 2, 2, -1])            # 0-7, 8-14, 8-14, 15-24, 15-24, (unknown)
    out = accuracy_by_age_group(probs, gender, ages, ["0-7", "8-14", "15-24", "48+"], ["8-14", "15-24"])
    assert out["accuracy_age_0-7"] == 1.0 and out["accuracy_age_8-14"] == 0.5 and out["accuracy_age_15-24"] == 1.0
    assert np.isnan(out["accuracy_age_48+"])
    assert out["n_viewer_ages"] == 3 and out["accuracy_viewer_ages"] == pytest.approx(2 / 3)
    assert accuracy_by_age_group(probs, gender, None, ["0-7"], ["0-7"]) == {}


def test_age_metrics_by_hand():
    """Four faces (ages 5, 20, 30, 40) with hand-set group probabilities and expected ages."""
    groups, viewers = list(DEFAULT_AGE_GROUPS), ["8-14", "15-24", "25-37", "38-47"]
    ages = np.array([5.0, 20.0, 30.0, 40.0, -1.0])
    codes = np.array([0, 2, 3, 4, -1])                       # 0-7, 15-24, 25-37, 38-47, unknown
    chosen = [0, 2, 1, 3, 3]                                 # the 30-year-old read as 8-14, the 40-year-old as 25-37
    probs = {"age_group": np.eye(6)[chosen], "age_expected": np.array([6.0, 22.0, 13.0, 36.0, 50.0])}
    m = age_metrics(probs, ages, codes, groups, viewers)
    assert m["accuracy_viewer_ages"] == pytest.approx(1 / 3) and m["n_viewer_ages"] == 3
    assert m["adults_as_children"] == pytest.approx(1 / 2)  # of the two adults (30, 40), one read as a child
    assert m["mae_years"] == pytest.approx((1 + 2 + 17 + 4) / 4)
    assert m["mae_years_viewer_ages"] == pytest.approx((2 + 17 + 4) / 3)
    assert m["mae_years_25-37"] == pytest.approx(17.0) and np.isnan(m["mae_years_8-14"])
    assert "mae_years" not in age_metrics({"age_group": probs["age_group"]}, ages, codes, groups, viewers)
