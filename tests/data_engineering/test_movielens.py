import urllib.error

import pytest

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.ingest import movielens
from hybrid_recommender.ingest.movielens import read_movielens
from hybrid_recommender.ingest.sources import DataSource
from hybrid_recommender.io.kedro_datasets import DownloadedSourceDataset
from hybrid_recommender.labels import GENRES
from hybrid_recommender.pipelines.data_engineering import nodes
from tests.data_engineering.builders import member_reasons, write_files

pytestmark = []

USERS = b"1|24|M|technician|85711\n2|53|F|other|94043\n"
ITEMS = (
    "1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|"
    + "|".join(["0", "0", "0", "1", "1", "1"] + ["0"] * 13) + "\n"
    "2|GoldenEye (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?GoldenEye%20(1995)|"
    + "|".join(["0", "1", "1"] + ["0"] * 13 + ["1", "0", "0"]) + "\n"
).encode("latin-1")
GENRE_FILE = "".join(f"{g}|{i}\n" for i, g in enumerate(GENRES)).encode()


def tiny_movielens(tmp_path, u_data: bytes):
    return DataSource(write_files(tmp_path / "ml-100k", {
        "u.data": u_data, "u.user": USERS, "u.item": ITEMS, "u.genre": GENRE_FILE}))


@pytest.mark.real_data
def test_real_movielens_matches_the_published_counts(movielens):
    ratings, users, movies = movielens
    assert len(ratings) == 100_000
    assert ratings["user_id"].nunique() == 943 and len(users) == 943
    assert ratings["item_id"].nunique() == 1682 and len(movies) == 1682
    assert ratings["rating"].mean() == pytest.approx(3.52986)
    assert list(movies.columns[-19:]) == list(GENRES)
    assert set(users["gender"]) == {"male", "female"}
    assert users["age_group"].notna().all()
    # the paper's thin group: 10 users aged 8-14, 5 per gender, and one under 8
    assert (users["age_group"] == "8-14").sum() == 10 and (users["age_group"] == "0-7").sum() == 1


def test_tiny_movielens_parses_types(tmp_path):
    ratings, users, movies, skips = read_movielens(tiny_movielens(tmp_path, b"1\t1\t5\t881250949\n2\t2\t3\t891717742\n"))
    assert ratings.to_dict("list") == {"user_id": [1, 2], "item_id": [1, 2], "rating": [5, 3],
                                       "timestamp": [881250949, 891717742]}
    assert users["gender"].tolist() == ["male", "female"]
    assert movies.loc[0, "Animation"] == 1 and movies.loc[1, "Thriller"] == 1
    assert skips.empty


def test_wrong_separator_names_the_file_and_the_expected_format(tmp_path):
    with pytest.raises(InputDataError, match=r"u\.data: expected 4 tab-separated integer fields"):
        read_movielens(tiny_movielens(tmp_path, b"1,1,5,881250949\n"))


def test_non_integer_and_out_of_range_ratings_are_counted_skips(tmp_path):
    data = b"1\t1\t5\t881250949\n1\t2\tfive\t881250949\n2\t1\t4.5\t891717742\n2\t2\t9\t891717742\n"
    ratings, _, _, skips = read_movielens(tiny_movielens(tmp_path, data))
    assert len(ratings) == 1
    assert len(skips) == 3
    assert skips["file"].str.endswith(("u.data:2", "u.data:3", "u.data:4")).all()
    assert skips["reason"].str.contains("expected 4 integer fields").sum() == 2
    assert skips["reason"].str.contains("rating outside 1-5").sum() == 1


def test_missing_file_is_named(tmp_path):
    source = DataSource(write_files(tmp_path / "ml-100k", {"u.data": b"1\t1\t5\t1\n"}))
    with pytest.raises(InputDataError, match="missing u.user, u.item, u.genre"):
        read_movielens(source)


