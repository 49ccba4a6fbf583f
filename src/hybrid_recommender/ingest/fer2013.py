"""FER2013: the original ``fer2013.csv`` or the Kaggle image folders ``train/<emotion>/``, ``test/<emotion>/``.

A full Kaggle download's ``test/`` holds both PublicTest_* and PrivateTest_* files; they are told apart by their
names (in the csv, by ``Usage``). Which official split plays which part is the protocol
(``data_engineering.fer2013.protocol``, :func:`apply_protocol`):

- ``carved`` (default; the only one possible without PrivateTest): validation is a stratified, seeded fraction of
  Training; PublicTest is the test split and nothing is ever chosen on it; PrivateTest, when present, is left out
  (each of its faces a counted skip naming the other protocol).
- ``official`` (the literature's): Training trains, PublicTest validates, PrivateTest tests.
"""

from __future__ import annotations

import csv
import io
from pathlib import PurePosixPath

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.ingest.common import FaceTable, SkipLog
from hybrid_recommender.ingest.emotion_folders import emotion_folder_files
from hybrid_recommender.ingest.faces import face_index
from hybrid_recommender.ingest.images import (
    IMAGE_SUFFIXES,
    decoded_images,
    is_blank,
    stack_faces,
)
from hybrid_recommender.ingest.sources import DataSource
from hybrid_recommender.labels import FER2013_CSV_LABELS

SIZE = 48
USAGES = ("Training", "PublicTest", "PrivateTest")
PROTOCOLS = {
    "carved": {"Training": "train", "PublicTest": "test"},        # val: carved out of Training
    "official": {"Training": "train", "PublicTest": "val", "PrivateTest": "test"},
}
LAYOUT = (
    "FER2013 as fer2013.csv (columns emotion,pixels,Usage) or as the Kaggle image folders "
    "train/<emotion>/*.jpg and test/<emotion>/*.jpg"
)
EMOTION_FOLDERS = "one of angry, disgust, fear, happy, neutral, sad, surprise"


def _usage_of_image(folder: str, file_name: str) -> str | None:
    if folder == "train":
        return "Training"
    return next((usage for usage in USAGES if file_name.startswith(usage)), None)


def official_usage(faces: pd.DataFrame) -> pd.Series:
    """Each face's official FER2013 split (Training, PublicTest, PrivateTest), read back from its source file."""
    return faces["source_file"].str.extract(f"({'|'.join(USAGES)})", expand=False)


def _read_folders(source: DataSource, edges, labels) -> FaceTable:
    skips = SkipLog("fer2013", source)
    wanted = {}
    for file in emotion_folder_files(source, skips, IMAGE_SUFFIXES, "an image", EMOTION_FOLDERS, ("train", "test")):
        usage = _usage_of_image(file.parent, file.file_name)
        if usage is None:
            skips.add(file.name, "file in test/ named neither PublicTest_* nor PrivateTest_*")
            continue
        wanted[file.name] = (file.emotion, usage)
    if not wanted:
        raise InputDataError(f"{source.path}: no face images found; expected {LAYOUT}.")
    # No duplicate rule here: the Kaggle names are not unique (two different faces are both Training_8475486.jpg,
    # in angry/ and surprise/), so a face is its full path, as in face_id.
    records, images = [], []
    for name, (emotion, usage), image in decoded_images(source, wanted, 1, SIZE, skips, "FER2013 images"):
        records.append({"face_id": f"fer2013/{name}", "source_file": name, "split": usage, "emotion": emotion,
                        "is_blank": is_blank(image)})
        images.append(image)
    return FaceTable(face_index(records, "fer2013", edges, labels), stack_faces(images, SIZE, 1), skips.frame())


def _pixels(text: str) -> tuple[np.ndarray | None, str | None]:
    """48x48x1 uint8 from the csv's space-separated pixel string, or (None, the first thing wrong with it)."""
    values = text.split()
    if len(values) != SIZE * SIZE:
        return None, f"pixels: expected {SIZE * SIZE} integers 0-255, got {len(values)} values"
    try:
        image = np.asarray(values, dtype=np.int64)
        if image.min() >= 0 and image.max() <= 255:
            return image.astype(np.uint8).reshape(SIZE, SIZE, 1), None
    except ValueError:
        pass
    position, value = next((i, v) for i, v in enumerate(values, start=1) if not v.isdigit() or int(v) > 255)
    return None, f"pixels: value {position} is {value[:20]!r}, expected an integer 0-255"


