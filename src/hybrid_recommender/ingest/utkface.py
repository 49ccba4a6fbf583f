"""UTKFace: ``crop_part1/`` or ``UTKFace/`` files named ``[age]_[gender]_[race]_[datetime].jpg(.chip.jpg)``.

Gender 0 is male, 1 female. UTKFace has no official split: a hash of the file name picks it (saved in the
index), so the split is the same on every machine.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.ingest.common import FaceTable, SkipLog, first_of_each
from hybrid_recommender.ingest.faces import face_index
from hybrid_recommender.ingest.images import (
    IMAGE_SUFFIXES,
    count_entries_that_are_not_files,
    decoded_images,
    stable_split,
    stack_faces,
)
from hybrid_recommender.ingest.sources import DataSource

NAME_PATTERN = re.compile(r"^(?P<age>\d{1,3})_(?P<gender>\d)_(?P<race>\d)_(?P<stamp>\d+)\.jpg(\.chip\.jpg)?$")
GENDERS = {"0": "male", "1": "female"}


def parse_utkface_name(file_name: str) -> tuple[dict | None, str | None]:
    """(labels, None) for a well-formed name, else (None, reason)."""
    match = NAME_PATTERN.match(file_name)
    if match is None:
        return None, "file name does not follow [age]_[gender]_[race]_[datetime].jpg"
    if match["gender"] not in GENDERS:
        return None, f"gender {match['gender']} not in {{0 male, 1 female}}"
    age = int(match["age"])
    if not 0 <= age <= 120:
        return None, f"age {age} outside 0-120"
    return {"age": float(age), "gender": GENDERS[match["gender"]], "race": int(match["race"])}, None


def read_utkface(source: DataSource, image_size: int, split_fractions: dict, edges, labels) -> FaceTable:
    skips = SkipLog("utkface", source)
    count_entries_that_are_not_files(source, skips)
    wanted = {}
    for name in source.names():
        file_name = PurePosixPath(name).name
        if file_name.startswith("."):
            continue
        if not file_name.lower().endswith(IMAGE_SUFFIXES):
            skips.add(name, "not an image file")
            continue
        parsed, reason = parse_utkface_name(file_name)
        if parsed is None:
            skips.add(name, reason)
            continue
        wanted[name] = parsed
    if not wanted:
        raise InputDataError(f"{source.path}: no UTKFace images found; expected crop_part1/ or UTKFace/ with files "
                             "named [age]_[gender]_[race]_[datetime].jpg.chip.jpg")
    # The file name is the face's id (and carries its labels): the same name twice is one face.
    wanted = first_of_each(wanted, lambda name, _: PurePosixPath(name).name, "file name", skips)
    records, images = [], []
    for name, labels_, image in decoded_images(source, wanted, 3, image_size, skips, "UTKFace images"):
        file_name = PurePosixPath(name).name
        records.append({"face_id": f"utkface/{file_name}", "source_file": name,
                        "split": stable_split(file_name, split_fractions), "gender": labels_["gender"],
                        "age": labels_["age"]})
        images.append(image)
    return FaceTable(face_index(records, "utkface", edges, labels), stack_faces(images, image_size, 3),
                     skips.frame())
