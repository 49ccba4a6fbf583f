"""RAF-DB basic: ``EmoLabel/list_patition_label.txt``, ``Image/aligned/<name>_aligned.jpg`` and
``Annotation/manual/<name>_manu_attri.txt`` (5 landmark lines, then gender, race, age group).

Labels 1..7 = surprise, fear, disgust, happiness, sadness, anger, neutral. Gender 0 male, 1 female,
2 unsure. Age group 0..4 = 0-3, 4-19, 20-39, 40-69, 70+: RAF's own bins, kept in ``source_age_group``
(they straddle the paper's, so ``age_group`` is left empty; see docs/data.md).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.ingest.common import FaceTable, SkipLog
from hybrid_recommender.ingest.faces import face_index
from hybrid_recommender.ingest.images import (
    count_entries_that_are_not_files,
    decoded_images,
    stack_faces,
)
from hybrid_recommender.ingest.sources import DataSource, strip_prefix
from hybrid_recommender.labels import RAFDB_AGE_GROUPS, RAFDB_GENDERS, RAFDB_LABELS

LABEL_FILE = "EmoLabel/list_patition_label.txt"
LAYOUT = ("RAF-DB basic: EmoLabel/list_patition_label.txt, Image/aligned/<name>_aligned.jpg, "
          "Annotation/manual/<name>_manu_attri.txt")


def parse_manual_attributes(text: str) -> tuple[dict | None, str | None]:
    """Gender and RAF age group from a ``*_manu_attri.txt`` (5 landmark lines, gender, race, age)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) < 8:
        return None, f"expected 5 landmark lines then gender, race and age lines; got {len(lines)} lines"
    gender, _, age = lines[5], lines[6], lines[7]
    if not (gender.isdigit() and int(gender) in RAFDB_GENDERS and age.isdigit() and int(age) in RAFDB_AGE_GROUPS):
        return None, f"gender {gender!r} not in 0-2 or age group {age!r} not in 0-4"
    return {"gender": RAFDB_GENDERS[int(gender)], "source_age_group": RAFDB_AGE_GROUPS[int(age)]}, None


def read_rafdb(source: DataSource, image_size: int, edges, labels) -> FaceTable:
    skips = SkipLog("rafdb", source)
    count_entries_that_are_not_files(source, skips)
    names = source.names()
    rel = {strip_prefix(n, "EmoLabel") or strip_prefix(n, "Image") or strip_prefix(n, "Annotation"): n for n in names}
    rel.pop(None, None)
    if LABEL_FILE not in rel:
        raise InputDataError(f"{source.path}: expected {LAYOUT}; {LABEL_FILE} not found.")
    label_lines = source.read(rel[LABEL_FILE]).decode("utf-8", errors="replace").splitlines()
    wanted, attributes, listed_at = {}, {}, {}
    for line_no, line in enumerate(label_lines, start=1):
        if not line.strip():
            continue
        fields = line.split()
        label_file = rel[LABEL_FILE]
        if len(fields) != 2 or not fields[1].isdigit() or int(fields[1]) not in RAFDB_LABELS:
            skips.add(label_file, f"expected '<name>.jpg <label 1-7>', got {line.strip()[:50]!r}", line_no)
            continue
        stem = PurePosixPath(fields[0]).stem
        if stem in listed_at:
            skips.add(label_file, f"duplicate listing of an image: kept the first, line {listed_at[stem]}", line_no)
            continue
        listed_at[stem] = line_no
        image = f"Image/aligned/{stem}_aligned.jpg"
        if image not in rel:
            skips.add(image, "aligned image listed in the label file is missing")
            continue
        split = "train" if stem.startswith("train") else "test" if stem.startswith("test") else None
        if split is None:
            skips.add(label_file, f"name {fields[0]!r} starts with neither train nor test", line_no)
            continue
        wanted[rel[image]] = (stem, RAFDB_LABELS[int(fields[1])], split)
        attributes[rel.get(f"Annotation/manual/{stem}_manu_attri.txt")] = stem
    attributes.pop(None, None)
    manual = {}
    for name, data in source.iter_files(attributes, on_error=skips.add):
        parsed, reason = parse_manual_attributes(data.decode("utf-8", errors="replace"))
        if parsed is None:
            skips.add(name, f"manual attributes unreadable, face kept without gender/age: {reason}")
        else:
            manual[attributes[name]] = parsed
    records, images = [], []
    for name, (stem, emotion, split), image in decoded_images(source, wanted, 3, image_size, skips, "RAF-DB images"):
        records.append({"face_id": f"rafdb/{stem}", "source_file": name, "split": split, "emotion": emotion,
                        **manual.get(stem, {})})
        images.append(image)
    return FaceTable(face_index(records, "rafdb", edges, labels), stack_faces(images, image_size, 3), skips.frame())
