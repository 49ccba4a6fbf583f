"""CK+48: ``CK+48/<emotion>/S<subject>_<sequence>_<frame>.png``: the last three frames of 327 sequences.

Splits and folds are by subject, so no person is in both training and evaluation.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.ingest.common import FaceTable, SkipLog, first_of_each
from hybrid_recommender.ingest.emotion_folders import emotion_folder_files
from hybrid_recommender.ingest.faces import face_index
from hybrid_recommender.ingest.images import (
    IMAGE_SUFFIXES,
    decoded_images,
    stable_split,
    stack_faces,
)
from hybrid_recommender.ingest.sources import DataSource

SIZE = 48
EMOTION_FOLDERS = "anger, contempt, disgust, fear, happy, sadness, surprise"
NAME_PATTERN = re.compile(r"^(?P<subject>S\d+)_(?P<sequence>\d+)_(?P<frame>\d+)\.png$", re.IGNORECASE)


def read_ckplus(source: DataSource, folds: int, split_fractions: dict, edges, labels) -> FaceTable:
    skips = SkipLog("ckplus", source)
    wanted = {}
    for file in emotion_folder_files(source, skips, IMAGE_SUFFIXES, "an image", EMOTION_FOLDERS, contempt=True):
        match = NAME_PATTERN.match(file.file_name)
        if match is None:
            skips.add(file.name, "file name does not follow S<subject>_<sequence>_<frame>.png")
            continue
        wanted[file.name] = (file.emotion, match["subject"].upper(), int(match["sequence"]), int(match["frame"]))
    if not wanted:
        raise InputDataError(f"{source.path}: no CK+48 images found; expected CK+48/<emotion>/S<subject>_<seq>_"
                             "<frame>.png")
    # S<subject>_<seq>_<frame>.png names one frame: in two emotion folders it is one face with two labels.
    wanted = first_of_each(wanted, lambda name, _: PurePosixPath(name).name.upper(), "frame name", skips)
    subjects = sorted({v[1] for v in wanted.values()})
    fold_of = {s: i % folds for i, s in enumerate(subjects)}
    records, images = [], []
    for name, (emotion, subject, sequence, frame), image in decoded_images(source, wanted, 1, SIZE, skips,
                                                                           "CK+48 images"):
        records.append({"face_id": f"ckplus/{PurePosixPath(name).name}", "source_file": name,
                        "split": stable_split(subject, split_fractions), "emotion": emotion, "subject": subject,
                        "sequence_id": f"{subject}_{sequence:03d}", "frame_index": frame,
                        "fold": fold_of[subject]})
        images.append(image)
    return FaceTable(face_index(records, "ckplus", edges, labels), stack_faces(images, SIZE, 1), skips.frame())
