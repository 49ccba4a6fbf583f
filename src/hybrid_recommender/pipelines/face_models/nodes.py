"""face_models nodes: thin Kedro wrappers around :mod:`hybrid_recommender.face_models`.

Every node reads its settings from the ``face_models`` parameters (a missing key fails loudly); environments
(conf/fast, conf/cpu, conf/paper, conf/smoke) override single keys. Torch's thread count is set once by
:class:`hybrid_recommender.threads.TorchThreadsHook`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from hybrid_recommender.face_models import make_heads
from hybrid_recommender.face_models.data import Sequences, build_sequences, face_set
from hybrid_recommender.face_models.predictor import FaceAttributePredictor
from hybrid_recommender.face_models.preprocessing import Preprocessing
from hybrid_recommender.face_models.training import (
    _masks,
    evaluate_frame_cnn,
    evaluate_video,
    fuse_video_branches,
    sequence_features,
    train_frame_cnn,
    train_lstm_members,
    train_svm_members,
)
from hybrid_recommender.mlflow_runs import child_run, log_member_figures
from hybrid_recommender.paths import PROJECT_ROOT

log = logging.getLogger(__name__)


def _prep(params: Mapping) -> Preprocessing:
    return Preprocessing(**params["preprocessing"])


def _workdir(params: Mapping, *parts: str) -> Path:
    root = Path(params["workdir"])
    root = root if root.is_absolute() else PROJECT_ROOT / root
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _with_hardware(cfg: Mapping, params: Mapping) -> dict:
    """A training section plus the run's accelerator and devices (``auto``: a GPU where there is one)."""
    return {**cfg, **params["hardware"]}


# --------------------------------------------------------------------------------------------- framing
def reframe_with_mtcnn(faces: pd.DataFrame, pixels: np.ndarray, params: Mapping) -> tuple[np.ndarray, pd.DataFrame]:
    """Re-frame a data set's faces with the MTCNN step used at inference (box + margin, resized).

    UTKFace's crops are looser than FER2013's; the predictor sees MTCNN-framed faces, so the models train on
    (and are also evaluated on) the same framing. Faces MTCNN misses keep their source crop.
    """
    cfg = params["framing"]
    out = np.array(pixels, copy=True)
    found = np.zeros(len(out), bool)
    start = time.perf_counter()
    if cfg["reframe"] and len(out):
        from tqdm.auto import tqdm

        from hybrid_recommender.faces.detector import FaceCropper

        cropper = FaceCropper(image_size=out.shape[1], margin=cfg["margin"], thresholds=cfg["thresholds"])
        batch = int(cfg["batch_size"])
        for i in tqdm(range(0, len(out), batch), desc="MTCNN framing", unit="batch"):
            frames = [np.ascontiguousarray(f[..., :3] if f.shape[-1] >= 3 else np.repeat(f, 3, -1))
                      for f in out[i:i + batch]]
            for j, crop in enumerate(cropper.largest_faces(frames)):
                if crop is not None:
                    out[i + j] = crop if out.shape[-1] == 3 else crop.mean(-1, keepdims=True).astype(np.uint8)
                    found[i + j] = True
    seconds = time.perf_counter() - start
    report = pd.DataFrame([{"faces": len(out), "mtcnn_found": int(found.sum()),
                            "found_fraction": float(found.mean()) if len(out) else float("nan"),
                            "seconds": seconds, "margin": cfg["margin"], "image_size": int(out.shape[1]),
                            "reframed": bool(cfg["reframe"])}])
    log.info("face_models: MTCNN framed %d of %d faces in %.1fs", found.sum(), len(out), seconds)
    return out, report


