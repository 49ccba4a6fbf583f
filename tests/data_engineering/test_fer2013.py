import numpy as np
import pytest

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.ingest.fer2013 import read_fer2013
from hybrid_recommender.ingest.sources import DataSource
from hybrid_recommender.labels import DEFAULT_AGE_BIN_EDGES as EDGES
from hybrid_recommender.labels import DEFAULT_AGE_GROUPS as GROUPS
from tests.conftest import is_known_copy, require_shared
from tests.data_engineering.builders import (
    corrupt_member,
    fer2013_csv,
    jpeg_bytes,
    member_reasons,
    pattern,
    pixel_string,
    write_files,
    zip_folder,
)

CARVED = ("carved", 0.1, 13)   # the project's protocol: validation carved out of Training, PublicTest tests


def read(path, protocol=CARVED):
    return read_fer2013(DataSource(path), EDGES, GROUPS, *protocol)


def test_csv_maps_fer_labels_and_usage_and_skips_bad_rows(tmp_path):
    csv = fer2013_csv([
        ("4", pixel_string(1), "Training"),          # 4 = sad in the csv's numbering
        ("6", pixel_string(2), "PublicTest"),        # 6 = neutral
        ("0", pixel_string(3), "PrivateTest"),       # 0 = angry
        ("3", pixel_string(4, count=2000), "Training"),  # wrong pixel count
        ("9", pixel_string(5), "Training"),          # unknown label
        ("1", " ".join(["0"] * 2304), "Training"),   # all black: kept, flagged blank
    ])
    path = write_files(tmp_path, {"fer2013/fer2013.csv": csv}) / "fer2013"
    table = read(path, ("official", 0.1, 13))
    assert table.index["emotion"].astype(str).tolist() == ["sad", "neutral", "angry", "disgust"]
    assert table.index["split"].tolist() == ["train", "val", "test", "train"]
    assert table.index["is_blank"].tolist() == [False, False, False, True]
    assert table.pixels.shape == (4, 48, 48, 1) and table.pixels.dtype == np.uint8
    expected_first = np.array(pixel_string(1).split(), dtype=np.uint8).reshape(48, 48)
    assert (table.pixels[0, :, :, 0] == expected_first).all()
    reasons = table.skips.set_index("file")["reason"]
    assert reasons.filter(like=":5").str.contains("expected 2304 integers 0-255, got 2000").all()
    assert reasons.filter(like=":6").str.contains("not in 0..6").all()
    assert len(table.skips) == 2
    # carved: PublicTest tests, PrivateTest is left out as a counted skip, and its pixels go with it
    carved = read(path)
    assert carved.index["split"].tolist() == ["train", "test", "train"]
    assert (carved.pixels[2] == table.pixels[3]).all() and carved.index["pixel_row"].tolist() == [0, 1, 2]
    assert carved.skips["reason"].str.contains("PrivateTest face not used under .*protocol 'carved'").sum() == 1


def test_csv_without_required_columns_names_the_file(tmp_path):
    path = write_files(tmp_path, {"fer2013.csv": b"label,image\n1,2\n"}) / "fer2013.csv"
    with pytest.raises(InputDataError, match=r"fer2013\.csv.*expected columns emotion,pixels,Usage"):
        read(path)


