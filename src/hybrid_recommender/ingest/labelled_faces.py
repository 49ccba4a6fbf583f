"""A user's own faces, each labelled with age, gender and emotion: the one source of a joint Table III.

Layout (a folder, or a .zip / .tar / .tar.gz of it)::

    labelled_faces/
      labels.csv              header: file,age,gender,emotion (more columns are ignored)
      <any sub-folders>/<image files named in labels.csv>

One row of ``labels.csv`` per face:

* ``file``: the image's path relative to the folder that holds ``labels.csv`` (``/`` separators); a .jpg, .jpeg,
  .png or .bmp with one face, ideally cropped to it. Colour or grayscale; it is resized to the model's size.
* ``age``: in years, a number from 0 to 120 (binned into the configured age groups; 8-14 means 8 <= age < 15).
* ``gender``: ``male`` or ``female``.
* ``emotion``: one of angry, disgust, fear, happy, neutral, sad, surprise (anger, happiness, sadness are
  accepted for angry, happy, sad).

A row that names a missing or unreadable image, an unknown gender or emotion, an age that is not a number in
0-120, or a file listed before, is skipped and counted, with the line and what was expected; so is an image that
no row names. Every face is an evaluation face (split "test"). ``labels.csv`` may sit at the top or under one
top folder of an archive (the shallowest one is used).
"""

from __future__ import annotations

import csv
import io
from pathlib import PurePosixPath

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.ingest.common import FaceTable, SkipLog
from hybrid_recommender.ingest.faces import face_index
from hybrid_recommender.ingest.images import (
    IMAGE_SUFFIXES,
    count_entries_that_are_not_files,
    decoded_images,
    is_blank,
    stack_faces,
)
from hybrid_recommender.ingest.sources import DataSource
from hybrid_recommender.labels import BINARY_GENDERS, EMOTIONS, canonical_emotion

DATASET = "labelled_faces"
LABELS = "labels.csv"
COLUMNS = ("file", "age", "gender", "emotion")
LAYOUT = ("labelled_faces/ holding labels.csv (columns file,age,gender,emotion: image path relative to it, age in "
          "years, male/female, one of " + ", ".join(EMOTIONS) + ") and the image files it names")


def parse_label_row(row: dict) -> tuple[dict | None, str | None]:
    """(age, gender, emotion) of one labels.csv row, or (None, what was expected)."""
    try:
        age = float(row["age"])
    except (TypeError, ValueError):
        return None, f"age {row['age']!r} is not a number (expected years, 0-120)"
    if not 0 <= age <= 120:
        return None, f"age {age:g} outside 0-120"
    gender = (row["gender"] or "").strip().lower()
    if gender not in BINARY_GENDERS:
        return None, f"gender {row['gender']!r} (expected male or female)"
    emotion = canonical_emotion(row["emotion"] or "")
    if emotion not in EMOTIONS:
        return None, f"emotion {row['emotion']!r} (expected one of {', '.join(EMOTIONS)})"
    return {"age": age, "gender": gender, "emotion": emotion}, None


def read_labelled_faces(source: DataSource, image_size: int, age_edges, age_labels) -> FaceTable:
    skips = SkipLog(DATASET, source)
    count_entries_that_are_not_files(source, skips)
    names = source.names()
    found = sorted((n for n in names if PurePosixPath(n).name == LABELS), key=lambda n: (n.count("/"), n))
    if not found:
        raise InputDataError(f"{source.path}: no {LABELS} found; expected {LAYOUT}.")
    label_file = found[0]
    root = label_file[: -len(LABELS)]   # "" or "<top folder>/"
    text = source.read(label_file).decode("utf-8-sig", errors="replace")
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InputDataError(f"{source.where(label_file)}: header lacks {missing}; expected {LAYOUT}.")
    present, wanted, listed_at, named = set(names), {}, {}, set()
    for row in reader:
        line = reader.line_num
        file = (row["file"] or "").strip().removeprefix("./")
        named.add(root + file)
        parsed, reason = parse_label_row(row)
        if parsed is None:
            skips.add(label_file, f"{file or 'no file'}: {reason}", line)
        elif not file.lower().endswith(IMAGE_SUFFIXES):
            skips.add(label_file, f"file {file!r} is not an image (expected {', '.join(IMAGE_SUFFIXES)})", line)
        elif file in listed_at:
            skips.add(label_file, f"{file} listed again: kept line {listed_at[file]}", line)
        elif root + file not in present:
            skips.add(label_file, f"{file}: image missing (expected it at {source.where(root + file)})", line)
        else:
            listed_at[file] = line
            wanted[root + file] = {"file": file, **parsed}
    for name in names:
        if name.startswith(root) and name.lower().endswith(IMAGE_SUFFIXES) and name not in named \
                and not PurePosixPath(name).name.startswith("."):
            skips.add(name, f"image not named in {LABELS}")
    records, images = [], []
    for name, labels_, image in decoded_images(source, wanted, 3, image_size, skips, "labelled faces"):
        records.append({"face_id": f"{DATASET}/{labels_['file']}", "source_file": name, "split": "test",
                        "age": labels_["age"], "gender": labels_["gender"], "emotion": labels_["emotion"],
                        "is_blank": is_blank(image)})
        images.append(image)
    return FaceTable(face_index(records, DATASET, age_edges, age_labels), stack_faces(images, image_size, 3),
                     skips.frame())
