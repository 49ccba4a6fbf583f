import os
from pathlib import Path

import pytest

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.ingest.sources import DataSource, find_source, strip_prefix
from tests.data_engineering.builders import tar_folder, write_files, zip_folder


@pytest.fixture
def folder(tmp_path) -> Path:
    return write_files(tmp_path / "set", {"a/one.txt": b"1", "a/b/two.txt": b"22", "three.txt": b"333"})


def test_zip_tar_and_folder_read_the_same_members(folder, tmp_path):
    sources = [DataSource(folder), DataSource(zip_folder(folder, tmp_path / "set.zip")),
               DataSource(tar_folder(folder, tmp_path / "set.tar.gz"))]
    expected = {"a/b/two.txt": b"22", "a/one.txt": b"1", "three.txt": b"333"}
    for source in sources:
        assert source.names() == sorted(expected)
        assert dict(source.iter_files(lambda n: True)) == expected
        assert source.read("a/one.txt") == b"1"


def test_find_source_takes_first_existing_candidate_and_ignores_empty_folders(folder, tmp_path):
    (tmp_path / "empty").mkdir()
    assert find_source(tmp_path, ["missing.zip", "empty", "set"]).path == folder
    assert find_source(tmp_path, ["missing.zip", "empty"]) is None


def test_broken_archive_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.zip"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputDataError, match="broken.zip"):
        DataSource(bad).names()


def test_strip_prefix_finds_the_official_folder_anywhere():
    assert strip_prefix("downloads/x/CK+48/happy/a.png", "CK+48") == "CK+48/happy/a.png"
    assert strip_prefix("happy/a.png", "CK+48") is None


def test_a_broken_link_for_an_archive_says_so(tmp_path):
    (tmp_path / "fer2013.zip").symlink_to(tmp_path / "downloads" / "fer2013.zip")
    source = find_source(tmp_path, ["fer2013.zip", "fer2013"])  # found, not "missing"
    with pytest.raises(InputDataError, match=r"fer2013.zip: a broken link \(it points to .*downloads/fer2013.zip, "
                                             r"which does not exist\)"):
        source.names()


def test_a_truncated_archive_is_one_error_and_a_bad_member_only_itself(folder, tmp_path):
    archive = zip_folder(folder, tmp_path / "set.zip")
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(archive.read_bytes()[:40])
    with pytest.raises(InputDataError, match="truncated.zip: cannot be read as a zip archive"):
        DataSource(truncated).names()
    (folder / "a" / "one.txt").chmod(0o000)
    (folder / "fifo.txt").unlink(missing_ok=True)
    os.mkfifo(folder / "fifo.txt")  # a special file is never opened (it would block), only counted
    source, failed = DataSource(folder), []
    try:
        read = dict(source.iter_files(lambda n: True, on_error=lambda name, why: failed.append(name)))
    finally:
        (folder / "a" / "one.txt").chmod(0o644)
    assert read["three.txt"] == b"333" and "fifo.txt" not in read
    assert source.not_files((".txt",))["fifo.txt"].startswith("a special file (p")
    if os.geteuid() != 0:  # root reads a file whatever its permission bits
        assert failed == ["a/one.txt"]


def test_skip_rows_name_the_archive_or_folder_a_member_came_from(folder, tmp_path):
    archive = zip_folder(folder, tmp_path / "set.zip")
    assert DataSource(archive).where("a/one.txt") == f"{archive}!a/one.txt"
    assert DataSource(folder).where("a/one.txt") == f"{folder}/a/one.txt"
