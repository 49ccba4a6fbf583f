"""The model card, metric keys and the headline summary from the models' own records (no training here)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hybrid_recommender.face_models.summary import (
    age_card,
    metric_key,
    model_card,
    summarise_face_models,
    summary_metrics,
)


def _info(finished_at: str, accelerator: str = "cpu", fit_seconds: float = 120.0) -> dict:
    compute = {"precision": "32-true", "channels_last": True, "reason": "AVX2 only: fp32",
               "hardware_cpu_capability": "AVX2", "hardware_accelerator": accelerator}
    return {"epochs": 2, "fit_seconds": fit_seconds, "seconds_with_probe": fit_seconds + 6, "steps": 10,
            "planned_steps": 10, "schedule_completed": True, "schedule_plan": None, "compute": compute,
            "finished_at": finished_at}


AGE_ROW = {"dataset": "utkface", "split": "test", "attribute": "age_group", "variant": "mtcnn/centre_crop",
           "accuracy": 0.74567, "accuracy_viewer_ages": 0.537, "mae_years": 5.1957, "mae_years_viewer_ages": 5.51,
           "adults_as_children": 0.0049, "ece": 0.0304, "macro_f1": 0.6}


def _frame_cnns() -> dict:
    emotion = {"backbone": "face_vgg_xs", "heads": ["emotion"], "info": _info("2026-01-02T10:00:00+00:00"),
               "val_accuracy_by_dataset": {"emotion": {"fer2013": 0.51234, "ckplus": 0.9}},
               "val_accuracy_by_dataset_ten_crop": {"emotion": {"fer2013": 0.53}},
               "train_faces": {"fer2013": 300}, "val_faces": {"fer2013": 100}}
    gender = {**emotion, "heads": ["gender", "age_group"], "info": _info("2026-01-02T11:00:00+00:00", fit_seconds=60),
              "val_accuracy_by_dataset": {"gender": {"utkface": 0.8}}, "val_accuracy_by_dataset_ten_crop": {},
              "age_card": age_card([AGE_ROW, {**AGE_ROW, "variant": "source/centre_crop", "mae_years": 9.0},
                                    {**AGE_ROW, "attribute": "gender"}]),
              "calibration": [{"attribute": "age_group", "dataset": "utkface", "split": "test", "temperature": 0.9,
                               "ece_uncalibrated": 0.05, "ece": 0.03}]}
    return {"models": {"face_vgg_xs_emotion": emotion, "face_vgg_xs_gender_age_group": gender}}


def test_the_model_card_keeps_its_keys_and_reads_time_and_device_from_the_networks():
    card = model_card(_frame_cnns(), ["face_vgg_xs_emotion", "face_vgg_xs_gender_age_group"],
                      {"branch_val_accuracy": {"fused": 0.61}}, "smoke")
    assert set(card) == {"environment", "trained_at", "device", "networks", "fit_minutes", "validation_accuracy",
                         "validation_splits", "age", "calibration"}
    # the age head per data set, in the framing inference uses (MTCNN for UTKFace), rounded; other rows left out
    assert card["age"] == {"face_vgg_xs_gender_age_group": {"utkface/test": {
        "accuracy": 0.7457, "accuracy_viewer_ages": 0.537, "mae_years": 5.1957, "mae_years_viewer_ages": 5.51,
        "adults_as_children": 0.0049, "ece": 0.0304}}}
    assert card["calibration"]["face_vgg_xs_gender_age_group"][0]["temperature"] == 0.9
    assert card["environment"] == "smoke" and card["device"] == "cpu"
    assert card["trained_at"] == "2026-01-02T11:00:00+00:00"    # the last network's finish
    assert card["fit_minutes"] == 3.0
    assert set(card["networks"]["face_vgg_xs_emotion"]) == {
        "backbone", "heads", "epochs", "fit_minutes", "precision", "channels_last", "precision_reason",
        "cpu_capability", "planned_steps", "trained_steps", "schedule_completed", "budget_minutes",
        "planned_minutes", "minutes_with_speed_probe", "train_faces", "validation_faces"}
    assert card["validation_accuracy"] == {
        "face_vgg_xs_emotion emotion FER2013 val (centre crop)": 0.5123,
        "face_vgg_xs_emotion emotion CK+ val (centre crop)": 0.9,
        "face_vgg_xs_emotion emotion FER2013 val (ten-crop)": 0.53,
        "face_vgg_xs_gender_age_group gender UTKFace val (centre crop)": 0.8,
        "fused emotion (sequences)": 0.61}


def test_metric_keys_and_the_summary_keep_their_names():
    row = {"dataset": "utkface", "split": "test", "attribute": "gender", "variant": "mtcnn/ten_crop"}
    assert metric_key(row, "accuracy") == "utkface/test/gender_accuracy_mtcnn_tencrop"
    fer = {"dataset": "fer2013", "split": "test", "attribute": "emotion", "variant": "source/centre_crop"}
    assert metric_key(fer, "macro_f1") == "fer2013/test/emotion_macro_f1_centre"      # PublicTest when carved
    assert metric_key({**fer, "split": "val"}, "accuracy") == "fer2013/val/emotion_accuracy_centre"
    frame = pd.DataFrame([{**fer, "accuracy": 0.6}])
    video = pd.DataFrame([{"model": "fused", "dataset": "afew", "split": "test", "accuracy": 0.4}])
    summary = summarise_face_models(frame, video)
    metrics = summary_metrics(summary)
    assert metrics["fer2013/test/emotion_accuracy_centre"] == {"value": 0.6, "step": 0}
    assert metrics["afew/test/sequences_fused_accuracy"] == {"value": 0.4, "step": 0}
    paper = summary.set_index("metric")["paper"]
    assert paper["fer2013/test/emotion_accuracy_centre"] == "VGG-16 FER2013 val 70.96"
    assert paper["afew/test/sequences_fused_accuracy"] == "AFEW fused 60.2"
    assert np.isnan(summary.set_index("metric").loc["ckplus/test/emotion_accuracy_centre", "accuracy"])
    assert len(metrics) == 2     # rows without a measured accuracy are not logged
