"""FER2013: the original ``fer2013.csv`` or the Kaggle image folders ``train/<emotion>/``, ``test/<emotion>/``.

Training -> train, PublicTest -> val, PrivateTest -> test. A full Kaggle download's ``test/`` holds both
PublicTest_* and PrivateTest_* files; they are told apart by their names.
"""

from __future__ import annotations

import io
from pathlib import PurePosixPath

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.ingest.common import FaceTable, SkipLog
from hybrid_recommender.ingest.faces import face_index
from hybrid_recommender.ingest.images import IMAGE_SUFFIXES, decoded_images, is_blank, stack_faces
from hybrid_recommender.io.sources import DataSource
from hybrid_recommender.labels import FER2013_CSV_LABELS, canonical_emotion

SIZE = 48
USAGE_SPLITS = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
LAYOUT = (
    "FER2013 as fer2013.csv (columns emotion,pixels,Usage) or as the Kaggle image folders "
    "train/<emotion>/*.jpg and test/<emotion>/*.jpg"
)


def _split_of_image(folder: str, file_name: str) -> str | None:
    if folder == "train":
        return "train"
    for prefix, split in (("PublicTest", "val"), ("PrivateTest", "test"), ("Training", "train")):
        if file_name.startswith(prefix):
            return split
    return None


def _read_folders(source: DataSource, names: list[str], edges, labels) -> FaceTable:
    skips = SkipLog("fer2013")
    wanted = {}
    for name in names:
        parts = PurePosixPath(name).parts
        if len(parts) < 3 or parts[-3] not in ("train", "test"):
            continue
        folder, emotion_dir, file_name = parts[-3:]
        if not file_name.lower().endswith(IMAGE_SUFFIXES):
            skips.add(name, "not an image file")
            continue
        emotion = canonical_emotion(emotion_dir)
        if emotion is None or emotion == "contempt":
            skips.add(name, f"unknown emotion folder {emotion_dir!r} (expected one of angry, disgust, fear, "
                            "happy, neutral, sad, surprise)")
            continue
        split = _split_of_image(folder, file_name)
        if split is None:
            skips.add(name, "file in test/ named neither PublicTest_* nor PrivateTest_*")
            continue
        wanted[name] = (emotion, split)
    if not wanted:
        raise InputDataError(f"{source.path}: no face images found; expected {LAYOUT}.")
    records, images = [], []
    for name, (emotion, split), image in decoded_images(source, wanted, 1, SIZE, skips, "FER2013 images"):
        records.append({"face_id": f"fer2013/{name}", "source_file": name, "split": split, "emotion": emotion,
                        "is_blank": is_blank(image)})
        images.append(image)
    return FaceTable(face_index(records, "fer2013", edges, labels), stack_faces(images, SIZE, 1), skips.frame())


def _read_csv(source: DataSource, member: str, edges, labels) -> FaceTable:
    skips = SkipLog("fer2013")
    where = f"{source.path}" if source.kind == "file" else f"{source.path}!{member}"
    try:
        table = pd.read_csv(io.BytesIO(source.read(member)), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputDataError(f"{where}: not a readable CSV ({exc}); expected columns emotion,pixels,Usage.") from exc
    missing = {"emotion", "pixels", "Usage"} - set(table.columns)
    if missing:
        raise InputDataError(f"{where}: expected columns emotion,pixels,Usage; missing {sorted(missing)}.")
    records, images = [], []
    for row_no, row in enumerate(tqdm(table.itertuples(index=False), total=len(table), desc="FER2013 csv",
                                      unit="row"), start=2):
        file = f"{where}:{row_no}"
        label = FER2013_CSV_LABELS.get(int(row.emotion)) if row.emotion.strip().isdigit() else None
        if label is None:
            skips.add(file, f"emotion {row.emotion!r} not in 0..6")
            continue
        split = USAGE_SPLITS.get(row.Usage.strip())
        if split is None:
            skips.add(file, f"Usage {row.Usage!r} not one of Training, PublicTest, PrivateTest")
            continue
        values = row.pixels.split()
        if len(values) != SIZE * SIZE or not all(v.isdigit() for v in values):
            skips.add(file, f"pixels: expected {SIZE * SIZE} integers 0-255, got {len(values)} values")
            continue
        image = np.asarray(values, dtype=np.int64)
        if image.max() > 255:
            skips.add(file, "pixels: values above 255")
            continue
        image = image.astype(np.uint8).reshape(SIZE, SIZE, 1)
        records.append({"face_id": f"fer2013/csv/{row_no}", "source_file": file, "split": split, "emotion": label,
                        "is_blank": is_blank(image)})
        images.append(image)
    return FaceTable(face_index(records, "fer2013", edges, labels), stack_faces(images, SIZE, 1), skips.frame())


def read_fer2013(source: DataSource, edges, labels) -> FaceTable:
    names = source.names()
    csv_members = [n for n in names if PurePosixPath(n).name.lower() == "fer2013.csv"]
    if csv_members:
        return _read_csv(source, csv_members[0], edges, labels)
    return _read_folders(source, names, edges, labels)
