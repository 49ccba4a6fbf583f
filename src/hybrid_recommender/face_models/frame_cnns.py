"""Every frame CNN the settings name: one network per backbone and head group, each a nested MLflow run.

A group's network trains on the data sets that label its heads, with the group's ``group_overrides``; a group may
start from the backbone of an earlier group's network (``init_from``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pytorch_lightning as pl

from hybrid_recommender.face_models import Heads, make_heads
from hybrid_recommender.face_models.data import FaceSet, face_set
from hybrid_recommender.face_models.hardware import check_devices
from hybrid_recommender.face_models.params import FaceModelsParams, FrameCNNSettings
from hybrid_recommender.face_models.preprocessing import Preprocessing
from hybrid_recommender.face_models.summary import (
    age_card,
    metric_key,
    validation_accuracy,
    validation_accuracy_by_dataset,
)
from hybrid_recommender.face_models.training import (
    calibration_report,
    evaluate_frame_cnn,
    train_frame_cnn,
)
from hybrid_recommender.mlflow_runs import child_run

Tables = Mapping[str, tuple[pd.DataFrame, np.ndarray]]   # data set -> (index table, pixels)
FRAME_METRICS = ("accuracy", "macro_f1", "accuracy_viewer_ages", "ece", "mae_years", "mae_years_viewer_ages",
                 "adults_as_children")


def frame_model_name(backbone: str, group: str) -> str:
    return f"{backbone}_{group}"


def emotion_model_name(backbone: str, groups: Mapping[str, Sequence[str]]) -> str:
    """The network of ``backbone`` that has the emotion head: its features feed the video branches."""
    for group, heads in groups.items():
        if "emotion" in heads:
            return frame_model_name(backbone, group)
    raise ValueError("face_models.frame_cnn.head_groups: no group has the emotion head")


def _face_sets(tables: Tables, which: Mapping[str, list], prep: Preprocessing, heads: Heads, exclude_blank: bool,
               limit: int | None, seed: int) -> list[FaceSet]:
    return [face_set(name, *tables[name], prep, heads, splits, exclude_blank, limit, seed)
            for name, splits in which.items() if name in tables and splits]


def _eval_sets(sources: Tables, utkface_mtcnn_pixels: np.ndarray, splits: Sequence[str], prep: Preprocessing,
               heads: Heads, exclude_blank: bool, limit: int | None, seed: int) -> list[tuple[str, str, str, FaceSet]]:
    """(data set, split, framing, faces) for every evaluated split; UTKFace in its source and its MTCNN framing."""
    framings = []
    for name, table in sources.items():
        framings.append((name, "source", table))
        if name == "utkface":
            framings.append((name, "mtcnn", (table[0], utkface_mtcnn_pixels)))
    return [(name, split, framing, face_set(name, index, pixels, prep, heads, [split], exclude_blank, limit, seed))
            for name, framing, (index, pixels) in framings for split in splits
            if len(index) and (index["split"] == split).any()]


def _labels_any(faces: FaceSet, heads: Heads) -> bool:
    return any(bool((faces.labels[h] >= 0).any()) for h in heads)


def _initial_backbone(models: Mapping, backbone: str, init_from: str | None):
    """The backbone weights of an earlier group's network to start from (``group_overrides.<group>.init_from``)."""
    return models[frame_model_name(backbone, init_from)]["net"].backbone.state_dict() if init_from else None


