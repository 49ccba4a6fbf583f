"""What the face models achieved, in words a user can judge: metric keys, validation accuracy, the model card and
the headline summary beside the paper's figures (no Kedro, no MLflow here)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd


def metric_key(row: Mapping, metric: str) -> str:
    """A clean, namespaced MLflow key: ``fer2013/test/emotion_accuracy_centre`` (``_mtcnn`` for UTKFace's MTCNN
    framing). The split is named by its part (val chooses, test is only scored), whatever official split plays it:
    data_engineering's ``face_splits.csv`` says which (FER2013: PublicTest is test under the carved protocol)."""
    split = row["split"]
    framing, crop = row["variant"].split("/")
    suffix = ("_mtcnn" if framing == "mtcnn" else "") + ("_tencrop" if crop == "ten_crop" else "_centre")
    return f"{row['dataset']}/{split}/{row['attribute']}_{metric}{suffix}"


def validation_accuracy_by_dataset(rows: list[dict], ten_crop: bool) -> dict[str, dict[str, float]]:
    """Head -> data set -> validation accuracy, on the framing each data set is used with at inference."""
    crop = "ten_crop" if ten_crop else "centre_crop"
    acc = {}
    for row in rows:
        framing = "mtcnn" if row["dataset"] == "utkface" else "source"
        if row["split"] == "val" and row["variant"] == f"{framing}/{crop}":
            acc.setdefault(row["attribute"], {})[row["dataset"]] = float(row["accuracy"])
    return acc


def validation_accuracy(rows: list[dict], ten_crop: bool) -> dict[str, float]:
    """Mean validation accuracy per head over its data sets (what the frame-model fusion weights compare)."""
    return {h: float(np.mean(list(v.values()))) for h, v in validation_accuracy_by_dataset(rows, ten_crop).items()}


VALIDATION_SPLITS = {"fer2013": "FER2013 val", "utkface": "UTKFace val", "ckplus": "CK+ val"}
VALIDATION_SPLIT_NOTES = {"FER2013 val": "by data_engineering.fer2013.protocol: carved (a stratified, seeded tenth of "
                                         "Training; PublicTest is test) or official (PublicTest); face_splits.csv",
                          "UTKFace val": "faces picked by a hash of the file name, MTCNN framing",
                          "CK+ val": "held-out subjects"}


AGE_CARD_METRICS = ("accuracy", "accuracy_viewer_ages", "mae_years", "mae_years_viewer_ages", "adults_as_children",
                    "ece")


def age_card(rows: list[dict]) -> dict[str, dict[str, float]]:
    """The age head per data set and split, centre crop, in the framing inference uses (UTKFace: MTCNN): group
    accuracy (all groups; the viewers' four), MAE in years (all ages; 8-47), adults (25+) read as children, ECE."""
    card = {}
    for row in rows:
        framing = "mtcnn" if row["dataset"] == "utkface" else "source"
        if row["attribute"] == "age_group" and row["variant"] == f"{framing}/centre_crop":
            card[f"{row['dataset']}/{row['split']}"] = {
                m: round(float(row[m]), 4) for m in AGE_CARD_METRICS if m in row and not np.isnan(row[m])}
    return card


def model_card(frame_cnns: Mapping, static: list[str], fusion: Mapping, environment: str) -> dict:
    """What a user needs to judge the predictor: data, environment, training time, validation accuracy.

    ``static``: the frame models whose heads the predictor fuses. When and where it trained come from the
    networks' own records: the last one's finish, and the accelerator each resolved (``info["compute"]``)."""
    models = frame_cnns["models"]
    validation = {}   # per data set: a mean over FER2013 and CK+ would overstate how far to trust an emotion
    for name in static:
        for key, crop in (("val_accuracy_by_dataset", "centre crop"), ("val_accuracy_by_dataset_ten_crop", "ten-crop")):
            for head, by_dataset in models[name][key].items():
                for dataset, acc in by_dataset.items():
                    validation[f"{name} {head} {VALIDATION_SPLITS.get(dataset, dataset)} ({crop})"] = round(acc, 4)
    for branch, acc in fusion.get("branch_val_accuracy", {}).items():   # no video data: no branches
        validation[f"{branch} emotion (sequences)"] = round(float(acc), 4)
    return {
        "environment": environment,
        "trained_at": max(models[m]["info"]["finished_at"] for m in models),
        "device": ", ".join(sorted({models[m]["info"]["compute"]["hardware_accelerator"] for m in models})),
        "networks": {m: {"backbone": models[m]["backbone"], "heads": models[m]["heads"],
                         "epochs": models[m]["info"]["epochs"], "fit_minutes": round(models[m]["info"]["fit_seconds"] / 60, 1),
                         **training_schedule(models[m]["info"]),
                         "train_faces": models[m]["train_faces"], "validation_faces": models[m]["val_faces"]}
                     for m in static},
        "fit_minutes": round(sum(models[m]["info"]["fit_seconds"] for m in models) / 60, 1),
        "validation_accuracy": validation,
        "validation_splits": VALIDATION_SPLIT_NOTES,
        # the age head per data set (MAE in years, group accuracy, adults read as children, ECE) and each head's
        # temperature and ECE before/after calibration (temperatures fitted on val, ECE measured on every split)
        "age": {m: models[m]["age_card"] for m in static if models[m].get("age_card")},
        "calibration": {m: models[m]["calibration"] for m in static if models[m].get("calibration")},
    }