def test_offline_download_says_where_to_put_the_zip(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(movielens.urllib.request, "urlopen", offline)
    with pytest.raises(InputDataError, match="could not be downloaded.*grouplens.org"):
        movielens.download_movielens(tmp_path)
    assert not (tmp_path / "ml-100k.zip").exists()


def test_the_download_node_fetches_only_a_missing_archive_that_the_catalog_then_writes(tmp_path, monkeypatch):
    fetched = []
    monkeypatch.setattr(movielens, "download_movielens",
                        lambda folder, **kw: fetched.append((folder, kw["url"])) or b"PK zip")
    params = {"datasets_dir": str(tmp_path), "movielens": {"version": "100k", "download": True}}
    archive = DownloadedSourceDataset(str(tmp_path), ["ml-100k.zip", "ml-100k"])
    assert nodes.downloaded_movielens(tiny_movielens(tmp_path, b"1\t1\t5\t1\n"), None, params) == ({}, {})
    assert fetched == []
    files, other = nodes.downloaded_movielens(None, None, params)
    assert files == {"ml-100k.zip": b"PK zip"} and other == {}
    assert fetched == [(tmp_path, "https://files.grouplens.org/datasets/movielens/ml-100k.zip")]
    archive.save(files)
    assert (tmp_path / "ml-100k.zip").read_bytes() == b"PK zip" and archive.load().path == tmp_path / "ml-100k.zip"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ml-100k", "ml-100k.zip"]   # no temporary left
    with pytest.raises(InputDataError, match=f"MovieLens 100K not found under {tmp_path} "
                                             r"\(data_engineering.movielens.version: 100k\): .*grouplens.org"):
        nodes.downloaded_movielens(None, None, {**params, "movielens": {"version": "100k", "download": False}})
    assert len(fetched) == 1


def test_download_rejects_a_checksum_mismatch(tmp_path, monkeypatch):
    class Response:
        def __init__(self, payload):
            self.payload = payload

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self):
            return self.payload

    def fake_urlopen(url, timeout):
        return Response(b"0" * 32 + b"  ml-100k.zip\n" if url.endswith(".md5") else b"not the real zip")

    monkeypatch.setattr(movielens.urllib.request, "urlopen", fake_urlopen)
    with pytest.raises(InputDataError, match="MD5"):
        movielens.download_movielens(tmp_path)
    assert not (tmp_path / "ml-100k.zip").exists()


def test_a_bad_line_costs_only_itself_with_the_line_number_of_the_file(tmp_path):
    data = (b"1\t1\t5\t881250949\n"
            b"\n"                                  # line 2: blank, not a record, numbering goes on
            b"1\t2\t4\t881250949\t extra\n"        # line 3: 5 fields (was a pandas ParserError for the whole file)
            b"2\t1\t3\t891717742\n"
            b"9\t1\t3\t891717742\n"                # line 5: user 9 is not in u.user
            b"2\t7\t3\t891717742\n"                # line 6: item 7 is not in u.item
            b"1\t1\t2\t881250999\n"                # line 7: user 1 rated item 1 again
            b"2\t2\t1\t891717742\n")
    source = tiny_movielens(tmp_path, data)
    ratings, _, _, skips = read_movielens(source)
    assert ratings[["user_id", "item_id", "rating"]].values.tolist() == [[1, 1, 5], [2, 1, 3], [2, 2, 1]]
    reasons = member_reasons(skips, source)
    assert reasons == {
        "u.data:3": "expected 4 tab-separated fields, got 5: '1\\t2\\t4\\t881250949\\t extra'",
        "u.data:5": "user 9 not in u.user",
        "u.data:6": "item 7 not in u.item",
        "u.data:7": "duplicate rating of the same item by the same user: kept the first line",
    }


def test_bad_user_and_movie_lines_are_counted_and_an_unknown_gender_is_kept_and_counted(tmp_path):
    users = USERS + b"3|33|X|writer|10001\n4|forty|M|writer|10001\n1|50|F|doctor|10002\n5|20|M|writer\n"
    items = ITEMS + ITEMS.splitlines(keepends=True)[0] + b"3|Broken|01-Jan-1995||url|1|0\n"
    source = DataSource(write_files(tmp_path / "ml-100k", {
        "u.data": b"1\t1\t5\t881250949\n3\t2\t4\t881250949\n", "u.user": users, "u.item": items,
        "u.genre": GENRE_FILE}))
    ratings, users_table, movies, skips = read_movielens(source)
    assert len(ratings) == 2  # user 3's rating is kept: only the gender is unknown
    assert users_table.set_index("user_id")["gender"].to_dict() == {1: "male", 2: "female", 3: "unknown"}
    assert movies["item_id"].tolist() == [1, 2]
    reasons = member_reasons(skips, source)
    assert reasons == {
        "u.user:3": "gender 'X' is neither M nor F: user kept with gender unknown",
        "u.user:4": "expected a user id >= 1 and an age 1-120, got '4', 'forty'",
        "u.user:5": "duplicate user id: kept the first line",
        "u.user:6": "expected 5 '|'-separated fields, got 4: '5|20|M|writer'",
        "u.item:3": "duplicate item id: kept the first line",
        "u.item:4": "expected 24 '|'-separated fields, got 7: '3|Broken|01-Jan-1995||url|1|0'",
    }


def test_a_mistyped_datasets_folder_is_not_created_by_the_download(tmp_path):
    with pytest.raises(InputDataError, match="not a folder, so MovieLens 100K cannot be downloaded into it"):
        movielens.download_movielens(tmp_path / "no" / "such")
    assert not (tmp_path / "no").exists()
