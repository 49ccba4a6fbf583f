"""Benchmark (not a test): end-to-end inference speed on 640x480 clips built from real faces, on this CPU.

    nice -n 10 .venv/bin/python benchmarks/inference_fps.py [--frames 60] [--blazeface PATH.onnx] [--predictor DIR]

Clips: UTKFace part-1 faces (../shared/datasets) pasted on a background and moved 4 px per frame, 1 and 4 faces,
written as mp4 to a temporary folder (never kept). End to end = decode -> detect -> track -> attributes per viewer
-> one list, through ``recommend_for_input`` (what the command runs). The naive baseline, in the same run: MTCNN
at full resolution on every frame (FaceCropper.every_face), each face through the predictor one at a time, a list
per frame for the largest face.

Predictor: ``--predictor`` (a trained folder) or, by default, the configured architecture with random weights
(face_vgg_s emotion and gender/age networks, l2/minmax SVMs, LSTM-128/256, as conf/base/parameters_face_models.yml):
speed does not depend on the weights. Recommender: the hybrid fitted on MovieLens 100K's training split (surprise SVD).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402
from torchvision.ops import box_iou  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "src"))
sys.path.insert(0, str(PROJECT))

from hybrid_recommender.face_models.predictor import FaceAttributePredictor  # noqa: E402
from hybrid_recommender.faces.detector import FaceCropper  # noqa: E402
from hybrid_recommender.inference.coldstart import cold_start_lists  # noqa: E402
from hybrid_recommender.inference.core import Resources, recommend_for_input  # noqa: E402
from hybrid_recommender.inference.detection import (  # noqa: E402
    BlazeFaceDetector,
    MtcnnDetector,
    crop_faces,
)
from hybrid_recommender.inference.settings import InferenceSettings  # noqa: E402
from hybrid_recommender.ingest.movielens import read_movielens  # noqa: E402
from hybrid_recommender.ingest.sources import DataSource  # noqa: E402
from hybrid_recommender.labels import age_groups  # noqa: E402
from hybrid_recommender.recommender import Viewer, build_recommenders  # noqa: E402
from hybrid_recommender.recommender.clustering import cluster_movies  # noqa: E402
from hybrid_recommender.recommender.ranking_metrics import split_ratings  # noqa: E402
from tests.inference.clips import real_faces, scene, write_image, write_video  # noqa: E402
from tests.predictor_factory import FRAMING, tiny_predictor  # noqa: E402

DATASETS = Path(os.environ.get("HYBRID_DATASETS_DIR", PROJECT.parent / "shared" / "datasets"))
SETTINGS = InferenceSettings()   # conf/base/parameters_inference.yml's defaults


def build_predictor(path: str | None):
    if path:
        return FaceAttributePredictor.load(path), f"trained predictor {path}"
    pred = tiny_predictor(emotion_backbone="face_vgg_s", face_backbone="face_vgg_s", lstm_hidden=(128, 256),
                          svm_classes=range(7))
    return pred, ("configured architecture (face_vgg_s emotion + face_vgg_s gender/age + 2 SVMs + LSTM-128/256), "
                  "random weights")


def build_recommender():
    ratings, users, movies, _ = read_movielens(DataSource(DATASETS / "ml-100k.zip"))
    users["age_group"] = age_groups(users["age"])
    params = yaml.safe_load((PROJECT / "conf/base/parameters_recommendation.yml").read_text())["recommendation"]
    train, _ = split_ratings(ratings, params["split"]["test_fraction"], params["seed"])
    clusters = cluster_movies(movies, 11, seed=42, n_init=3)
    rec = build_recommenders(params, params["affinity"])["hybrid_surprise_svd"].fit(train, users, movies, clusters,
                                                                                   precompute=False)
    rec.precompute()       # as saved by the recommendation pipeline: every group's list ready
    titles = dict(zip(movies["item_id"].astype(int), movies["title"].astype(str)))
    return rec, cold_start_lists(train, users, movies, 10), titles


def naive_fps(clip: Path, predictor, recommender) -> tuple[float, int]:
    """MTCNN full resolution every frame, faces one at a time, a list per frame (largest face)."""
    cropper = FaceCropper(FRAMING["image_size"], FRAMING["margin"], FRAMING["thresholds"])
    cap = cv2.VideoCapture(str(clip))
    n, faces, start = 0, 0, time.perf_counter()
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        crops, boxes = cropper.every_face(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        tops = []
        for crop in crops:
            p = predictor.predict(crop)
            tops.append(predictor.top(p)[0])
        if tops:
            recommender.recommend(Viewer(age_group=tops[0]["age_group"], gender=tops[0]["gender"],
                                         emotion=tops[0]["emotion"]), 10)
        n += 1
        faces += len(crops)
    cap.release()
    return n / (time.perf_counter() - start), faces


def detector_agreement(faces, onnx_path: str, n_frames: int) -> None:
    """Recall against the pasted faces and box agreement (IoU) of BlazeFace (calibrated) with MTCNN, 4-face clip."""
    frames, truth = scene(faces[:4], n_frames, size=110, step=4)
    mt = MtcnnDetector(None, SETTINGS.min_face_size, FRAMING["thresholds"])
    blaze = SETTINGS.blazeface
    calibration = blaze.calibration.model_dump()
    bf = BlazeFaceDetector(onnx_path, blaze.score_threshold, blaze.iou_threshold, calibration)
    raw = BlazeFaceDetector(onnx_path, blaze.score_threshold, blaze.iou_threshold,
                            {"scale_x": 1.0, "scale_y": 1.0, "shift_y": 0.0})
    ratios = []
    for frame in frames:
        m, b = torch.from_numpy(mt.detect(frame)[0]), torch.from_numpy(raw.detect(frame)[0])
        if len(m) and len(b):
            pairs = box_iou(m, b).max(1)
            for i, j in enumerate(pairs.indices.tolist()):
                if pairs.values[i] > 0.3:
                    w, h = b[j, 2] - b[j, 0], b[j, 3] - b[j, 1]
                    ratios.append([float((m[i, 2] - m[i, 0]) / w), float((m[i, 3] - m[i, 1]) / h),
                                   float(((m[i, 1] + m[i, 3]) - (b[j, 1] + b[j, 3])) / 2 / h)])
    med = np.median(np.array(ratios), 0)
    print(f"\nBlazeFace -> MTCNN box calibration (medians over {len(ratios)} faces): scale_x {med[0]:.2f}, "
          f"scale_y {med[1]:.2f}, shift_y {med[2]:.2f} (configured: {calibration})")
    found, ious, ms = {"mtcnn": 0, "blazeface": 0}, [], {"mtcnn": 0.0, "blazeface": 0.0}
    for frame, boxes in zip(frames, truth):
        t = torch.tensor(boxes, dtype=torch.float32)
        got = {}
        for name, det in (("mtcnn", mt), ("blazeface", bf)):
            start = time.perf_counter()
            b, _ = det.detect(frame)
            ms[name] += (time.perf_counter() - start) * 1000 / len(frames)
            got[name] = torch.from_numpy(b)
            if len(b):
                found[name] += int((box_iou(t, got[name]).max(1).values > 0.3).sum())
        if len(got["mtcnn"]) and len(got["blazeface"]):
            ious += box_iou(got["mtcnn"], got["blazeface"]).max(1).values.tolist()
    total = 4 * len(frames)
    print(f"detectors on the 4-face clip ({len(frames)} frames, full 640x480): MTCNN found {found['mtcnn']}/{total}"
          f" faces in {ms['mtcnn']:.0f} ms/frame, BlazeFace {found['blazeface']}/{total} in {ms['blazeface']:.1f} "
          f"ms/frame; BlazeFace box vs MTCNN box IoU mean {np.mean(ious):.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--blazeface", default=None, help="face_detection_front_128x128_barracuda.onnx")
    ap.add_argument("--predictor", default=None)
    ap.add_argument("--stills", type=int, default=20)
    ap.add_argument("--clip", action="append", default=[],
                    help="also time a real video (e.g. an AFEW .avi when AFEW is present); repeatable")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: see docs/inference.md)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    predictor, predictor_note = build_predictor(args.predictor)
    rec, cold, titles = build_recommender()
    res = Resources(predictor, rec, cold, titles)
    faces = real_faces(DATASETS / "utkface_crop_part1.tar.gz", 4)
    tmp = Path(tempfile.mkdtemp(prefix="inference_fps_"))
    clips = {k: write_video(tmp / f"faces{k}.mp4", scene(faces[:k], args.frames, size=150 if k == 1 else 110,
                                                         step=4)[0]) for k in (1, 4)}
    recommend_for_input(write_video(tmp / "warm.mp4", scene(faces[:1], 6)[0]), res)       # warm-up
    print(f"machine: {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}; predictor: {predictor_note}")
    print(f"clips: 640x480, {args.frames} frames, 1 face (150 px) and 4 faces (110 px), moving 4 px/frame\n")

    variants = [("naive: MTCNN full-res every frame, faces one at a time", None),
                ("MTCNN full-res every frame, viewer windows batched", {"detect_every": 1, "detect_max_side": None}),
                ("+ detect on 320 px downscale", {"detect_every": 1}),
                ("+ detect every 5th frame, IoU tracker between (default)", {}),
                ("+ detect every 10th frame", {"detect_every": 10}),
                ("default with min face 80 px", {"min_face_size": 80})]
    if args.blazeface:
        variants += [("BlazeFace every frame", {"detector": "blazeface", "detect_every": 1,
                                                "blazeface": {"model_path": args.blazeface}}),
                     ("BlazeFace every 5th frame", {"detector": "blazeface",
                                                    "blazeface": {"model_path": args.blazeface}})]
    print("| variant | fps, 1 face | fps, 4 faces | viewers found (1 / 4) |")
    print("|---|---|---|---|")
    base = {}
    for name, params in variants:
        cells, found = [], []
        for k, clip in clips.items():
            if params is None:
                fps, n_faces = naive_fps(clip, predictor, rec)
                found.append(f"{n_faces / args.frames:.2f}/frame")
                base[k] = fps
            else:
                r = recommend_for_input(clip, res, params)
                fps = r.fps
                found.append(str(len(r.viewers)))
            cells.append(f"{fps:.1f}" + ("" if params is None else f" ({fps / base[k]:.1f}x)"))
        print(f"| {name} | {cells[0]} | {cells[1]} | {' / '.join(found)} |")

    for clip in args.clip:
        r = recommend_for_input(clip, res)
        print(f"| real clip {Path(clip).name} ({r.frames} frames) | {r.fps:.1f} | - | {len(r.viewers)} |")

    if args.blazeface:
        detector_agreement(faces, args.blazeface, min(args.frames, 30))

    # batching: one viewer's 64-frame window, one crop at a time vs one batch (predict_sequence)
    frame = scene(faces[:1], 1, size=150)[0][0]
    boxes = MtcnnDetector(None, SETTINGS.min_face_size, FRAMING["thresholds"]).detect(frame)[0][:1]
    crops = np.stack(crop_faces(frame, boxes, predictor.framing) * 64)
    t = time.perf_counter()
    for c in crops:
        predictor.predict(c)
    one = time.perf_counter() - t
    t = time.perf_counter()
    predictor.predict_sequence(crops)
    batched = time.perf_counter() - t
    print(f"\npredictor, one viewer's 64-frame window: one crop at a time {one * 1000:.0f} ms, "
          f"batched with the fused sequence branches {batched * 1000:.0f} ms")

    still = write_image(tmp / "still.jpg", scene(faces[:1], 1, size=150)[0][0])
    times = []
    for _ in range(args.stills):
        t = time.perf_counter()
        recommend_for_input(still, res)
        times.append(time.perf_counter() - t)
    p50, p95 = np.percentile(np.array(times) * 1000, [50, 95])
    print(f"still image 640x480, one face ({args.stills} runs): p50 {p50:.0f} ms, p95 {p95:.0f} ms")
    print(f"peak memory (max RSS of this process): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