# ------------------------------------------------------------------------------------------- frame CNN
def _sets(tables: Mapping[str, tuple[pd.DataFrame, np.ndarray]], which: Mapping[str, list], prep: Preprocessing,
          heads, exclude_blank: bool, limit: int | None, seed: int):
    out = []
    for name, splits in which.items():
        if name not in tables or not splits:
            continue
        index, pixels = tables[name]
        out.append(face_set(name, index, pixels, prep, heads, splits, exclude_blank, limit, seed))
    return out


def head_groups(params: Mapping) -> dict[str, list[str]]:
    """Networks per backbone: group name (its heads joined by ``_``) -> heads. One group = one shared network."""
    return {"_".join(group): list(group) for group in params["frame_cnn"]["head_groups"]}


def frame_model_name(backbone: str, group: str) -> str:
    return f"{backbone}_{group}"


def emotion_model_name(backbone: str, params: Mapping) -> str:
    """The network of ``backbone`` that has the emotion head: its features feed the video branches."""
    for group, heads in head_groups(params).items():
        if "emotion" in heads:
            return frame_model_name(backbone, group)
    raise ValueError("face_models.frame_cnn.head_groups: no group has the emotion head")


def _labels_any(face_set, heads) -> bool:
    return any(bool((face_set.labels[h] >= 0).any()) for h in heads)


def _initial_backbone(models: Mapping, backbone: str, init_from: str | None):
    """The backbone weights of an earlier group's network to start from (``group_overrides.<group>.init_from``)."""
    if not init_from:
        return None
    name = frame_model_name(backbone, init_from)
    if name not in models:
        raise ValueError(f"face_models.frame_cnn: init_from {init_from!r} must name a head group listed earlier in "
                         f"head_groups (trained networks so far: {sorted(models)})")
    return models[name]["net"].backbone.state_dict()


