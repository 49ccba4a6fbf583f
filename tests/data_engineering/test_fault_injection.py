"""Fault injection: one broken copy of the data sets, built from real records in a temporary folder, with every
defect of issue 8 at once. A real ``kedro run`` (in a project copy) must give no traceback and lose no good record:
each defect is a counted skip, or a refused data set while every other data set still ingests."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.ingest.sources import DataSource
from hybrid_recommender.pipelines.data_engineering import nodes
from tests.conftest import kedro_run, require_shared
from tests.data_engineering.builders import (
    corrupt_member,
    rafdb_tree,
    tar_folder,
    write_files,
    zip_folder,
)

UTK_MALFORMED = "crop_part1/61_3_20170109150557335.jpg.chip.jpg"  # a real defect of UTKFace part 1


def _broken_copy(shared: Path, root: Path) -> dict:
    """The broken data sets under ``root``, and what a correct ingestion must make of them."""
    expect = {}
    # MovieLens: real files; u.data's first 3,000 real ratings plus a 5-field line, a blank line, a repeated
    # rating and a rating by an unknown user; one real user's gender made 'X'.
    with zipfile.ZipFile(shared / "ml-100k.zip") as zf:
        ml = {n.split("/")[-1]: zf.read(n) for n in zf.namelist() if n.split("/")[-1] in ("u.user", "u.item", "u.genre",
                                                                                        "u.data")}
    lines = ml["u.data"].decode().splitlines()[:3000]
    user, item = lines[0].split("\t")[:2]
    lines[10:10] = ["1\t2\t3\t4\t5", "", f"{user}\t{item}\t1\t881250949", "99999\t1\t3\t881250949"]
    users = ml["u.user"].decode("latin-1").splitlines()
    users[0] = users[0].replace("|M|", "|X|")
    write_files(root / "ml-100k", {"u.data": ("\n".join(lines) + "\n").encode(), "u.item": ml["u.item"],
                                   "u.genre": ml["u.genre"], "u.user": ("\n".join(users) + "\n").encode("latin-1")})
    expect["movielens"] = {"ratings": 3000, "u.data:11": "expected 4 tab-separated fields, got 5",
                           "u.data:13": "duplicate rating", "u.data:14": "user 99999 not in u.user",
                           "u.user:1": "gender 'X' is neither M nor F"}
    # FER2013 (Kaggle folders, zip): 24 real images, one with a bad CRC, one folder named like an image.
    with zipfile.ZipFile(shared / "fer2013.zip") as zf:
        names = sorted(n for n in zf.namelist() if n.endswith(".jpg"))
        picked = names[:12] + names[-12:]
        fer = write_files(root / "fer_src", {n: zf.read(n) for n in picked})
    (fer / "train" / "happy" / "Training_0.jpg").mkdir(parents=True)
    archive = zip_folder(fer, root / "fer2013.zip", stored=True)
    corrupt_member(archive, picked[5])
    expect["fer2013"] = {"faces": sorted(set(picked) - {picked[5]}), picked[5]: "Bad CRC-32",
                         "train/happy/Training_0.jpg": "a folder, not a file"}
    # UTKFace (tar.gz): 20 real faces and the real malformed name in crop_part1/, three of them again in UTKFace/.
    with tarfile.open(shared / "utkface_crop_part1.tar.gz") as tf:
        utk = {}
        for member in tf:
            if member.isfile() and (len(utk) < 20 or member.name == UTK_MALFORMED):
                utk[member.name] = tf.extractfile(member).read()
            if len(utk) >= 20 and UTK_MALFORMED in utk:
                break
    good_utk = sorted(n for n in utk if n != UTK_MALFORMED)
    copies = {f"UTKFace/{Path(n).name}": utk[n] for n in good_utk[:3]}
    utk_src = write_files(root / "utk_src", {**utk, **copies})
    (utk_src / "crop_part1" / "50_0_0_20170101000000000.jpg.chip.jpg").mkdir()
    tar_folder(utk_src, root / "utkface_crop_part1.tar.gz")
    expect["utkface"] = {"faces": len(good_utk), UTK_MALFORMED: "does not follow",
                         "crop_part1/50_0_0_20170101000000000.jpg.chip.jpg": "a folder, not a file",
                         **{n: "duplicate file name" for n in good_utk[:3]}}
    # CK+48 (folder): 12 real frames, one of them again in a second emotion folder, and a broken link.
    with zipfile.ZipFile(shared / "ckplus48.zip") as zf:
        frames = sorted(n for n in zf.namelist() if n.endswith(".png"))[:12]
        ck = write_files(root / "CK+48", {"/".join(n.split("/")[-2:]): zf.read(n) for n in frames})
    first = "/".join(frames[0].split("/")[-2:])
    assert first.startswith("anger/")  # the first in sorted order, so a copy in surprise/ is a second folder
    again = f"surprise/{first.split('/')[1]}"
    write_files(ck, {again: (ck / first).read_bytes()})
    (ck / "happy").mkdir(exist_ok=True)
    (ck / "happy" / "S999_001_00000001.png").symlink_to(root / "nowhere.png")
    expect["ckplus"] = {"faces": 12, again: "duplicate frame name",
                        "happy/S999_001_00000001.png": "a broken link, not a file"}
    # RAF-DB: an archive truncated so that it cannot be read at all; AFEW: a broken link for its archive.
    rafdb = zip_folder(rafdb_tree(root / "raf_src", [("train_00001", 4, 0, 2)]), root / "raf.zip")
    (root / "rafdb_basic.zip").write_bytes(rafdb.read_bytes()[:100])
    (root / "AFEW.zip").symlink_to(root / "downloads" / "AFEW.zip")
    expect["refused"] = {"rafdb": "cannot be read as a zip archive", "afew": "a broken link"}
    return expect


def _skips_by_member(skips: pd.DataFrame, dataset: str) -> dict[str, str]:
    rows = skips[skips["dataset"] == dataset]
    return dict(zip(rows["file"], rows["reason"]))


def _reason(skips: dict[str, str], member: str) -> str:
    matches = [r for f, r in skips.items() if f.endswith(("!" + member, "/" + member, member))]
    assert len(matches) == 1, (member, skips)
    return matches[0]


@pytest.mark.kedro_run
@pytest.mark.real_data
def test_every_defect_at_once_gives_no_traceback_and_loses_no_good_record(tmp_path, project_copy):
    shared = require_shared("ml-100k.zip", "fer2013.zip", "utkface_crop_part1.tar.gz", "ckplus48.zip")
    datasets = tmp_path / "datasets"
    expect = _broken_copy(shared, datasets)
    result = kedro_run(project_copy, datasets, "--pipeline", "data_engineering")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Traceback" not in output
    primary, reporting = project_copy / "data" / "03_primary", project_copy / "data" / "08_reporting"
    skips = pd.read_csv(reporting / "ingestion_skips.csv", keep_default_na=False)

    assert len(pd.read_parquet(primary / "movielens_ratings.parquet")) == expect["movielens"]["ratings"]
    users = pd.read_parquet(primary / "movielens_users.parquet")
    assert len(users) == 943 and (users["gender"] == "unknown").sum() == 1
    for dataset in ("movielens", "fer2013", "utkface", "ckplus"):
        found = _skips_by_member(skips, dataset)
        checks = {k: v for k, v in expect[dataset].items() if k not in ("faces", "ratings")}
        for member, reason in checks.items():
            assert reason in _reason(found, member)
        assert len(found) == len(checks), found  # nothing else skipped: no good record lost
    fer = pd.read_parquet(primary / "fer2013_faces.parquet")
    assert sorted(fer["source_file"]) == expect["fer2013"]["faces"]
    assert len(pd.read_parquet(primary / "utkface_faces.parquet")) == expect["utkface"]["faces"]
    assert len(pd.read_parquet(primary / "ckplus_faces.parquet")) == expect["ckplus"]["faces"]
    for dataset, reason in expect["refused"].items():
        (refusal,) = _skips_by_member(skips, dataset).values()
        assert refusal.startswith("data set refused: ") and reason in refusal
        assert f"{dataset} refused, the other data sets are still read" in output
        assert len(pd.read_parquet(primary / f"{dataset}_faces.parquet")) == 0


def test_a_refused_data_set_stops_the_run_when_no_other_gives_its_labels(tmp_path):
    """Refusing is for a set another one can stand in for; the only age/gender set refused is an error."""
    params = {"datasets_dir": str(tmp_path),
              "age_groups": {"edges": [0, 8, 200], "labels": ["0-7", "8+"]},
              "utkface": {"image_size": 32, "split_fractions": {"train": 1.0}},
              "ckplus": {"folds": 2, "split_fractions": {"train": 1.0}}}
    utk = write_files(tmp_path / "utkface", {"crop_part1/readme.txt": b"no faces"})
    ck = write_files(tmp_path / "ckplus48", {"CK+48/readme.txt": b"no frames"})
    fer = zip_folder(write_files(tmp_path / "fer_src", {"x.txt": b"1"}), tmp_path / "fer2013.zip")
    inventory = nodes.data_set_inventory(params, DataSource(fer), DataSource(utk), DataSource(ck), None, None)
    _, _, ck_skips = nodes.ckplus_faces(DataSource(ck), inventory, params)  # FER2013 still gives emotions
    assert ck_skips["reason"].str.startswith("data set refused: ").all() and len(ck_skips) == 1
    with pytest.raises(InputDataError, match="no UTKFace images found"):
        nodes.utkface_faces(DataSource(utk), inventory, params)
