"""Benchmark (not a test): train the fast face_models setup on the shared FER2013 + UTKFace + CK+ within a time
budget and print accuracy against wall time, with the paper's numbers beside.

    .venv/bin/python benchmarks/face_models.py --minutes 25

Reads data_engineering's outputs (run `kedro run --env fast --pipelines data_engineering` first). The run is
logged to the project's MLflow (a top-level "face_models_benchmark" run with a nested run per model) unless
--no-tracking. The fused predictor is written to data/07_model_output/face_models_benchmark/.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_SKIP_PIP_REQUIREMENTS_CHECK", "true")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "src"))

PAPER = [
    ("RAF static InceptionV3 / DenseNet121 / 161 / 201", "82.74 / 83.84 / 83.25 / 79.73"),
    ("AFEW video CNN branch / LSTM branch / fused", "55.3 / 59.1 / 60.2"),
    ("VGG-16 FER2013 validation", "70.96"),
    ("AFEW LSTM-128 vs LSTM-256", "46.21 vs 43.07"),
]
TARGETS = {"FER2013 PublicTest emotion": 0.68, "UTKFace test gender": 0.92, "UTKFace test age_group": 0.70,
           "CK+ test sequences fused": 0.95}


class Curve(pl.Callback):
    """FER2013 PublicTest accuracy (centre crop) and wall time after every training epoch."""

    def __init__(self, fer_val, prep, start):
        self.fer_val, self.prep, self.start, self.rows = fer_val, prep, start, []

    def on_train_epoch_end(self, trainer, module):
        from hybrid_recommender.face_models.training import predict_heads

        was_training = module.training
        probs = predict_heads(module.net, self.fer_val.images, self.prep)["emotion"]
        module.train(was_training)
        acc = float((probs.argmax(1) == self.fer_val.labels["emotion"]).mean())
        row = {"epoch": trainer.current_epoch + 1, "step": trainer.global_step,
               "wall_min": (time.perf_counter() - self.start) / 60, "fer2013_val_acc": acc,
               **{k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}}
        self.rows.append(row)
        print(f"  epoch {row['epoch']:>3}  {row['wall_min']:6.1f} min  FER2013 PublicTest {acc:.4f}  "
              + "  ".join(f"{k}={v:.4f}" for k, v in row.items() if k.startswith("val/")), flush=True)


def throughput(backbone: str, prep, batch_size: int) -> float:
    """Training images per second of one backbone on this CPU (5 timed steps, augmentation included)."""
    from hybrid_recommender.face_models.model import FrameCNN
    from hybrid_recommender.face_models.preprocessing import train_transform

    torch.manual_seed(0)
    net = FrameCNN(backbone, 1)
    opt = torch.optim.AdamW(net.parameters())
    tf = train_transform(prep)
    raw = torch.randint(0, 256, (batch_size, 1, prep.image_size, prep.image_size), dtype=torch.uint8)
    times = []
    for _ in range(6):
        t = time.perf_counter()
        x = torch.stack([tf(r) for r in raw])
        sum(v.logsumexp(1).mean() for v in net(x).values()).backward()
        opt.step()
        opt.zero_grad()
        times.append(time.perf_counter() - t)
    return batch_size / float(np.median(times[1:]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=25.0, help="wall-time budget of the whole benchmark")
    ap.add_argument("--env", default="fast", help="Kedro environment whose face_models parameters are used")
    ap.add_argument("--backbone", default=None, help="override the frame CNN backbone (timm name)")
    ap.add_argument("--no-tracking", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()

    from kedro.framework.project import configure_project
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(PROJECT)
    configure_project("hybrid_recommender")
    with KedroSession.create(project_path=PROJECT, env=args.env) as session:
        context = session.load_context()
        catalog = context.catalog
        params = copy.deepcopy(context.params["face_models"])
        exclude_blank = bool(context.params["data_engineering"]["fer2013"]["exclude_blank"])
        data = {n: catalog.load(n) for n in ("fer2013_faces", "fer2013_pixels", "utkface_faces", "utkface_pixels",
                                             "ckplus_faces", "ckplus_pixels", "rafdb_faces", "rafdb_pixels",
                                             "afew_faces", "afew_pixels")}
        tracking_uri = __import__("mlflow").get_tracking_uri()

    import mlflow

    from hybrid_recommender.face_models.data import face_set
    from hybrid_recommender.face_models.preprocessing import Preprocessing
    from hybrid_recommender.face_models.io import FacePredictorDataset
    from hybrid_recommender.pipelines.face_models import nodes

    params["tracking"] = not args.no_tracking
    params["workdir"] = str(PROJECT / "data/07_model_output/face_models_benchmark/work")
    if args.backbone:
        params["frame_cnn"]["backbones"] = [args.backbone]
        params["video"]["lstm"]["frame_models"] = [args.backbone]
    cfg = params["frame_cnn"]
    prep = Preprocessing(**params["preprocessing"])
    print(f"face_models benchmark: env={args.env} budget={args.minutes} min threads={args.threads} "
          f"backbones={cfg['backbones']} input={prep.crop_size}px gray", flush=True)

    if params["tracking"]:
        mlflow.set_tracking_uri(tracking_uri if tracking_uri.startswith("sqlite") else f"sqlite:///{PROJECT}/mlflow.db")
        mlflow.set_experiment("hybrid_recommender")
        mlflow.start_run(run_name="face_models_benchmark")
        mlflow.log_params({"minutes": args.minutes, "env": args.env, "threads": args.threads})
    try:
        t = time.perf_counter()
        utk_mtcnn, report = nodes.reframe_with_mtcnn(data["utkface_faces"], data["utkface_pixels"], params)
        print(f"MTCNN reframing of UTKFace: {report['mtcnn_found'].iloc[0]}/{report['faces'].iloc[0]} faces found "
              f"in {time.perf_counter() - t:.0f}s", flush=True)

        # Budget: what is left after reframing, minus a reserve for evaluation and the video branches.
        n_train = int(sum(((data[f"{n}_faces"]["split"] == "train") & ~data[f"{n}_faces"]["is_blank"].astype(bool)).sum()
                          for n in ("fer2013", "utkface", "ckplus", "rafdb")))
        left = args.minutes * 60 - (time.perf_counter() - start)
        reserve = max(240.0, 0.22 * args.minutes * 60)
        train_seconds = max(60.0, left - reserve) / len(dict.fromkeys(cfg["backbones"] + params["video"]["lstm"]["frame_models"]))
        ips = throughput(cfg["backbones"][0], prep, cfg["batch_size"])
        epochs = max(1, int(train_seconds * ips * 0.85 / n_train))
        cfg.update({"max_epochs": epochs, "limit_train_batches": None, "max_steps": None,
                    "max_time": {"seconds": int(train_seconds)}, "progress_bar": False})
        print(f"training faces {n_train}, ~{ips:.0f} img/s -> {epochs} epochs within {train_seconds / 60:.1f} min",
              flush=True)

        fer_val = face_set("fer2013", data["fer2013_faces"], data["fer2013_pixels"], prep, ["val"], exclude_blank)
        curve = Curve(fer_val, prep, time.perf_counter())
        t = time.perf_counter()
        frame_cnns, frame_metrics, _ = nodes.train_frame_cnns(
            data["fer2013_faces"], data["fer2013_pixels"], data["utkface_faces"], data["utkface_pixels"], utk_mtcnn,
            data["ckplus_faces"], data["ckplus_pixels"], data["rafdb_faces"], data["rafdb_pixels"], params,
            exclude_blank, callbacks=[curve])
        cnn_minutes = (time.perf_counter() - t) / 60
        t = time.perf_counter()
        sequences = nodes.build_emotion_sequences(data["ckplus_faces"], data["ckplus_pixels"], data["afew_faces"],
                                                  data["afew_pixels"], params)
        features = nodes.extract_sequence_features(frame_cnns, sequences, params)
        cnn = nodes.train_cnn_branch(features, sequences, params)
        lstm = nodes.train_lstm_branch(features, sequences, params)
        fusion, video_metrics, _ = nodes.fuse_branches(cnn, lstm, sequences, params)
        predictor = nodes.assemble_predictor(frame_cnns, cnn, lstm, fusion, params)
        out_dir = PROJECT / "data/07_model_output/face_models_benchmark"
        FacePredictorDataset(str(out_dir / "face_attribute_predictor"), artifact_path=None).save(predictor)
        frame_metrics.to_csv(out_dir / "frame_cnn_metrics.csv", index=False)
        video_metrics.to_csv(out_dir / "video_branch_metrics.csv", index=False)
        pd.DataFrame(curve.rows).to_csv(out_dir / "curve.csv", index=False)
        video_minutes = (time.perf_counter() - t) / 60
        summary = nodes.log_summary(frame_metrics, video_metrics)
        summary.to_csv(out_dir / "summary.csv", index=False)

        # per-face latency of the saved predictor (one face at a time, as the real-time path calls it)
        face = np.asarray(data["fer2013_pixels"][0])
        predictor.predict(face)
        t = time.perf_counter()
        for _ in range(50):
            predictor.predict(face)
        latency_ms = (time.perf_counter() - t) / 50 * 1000
    finally:
        if params["tracking"]:
            mlflow.end_run()

    total = (time.perf_counter() - start) / 60
    pd.set_option("display.width", 200)
    print("\n== accuracy against wall time (frame CNN, per epoch) ==")
    print(pd.DataFrame(curve.rows)[["epoch", "step", "wall_min", "fer2013_val_acc"]].to_string(index=False,
                                                                                                 float_format="%.4f"))
    print("\n== results (accuracy) ==")
    for _, r in summary.iterrows():
        target = next((v for k, v in TARGETS.items() if r["metric"].startswith(k)), None)
        verdict = "" if target is None or np.isnan(r["accuracy"]) else (
            f"target {target:.2f}: {'met' if r['accuracy'] >= target else 'NOT met'}")
        print(f"  {r['metric']:<58} {r['accuracy']:.4f}   {verdict}")
    print("\n== video members (CK+ sequences) ==")
    print(video_metrics[video_metrics["split"] != "val"][["model", "split", "n", "accuracy", "macro_f1"]]
          .to_string(index=False, float_format="%.4f"))
    print("\n== paper (for comparison; different data: RAF-DB/AFEW are not available here) ==")
    for k, v in PAPER:
        print(f"  {k:<50} {v}")
    print(f"\nwall time: total {total:.1f} min (frame CNN train+eval {cnn_minutes:.1f} min, video branches "
          f"{video_minutes:.1f} min); predictor latency {latency_ms:.1f} ms per single face on {args.threads} threads")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