def train_frame_cnns(fer2013_faces, fer2013_pixels, utkface_faces, utkface_pixels, utkface_mtcnn_pixels,
                     ckplus_faces, ckplus_pixels, rafdb_faces, rafdb_pixels, params: Mapping, age_groups: Mapping,
                     exclude_blank: bool, callbacks=()):
    """Train and evaluate every frame CNN the configuration names (each a nested MLflow run).

    One network per backbone and head group (``frame_cnn.head_groups``), trained on the data sets that label
    its heads, with the group's ``group_overrides``; the age head has the configured age groups
    (``data_engineering.age_groups.labels``). ``callbacks``: extra Lightning callbacks (a caller's own progress
    or timing); Kedro passes none.
    """
    base_cfg, prep, seed = _with_hardware(params["frame_cnn"], params), _prep(params), int(params["seed"])
    heads = make_heads(age_groups["labels"])
    utk_train_pixels = utkface_mtcnn_pixels if base_cfg["utkface_framing"] == "mtcnn" else utkface_pixels
    train_tables = {"fer2013": (fer2013_faces, fer2013_pixels), "utkface": (utkface_faces, utk_train_pixels),
                    "ckplus": (ckplus_faces, ckplus_pixels), "rafdb": (rafdb_faces, rafdb_pixels)}
    train_sets = _sets(train_tables, base_cfg["train_datasets"], prep, heads, exclude_blank, base_cfg["train_limit"],
                       seed)
    val_sets = _sets(train_tables, base_cfg["val_datasets"], prep, heads, exclude_blank, base_cfg["val_limit"], seed)
    eval_tables = {("fer2013", "source"): (fer2013_faces, fer2013_pixels),
                   ("utkface", "source"): (utkface_faces, utkface_pixels),
                   ("utkface", "mtcnn"): (utkface_faces, utkface_mtcnn_pixels),
                   ("ckplus", "source"): (ckplus_faces, ckplus_pixels),
                   ("rafdb", "source"): (rafdb_faces, rafdb_pixels)}
    eval_sets = []
    for (name, framing), (index, pixels) in eval_tables.items():
        for split in base_cfg["eval_splits"]:
            if len(index) and (index["split"] == split).any():
                fs = face_set(name, index, pixels, prep, heads, [split], exclude_blank, base_cfg["eval_limit"], seed)
                eval_sets.append((name, split, framing, fs))
    unknown = set(base_cfg["group_overrides"]) - set(head_groups(params))
    if unknown:
        raise ValueError(f"face_models.frame_cnn.group_overrides names {sorted(unknown)}, which are not head groups "
                         f"({sorted(head_groups(params))})")
    models, rows, figures = {}, [], {}
    backbones = list(dict.fromkeys([*base_cfg["backbones"], *params["video"]["lstm"]["frame_models"]]))
    for backbone in backbones:
        for group, group_heads in head_groups(params).items():
            name = frame_model_name(backbone, group)
            cfg = {**base_cfg, **base_cfg["group_overrides"].get(group, {})}
            sub = {h: heads[h] for h in group_heads}
            g_train = [s for s in train_sets if _labels_any(s, sub)]   # only the data sets that label these heads
            g_val = [s for s in val_sets if _labels_any(s, sub)]
            g_eval = [e for e in eval_sets if _labels_any(e[3], sub)]
            with child_run(f"frame_cnn_{name}", params["tracking"],
                           tags={"face_models.kind": "frame_cnn", "face_models.heads": ",".join(sub)}) as run:
                for ds, (index, _) in train_tables.items():   # the held-out rule's result, saved with the run
                    if len(index) and ds in {s.name for s in g_train}:
                        run.log_text(index[["face_id", "split"]].to_csv(index=False), f"splits/{ds}_split.csv")
                net, info = train_frame_cnn(backbone, sub, g_train, g_val, prep, cfg, run, _workdir(params, name),
                                            seed, callbacks=list(callbacks),
                                            init_backbone=_initial_backbone(models, backbone, cfg["init_from"]))
                r, figs = evaluate_frame_cnn(name, net, g_eval, prep, cfg["ten_crop_eval"], age_groups["labels"],
                                             age_groups["viewers"])
                for row in r:
                    row["fit_seconds"] = info["fit_seconds"]
                    run.log_metrics({metric_key(row, m): row[m] for m in ("accuracy", "macro_f1", "accuracy_viewer_ages")
                                     if m in row and not np.isnan(row[m])})
                for key, fig in figs.items():
                    run.log_figure(fig, f"confusion/{key}")
                rows += r
                figures.update(figs)
                models[name] = {"net": net, "info": info, "run_id": run.run_id, "backbone": backbone,
                                "group": group, "heads": list(sub),
                                "val_accuracy": _validation_accuracy(r, ten_crop=False),
                                "val_accuracy_by_dataset": _validation_accuracy_by_dataset(r, ten_crop=False),
                                "val_accuracy_by_dataset_ten_crop": _validation_accuracy_by_dataset(r, ten_crop=True),
                                "train_faces": {s.name: len(s) for s in g_train},
                                "val_faces": {s.name: len(s) for s in g_val}}
    metrics = pd.DataFrame(rows)
    return {"preprocessing": prep.to_dict(), "heads": heads, "models": models}, metrics, figures


SPLIT_NAMES = {"fer2013": {"val": "public_test", "test": "private_test"}}


def metric_key(row: Mapping, metric: str) -> str:
    """A clean, namespaced MLflow key: ``fer2013/public_test/emotion_accuracy_centre`` (``_mtcnn`` for UTKFace's
    MTCNN framing)."""
    split = SPLIT_NAMES.get(row["dataset"], {}).get(row["split"], row["split"])
    framing, crop = row["variant"].split("/")
    suffix = ("_mtcnn" if framing == "mtcnn" else "") + ("_tencrop" if crop == "ten_crop" else "_centre")
    return f"{row['dataset']}/{split}/{row['attribute']}_{metric}{suffix}"