def test_image_folders_split_public_and_private_test_and_skip_bad_files(tmp_path):
    good = jpeg_bytes(pattern(0))
    files = {
        "train/happy/Training_1.jpg": good,
        "train/sad/Training_2.jpg": jpeg_bytes(pattern(1)),
        "test/happy/PublicTest_3.jpg": jpeg_bytes(pattern(2)),
        "test/fear/PrivateTest_4.jpg": jpeg_bytes(pattern(3)),
        "train/black/Training_5.jpg": good,                 # unknown emotion folder
        "train/angry/Training_6.jpg": b"\xff\xd8\xff\xe0 garbage\xff\xd9",  # corrupt JPEG
        "train/angry/Training_7.jpg": good[: len(good) // 2],       # truncated JPEG
        "train/neutral/Training_8.jpg": jpeg_bytes(np.zeros((48, 48), np.uint8)),  # blank
        "test/happy/Other_9.jpg": good,                     # neither PublicTest nor PrivateTest
    }
    folder = write_files(tmp_path / "fer", files)
    for source in (folder, zip_folder(folder, tmp_path / "fer2013.zip")):
        table = read(source)
        by_file = table.index.set_index("source_file")
        assert by_file.loc["test/happy/PublicTest_3.jpg", "split"] == "test"
        assert "test/fear/PrivateTest_4.jpg" not in by_file.index          # carved: left out, counted
        assert by_file.loc["train/sad/Training_2.jpg", "emotion"] == "sad"
        assert by_file.loc["train/neutral/Training_8.jpg", "is_blank"]
        assert len(table.index) == 4
        official = read(source, ("official", 0.1, 13)).index.set_index("source_file")["split"]
        assert official["test/happy/PublicTest_3.jpg"] == "val" and official["test/fear/PrivateTest_4.jpg"] == "test"
        reasons = member_reasons(table.skips, DataSource(source))
        assert "unknown emotion folder 'black'" in reasons["train/black/Training_5.jpg"]
        assert "corrupt" in reasons["train/angry/Training_6.jpg"]
        assert "truncated JPEG" in reasons["train/angry/Training_7.jpg"]
        assert "neither PublicTest" in reasons["test/happy/Other_9.jpg"]
        assert "protocol 'carved'" in reasons["test/fear/PrivateTest_4.jpg"]


def test_official_protocol_without_private_test_names_the_other_protocol(tmp_path):
    folder = write_files(tmp_path / "fer", {"train/happy/Training_1.jpg": jpeg_bytes(pattern(1)),
                                            "test/happy/PublicTest_2.jpg": jpeg_bytes(pattern(2))})
    with pytest.raises(InputDataError, match=r"protocol 'official' tests on FER2013's PrivateTest.*use protocol "
                                             r"'carved'"):
        read(folder, ("official", 0.1, 13))


def test_carved_validation_is_stratified_seeded_and_never_public_test(tmp_path):
    files = {f"train/{e}/Training_{e}{i}.jpg": jpeg_bytes(pattern(i)) for e, n in (("happy", 20), ("sad", 10))
             for i in range(n)}
    files.update({f"test/happy/PublicTest_{i}.jpg": jpeg_bytes(pattern(i)) for i in range(5)})
    folder = write_files(tmp_path / "fer", files)
    tables = [read(folder, ("carved", 0.2, seed)).index for seed in (13, 13, 14)]
    val = [set(t.loc[t["split"] == "val", "source_file"]) for t in tables]
    assert val[0] == val[1] and val[0] != val[2]                       # same seed, same split
    assert tables[0].loc[tables[0]["split"] == "val", "emotion"].astype(str).value_counts().to_dict() == {
        "happy": 4, "sad": 2}                                          # 20% of each emotion
    assert all(name.startswith("train/") for name in val[0])
    assert (tables[0].loc[tables[0]["source_file"].str.contains("PublicTest"), "split"] == "test").all()


def test_empty_directory_is_a_clear_error(tmp_path):
    (tmp_path / "fer2013").mkdir()
    (tmp_path / "fer2013" / "README.txt").write_text("nothing here")
    with pytest.raises(InputDataError, match="no face images found; expected FER2013"):
        read(tmp_path / "fer2013")


@pytest.mark.real_data
def test_real_fer2013_counts_and_blank_images():
    table = read(require_shared("fer2013.zip") / "fer2013.zip")
    splits = table.index["split"].value_counts()
    # Carved, whatever the copy: Training 28,709 = train + val (10% of each emotion), PublicTest 3,589 = test.
    assert splits["train"] + splits["val"] == 28_709 and splits["test"] == 3_589
    assert abs(splits["val"] - 2_871) <= 7
    assert table.pixels.shape == (len(table.index), 48, 48, 1)
    if is_known_copy("fer2013.zip"):
        assert table.index["is_blank"].sum() == 12  # its real all-black images, flagged not dropped
        assert table.skips.empty                    # PrivateTest is withheld in the shared copy: nothing left out
    assert set(table.index["emotion"].astype(str)) == {"angry", "disgust", "fear", "happy", "neutral", "sad",
                                                       "surprise"}
    train_emotions = table.index.loc[table.index["split"] != "test", "emotion"].value_counts()
    assert train_emotions["happy"] == 7_215 and train_emotions["disgust"] == 436


def test_csv_row_with_an_extra_comma_or_a_bad_pixel_costs_only_itself(tmp_path):
    good = [("3", pixel_string(i), "Training") for i in range(3)]
    bad_pixel = pixel_string(7).split()
    bad_pixel[99] = "x12"
    csv = fer2013_csv([good[0], ("3", pixel_string(5), "Training,"), good[1], ("2", " ".join(bad_pixel), "PublicTest"),
                       good[2]])
    csv = csv.replace(b"\n", b"\n\n", 1)  # a blank line after the header: line numbers still those of the file
    source = DataSource(write_files(tmp_path, {"fer2013.csv": csv}) / "fer2013.csv")
    table = read_fer2013(source, EDGES, GROUPS, *CARVED)
    assert len(table.index) == 3 and table.index["source_file"].tolist() == [
        "fer2013.csv:3:Training", "fer2013.csv:5:Training", "fer2013.csv:7:Training"]   # line and official usage
    for row, (_, pixels, _) in enumerate(good):
        assert (table.pixels[row].ravel() == np.array(pixels.split(), dtype=np.uint8)).all()
    assert table.skips["file"].tolist() == [f"{source.path}:4", f"{source.path}:6"]
    assert table.skips["reason"].tolist() == [
        "expected 3 comma-separated fields (emotion,pixels,Usage), got 4",
        "pixels: value 100 is 'x12', expected an integer 0-255"]


def test_a_zip_member_with_a_bad_crc_costs_only_itself(tmp_path):
    files = {f"train/happy/Training_{i}.jpg": jpeg_bytes(pattern(i)) for i in range(4)}
    archive = zip_folder(write_files(tmp_path / "fer", files), tmp_path / "fer2013.zip", stored=True)
    corrupt_member(archive, "train/happy/Training_2.jpg")
    source = DataSource(archive)
    table = read_fer2013(source, EDGES, GROUPS, *CARVED)
    assert table.index["source_file"].tolist() == [f"train/happy/Training_{i}.jpg" for i in (0, 1, 3)]
    reasons = member_reasons(table.skips, source)
    assert list(reasons) == ["train/happy/Training_2.jpg"]
    assert "Bad CRC-32" in reasons["train/happy/Training_2.jpg"]


def test_same_kaggle_name_in_two_emotion_folders_is_two_faces(tmp_path):
    # Kaggle's names are not unique: the shared copy holds two different Training_8475486.jpg (angry, surprise).
    files = {"train/angry/Training_8475486.jpg": jpeg_bytes(pattern(1)),
             "train/surprise/Training_8475486.jpg": jpeg_bytes(pattern(2))}
    table = read(write_files(tmp_path / "fer", files))
    assert table.index["emotion"].astype(str).tolist() == ["angry", "surprise"] and table.skips.empty


def test_a_folder_named_like_an_image_is_counted(tmp_path):
    folder = write_files(tmp_path / "fer", {"train/happy/Training_1.jpg": jpeg_bytes(pattern(1))})
    (folder / "train/happy/Training_2.jpg").mkdir()
    for source in (DataSource(folder), DataSource(zip_folder(folder, tmp_path / "fer2013.zip"))):
        table = read_fer2013(source, EDGES, GROUPS, *CARVED)
        assert len(table.index) == 1
        assert member_reasons(table.skips, source) == {"train/happy/Training_2.jpg": "a folder, not a file"}
