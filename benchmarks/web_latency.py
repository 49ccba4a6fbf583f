"""Benchmark (not a test): the web page's live camera path under load, on this CPU.

    nice -n 10 .venv/bin/python benchmarks/web_latency.py [--seconds 30] [--tiny] [--gradio-python PATH]

Starts ``hybrid-recommender serve`` as its own process on a free loopback port (so its memory is its own), then
plays 640x480 JPEG frames of real UTKFace faces of the project's held-out (test) split at ``/api/live``, each
client as fast as the page's rule allows (one frame in flight, the next sent when the reply comes):

1. one client, one face (150 px); 2. one client, four faces (110 px): server-side latency per frame (the
   ``ms`` the server reports: JPEG decode -> detect/track -> crops -> reading -> list when changed), p50/p95,
   and updates per second at the client;
3. four clients at once, one face each: updates per second per client, errors, replies for another session;
4. peak memory of the server process (VmHWM).

Resources: ``data/06_models`` and the movies table when a ``make run`` has written them, else (or with
``--tiny``) a temporary folder with the configured predictor architecture on random weights and the hybrid fitted
on MovieLens 100K's training split; the table says which. ``--gradio-python`` (an interpreter with gradio,
fastapi and uvicorn installed) adds the import cost of each web stack.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")

import numpy as np  # noqa: E402
import yaml  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "src"))
sys.path.insert(0, str(PROJECT))

from tests.inference.clips import background, paste  # noqa: E402
from tests.inference.web.helpers import (  # noqa: E402
    CameraClient,
    face_frames,
    held_out_faces,
    jpeg,
    serve_process,
)

DATASETS = Path(os.environ.get("HYBRID_DATASETS_DIR", PROJECT.parent / "shared" / "datasets"))
TRAINED = {"predictor": PROJECT / "data/06_models/face_attribute_predictor/config.json",
           "recommender": PROJECT / "data/06_models/hybrid_recommender",
           "cold_start": PROJECT / "data/06_models/cold_start_lists.json",
           "movies": PROJECT / "data/03_primary/movielens_movies.parquet"}


def tiny_resources(folder: Path) -> tuple[list[str], str]:
    """Serve options for the configured architecture on random weights and a hybrid fitted here."""
    from hybrid_recommender.inference.coldstart import cold_start_lists
    from hybrid_recommender.ingest.movielens import read_movielens
    from hybrid_recommender.ingest.sources import DataSource
    from hybrid_recommender.labels import age_groups
    from hybrid_recommender.recommender import build_recommenders
    from hybrid_recommender.recommender.clustering import cluster_movies
    from hybrid_recommender.recommender.ranking_metrics import split_ratings
    from hybrid_recommender.recommender.store import save_recommender
    from tests.predictor_factory import tiny_predictor

    tiny_predictor(emotion_backbone="face_vgg_s", face_backbone="face_vgg_s", lstm_hidden=(128, 256),
                   svm_classes=range(7)).save(folder / "predictor")
    ratings, users, movies, _ = read_movielens(DataSource(DATASETS / "ml-100k.zip"))
    users["age_group"] = age_groups(users["age"])
    params = yaml.safe_load((PROJECT / "conf/base/parameters_recommendation.yml").read_text())["recommendation"]
    train, _ = split_ratings(ratings, params["split"]["test_fraction"], params["seed"])
    rec = build_recommenders(params, params["affinity"])["hybrid_surprise_svd"].fit(
        train, users, movies, cluster_movies(movies, 11, seed=42, n_init=3), precompute=False)
    rec.precompute()
    save_recommender(rec, folder / "recommender")
    (folder / "cold_start.json").write_text(json.dumps(cold_start_lists(train, users, movies, 10)))
    movies.to_parquet(folder / "movies.parquet")
    options = ["--predictor", str(folder / "predictor"), "--recommender", str(folder / "recommender"),
               "--cold-start", str(folder / "cold_start.json"), "--movies", str(folder / "movies.parquet")]
    return options, "configured architecture (face_vgg_s x2, 2 SVMs, LSTM-128/256) on random weights"


def play(url: str, clips: list[tuple[list[bytes], list]], seconds: float) -> list[CameraClient]:
    """One client per clip, each sending its frames in a loop for ``seconds``."""
    clients = [CameraClient(url, f"client{k}") for k in range(len(clips))]

    def run(client, frames, boxes):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t = client.sent % len(frames)
            client.send(frames[t], boxes[t])
        client.elapsed = seconds

    threads = [threading.Thread(target=run, args=(c, *clip)) for c, clip in zip(clients, clips)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in clients:
        c.close()
    return clients


def one_face(face, k: int = 0) -> tuple[list[bytes], list]:
    frames, boxes = face_frames(face, 30, x=60 + 130 * (k % 2) * 2, y=40 + 200 * (k // 2), size=150, seed=k)
    return [jpeg(f) for f in frames], boxes


def four_faces(faces) -> tuple[list[bytes], None]:
    spots = [(20, 20), (330, 20), (20, 250), (330, 250)]
    frames = []
    for t in range(30):
        frame = background()
        dx = round(16 * (t if t < 15 else 30 - t) / 15) - 8
        for face, (x, y) in zip(faces, spots):
            paste(frame, face, x + dx, y, 110)
        frames.append(jpeg(frame))
    return frames, [None] * len(frames)


def latency(clients: list[CameraClient], skip: int = 10) -> tuple[float, float, float]:
    """Server ms per frame p50 / p95, and the stack's own cost: the client's round trip minus the server's ms."""
    frames = [r for c in clients for r in c.replies[skip:] if r.get("type") == "frame"]
    ms = np.array([r["ms"] for r in frames])
    overhead = np.array([r["round_trip_ms"] - r["ms"] for r in frames])
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95)), float(np.median(overhead))


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def stack_imports(python: str) -> None:
    """Seconds and resident MB to import each web stack, in a fresh interpreter (best of 3). (Not ru_maxrss: a
    child's counts the pages it shared with this process when it was forked.)"""
    code = ("import time; t = time.perf_counter(); import {m}; s = time.perf_counter() - t; "
            "rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1]; "
            "print(s, int(rss) / 1024)")
    print("\n| web stack | import time (s) | resident memory after import (MB) |\n|---|---|---|")
    for label, modules in (("FastAPI + uvicorn + python-multipart", "fastapi, uvicorn, python_multipart"),
                           ("Gradio", "gradio")):
        runs = [subprocess.run([python, "-c", code.format(m=modules)], capture_output=True, text=True,
                               check=True).stdout.split() for _ in range(3)]
        best = min(runs, key=lambda r: float(r[0]))
        print(f"| {label} | {float(best[0]):.2f} | {float(best[1]):.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30, help="length of each phase")
    parser.add_argument("--tiny", action="store_true", help="random-weight predictor even when data/06_models exists")
    parser.add_argument("--gradio-python", help="an interpreter with gradio, fastapi and uvicorn: import costs")
    args = parser.parse_args()

    fractions = yaml.safe_load((PROJECT / "conf/base/parameters_data_engineering.yml").read_text())[
        "data_engineering"]["utkface"]["split_fractions"]
    faces = held_out_faces(DATASETS / "utkface_crop_part1.tar.gz", 4, fractions)
    with tempfile.TemporaryDirectory() as tmp:
        if not args.tiny and all(p.exists() for p in TRAINED.values()):
            options, predictor = [], "trained predictor data/06_models/face_attribute_predictor (make run)"
        else:
            options, predictor = tiny_resources(Path(tmp))
        started = time.perf_counter()
        server, url = serve_process(options, Path(tmp) / "serve.log")
        load_s = time.perf_counter() - started
        try:
            play(url, [one_face(faces[0])], 3)                                # warm-up
            single = play(url, [one_face(faces[0])], args.seconds)
            group = play(url, [four_faces(faces)], args.seconds)
            crowd = play(url, [one_face(faces[k], k) for k in range(4)], args.seconds)
            memory = peak_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)

    def rate(c):
        return len(c.replies) / c.elapsed

    print(f"\npredictor: {predictor}; start-up (load once, until serving): {load_s:.1f} s; "
          f"{args.seconds:g} s per phase; frames 640x480 JPEG (quality 80)\n")
    print("| load | server ms per frame p50 / p95 | round trip - server ms, p50 | updates/s per client | "
          "errors or replies for another client / replies |")
    print("|---|---|---|---|---|")
    for label, clients in (("1 client, 1 face", single), ("1 client, 4 faces", group),
                           ("4 clients, 1 face each", crowd)):
        p50, p95, overhead = latency(clients)
        rates = [rate(c) for c in clients]
        problems = sum(len(c.problems) for c in clients)
        shown = f"{rates[0]:.1f}" if len(rates) == 1 else f"{np.mean(rates):.1f} (min {min(rates):.1f})"
        print(f"| {label} | {p50:.0f} / {p95:.0f} | {overhead:.1f} | {shown} | {problems} / "
              f"{sum(len(c.replies) for c in clients)} |")
    print(f"\npeak memory of the server process (VmHWM): {memory:,.0f} MB")
    if args.gradio_python:
        stack_imports(args.gradio_python)


if __name__ == "__main__":
    main()