def _validation_accuracy_by_dataset(rows: list[dict], ten_crop: bool) -> dict[str, dict[str, float]]:
    """Head -> data set -> validation accuracy, on the framing each data set is used with at inference."""
    crop = "ten_crop" if ten_crop else "centre_crop"
    acc = {}
    for row in rows:
        framing = "mtcnn" if row["dataset"] == "utkface" else "source"
        if row["split"] == "val" and row["variant"] == f"{framing}/{crop}":
            acc.setdefault(row["attribute"], {})[row["dataset"]] = float(row["accuracy"])
    return acc


def _validation_accuracy(rows: list[dict], ten_crop: bool) -> dict[str, float]:
    """Mean validation accuracy per head over its data sets (what the frame-model fusion weights compare)."""
    return {h: float(np.mean(list(v.values()))) for h, v in _validation_accuracy_by_dataset(rows, ten_crop).items()}


# ------------------------------------------------------------------------------------------- video branches
def build_emotion_sequences(ckplus_faces, ckplus_pixels, afew_faces, afew_pixels, params: Mapping) -> Sequences:
    """CK+ (onset-to-apex frames, split by subject, ``fold`` for subject-independent k-fold) and AFEW clips."""
    tables = {"ckplus": (ckplus_faces, ckplus_pixels), "afew": (afew_faces, afew_pixels)}
    tables = {k: v for k, v in tables.items() if k in params["video"]["sequence_datasets"]}
    seqs = build_sequences(tables, _prep(params), params["video"]["max_sequences_per_split"],
                           int(params["seed"]))
    log.info("face_models: %d emotion sequences (%s)", len(seqs),
             seqs.table.groupby(["dataset", "split"]).size().to_dict() if len(seqs) else {})
    return seqs


def extract_sequence_features(frame_cnns: Mapping, sequences: Sequences, params: Mapping) -> dict:
    """Penultimate features of every sequence frame from each frame CNN, original and mirrored/zoomed copies."""
    prep = Preprocessing(**frame_cnns["preprocessing"])
    variants = params["video"]["feature_variants"]
    backbones = dict.fromkeys([*params["frame_cnn"]["backbones"], *params["video"]["lstm"]["frame_models"]])
    wanted = [emotion_model_name(b, params) for b in backbones]
    return {name: sequence_features(frame_cnns["models"][name]["net"], sequences, prep, variants)
            for name in wanted if name in frame_cnns["models"]}


def _member_accuracy(probs, y, table) -> dict[str, float]:
    out = {}
    for split, mask in _masks(table).items():
        if split != "train" and mask.any():
            out[f"{split}_accuracy"] = float((probs[mask].argmax(1) == y[mask]).mean())
    return out


def train_cnn_branch(features: Mapping, sequences: Sequences, params: Mapping) -> dict:
    """Linear SVMs per frame CNN and normalisation (L2/RootSIFT, min-max), C by 5-fold CV; nested runs."""
    if not len(sequences):
        return {}
    cfg = params["video"]["svm"]
    wanted = {emotion_model_name(b, params) for b in params["frame_cnn"]["backbones"]}
    feats = {k: v for k, v in features.items() if k in wanted}
    members = train_svm_members(feats, sequences, cfg, int(params["seed"]))
    y = sequences.table["label"].to_numpy()
    for name, m in members.items():
        with child_run(name, params["tracking"], tags={"face_models.kind": "svm"}) as run:
            run.log_params({"frame_model": m["frame_model"], "normalisation": m["normalisation"], "C": m["C"],
                            "C_grid": cfg["Cs"], "cv": cfg["cv"]})
            run.log_metrics({f"cv_accuracy_C_{c}": s for c, s in m["cv_scores"].items()})
            run.log_metrics(_member_accuracy(m["probs"], y, sequences.table))
            ok = ~np.isnan(m["oof"]).any(1)
            if ok.any():
                run.log_metrics({"subject_kfold_accuracy": float((m["oof"][ok].argmax(1) == y[ok]).mean())})
            m["run_id"] = run.run_id   # its confusion matrices are logged here once the fusion step draws them
    return members


