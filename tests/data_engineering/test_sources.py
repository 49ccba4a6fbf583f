from pathlib import Path

import pytest

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.io.sources import DataSource, find_source, strip_prefix
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
