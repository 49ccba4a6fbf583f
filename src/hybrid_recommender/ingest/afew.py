"""AFEW: ``Train_AFEW/<Emotion>/<clip>.avi`` and ``Val_AFEW/<Emotion>/<clip>.avi``.

Each clip becomes per-frame crops of its main (largest) face, found with MTCNN at lowered thresholds and a
wider margin (paper III-A-2). Crops are kept per clip in the catalog's ``afew_face_cache`` (keyed by the clip's
bytes and the detector settings), so a second run does not detect again.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import cv2
import numpy as np
from tqdm.auto import tqdm

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.ingest.clip_cache import ClipFaceCache
from hybrid_recommender.ingest.common import FaceTable, SkipLog, first_of_each
from hybrid_recommender.ingest.emotion_folders import emotion_folder_files
from hybrid_recommender.ingest.faces import face_index
from hybrid_recommender.ingest.images import stack_faces
from hybrid_recommender.ingest.sources import DataSource

SPLITS = {"Train_AFEW": "train", "Val_AFEW": "val", "Test_AFEW": "test"}
VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov")
LAYOUT = "AFEW: Train_AFEW/<Emotion>/<clip>.avi and Val_AFEW/<Emotion>/<clip>.avi"
EMOTION_FOLDERS = "Angry, Disgust, Fear, Happy, Neutral, Sad, Surprise"


def read_frames(path: Path, max_frames: int) -> list[np.ndarray]:
    """Up to ``max_frames`` consecutive RGB frames from the start of a video; [] if it cannot be decoded."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    try:
        while capture.isOpened() and len(frames) < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()
    return frames


def _clip_faces(source: DataSource, name: str, data: bytes, cfg: dict, cache: ClipFaceCache, cropper_factory) -> dict:
    """Crops of one clip, from the cache or from MTCNN: {'frames': int, 'crops': array, 'frame_index': array}."""
    settings = {k: cfg[k] for k in ("image_size", "max_frames_per_clip", "mtcnn_thresholds", "mtcnn_margin")}
    key = cache.key(data, settings)
    cached = cache.get(key)
    if cached is not None:
        return cached
    with source.local_copy(name) as path:
        frames = read_frames(path, cfg["max_frames_per_clip"])
    crops = cropper_factory().largest_faces(frames) if frames else []
    kept = [i for i, c in enumerate(crops) if c is not None]
    result = {
        "frames": np.array(len(frames)),
        "crops": stack_faces([crops[i] for i in kept], cfg["image_size"], 3),
        "frame_index": np.array(kept, dtype=np.int64),
    }
    cache.put(key, result)
    return result


def read_afew(source: DataSource, cfg: dict, edges, labels, cache: ClipFaceCache) -> FaceTable:
    skips = SkipLog("afew", source)
    wanted = {file.name: (SPLITS[file.parent], file.emotion, PurePosixPath(file.file_name).stem)
              for file in emotion_folder_files(source, skips, VIDEO_SUFFIXES, "a video", EMOTION_FOLDERS, SPLITS)}
    if not wanted:
        raise InputDataError(f"{source.path}: no AFEW clips found; expected {LAYOUT}.")
    # A clip is named by its split and number: the same clip twice (two formats, two emotions) is one clip.
    wanted = first_of_each(wanted, lambda _, v: f"{v[0]}/{v[2]}", "clip", skips)
    cropper = None

    def cropper_factory():
        nonlocal cropper
        if cropper is None:
            # torch and MTCNN load only when a clip is not in the cache
            from hybrid_recommender.faces.detector import FaceCropper

            cropper = FaceCropper(cfg["image_size"], cfg["mtcnn_margin"], cfg["mtcnn_thresholds"])
        return cropper

    records, crops = [], []
    for name, data in tqdm(source.iter_files(wanted, on_error=skips.add), total=len(wanted),
                           desc="AFEW clips (MTCNN)", unit="clip"):
        split, emotion, clip = wanted[name]
        faces = _clip_faces(source, name, data, cfg, cache, cropper_factory)
        if int(faces["frames"]) == 0:
            skips.add(name, "unreadable or truncated video (no frame could be decoded)")
            continue
        found = set(faces["frame_index"].tolist())
        for i in range(int(faces["frames"])):
            if i not in found:
                skips.add(f"{name}#frame{i}", "no face detected in frame")
        clip_id = f"{split}/{emotion}/{clip}"
        for frame_index, crop in zip(faces["frame_index"].tolist(), faces["crops"]):
            records.append({"face_id": f"afew/{clip_id}/{frame_index:04d}", "source_file": name, "split": split,
                            "emotion": emotion, "subject": clip_id, "sequence_id": clip_id,
                            "frame_index": frame_index})
            crops.append(crop)
    return FaceTable(face_index(records, "afew", edges, labels), stack_faces(crops, cfg["image_size"], 3),
                     skips.frame())