def train_lstm_branch(features: Mapping, sequences: Sequences, params: Mapping) -> dict:
    """One LSTM layer (128; 256 as the ablation) over 16-frame clips overlapping by 8; nested runs."""
    if not len(sequences):
        return {}
    cfg = _with_hardware(params["video"]["lstm"], params)
    wanted = {emotion_model_name(b, params) for b in cfg["frame_models"]}
    feats = {k: v for k, v in features.items() if k in wanted}

    def factory(name):
        return child_run(name, params["tracking"], tags={"face_models.kind": "lstm"})

    members = train_lstm_members(feats, sequences, cfg, factory, _workdir(params, "lstm"), int(params["seed"]))
    y = sequences.table["label"].to_numpy()
    for m in members.values():
        run = m.pop("run")
        m["run_id"] = run.run_id
        run.log_metrics(_member_accuracy(m["probs"], y, sequences.table))
        ok = ~np.isnan(m["oof"]).any(1)
        if ok.any():
            run.log_metrics({"subject_kfold_accuracy": float((m["oof"][ok].argmax(1) == y[ok]).mean())})
    return members


def fuse_branches(cnn_branch: Mapping, lstm_branch: Mapping, sequences: Sequences, params: Mapping):
    """Weights from validation accuracy; each member, branch and the fused model evaluated (split and k-fold)."""
    if not len(sequences):
        return {}, pd.DataFrame(), {}
    spec, outputs = fuse_video_branches(cnn_branch, lstm_branch, sequences)
    rows, figures = evaluate_video(outputs, sequences)
    with child_run("fusion", params["tracking"], tags={"face_models.kind": "fusion"}) as run:
        run.log_params({"weights": spec})
        for row in rows:
            if row["model"] in ("cnn_branch", "lstm_branch", "fused"):
                run.log_metrics({f"{row['dataset']}/{row['split']}/{row['model']}_accuracy": row["accuracy"],
                                 f"{row['dataset']}/{row['split']}/{row['model']}_macro_f1": row["macro_f1"]})
        for key, fig in figures.items():
            if any(f"__{k}__" in key for k in ("cnn_branch", "lstm_branch", "fused")):
                run.log_figure(fig, f"confusion/{key}")
    log_member_figures({**cnn_branch, **lstm_branch}, figures)   # each SVM's and LSTM's matrices in its own run
    return spec, pd.DataFrame(rows), figures


def head_weights_by_model(models: Mapping[str, Mapping], static: list[str]) -> dict[str, dict[str, float]]:
    """Each head's frame-model weights, proportional to that head's validation accuracy (paper: fusion weights
    from validation accuracy); a network that does not have a head gives it nothing."""
    weights = {m: {} for m in models}
    for head in dict.fromkeys(h for m in static for h in models[m]["heads"]):
        having = [m for m in static if head in models[m]["heads"]]
        acc = {m: models[m]["val_accuracy"].get(head, 1.0) for m in having}
        total = sum(acc.values())
        for m in having:
            weights[m][head] = acc[m] / total if total else 1.0 / len(having)
    return weights


