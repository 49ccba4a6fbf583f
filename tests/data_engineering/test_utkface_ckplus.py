import pytest

from hybrid_recommender.ingest.ckplus import read_ckplus
from hybrid_recommender.ingest.sources import DataSource
from hybrid_recommender.ingest.utkface import parse_utkface_name, read_utkface
from hybrid_recommender.labels import DEFAULT_AGE_BIN_EDGES as EDGES
from hybrid_recommender.labels import DEFAULT_AGE_GROUPS as GROUPS
from tests.conftest import is_known_copy, require_shared
from tests.data_engineering.builders import (
    jpeg_bytes,
    member_reasons,
    pattern,
    png_bytes,
    tar_folder,
    write_files,
    zip_folder,
)

SPLITS = {"train": 0.8, "val": 0.1, "test": 0.1}


@pytest.mark.parametrize(("name", "expected"), [
    ("25_0_2_20170116174525125.jpg.chip.jpg", {"age": 25.0, "gender": "male", "race": 2}),
    ("9_1_0_20170109204617786.jpg", {"age": 9.0, "gender": "female", "race": 0}),
])
def test_utkface_names_carry_age_and_gender(name, expected):
    assert parse_utkface_name(name) == (expected, None)


@pytest.mark.parametrize(("name", "reason"), [
    ("61_3_20170109150557335.jpg.chip.jpg", "does not follow"),   # a missing field (real part-1 name)
    ("39_3_1_20170116174525125.jpg.chip.jpg", "gender 3 not in"),  # a gender of 3
    ("x_1_0_20170116174525125.jpg.chip.jpg", "does not follow"),
])
def test_malformed_utkface_names_are_rejected_with_a_reason(name, reason):
    parsed, why = parse_utkface_name(name)
    assert parsed is None and reason in why


def test_utkface_tree_resizes_bins_ages_and_counts_skips(tmp_path):
    folder = write_files(tmp_path / "src", {
        "crop_part1/10_0_0_20170110224238891.jpg.chip.jpg": jpeg_bytes(pattern(1, 200, 3)),
        "crop_part1/30_1_2_20170110224238892.jpg.chip.jpg": jpeg_bytes(pattern(2, 200, 3)),
        "crop_part1/61_3_20170109150557335.jpg.chip.jpg": jpeg_bytes(pattern(3, 200, 3)),
        "crop_part1/40_3_1_20170109150557336.jpg.chip.jpg": jpeg_bytes(pattern(4, 200, 3)),
        "crop_part1/22_1_1_20170109150557337.jpg.chip.jpg": b"\xff\xd8 broken",
    })
    table = read_utkface(DataSource(tar_folder(folder, tmp_path / "utk.tar.gz")), 64, SPLITS, EDGES, GROUPS)
    assert table.pixels.shape == (2, 64, 64, 3)
    assert table.index["age_group"].astype(str).tolist() == ["8-14", "25-37"]
    assert table.index["gender"].astype(str).tolist() == ["male", "female"]
    assert len(table.skips) == 3
    assert table.skips["reason"].str.contains("truncated JPEG").sum() == 1


@pytest.mark.real_data
def test_real_utkface_part1_skips_its_malformed_name_and_splits_by_rule():
    archive = require_shared("utkface_crop_part1.tar.gz") / "utkface_crop_part1.tar.gz"
    source = DataSource(archive)
    first = read_utkface(source, 32, SPLITS, EDGES, GROUPS)
    images = [n for n in source.names() if n.endswith(".jpg")]
    # any copy: every image is a face or a counted skip, and part 1's malformed name is among the skips
    assert len(first.index) + len(first.skips) == len(images) and first.pixels.shape == (len(first.index), 32, 32, 3)
    assert "crop_part1/61_3_20170109150557335.jpg.chip.jpg" in member_reasons(first.skips, source)
    if is_known_copy("utkface_crop_part1.tar.gz"):  # the shared four fifths of part 1
        assert len(first.index) == 7_738 and len(first.skips) == 1
    assert set(first.index["gender"].astype(str)) == {"male", "female"}
    assert first.index["age_group"].notna().all()
    fractions = first.index["split"].value_counts(normalize=True)
    assert fractions["train"] == pytest.approx(0.8, abs=0.03) and fractions["test"] == pytest.approx(0.1, abs=0.03)
    # the fixed rule gives the same split on a second read
    assert read_utkface(DataSource(archive), 32, SPLITS, EDGES, GROUPS).index["split"].equals(first.index["split"])