def _read_csv(source: DataSource, member: str, edges, labels) -> FaceTable:
    """Row by row, so that one malformed row (an extra comma, a bad pixel) costs only itself."""
    skips = SkipLog("fer2013", source)
    where = source.where(member)
    text = source.read(member).decode("utf-8", errors="replace")
    rows = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(rows, [])]
    missing = {"emotion", "pixels", "Usage"} - set(header)
    if missing:
        raise InputDataError(f"{where}: expected columns emotion,pixels,Usage; missing {sorted(missing)}.")
    column = {name: header.index(name) for name in ("emotion", "pixels", "Usage")}
    records, images = [], []
    for fields in tqdm(rows, desc="FER2013 csv", unit="row"):
        line = rows.line_num
        if not any(f.strip() for f in fields):
            continue  # a blank line holds no record
        if len(fields) != len(header):
            skips.add(member, f"expected {len(header)} comma-separated fields ({','.join(header)}), got "
                              f"{len(fields)}", line)
            continue
        emotion, pixels, usage = (fields[column[c]].strip() for c in ("emotion", "pixels", "Usage"))
        label = FER2013_CSV_LABELS.get(int(emotion)) if emotion.isdigit() else None
        if label is None:
            skips.add(member, f"emotion {emotion!r} not in 0..6", line)
            continue
        if usage not in USAGES:
            skips.add(member, f"Usage {usage!r} not one of Training, PublicTest, PrivateTest", line)
            continue
        image, reason = _pixels(pixels)
        if image is None:
            skips.add(member, reason, line)
            continue
        records.append({"face_id": f"fer2013/csv/{line}", "source_file": f"{member}:{line}:{usage}", "split": usage,
                        "emotion": label, "is_blank": is_blank(image)})
        images.append(image)
    return FaceTable(face_index(records, "fer2013", edges, labels), stack_faces(images, SIZE, 1), skips.frame())


def read_fer2013(source: DataSource, edges, labels, protocol: str, validation_fraction: float,
                 seed: int) -> FaceTable:
    """FER2013's faces with train/val/test assigned by ``protocol`` (see the module's docstring)."""
    names = source.names()
    csv_members = [n for n in names if PurePosixPath(n).name.lower() == "fer2013.csv"]
    read = _read_csv(source, csv_members[0], edges, labels) if csv_members else _read_folders(source, edges, labels)
    return apply_protocol(read, source, protocol, validation_fraction, seed)


def carved_validation(faces: pd.DataFrame, pool: pd.Series, fraction: float, seed: int) -> np.ndarray:
    """Positions of a stratified, seeded validation sample: round(fraction * n) of each emotion's faces in
    ``pool`` (a class of one face stays in training; sklearn's stratified split refuses such classes)."""
    rng = np.random.default_rng(seed)
    positions = np.flatnonzero(pool.to_numpy())
    emotions = faces["emotion"].astype(str).to_numpy()[positions]
    carved = [rng.permutation(positions[emotions == e])[:round(fraction * (emotions == e).sum())]
              for e in sorted(set(emotions))]
    return np.sort(np.concatenate(carved)) if carved else np.zeros(0, np.int64)


def apply_protocol(table: FaceTable, source: DataSource, protocol: str, validation_fraction: float,
                   seed: int) -> FaceTable:
    """Official usages (read into ``split``) -> train/val/test under ``protocol``; faces it leaves out are counted
    skips. ``carved``'s validation: ``validation_fraction`` of Training, stratified by emotion, seeded."""
    faces = table.index
    usage = faces["split"].astype(str)
    if protocol == "official" and not (usage == "PrivateTest").any():
        raise InputDataError(
            f"{source.path}: data_engineering.fer2013.protocol 'official' tests on FER2013's PrivateTest split, and "
            f"this copy has none (expected test/<emotion>/PrivateTest_*.jpg or Usage PrivateTest in fer2013.csv); "
            f"use protocol 'carved' (validation carved out of Training, PublicTest for test).")
    split = usage.map(PROTOCOLS[protocol])
    if protocol == "carved":
        split.iloc[carved_validation(faces, usage == "Training", validation_fraction, seed)] = "val"
    keep = split.notna().to_numpy()
    skips = SkipLog("fer2013", source)
    for name, left_out in zip(faces.loc[~keep, "source_file"], usage[~keep]):
        skips.add(name, f"{left_out} face not used under data_engineering.fer2013.protocol {protocol!r} "
                        f"(protocol 'official' tests on it)")
    index = faces[keep].assign(split=split[keep].astype("string")).reset_index(drop=True)
    index["pixel_row"] = np.arange(len(index), dtype="int64")
    return FaceTable(index, table.pixels[keep], pd.concat([table.skips, skips.frame()], ignore_index=True))