def assemble_predictor(frame_cnns: Mapping, cnn_branch: Mapping, lstm_branch: Mapping, fusion: Mapping,
                       params: Mapping) -> FaceAttributePredictor:
    """The fused model as one predictor object (saved as safetensors + JSON through the catalog)."""
    models = frame_cnns["models"]
    static = [m for m in models if models[m]["backbone"] in params["frame_cnn"]["backbones"]]
    used = {s["frame_model"] for s in cnn_branch.values()} | {s["frame_model"] for s in lstm_branch.values()} | set(static)
    weights = head_weights_by_model(models, static)
    lstm_cfg = params["video"]["lstm"]
    return FaceAttributePredictor(
        Preprocessing(**frame_cnns["preprocessing"]), frame_cnns["heads"],
        {m: models[m]["net"] for m in models if m in used},
        {m: weights[m] for m in models if m in used},
        svms={k: {kk: v[kk] for kk in ("frame_model", "normalisation", "C", "coef", "intercept", "classes")}
              for k, v in cnn_branch.items()},
        lstms={k: {kk: v[kk] for kk in ("frame_model", "hidden", "in_fusion", "net")} for k, v in lstm_branch.items()},
        fusion=fusion,
        clips={"length": lstm_cfg["clip_length"], "stride": lstm_cfg["clip_stride"], "pad": lstm_cfg["pad"]},
        framing={k: params["framing"][k] for k in ("image_size", "margin", "thresholds") if k in params["framing"]},
        metadata={"frame_model_val_accuracy": {m: models[m]["val_accuracy"] for m in models},
                  "frame_cnn_runs": {m: models[m]["run_id"] for m in models}},
        model_card=model_card(frame_cnns, static, fusion, params),
    )


VALIDATION_SPLITS = {"fer2013": "FER2013 PublicTest", "utkface": "UTKFace val", "ckplus": "CK+ val"}
VALIDATION_SPLIT_NOTES = {"FER2013 PublicTest": "the official PublicTest split",
                          "UTKFace val": "faces picked by a hash of the file name, MTCNN framing",
                          "CK+ val": "held-out subjects"}


def model_card(frame_cnns: Mapping, static: list[str], fusion: Mapping, params: Mapping) -> dict:
    """What a user needs to judge the predictor: data, environment, training time, validation accuracy."""
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
        "environment": params["environment"],
        "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "device": "cuda" if torch.cuda.is_available() and params["hardware"]["accelerator"] in ("auto", "gpu", "cuda")
        else "cpu",
        "networks": {m: {"backbone": models[m]["backbone"], "heads": models[m]["heads"],
                         "epochs": models[m]["info"]["epochs"], "fit_minutes": round(models[m]["info"]["fit_seconds"] / 60, 1),
                         **training_schedule(models[m]["info"]),
                         "train_faces": models[m]["train_faces"], "validation_faces": models[m]["val_faces"]}
                     for m in static},
        "fit_minutes": round(sum(models[m]["info"]["fit_seconds"] for m in models) / 60, 1),
        "validation_accuracy": validation,
        "validation_splits": VALIDATION_SPLIT_NOTES,
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
    "fer2013/public_test/emotion": "VGG-16 FER2013 val 70.96",
    "cnn_branch": "AFEW CNN 55.3", "lstm_branch": "AFEW LSTM 59.1", "fused": "AFEW fused 60.2",
}


def _pick(df: pd.DataFrame, metric: str = "accuracy", **where) -> float:
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
                    "accuracy": _pick(frame_cnn_metrics, metric, dataset=dataset, split=split, attribute=attr,
                                      variant=variant)})
    datasets = sorted(video_metrics["dataset"].unique()) if len(video_metrics) else []
    for dataset in datasets:       # CK+ and, where present, AFEW: never one picked for the other
        for model in ("cnn_branch", "lstm_branch", "fused"):
            for split in ("test", "subject_kfold"):
                out.append({"metric": f"{dataset}/{split}/sequences_{model}_accuracy", "model": model,
                            "dataset": dataset, "split": split, "attribute": "emotion", "variant": "sequence",
                            "paper": PAPER_FIGURES[model] if dataset == "afew" else "-",
                            "accuracy": _pick(video_metrics, model=model, dataset=dataset, split=split)})
    return pd.DataFrame(out)


def face_models_metrics(summary: pd.DataFrame) -> dict:
    """The summary's accuracies as metrics of the kedro run (through the catalog, like the other pipelines)."""
    return {r["metric"]: {"value": float(r["accuracy"]), "step": 0}
            for _, r in summary.iterrows() if not np.isnan(r["accuracy"])}
