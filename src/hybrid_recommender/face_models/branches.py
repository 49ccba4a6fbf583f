"""The paper's video branches end to end: emotion sequences, their frame features, the CNN+SVM and LSTM branches
(each member a nested MLflow run) and their fusion."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from hybrid_recommender.face_models.data import Sequences, build_sequences
from hybrid_recommender.face_models.frame_cnns import Tables, emotion_model_name
from hybrid_recommender.face_models.params import FaceModelsParams
from hybrid_recommender.face_models.preprocessing import Preprocessing
from hybrid_recommender.face_models.training import (
    evaluate_video,
    fuse_video_branches,
    sequence_features,
    split_masks,
    train_lstm_members,
    train_svm_members,
)
from hybrid_recommender.mlflow_runs import ChildRun, child_run, log_member_figures

log = logging.getLogger(__name__)
BRANCHES = ("cnn_branch", "lstm_branch", "fused")


def emotion_sequences(tables: Tables, settings: FaceModelsParams) -> Sequences:
    """CK+ (onset-to-apex frames, split by subject, ``fold`` for subject-independent k-fold) and AFEW clips."""
    tables = {k: v for k, v in tables.items() if k in settings.video.sequence_datasets}
    seqs = build_sequences(tables, Preprocessing(**settings.preprocessing.model_dump()),
                           settings.video.max_sequences_per_split, settings.seed)
    log.info("face_models: %d emotion sequences (%s)", len(seqs),
             seqs.table.groupby(["dataset", "split"]).size().to_dict() if len(seqs) else {})
    return seqs


def _emotion_models(backbones, settings: FaceModelsParams) -> list[str]:
    return [emotion_model_name(b, settings.frame_cnn.groups) for b in dict.fromkeys(backbones)]


def sequence_features_by_model(frame_cnns: Mapping, sequences: Sequences, settings: FaceModelsParams) -> dict:
    """Penultimate features of every sequence frame from each emotion frame CNN, original and mirrored/zoomed."""
    prep = Preprocessing(**frame_cnns["preprocessing"])
    return {name: sequence_features(frame_cnns["models"][name]["net"], sequences, prep, settings.video.feature_variants)
            for name in _emotion_models(settings.frame_backbones(), settings) if name in frame_cnns["models"]}


def _log_member_accuracy(run: ChildRun, member: Mapping, sequences: Sequences) -> None:
    """A member's accuracy per held-out split and over the subject-independent folds."""
    y = sequences.table["label"].to_numpy()
    run.log_metrics({f"{split}_accuracy": float((member["probs"][mask].argmax(1) == y[mask]).mean())
                     for split, mask in split_masks(sequences.table).items() if split != "train" and mask.any()})
    ok = ~np.isnan(member["oof"]).any(1)
    if ok.any():
        run.log_metrics({"subject_kfold_accuracy": float((member["oof"][ok].argmax(1) == y[ok]).mean())})


def cnn_branch(features: Mapping, sequences: Sequences, settings: FaceModelsParams) -> dict:
    """Linear SVMs per frame CNN and normalisation (L2/RootSIFT, min-max), C by 5-fold CV; nested runs."""
    if not len(sequences):
        return {}
    cfg, wanted = settings.video.svm, set(_emotion_models(settings.frame_cnn.backbones, settings))
    members = train_svm_members({k: v for k, v in features.items() if k in wanted}, sequences, cfg, settings.seed)
    for name, m in members.items():
        with child_run(name, settings.tracking, tags={"face_models.kind": "svm"}) as run:
            run.log_params({"frame_model": m["frame_model"], "normalisation": m["normalisation"], "C": m["C"],
                            "C_grid": cfg.Cs, "cv": cfg.cv})
            run.log_metrics({f"cv_accuracy_C_{c}": s for c, s in m["cv_scores"].items()})
            _log_member_accuracy(run, m, sequences)
            m["run_id"] = run.run_id   # its confusion matrices are logged here once the fusion step draws them
    return members


def lstm_branch(features: Mapping, sequences: Sequences, settings: FaceModelsParams) -> dict:
    """One LSTM layer (128; 256 as the ablation) over 16-frame clips overlapping by 8; nested runs."""
    if not len(sequences):
        return {}
    wanted = set(_emotion_models(settings.video.lstm.frame_models, settings))

    def run_factory(name):
        return child_run(name, settings.tracking, tags={"face_models.kind": "lstm"})

    members = train_lstm_members({k: v for k, v in features.items() if k in wanted}, sequences,
                                 settings.lstm_settings(), run_factory, settings.work_root / "lstm",
                                 settings.seed)
    for m in members.values():
        run = m.pop("run")
        m["run_id"] = run.run_id
        _log_member_accuracy(run, m, sequences)
    return members


def fused_branches(cnn: Mapping, lstm: Mapping, sequences: Sequences,
                   tracking: bool) -> tuple[dict, pd.DataFrame, dict]:
    """Weights from validation accuracy; each member, branch and the fused model evaluated (split and k-fold)."""
    if not len(sequences):
        return {}, pd.DataFrame(), {}
    spec, outputs = fuse_video_branches(cnn, lstm, sequences)
    rows, figures = evaluate_video(outputs, sequences)
    with child_run("fusion", tracking, tags={"face_models.kind": "fusion"}) as run:
        run.log_params({"weights": spec})
        for row in rows:
            if row["model"] in BRANCHES:
                run.log_metrics({f"{row['dataset']}/{row['split']}/{row['model']}_accuracy": row["accuracy"],
                                 f"{row['dataset']}/{row['split']}/{row['model']}_macro_f1": row["macro_f1"]})
        run.log_figures({k: f for k, f in figures.items() if any(f"__{b}__" in k for b in BRANCHES)}, "confusion")
    log_member_figures({**cnn, **lstm}, figures)   # each SVM's and LSTM's matrices in its own run
    return spec, pd.DataFrame(rows), figures