def training_schedule(info: Mapping) -> dict:
    """What a network got: its precision and memory format (and why), and its schedule, planned and trained."""
    plan = info.get("schedule_plan")
    compute = info["compute"]
    return {
        "precision": compute["precision"], "channels_last": compute["channels_last"],
        "precision_reason": compute["reason"], "cpu_capability": compute["hardware_cpu_capability"],
        "planned_steps": info["planned_steps"], "trained_steps": info["steps"],
        "schedule_completed": info["schedule_completed"],
        "budget_minutes": round(plan["budget_seconds"] / 60, 2) if plan else None,
        "planned_minutes": round(plan["planned_seconds"] / 60, 2) if plan else None,
        "minutes_with_speed_probe": round(info["seconds_with_probe"] / 60, 2),
    }


PAPER_FIGURES = {  # the paper's figures for the nearest row (its AFEW and FER2013 numbers)
    "fer2013/test/emotion": "VGG-16 FER2013 val 70.96",
    "cnn_branch": "AFEW CNN 55.3", "lstm_branch": "AFEW LSTM 59.1", "fused": "AFEW fused 60.2",
}


def pick(df: pd.DataFrame, metric: str = "accuracy", **where) -> float:
    """The one ``metric`` of the rows matching ``where`` (the best, if a frame model is listed twice)."""
    if df is None or not len(df) or metric not in df:
        return float("nan")
    mask = np.ones(len(df), bool)
    for column, value in where.items():
        mask &= (df[column] == value).to_numpy()
    return float(df.loc[mask, metric].max()) if mask.any() else float("nan")


def summarise_face_models(frame_cnn_metrics: pd.DataFrame, video_metrics: pd.DataFrame) -> pd.DataFrame:
    """Headline accuracies, each named by data set, split and protocol, beside the paper's nearest figure."""
    rows = []
    for crop in ("centre_crop", "ten_crop"):
        for split in ("val", "test"):
            rows.append(("fer2013", split, "emotion", f"source/{crop}", "accuracy"))
    for framing in ("source", "mtcnn"):
        rows.append(("utkface", "test", "gender", f"{framing}/centre_crop", "accuracy"))
        # the same faces, only those of the paper's viewers (8-47): a quarter of UTKFace part 1 is infants
        rows.append(("utkface", "test", "gender", f"{framing}/centre_crop", "accuracy_viewer_ages"))
        rows.append(("utkface", "test", "age_group", f"{framing}/centre_crop", "accuracy"))
    rows.append(("ckplus", "test", "emotion", "source/centre_crop", "accuracy"))
    out = []
    for dataset, split, attr, variant, metric in rows:
        row = {"dataset": dataset, "split": split, "attribute": attr, "variant": variant}
        key = metric_key(row, metric)
        out.append({"metric": key, "model": "frame_cnn", **row,
                    "paper": PAPER_FIGURES.get(key.rsplit("_accuracy", 1)[0], "-"),
                    "accuracy": pick(frame_cnn_metrics, metric, dataset=dataset, split=split, attribute=attr,
                                      variant=variant)})
    datasets = sorted(video_metrics["dataset"].unique()) if len(video_metrics) else []
    for dataset in datasets:       # CK+ and, where present, AFEW: never one picked for the other
        for model in ("cnn_branch", "lstm_branch", "fused"):
            for split in ("test", "subject_kfold"):
                out.append({"metric": f"{dataset}/{split}/sequences_{model}_accuracy", "model": model,
                            "dataset": dataset, "split": split, "attribute": "emotion", "variant": "sequence",
                            "paper": PAPER_FIGURES[model] if dataset == "afew" else "-",
                            "accuracy": pick(video_metrics, model=model, dataset=dataset, split=split)})
    return pd.DataFrame(out)


def summary_metrics(summary: pd.DataFrame) -> dict:
    """The summary's accuracies as metrics of the kedro run (through the catalog, like the other pipelines)."""
    return {r["metric"]: {"value": float(r["accuracy"]), "step": 0}
            for _, r in summary.iterrows() if not np.isnan(r["accuracy"])}
