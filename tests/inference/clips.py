"""Test frames and clips built from real UTKFace faces pasted on a background and moved between frames.

Nothing here is committed data: the faces are read from ../shared/datasets at test time.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import cv2
import numpy as np


def real_faces(archive: Path, n: int, skip: int = 0, split_fractions: dict | None = None) -> list[np.ndarray]:
    """The first n (after ``skip``) adult UTKFace part-1 crops (200x200 RGB) whose names follow the labelled
    pattern; with ``split_fractions``, only those whose split is ``test`` under the project's rule (ingest/utkface.py:
    a hash of the file name), so no face a predictor was trained or tuned on is used."""
    from hybrid_recommender.ingest.images import stable_split

    faces = []
    with tarfile.open(archive) as tf:
        for m in tf:
            name = Path(m.name).name
            if not (m.isfile() and name.endswith(".jpg.chip.jpg") and len(name.split("_")) == 4):
                continue
            age = int(name.split("_")[0])
            if not 18 <= age <= 60:              # adults: sharper, more reliably detected faces
                continue
            if split_fractions is not None and stable_split(name, split_fractions) != "test":
                continue
            if skip:
                skip -= 1
                continue
            data = np.frombuffer(tf.extractfile(m).read(), np.uint8)
            faces.append(cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))
            if len(faces) == n:
                break
    return faces


def background(size=(480, 640), seed: int = 0) -> np.ndarray:
    """A smooth, faceless background (gradient plus low-frequency noise)."""
    h, w = size
    rng = np.random.default_rng(seed)
    noise = cv2.resize(rng.integers(40, 200, (6, 8, 3)).astype(np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
    ramp = np.linspace(0, 40, w, dtype=np.float32)[None, :, None]
    return np.clip(noise.astype(np.float32) * 0.6 + ramp + 30, 0, 255).astype(np.uint8)


def paste(frame: np.ndarray, face: np.ndarray, x: int, y: int, size: int) -> tuple[int, int, int, int]:
    frame[y:y + size, x:x + size] = cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)
    return x, y, x + size, y + size


def scene(faces: list[np.ndarray], n_frames: int, size: int = 140, step: int = 4, frame_size=(480, 640),
          seed: int = 0) -> tuple[list[np.ndarray], list[list[tuple[int, int, int, int]]]]:
    """Frames where each face moves ``step`` px per frame along its own lane; and each face's box per frame."""
    h, w = frame_size
    lanes = len(faces)
    frames, boxes = [], []
    for t in range(n_frames):
        frame = background(frame_size, seed)
        row = []
        for k, face in enumerate(faces):
            x0 = 10 + (k % 2) * (w // 2)
            y0 = 10 + (k // 2) * (h // max(1, (lanes + 1) // 2)) if lanes > 2 else (h - size) // 2
            x = min(w - size, x0 + step * t)
            y = min(h - size, y0 + (step // 2) * t if lanes > 2 else y0)
            row.append(paste(frame, face, x, y, size))
        frames.append(frame)
        boxes.append(row)
    return frames, boxes


def write_video(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def write_image(path: Path, frame: np.ndarray) -> Path:
    cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return path
