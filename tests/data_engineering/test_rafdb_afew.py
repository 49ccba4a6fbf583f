from pathlib import Path

import numpy as np
import pytest

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.ingest import afew
from hybrid_recommender.ingest.clip_cache import ClipFaceCache
from hybrid_recommender.ingest.rafdb import parse_manual_attributes, read_rafdb
from hybrid_recommender.ingest.sources import DataSource
from hybrid_recommender.labels import DEFAULT_AGE_BIN_EDGES as EDGES
from hybrid_recommender.labels import DEFAULT_AGE_GROUPS as GROUPS
from tests.conftest import require_shared
from tests.data_engineering.builders import (
    face_video_frames,
    member_reasons,
    rafdb_tree,
    real_face_bgr,
    write_avi,
    zip_folder,
)

AFEW_CFG = {"image_size": 64, "max_frames_per_clip": 8, "mtcnn_thresholds": [0.5, 0.6, 0.6], "mtcnn_margin": 24}


def test_rafdb_basic_layout_gives_emotion_gender_and_raf_age_group(tmp_path):
    root = rafdb_tree(tmp_path / "basic", [
        ("train_00001", 1, 0, 2),   # surprise, male, 20-39
        ("train_00002", 4, 1, 1),   # happiness, female, 4-19
        ("test_0001", 6, 2, 4),     # anger, unsure, 70+
    ])
    (root / "Image/aligned/train_00002_aligned.jpg").unlink()      # listed but missing
    with open(root / "EmoLabel/list_patition_label.txt", "a") as f:
        f.write("train_00003.jpg 9\n")                              # label outside 1..7
        f.write("train_00001.jpg 3\n")                              # listed again, with another label
    for source in (DataSource(root), DataSource(zip_folder(root, tmp_path / "basic.zip"))):
        table = read_rafdb(source, 64, EDGES, GROUPS)
        index = table.index
        assert index["face_id"].tolist() == ["rafdb/test_0001", "rafdb/train_00001"]
        assert index["emotion"].astype(str).tolist() == ["angry", "surprise"]
        assert index["gender"].astype(str).tolist() == ["unknown", "male"]
        assert index["source_age_group"].tolist() == ["70+", "20-39"]
        assert index["split"].tolist() == ["test", "train"]
        assert index["age_group"].isna().all()   # RAF's bins straddle the paper's: not guessed
        assert table.pixels.shape == (2, 64, 64, 3)
        reasons = member_reasons(table.skips, source)
        assert reasons["Image/aligned/train_00002_aligned.jpg"] == "aligned image listed in the label file is missing"
        assert "<label 1-7>" in reasons["EmoLabel/list_patition_label.txt:4"]
        assert reasons["EmoLabel/list_patition_label.txt:5"] == "duplicate listing of an image: kept the first, line 1"
        assert len(reasons) == 3


def test_rafdb_manual_attribute_file_is_validated():
    assert parse_manual_attributes("1 2\n3 4\n5 6\n7 8\n9 10\n1\n0\n3\n") == (
        {"gender": "female", "source_age_group": "40-69"}, None)
    parsed, reason = parse_manual_attributes("1 2\n3 4\n")
    assert parsed is None and "5 landmark lines" in reason


def test_rafdb_without_label_file_names_the_expected_layout(tmp_path):
    (tmp_path / "basic" / "Image").mkdir(parents=True)
    (tmp_path / "basic" / "Image" / "x.jpg").write_bytes(b"x")
    with pytest.raises(InputDataError, match="EmoLabel/list_patition_label.txt"):
        read_rafdb(DataSource(tmp_path / "basic"), 64, EDGES, GROUPS)


