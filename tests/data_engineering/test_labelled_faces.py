"""A user's labelled faces (labels.csv + images): the table, a counted skip for each kind of bad row, and a joint
Table III computed from them through predict_faces."""

from __future__ import annotations

import tarfile
from pathlib import Path, PurePosixPath

import numpy as np
import pytest

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.evaluation.observations import predict_faces
from hybrid_recommender.evaluation.table_iii import table_iii_joint
from hybrid_recommender.ingest.labelled_faces import read_labelled_faces
from hybrid_recommender.ingest.sources import DataSource
from hybrid_recommender.labels import DEFAULT_AGE_BIN_EDGES as EDGES
from hybrid_recommender.labels import DEFAULT_AGE_GROUPS as GROUPS
from hybrid_recommender.labels import EMOTIONS
from tests.conftest import require_shared
from tests.data_engineering.builders import member_reasons, tar_folder

PAPER_GROUPS = ["8-14", "15-24", "25-37", "38-47"]


def first_utkface_images(count: int) -> dict[str, bytes]:
    """The first ``count`` images of the shared UTKFace archive (file name -> bytes), read at test time."""
    found = {}
    with tarfile.open(require_shared("utkface_crop_part1.tar.gz") / "utkface_crop_part1.tar.gz") as tf:
        for member in tf:
            if member.isfile() and member.name.endswith(".jpg.chip.jpg"):
                found[PurePosixPath(member.name).name] = tf.extractfile(member).read()
                if len(found) == count:
                    return found
    raise AssertionError("too few UTKFace images in the shared archive")


@pytest.fixture
def labelled(tmp_path) -> tuple[Path, list[tuple[str, float, str, str]], str]:
    """labelled_faces/ with 7 real UTKFace images: 4 good rows (true age and gender from the names; emotions made
    up), then one bad row of each kind; the 7th image is named by no row. Returns (folder, good rows, 7th name)."""
    folder = tmp_path / "pack" / "labelled_faces"
    (folder / "images").mkdir(parents=True)
    images = first_utkface_images(7)
    for name, data in images.items():
        (folder / "images" / name).write_bytes(data)
    names = list(images)
    age = {n: float(n.split("_")[0]) for n in names}
    gender = {n: "male" if n.split("_")[1] == "0" else "female" for n in names}
    good = [(f"images/{n}", age[n], gender[n], e) for n, e in zip(names[:4], ("happy", "sad", "angry", "Surprise"))]
    bad = [f"images/{names[4]},{age[names[4]]:g},{gender[names[4]]},bored",   # unknown emotion
           f"images/{names[5]},{age[names[5]]:g},robot,happy",                # unknown gender
           f"images/{names[5]},about thirty,female,happy",                    # age not a number
           "images/not_there.jpg,30,male,happy",                                # missing file
           f"./images/{names[0]},{age[names[0]]:g},{gender[names[0]]},fear"]   # listed twice
    lines = ["file,age,gender,emotion"] + [f"{f},{a:g},{g},{e}" for f, a, g, e in good] + bad
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    return folder, good, names[6]


