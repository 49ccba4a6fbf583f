"""face_models nodes: thin Kedro wrappers around :mod:`hybrid_recommender.face_models`."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import torch

from hybrid_recommender.face_models.data import Sequences, build_sequences, face_set
from hybrid_recommender.face_models.predictor import FaceAttributePredictor
from hybrid_recommender.face_models.preprocessing import Preprocessing
from hybrid_recommender.face_models.tracking import child_run
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
from hybrid_recommender.paths import PROJECT_ROOT

log = logging.getLogger(__name__)
FACE_SETS = ("fer2013", "utkface", "ckplus", "rafdb")


def _deep_merge(base: Mapping, over: Mapping) -> dict:
    out = copy.deepcopy(dict(base))
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


def settings(params: Mapping) -> dict:
    """face_models parameters, with ``smoke_overrides`` merged in when ``smoke`` is true."""
    params = dict(params)
    if params.get("smoke"):
        params = _deep_merge(params, params.get("smoke_overrides") or {})
    torch.set_num_threads(max(1, min(int(params.get("num_threads", 2)), torch.get_num_threads() or 1)))
    return params


def _prep(params: Mapping) -> Preprocessing:
    return Preprocessing(**params["preprocessing"])


def _workdir(params: Mapping, *parts: str) -> Path:
    root = Path(params.get("workdir", "data/06_models/face_models_work"))
    root = root if root.is_absolute() else PROJECT_ROOT / root
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------------------------------- framing
def reframe_with_mtcnn(faces: pd.DataFrame, pixels: np.ndarray, params: Mapping) -> tuple[np.ndarray, pd.DataFrame]:
    """Re-frame a data set's faces with the MTCNN step used at inference (box + margin, resized).

    UTKFace's crops are looser than FER2013's; the predictor sees MTCNN-framed faces, so the models train on
    (and are also evaluated on) the same framing. Faces MTCNN misses keep their source crop.
    """
    params = settings(params)
    cfg = params["framing"]
    out = np.array(pixels, copy=True)
    found = np.zeros(len(out), bool)
    start = time.perf_counter()
    cache = None
    if cfg.get("reframe", True) and len(out) and cfg.get("cache_dir"):
        # MTCNN costs ~10-20 ms a face on 2 cores: reuse the result while the pixels and the framing are the same
        key = hashlib.sha1(np.ascontiguousarray(out).tobytes())
        key.update(json.dumps({k: cfg.get(k) for k in ("margin", "thresholds")}, sort_keys=True).encode())
        cache_dir = Path(cfg["cache_dir"])
        cache = (cache_dir if cache_dir.is_absolute() else PROJECT_ROOT / cache_dir) / f"mtcnn_{key.hexdigest()}.npz"
        if cache.exists():
            with np.load(cache) as cached:
                out, found = cached["pixels"], cached["found"]
            log.info("face_models: MTCNN framing reused from %s", cache)
            cache = None
    elif not cfg.get("reframe", True):
        cache = None
    if cfg.get("reframe", True) and len(out) and not found.any():
        from hybrid_recommender.faces.detector import FaceAligner

        aligner = FaceAligner(image_size=out.shape[1], margin=cfg.get("margin", 8),
                              thresholds=cfg.get("thresholds", (0.6, 0.7, 0.7)))
        batch = int(cfg.get("batch_size", 64))
        for i in range(0, len(out), batch):
            frames = [np.ascontiguousarray(f[..., :3] if f.shape[-1] >= 3 else np.repeat(f, 3, -1))
                      for f in out[i:i + batch]]
            crops = aligner.largest_faces(frames)
            for j, crop in enumerate(crops):
                if crop is not None:
                    out[i + j] = crop if out.shape[-1] == 3 else crop.mean(-1, keepdims=True).astype(np.uint8)
                    found[i + j] = True
    seconds = time.perf_counter() - start
    if cache is not None and found.any():
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, pixels=out, found=found)
    report = pd.DataFrame([{"faces": len(out), "mtcnn_found": int(found.sum()),
                            "found_fraction": float(found.mean()) if len(out) else float("nan"),
                            "seconds": seconds, "margin": cfg.get("margin", 8), "image_size": int(out.shape[1]),
                            "reframed": bool(cfg.get("reframe", True))}])
    log.info("face_models: MTCNN framed %d of %d faces in %.1fs", found.sum(), len(out), seconds)
    return out, report


# ------------------------------------------------------------------------------------------- frame CNN
def _sets(tables: Mapping[str, tuple[pd.DataFrame, np.ndarray]], which: Mapping[str, list], prep: Preprocessing,
          exclude_blank: bool, limit: int | None, seed: int):
    out = []
    for name, splits in which.items():
        if name not in tables or not splits:
            continue
        index, pixels = tables[name]
        out.append(face_set(name, index, pixels, prep, splits, exclude_blank, limit, seed))
    return out


def train_frame_cnns(fer2013_faces, fer2013_pixels, utkface_faces, utkface_pixels, utkface_mtcnn_pixels,
                     ckplus_faces, ckplus_pixels, rafdb_faces, rafdb_pixels, params: Mapping, exclude_blank: bool,
                     callbacks=()):
    """Train and evaluate every frame CNN the configuration names (each a nested MLflow run).

    ``callbacks``: extra Lightning callbacks (the benchmark's accuracy-vs-time curve); Kedro passes none.
    """
    params = settings(params)
    cfg, prep, seed = params["frame_cnn"], _prep(params), int(params.get("seed", 0))
    utk_train_pixels = utkface_mtcnn_pixels if cfg.get("utkface_framing", "mtcnn") == "mtcnn" else utkface_pixels
    train_tables = {"fer2013": (fer2013_faces, fer2013_pixels), "utkface": (utkface_faces, utk_train_pixels),
                    "ckplus": (ckplus_faces, ckplus_pixels), "rafdb": (rafdb_faces, rafdb_pixels)}
    train_sets = _sets(train_tables, cfg["train_datasets"], prep, exclude_blank, cfg.get("train_limit"), seed)
    val_sets = _sets(train_tables, cfg["val_datasets"], prep, exclude_blank, cfg.get("val_limit"), seed)
    eval_tables = {("fer2013", "source"): (fer2013_faces, fer2013_pixels),
                   ("utkface", "source"): (utkface_faces, utkface_pixels),
                   ("utkface", "mtcnn"): (utkface_faces, utkface_mtcnn_pixels),
                   ("ckplus", "source"): (ckplus_faces, ckplus_pixels),
                   ("rafdb", "source"): (rafdb_faces, rafdb_pixels)}
    eval_sets = []
    for (name, framing), (index, pixels) in eval_tables.items():
        for split in cfg.get("eval_splits", ["val", "test"]):
            if len(index) and (index["split"] == split).any():
                fs = face_set(name, index, pixels, prep, [split], exclude_blank, cfg.get("eval_limit"), seed)
                eval_sets.append((name, split, framing, fs))
    models, rows, figures = {}, [], {}
    backbones = list(dict.fromkeys([*cfg["backbones"], *params["video"]["lstm"].get("frame_models", [])]))
    for backbone in backbones:
        with child_run(f"frame_cnn_{backbone}", params.get("tracking", True),
                       tags={"face_models.kind": "frame_cnn"}) as run:
            for name, (index, _) in train_tables.items():   # the held-out rule's result, saved with the run
                if len(index):
                    run.log_text(index[["face_id", "split"]].to_csv(index=False), f"splits/{name}_split.csv")
            net, info = train_frame_cnn(backbone, train_sets, val_sets, prep, cfg, run, _workdir(params, backbone), seed,
                                        callbacks=list(callbacks))
            r, figs = evaluate_frame_cnn(backbone, net, eval_sets, prep, cfg.get("ten_crop_eval", [False, True]))
            for row in r:
                row["fit_seconds"] = info["fit_seconds"]
                run.log_metrics({f"{row['dataset']}.{row['split']}.{row['attribute']}.{row['variant'].replace('/', '.')}"
                                 f".{m}": row[m] for m in ("accuracy", "macro_f1") if not np.isnan(row[m])})
            for key, fig in figs.items():
                run.log_figure(fig, f"confusion/{key}")
            rows += r
            figures.update(figs)
            val_acc = {}
            for row in r:
                if row["split"] == "val" and row["variant"].endswith("centre_crop") and row["variant"].startswith(
                        "mtcnn" if row["dataset"] == "utkface" else "source"):
                    val_acc.setdefault(row["attribute"], []).append(row["accuracy"])
            models[backbone] = {"net": net, "info": info, "run_id": run.run_id,
                                "val_accuracy": {h: float(np.mean(v)) for h, v in val_acc.items()}}
    metrics = pd.DataFrame(rows)
    return {"preprocessing": prep.to_dict(), "models": models}, metrics, figures


# ------------------------------------------------------------------------------------------- video branches
def build_emotion_sequences(ckplus_faces, ckplus_pixels, afew_faces, afew_pixels, params: Mapping) -> Sequences:
    """CK+ (onset-to-apex frames, split by subject, ``fold`` for subject-independent k-fold) and AFEW clips."""
    params = settings(params)
    tables = {"ckplus": (ckplus_faces, ckplus_pixels), "afew": (afew_faces, afew_pixels)}
    tables = {k: v for k, v in tables.items() if k in params["video"]["sequence_datasets"]}
    seqs = build_sequences(tables, _prep(params), params["video"].get("max_sequences_per_split"),
                           int(params.get("seed", 0)))
    log.info("face_models: %d emotion sequences (%s)", len(seqs),
             seqs.table.groupby(["dataset", "split"]).size().to_dict() if len(seqs) else {})
    return seqs


def extract_sequence_features(frame_cnns: Mapping, sequences: Sequences, params: Mapping) -> dict:
    """Penultimate features of every sequence frame from each frame CNN, original and mirrored/zoomed copies."""
    params = settings(params)
    prep = Preprocessing(**frame_cnns["preprocessing"])
    variants = params["video"].get("feature_variants", ["original"])
    wanted = list(dict.fromkeys([*params["frame_cnn"]["backbones"], *params["video"]["lstm"].get("frame_models", [])]))
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
    params = settings(params)
    if not len(sequences):
        return {}
    cfg = params["video"]["svm"]
    feats = {k: v for k, v in features.items() if k in params["frame_cnn"]["backbones"]}
    members = train_svm_members(feats, sequences, cfg, int(params.get("seed", 0)))
    y = sequences.table["label"].to_numpy()
    for name, m in members.items():
        with child_run(name, params.get("tracking", True), tags={"face_models.kind": "svm"}) as run:
            run.log_params({"frame_model": m["frame_model"], "normalisation": m["normalisation"], "C": m["C"],
                            "C_grid": cfg.get("Cs"), "cv": cfg.get("cv", 5)})
            run.log_metrics({f"cv_accuracy_C_{c}": s for c, s in m["cv_scores"].items()})
            run.log_metrics(_member_accuracy(m["probs"], y, sequences.table))
            ok = ~np.isnan(m["oof"]).any(1)
            if ok.any():
                run.log_metrics({"subject_kfold_accuracy": float((m["oof"][ok].argmax(1) == y[ok]).mean())})
    return members


def train_lstm_branch(features: Mapping, sequences: Sequences, params: Mapping) -> dict:
    """One LSTM layer (128; 256 as the ablation) over 16-frame clips overlapping by 8; nested runs."""
    params = settings(params)
    if not len(sequences):
        return {}
    cfg = params["video"]["lstm"]
    feats = {k: v for k, v in features.items() if k in cfg.get("frame_models", [])}

    def factory(name):
        return child_run(name, params.get("tracking", True), tags={"face_models.kind": "lstm"})

    members = train_lstm_members(feats, sequences, cfg, factory, _workdir(params, "lstm"), int(params.get("seed", 0)))
    y = sequences.table["label"].to_numpy()
    for m in members.values():
        run = m.pop("run")
        run.log_metrics(_member_accuracy(m["probs"], y, sequences.table))
        ok = ~np.isnan(m["oof"]).any(1)
        if ok.any():
            run.log_metrics({"subject_kfold_accuracy": float((m["oof"][ok].argmax(1) == y[ok]).mean())})
    return members


def fuse_branches(cnn_branch: Mapping, lstm_branch: Mapping, sequences: Sequences, params: Mapping):
    """Weights from validation accuracy; each member, branch and the fused model evaluated (split and k-fold)."""
    params = settings(params)
    if not len(sequences):
        return {}, pd.DataFrame(), {}
    spec, outputs = fuse_video_branches(cnn_branch, lstm_branch, sequences)
    rows, figures = evaluate_video(outputs, sequences)
    with child_run("fusion", params.get("tracking", True), tags={"face_models.kind": "fusion"}) as run:
        run.log_params({"weights": spec})
        for row in rows:
            if row["model"] in ("cnn_branch", "lstm_branch", "fused"):
                run.log_metrics({f"{row['model']}.{row['dataset']}.{row['split']}.accuracy": row["accuracy"],
                                 f"{row['model']}.{row['dataset']}.{row['split']}.macro_f1": row["macro_f1"]})
        for key, fig in figures.items():
            if any(f"__{k}__" in key for k in ("cnn_branch", "lstm_branch", "fused")):
                run.log_figure(fig, f"confusion/{key}")
    return spec, pd.DataFrame(rows), figures


def assemble_predictor(frame_cnns: Mapping, cnn_branch: Mapping, lstm_branch: Mapping, fusion: Mapping,
                       params: Mapping) -> FaceAttributePredictor:
    """The fused model as one predictor object (saved as safetensors + JSON through the catalog)."""
    params = settings(params)
    models = frame_cnns["models"]
    static = [m for m in params["frame_cnn"]["backbones"] if m in models]
    acc = {m: float(np.mean(list(models[m]["val_accuracy"].values()) or [1.0])) for m in static}
    total = sum(acc.values()) or 1.0
    used = {s["frame_model"] for s in cnn_branch.values()} | {s["frame_model"] for s in lstm_branch.values()} | set(static)
    lstm_cfg = params["video"]["lstm"]
    return FaceAttributePredictor(
        Preprocessing(**frame_cnns["preprocessing"]),
        {m: models[m]["net"] for m in used},
        {m: (acc[m] / total if m in acc else 0.0) for m in used},
        svms={k: {kk: v[kk] for kk in ("frame_model", "normalisation", "C", "coef", "intercept", "classes")}
              for k, v in cnn_branch.items()},
        lstms={k: {kk: v[kk] for kk in ("frame_model", "hidden", "in_fusion", "net")} for k, v in lstm_branch.items()},
        fusion=fusion,
        clips={"length": lstm_cfg.get("clip_length", 16), "stride": lstm_cfg.get("clip_stride", 8),
               "pad": lstm_cfg.get("pad", "loop")},
        framing={k: params["framing"][k] for k in ("image_size", "margin", "thresholds") if k in params["framing"]},
        metadata={"frame_model_val_accuracy": {m: models[m]["val_accuracy"] for m in models},
                  "frame_cnn_runs": {m: models[m]["run_id"] for m in models}},
    )


def log_summary(frame_cnn_metrics: pd.DataFrame, video_metrics: pd.DataFrame) -> pd.DataFrame:
    """Headline numbers beside the paper's, also logged as metrics of the kedro run."""
    rows = []

    def pick(df, **kw):
        if df is None or not len(df):
            return float("nan")
        m = np.ones(len(df), bool)
        for k, v in kw.items():
            m &= (df[k] == v).to_numpy()
        return float(df.loc[m, "accuracy"].max()) if m.any() else float("nan")

    for variant in ("source/centre_crop", "source/ten_crop"):
        rows.append(("FER2013 PublicTest emotion (" + variant + ")", "VGG-16 FER2013 val 70.96",
                     pick(frame_cnn_metrics, dataset="fer2013", split="val", attribute="emotion", variant=variant)))
        rows.append(("FER2013 PrivateTest emotion (" + variant + ")", "-",
                     pick(frame_cnn_metrics, dataset="fer2013", split="test", attribute="emotion", variant=variant)))
    for framing in ("source", "mtcnn"):
        for attr in ("gender", "age_group"):
            rows.append((f"UTKFace test {attr} ({framing} framing)", "-",
                         pick(frame_cnn_metrics, dataset="utkface", split="test", attribute=attr,
                              variant=f"{framing}/centre_crop")))
    rows.append(("CK+ test frame emotion", "-", pick(frame_cnn_metrics, dataset="ckplus", split="test",
                                                        attribute="emotion", variant="source/centre_crop")))
    for model, paper in (("cnn_branch", "AFEW CNN 55.3"), ("lstm_branch", "AFEW LSTM 59.1"), ("fused", "AFEW fused 60.2")):
        for split in ("test", "subject_kfold"):
            rows.append((f"CK+ {split} sequences {model}", paper, pick(video_metrics, model=model, split=split)))
    summary = pd.DataFrame(rows, columns=["metric", "paper", "accuracy"])
    if mlflow.active_run() is not None:
        for _, r in summary.iterrows():
            if not np.isnan(r["accuracy"]):
                name = "".join(c if c.isalnum() or c in "._-/ " else "_" for c in r["metric"])
                mlflow.log_metric("face_models." + name.replace(" ", "_"), r["accuracy"])
    return summary