@pytest.fixture(scope="module")
def afew_tree(tmp_path_factory, shared_datasets) -> Path:
    """Train_AFEW/Val_AFEW with short MJPG clips of real faces, a truncated clip and an unknown emotion."""
    shared = require_shared("utkface_crop_part1.tar.gz")
    root = tmp_path_factory.mktemp("afew") / "AFEW"
    write_avi(root / "Train_AFEW/Happy/000001.avi", face_video_frames(real_face_bgr(shared, 0), 6))
    write_avi(root / "Val_AFEW/Sad/000002.avi", face_video_frames(real_face_bgr(shared, 1), 4))
    blank = [np.full((240, 320, 3), 90, np.uint8)] * 3
    write_avi(root / "Val_AFEW/Fear/000003.avi", blank)
    # a viewer who looks away: face, no face, face (one detection batch with and without faces)
    mixed = face_video_frames(real_face_bgr(shared, 3), 3)
    mixed[1] = blank[0]
    write_avi(root / "Val_AFEW/Surprise/000006.avi", mixed)
    full = write_avi(root / "Train_AFEW/Angry/000004.avi", face_video_frames(real_face_bgr(shared, 2), 5))
    full.write_bytes(full.read_bytes()[:300])   # truncated: header only
    write_avi(root / "Train_AFEW/Bored/000005.avi", blank)
    write_avi(root / "Train_AFEW/Sad/000001.avi", blank)   # clip 000001 again, under another emotion
    (root / "Val_AFEW/Sad/000007.avi").mkdir()             # a folder where a clip should be
    return root


@pytest.mark.real_data
def test_afew_clips_become_main_face_crops_with_counted_skips(afew_tree, tmp_path):
    table = afew.read_afew(DataSource(afew_tree), AFEW_CFG, EDGES, GROUPS, ClipFaceCache(tmp_path / "cache"))
    index = table.index
    per_clip = index.groupby("sequence_id").size().to_dict()
    assert per_clip == {"train/happy/000001": 6, "val/sad/000002": 4, "val/surprise/000006": 2}
    assert set(index["split"]) == {"train", "val"}
    assert index.loc[index["sequence_id"] == "val/sad/000002", "frame_index"].tolist() == [0, 1, 2, 3]
    assert index.loc[index["sequence_id"] == "val/surprise/000006", "frame_index"].tolist() == [0, 2]
    assert table.pixels.shape == (12, 64, 64, 3) and table.pixels.std() > 10
    reasons = member_reasons(table.skips, DataSource(afew_tree))
    assert reasons["Train_AFEW/Angry/000004.avi"].startswith("unreadable or truncated video")
    assert reasons["Train_AFEW/Sad/000001.avi"] == "duplicate clip: kept the first in path order, in Train_AFEW/Happy/"
    assert reasons["Val_AFEW/Sad/000007.avi"] == "a folder, not a file"
    assert "unknown emotion folder 'Bored'" in reasons["Train_AFEW/Bored/000005.avi"]
    assert sum("no face detected" in r for r in reasons.values()) == 4   # three blank frames + the look-away
    assert "Val_AFEW/Surprise/000006.avi#frame1" in reasons


@pytest.mark.real_data
def test_afew_second_run_reads_the_cache_without_detecting(afew_tree, tmp_path, monkeypatch):
    cache = ClipFaceCache(tmp_path / "cache")
    first = afew.read_afew(DataSource(afew_tree), AFEW_CFG, EDGES, GROUPS, cache)
    cached = sorted(cache.folder.glob("*.npz"))
    assert cached and not list(cache.folder.glob(".*"))   # one file per clip read, no temporary left

    def no_detection(*args, **kwargs):
        raise AssertionError("MTCNN ran although every clip is cached")

    monkeypatch.setattr("hybrid_recommender.faces.detector.FaceCropper", no_detection)
    second = afew.read_afew(DataSource(zip_folder(afew_tree, tmp_path / "AFEW.zip")), AFEW_CFG, EDGES, GROUPS, cache)
    assert sorted(cache.folder.glob("*.npz")) == cached
    assert np.array_equal(first.pixels, second.pixels)
    assert first.index["face_id"].tolist() == second.index["face_id"].tolist()