@pytest.mark.real_data
@pytest.mark.parametrize("packed", [False, True])
def test_labelled_faces_are_read_and_each_bad_row_is_a_counted_skip(labelled, packed, tmp_path):
    folder, good, unnamed = labelled
    # Packed: a .tar.gz of the folder, so labels.csv sits under a top folder.
    source = DataSource(tar_folder(folder.parent, tmp_path / "faces.tar.gz") if packed else folder)
    table = read_labelled_faces(source, 64, EDGES, GROUPS)
    index, good = table.index, sorted(good)   # faces come in path order, as in every reader
    assert table.pixels.shape == (4, 64, 64, 3) and table.pixels.dtype == np.uint8
    assert index["face_id"].tolist() == [f"labelled_faces/{f}" for f, *_ in good]
    assert index["age"].tolist() == [a for _, a, _, _ in good]
    assert index["gender"].astype(str).tolist() == [g for _, _, g, _ in good]
    assert index["emotion"].astype(str).tolist() == [e.lower() for *_, e in good]
    assert index["age_group"].astype(str).tolist() == [GROUPS[np.searchsorted(EDGES, a, "right") - 1]
                                                       for _, a, _, _ in good]
    assert (index["split"] == "test").all() and not index["is_blank"].any()
    top = "labelled_faces/" if packed else ""
    want = {"labels.csv:6": "emotion 'bored' (expected one of angry,", "labels.csv:7": "gender 'robot' (expected male",
            "labels.csv:8": "'about thirty' is not a number", "labels.csv:9": "not_there.jpg: image missing",
            "labels.csv:10": "listed again: kept line 2", f"images/{unnamed}": "image not named in labels.csv"}
    reasons = member_reasons(table.skips, source)
    assert len(table.skips) == 6 and set(reasons) == {top + k for k in want}, reasons
    for where, reason in want.items():
        assert reason in reasons[top + where], (where, reasons[top + where])


def test_a_missing_labels_csv_or_column_names_the_path_and_the_layout(tmp_path):
    folder = tmp_path / "labelled_faces"
    folder.mkdir()
    with pytest.raises(InputDataError, match=r"labelled_faces: no labels.csv found; expected labelled_faces/ holding"):
        read_labelled_faces(DataSource(folder), 64, EDGES, GROUPS)
    (folder / "labels.csv").write_text("file,age,sex,emotion\n")
    with pytest.raises(InputDataError, match=r"labels.csv: header lacks \['gender'\]"):
        read_labelled_faces(DataSource(folder), 64, EDGES, GROUPS)


class AnswerSheet:
    """A stand-in predictor (``labels`` and ``predict`` as predict_faces expects) that gives set answers, in order."""

    def __init__(self, answers: list[tuple[str, str, str]]):
        self.labels = {"age_group": list(GROUPS), "gender": ["male", "female"], "emotion": list(EMOTIONS)}
        self.answers = answers

    def predict(self, pixels: np.ndarray) -> dict[str, np.ndarray]:
        out = {h: np.zeros((len(pixels), len(v))) for h, v in self.labels.items()}
        for i, answer in enumerate(self.answers[:len(pixels)]):
            for h, value in zip(("age_group", "gender", "emotion"), answer):
                out[h][i, self.labels[h].index(value)] = 1.0
        self.answers = self.answers[len(pixels):]
        return out


@pytest.mark.real_data
def test_joint_table_iii_from_labelled_faces(labelled):
    folder, good, _ = labelled
    table = read_labelled_faces(DataSource(folder), 64, EDGES, GROUPS)
    truth = list(zip(table.index["age_group"].astype(str), table.index["gender"].astype(str),
                     table.index["emotion"].astype(str)))
    # Right on faces 0 and 2; face 1's emotion and face 3's gender wrong.
    answers = [truth[0], (truth[1][0], truth[1][1], "neutral" if truth[1][2] != "neutral" else "sad"), truth[2],
               (truth[3][0], "male" if truth[3][1] == "female" else "female", truth[3][2])]
    right = [True, False, True, False]
    predictions = predict_faces(AnswerSheet(answers), table.index, table.pixels)
    joint, left_out = table_iii_joint(predictions, PAPER_GROUPS)
    inside = [t[0] in PAPER_GROUPS for t in truth]
    assert any(inside) and not all(inside)   # the fixture's faces both feed and miss the paper's groups
    assert left_out["faces"].sum() == 4 - sum(inside)
    cells = joint[joint["gender"] != "average"].set_index(["gender", "age_group", "emotion"])
    assert cells["n"].sum() == sum(inside)
    assert cells["all_three_right"].sum() == sum(i and r for i, r in zip(inside, right))
    for i, (group, gender, emotion) in enumerate(truth):
        if inside[i]:
            cell = cells.loc[(gender, group, emotion)]
            assert (cell["n"], cell["all_three_right"], cell["rate"]) == (1, int(right[i]), 100.0 * right[i])