def test_ckplus_tree_parses_subjects_sequences_and_unknown_folders(tmp_path):
    folder = write_files(tmp_path / "ck", {
        "CK+48/anger/S010_004_00000017.png": png_bytes(pattern(1)),
        "CK+48/sadness/S011_002_00000009.png": png_bytes(pattern(2)),
        "CK+48/contempt/S012_001_00000005.png": png_bytes(pattern(3)),
        "CK+48/bored/S013_001_00000005.png": png_bytes(pattern(4)),
        "CK+48/happy/frame.png": png_bytes(pattern(5)),
    })
    table = read_ckplus(DataSource(folder), 10, {"train": 1.0}, EDGES, GROUPS)
    assert table.index["emotion"].astype(str).tolist() == ["angry", "contempt", "sad"]
    assert table.index["sequence_id"].tolist() == ["S010_004", "S012_001", "S011_002"]
    assert table.index["frame_index"].tolist() == [17, 5, 9]
    reasons = table.skips["reason"].tolist()
    assert any("unknown emotion folder 'bored'" in r for r in reasons)
    assert any("S<subject>_<sequence>_<frame>" in r for r in reasons)


@pytest.mark.real_data
def test_real_ckplus_sequences_and_subject_independent_splits():
    table = read_ckplus(DataSource(require_shared("ckplus48.zip") / "ckplus48.zip"), 10,
                        {"train": 0.7, "val": 0.15, "test": 0.15}, EDGES, GROUPS)
    index = table.index
    assert len(index) == 981 and index["sequence_id"].nunique() == 327
    assert (index.groupby("sequence_id").size() == 3).all()
    assert (index["emotion"] == "contempt").sum() == 54
    # no subject is in two splits or two folds
    assert (index.groupby("subject")["split"].nunique() == 1).all()
    assert (index.groupby("subject")["fold"].nunique() == 1).all()
    assert set(index["fold"]) == set(range(10))


def test_the_same_utkface_name_in_crop_part1_and_utkface_is_one_face_and_a_counted_duplicate(tmp_path):
    name = "30_1_2_20170110224238892.jpg.chip.jpg"
    folder = write_files(tmp_path / "src", {
        f"crop_part1/{name}": jpeg_bytes(pattern(1, 200, 3)),
        "crop_part1/10_0_0_20170110224238891.jpg.chip.jpg": jpeg_bytes(pattern(2, 200, 3)),
        f"UTKFace/{name}": jpeg_bytes(pattern(3, 200, 3)),
    })
    (folder / "crop_part1/40_0_0_20170110224238893.jpg.chip.jpg").mkdir()  # a folder where an image should be
    for source in (DataSource(folder), DataSource(tar_folder(folder, tmp_path / "utk.tar.gz")),
                   DataSource(zip_folder(folder, tmp_path / "utk.zip"))):
        table = read_utkface(source, 64, SPLITS, EDGES, GROUPS)
        # sorted path order: UTKFace/ before crop_part1/, so UTKFace/'s copy is the one kept
        assert table.index["source_file"].tolist() == [f"UTKFace/{name}",
                                                       "crop_part1/10_0_0_20170110224238891.jpg.chip.jpg"]
        assert table.index["face_id"].is_unique
        assert member_reasons(table.skips, source) == {
            "crop_part1/40_0_0_20170110224238893.jpg.chip.jpg": "a folder, not a file",
            f"crop_part1/{name}": "duplicate file name: kept the first in path order, in UTKFace/"}


def test_the_same_ckplus_frame_in_two_emotion_folders_is_kept_once_and_counted(tmp_path):
    folder = write_files(tmp_path / "ck", {
        "CK+48/anger/S010_004_00000017.png": png_bytes(pattern(1)),
        "CK+48/sadness/S010_004_00000017.png": png_bytes(pattern(1)),
        "CK+48/sadness/S011_002_00000009.png": png_bytes(pattern(2)),
    })
    (folder / "CK+48/happy").mkdir()
    (folder / "CK+48/happy/S012_001_00000005.png").symlink_to(folder / "missing.png")  # a broken link
    source = DataSource(folder)
    table = read_ckplus(source, 10, {"train": 1.0}, EDGES, GROUPS)
    assert table.index["source_file"].tolist() == ["CK+48/anger/S010_004_00000017.png",
                                                   "CK+48/sadness/S011_002_00000009.png"]
    assert member_reasons(table.skips, source) == {
        "CK+48/happy/S012_001_00000005.png": "a broken link, not a file",
        "CK+48/sadness/S010_004_00000017.png": "duplicate frame name: kept the first in path order, in CK+48/anger/"}