def train_frame_cnns(sources: Tables, utkface_mtcnn_pixels: np.ndarray, settings: FaceModelsParams,
                     age_groups: Mapping, exclude_blank: bool,
                     callbacks: Sequence[pl.Callback] = ()) -> tuple[dict, pd.DataFrame, dict]:
    """Train and evaluate every frame CNN; returns the models (with their facts), the metrics and the figures.

    ``sources``: fer2013, utkface, ckplus, rafdb -> (index, pixels); UTKFace trains on its MTCNN framing when
    ``frame_cnn.utkface_framing`` says so. ``age_groups``: ``labels`` (the age head's classes) and ``viewers``.
    ``callbacks``: extra Lightning callbacks (a caller's own progress or timing)."""
    hw = settings.hardware
    check_devices(hw.accelerator, hw.devices, settings.environment)   # before the first network, not in its Trainer
    cfg, prep, seed = settings.frame_cnn, Preprocessing(**settings.preprocessing.model_dump()), settings.seed
    heads = make_heads(age_groups["labels"])
    train_tables = dict(sources)
    if cfg.utkface_framing == "mtcnn":
        train_tables["utkface"] = (sources["utkface"][0], utkface_mtcnn_pixels)
    train_sets = _face_sets(train_tables, cfg.train_datasets, prep, heads, exclude_blank, cfg.train_limit, seed)
    val_sets = _face_sets(train_tables, cfg.val_datasets, prep, heads, exclude_blank, cfg.val_limit, seed)
    eval_sets = _eval_sets(sources, utkface_mtcnn_pixels, cfg.eval_splits, prep, heads, exclude_blank,
                           cfg.eval_limit, seed)
    models, rows, figures = {}, [], {}
    for backbone in settings.frame_backbones():
        for group, group_heads in cfg.groups.items():
            sub = {h: heads[h] for h in group_heads}
            group_cfg = settings.frame_cnn_for(group)
            model, r, figs = _train_group(
                backbone, group, sub, [s for s in train_sets if _labels_any(s, sub)],   # the sets labelling its heads
                [s for s in val_sets if _labels_any(s, sub)], [e for e in eval_sets if _labels_any(e[3], sub)],
                train_tables, prep, group_cfg, settings, age_groups, list(callbacks),
                _initial_backbone(models, backbone, group_cfg.init_from))
            models[frame_model_name(backbone, group)] = model
            rows += r
            figures.update(figs)
    return {"preprocessing": prep.to_dict(), "heads": heads, "models": models}, pd.DataFrame(rows), figures


def _train_group(backbone: str, group: str, heads: Heads, train_sets: list[FaceSet], val_sets: list[FaceSet],
                 eval_sets: list, train_tables: Tables, prep: Preprocessing, cfg: FrameCNNSettings,
                 settings: FaceModelsParams, age_groups: Mapping, callbacks: list,
                 init_backbone) -> tuple[dict, list[dict], dict]:
    """One network in its own nested run: trained, evaluated, its splits, metrics and confusion matrices logged."""
    name = frame_model_name(backbone, group)
    with child_run(f"frame_cnn_{name}", settings.tracking,
                   tags={"face_models.kind": "frame_cnn", "face_models.heads": ",".join(heads)}) as run:
        for ds, (index, _) in train_tables.items():   # the held-out rule's result, saved with the run
            if len(index) and ds in {s.name for s in train_sets}:
                run.log_text(index[["face_id", "split"]].to_csv(index=False), f"splits/{ds}_split.csv")
        net, info = train_frame_cnn(backbone, heads, train_sets, val_sets, prep, cfg, run, settings.work_root / name,
                                    settings.seed, callbacks=callbacks, init_backbone=init_backbone,
                                    age_edges=age_groups["edges"])
        rows, figures = evaluate_frame_cnn(name, net, eval_sets, prep, cfg.ten_crop_eval, age_groups["labels"],
                                           age_groups["viewers"])
        for row in rows:
            row["fit_seconds"] = info["fit_seconds"]
            run.log_metrics({metric_key(row, m): row[m] for m in FRAME_METRICS if m in row and not np.isnan(row[m])})
        run.log_figures(figures, "confusion")
        calibration, reliability = calibration_report(name, net, eval_sets, prep)
        run.log_figures(reliability, "calibration")
        run.log_text(calibration.to_csv(index=False), "calibration/ece_by_split.csv")
        figures.update(reliability)
        model = {"net": net, "info": info, "run_id": run.run_id, "backbone": backbone, "group": group,
                 "heads": list(heads), "val_accuracy": validation_accuracy(rows, ten_crop=False),
                 "val_accuracy_by_dataset": validation_accuracy_by_dataset(rows, ten_crop=False),
                 "val_accuracy_by_dataset_ten_crop": validation_accuracy_by_dataset(rows, ten_crop=True),
                 "train_faces": {s.name: len(s) for s in train_sets}, "val_faces": {s.name: len(s) for s in val_sets},
                 "age_card": age_card(rows), "calibration": calibration.to_dict("records")}
    return model, rows, figures
