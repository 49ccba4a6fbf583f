"""MovieLens 1M: its official ``::`` layout (ml-1m.zip with ml-1m/ratings.dat, users.dat, movies.dat, latin-1) read
into the tables MovieLens 100K gives, with counted skips; its age codes binned into the configured age groups;
``data_engineering.movielens.version`` picking the reader in the pipeline.

The data set is a small fixture each test builds in tmp_path: no real MovieLens 1M is stored or downloaded.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from hybrid_recommender import settings
from hybrid_recommender.errors import InputDataError
from hybrid_recommender.ingest import movielens, movielens_1m
from hybrid_recommender.ingest.movielens_1m import read_movielens_1m
from hybrid_recommender.ingest.sources import DataSource
from hybrid_recommender.labels import GENRES, age_groups
from hybrid_recommender.parameters import ParameterError, validated
from hybrid_recommender.paths import PROJECT_ROOT
from hybrid_recommender.pipelines.data_engineering import nodes
from hybrid_recommender.pipelines.data_engineering.pipeline import create_pipeline
from tests.conftest import project_parameters, require_shared
from tests.data_engineering.builders import member_reasons, movielens_1m_zip, write_files

AGE_CODES = project_parameters("data_engineering")["movielens"]["ml_1m_age_codes"]
# Each official age code, the paper's group that its configured representative age falls in (docs/data.md).
EXPECTED_GROUPS = {1: "8-14", 18: "15-24", 25: "25-37", 35: "38-47", 45: "38-47", 50: "48+", 56: "48+"}

USERS = [
    "1::F::1::10::48067",      # line 1: Under 18, K-12 student
    "2::M::56::16::70072",     # 56+
    "3::M::25::15::55117",     # 25-34
    "4::M::45::7::02460",      # 45-49
    "5::M::35::20::55455",     # 35-44
    "6::F::50::9::55117",      # 50-55
    "7::M::18::4::06810",      # 18-24
    "8::X::25::12::11413",     # line 8: gender X: kept as unknown, counted
    "9::M::30::1::12345",      # line 9: 30 is not an age code: skipped
    "10::M::25::99::12345",    # line 10: occupation 99 is not a code: kept as unknown, counted
    "3::F::18::1::11111",      # line 11: user 3 again: skipped, the first kept
    "12::M::25",               # line 12: 3 fields
]
MOVIES = [
    "1::Toy Story (1995)::Animation|Children's|Comedy",
    "2::Jumanji (1995)::Adventure|Children's|Fantasy",
    "3::Cité des enfants perdus, La (City of Lost Children, The) (1995)::Adventure|Sci-Fi",   # latin-1 é
    "4::Misérables, Les (1995)::Drama|Musical",
    "5::Kolya::",                                   # line 5: no year, no genre: NaT, unknown = 1
    "6::Bad Genre (1996)::Comedy|Bogus",            # line 6: Bogus is no genre: kept as a comedy, counted
    "1::Toy Story again (1995)::Comedy",            # line 7: item 1 again: skipped
    "x::Broken (1995)::Drama",                      # line 8: not an integer id
    "9::Only two fields",                           # line 9
]
RATINGS = [
    "1::1::5::978300760",
    "1::2::3::978302109",
    "2::1::4::978301968",
    "3::3::5::978300275",
    "4::4::1::978824291",
    "5::5::2::978302268",
    "6::6::4::978302039",
    "7::1::3::978300719",
    "8::2::4::978300720",      # the user with an unknown gender: kept
    "10::3::5::978300721",     # the user with an unknown occupation: kept
    "",                        # line 11: blank, not a record; numbering goes on
    "1::1::2::978300999",      # line 12: user 1 rated item 1 again
    "9::1::3::978300719",      # line 13: user 9's line was skipped, so the user is unknown
    "2::99::3::978300719",     # line 14: no movie 99
    "2::2::five::978300719",   # line 15: not an integer
    "2::3::6::978300719",      # line 16: rating outside 1-5
    "2::4::4::978300719::x",   # line 17: 5 fields
    "2::5\t4\t978300719",      # line 18: tab-separated, as in 100K's u.data
]


def fixture_1m(tmp_path, ratings=RATINGS, users=USERS, movies=MOVIES) -> DataSource:
    return DataSource(movielens_1m_zip(tmp_path, ratings, users, movies))


def test_the_official_layout_is_read_into_100k_s_tables_with_every_bad_line_a_counted_skip(tmp_path):
    source = fixture_1m(tmp_path)
    ratings, users, movies, skips = read_movielens_1m(source, AGE_CODES)

    assert list(ratings.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert ratings.dtypes.astype(str).tolist() == ["int64", "int64", "int8", "int64"]
    assert ratings[["user_id", "item_id", "rating"]].values.tolist() == [
        [1, 1, 5], [1, 2, 3], [2, 1, 4], [3, 3, 5], [4, 4, 1], [5, 5, 2], [6, 6, 4], [7, 1, 3], [8, 2, 4], [10, 3, 5]]
    assert ratings["timestamp"].iloc[0] == 978300760

    assert list(users.columns) == ["user_id", "age", "gender", "occupation", "zip_code", "age_code"]
    by_user = users.set_index("user_id")
    assert by_user["age_code"].to_dict() == {1: 1, 2: 56, 3: 25, 4: 45, 5: 35, 6: 50, 7: 18, 8: 25, 10: 25}
    assert by_user["age"].to_dict() == {u: AGE_CODES[c] for u, c in by_user["age_code"].items()}
    assert by_user["gender"].to_dict() == {1: "female", 2: "male", 3: "male", 4: "male", 5: "male", 6: "female",
                                           7: "male", 8: "unknown", 10: "male"}
    assert by_user.loc[1, "occupation"] == "K-12 student" and by_user.loc[7, "occupation"] == "college/grad student"
    assert by_user.loc[10, "occupation"] == "unknown" and by_user.loc[4, "zip_code"] == "02460"   # zip kept as text

    assert list(movies.columns) == ["item_id", "title", "release_date", "imdb_url", *GENRES]
    by_item = movies.set_index("item_id")
    assert by_item.index.tolist() == [1, 2, 3, 4, 5, 6]
    assert by_item.loc[3, "title"] == "Cité des enfants perdus, La (City of Lost Children, The) (1995)"
    assert by_item.loc[4, "title"] == "Misérables, Les (1995)"
    assert by_item.loc[1, "release_date"] == pd.Timestamp("1995-01-01") and pd.isna(by_item.loc[5, "release_date"])
    assert by_item["imdb_url"].isna().all()
    flags = by_item[list(GENRES)]
    assert {g for g in GENRES if flags.loc[1, g]} == {"Animation", "Children's", "Comedy"}
    assert {g for g in GENRES if flags.loc[6, g]} == {"Comedy"}
    # ML-1M has no 'unknown' genre: the flag marks only the movie listed with no genre
    assert flags["unknown"].to_dict() == {1: 0, 2: 0, 3: 0, 4: 0, 5: 1, 6: 0}
    assert flags.dtypes.astype(str).eq("int8").all()

    assert (skips["dataset"] == "movielens").all()
    assert member_reasons(skips, source) == {
        "ml-1m/users.dat:8": "gender 'X' is neither M nor F: user kept with gender unknown",
        "ml-1m/users.dat:9": "expected a user id >= 1 and an age code of 1, 18, 25, 35, 45, 50, 56, got '9', '30'",
        "ml-1m/users.dat:10": "occupation code '99' is not 0-20: user kept with occupation unknown",
        "ml-1m/users.dat:11": "duplicate user id: kept the first line",
        "ml-1m/users.dat:12": "expected 5 '::'-separated fields, got 3: '12::M::25'",
        "ml-1m/movies.dat:6": "genre(s) 'Bogus' not among MovieLens 1M's 18: movie kept without them",
        "ml-1m/movies.dat:7": "duplicate item id: kept the first line",
        "ml-1m/movies.dat:8": "expected an item id >= 1, got 'x'",
        "ml-1m/movies.dat:9": "expected 3 '::'-separated fields, got 2: '9::Only two fields'",
        "ml-1m/ratings.dat:12": "duplicate rating of the same item by the same user: kept the first line",
        "ml-1m/ratings.dat:13": "user 9 not in users.dat",
        "ml-1m/ratings.dat:14": "item 99 not in movies.dat",
        "ml-1m/ratings.dat:15": "expected 4 integer fields: 2::2::five::978300719",
        "ml-1m/ratings.dat:16": "rating outside 1-5: 2::3::6::978300719",
        "ml-1m/ratings.dat:17": "expected 4 '::'-separated fields, got 5: '2::4::4::978300719::x'",
        "ml-1m/ratings.dat:18": "expected 4 '::'-separated fields, got 2: '2::5\\t4\\t978300719'",
    }
    # every line of the fixture is a kept record or a counted skip: none is silently dropped
    assert len(ratings) + sum(f.startswith(source.where("ml-1m/ratings.dat")) for f in skips["file"]) == \
        sum(bool(line) for line in RATINGS)


def test_the_extracted_folder_under_an_extra_top_folder_reads_the_same(tmp_path):
    zipped = read_movielens_1m(fixture_1m(tmp_path / "zip"), AGE_CODES)
    files = {f"download/ml-1m/{name}": ("\n".join(lines) + "\n").encode("latin-1")
             for name, lines in (("ratings.dat", RATINGS), ("users.dat", USERS), ("movies.dat", MOVIES))}
    folder = read_movielens_1m(DataSource(write_files(tmp_path / "ml-1m", files)), AGE_CODES)
    for a, b in zip(zipped[:3], folder[:3]):
        pd.testing.assert_frame_equal(a, b)
    assert len(folder[3]) == len(zipped[3]) and folder[3]["file"].str.contains("download/ml-1m/").all()


def test_a_missing_file_or_the_wrong_separator_is_one_error_naming_the_file_and_the_layout(tmp_path):
    only = DataSource(write_files(tmp_path / "partial", {"ml-1m/ratings.dat": b"1::1::5::1\n"}))
    with pytest.raises(InputDataError, match=r"expected the MovieLens 1M layout ml-1m/\{ratings.dat,users.dat,"
                                             r"movies.dat\}; missing users.dat, movies.dat\. MovieLens 1M: download "
                                             r"ml-1m.zip from https://grouplens.org/datasets/movielens/1m/"):
        read_movielens_1m(only, AGE_CODES)
    tabs = fixture_1m(tmp_path, ratings=["1\t1\t5\t978300760", "2\t1\t4\t978301968"])
    with pytest.raises(InputDataError, match=r"ml-1m/ratings.dat: expected 4 '::'-separated integer fields per "
                                             r"line .*first line: '1\\t1\\t5\\t978300760'"):
        read_movielens_1m(tabs, AGE_CODES)


def test_the_age_codes_land_in_the_configured_groups_and_a_bad_mapping_is_refused():
    base = project_parameters("data_engineering")
    edges, labels = base["age_groups"]["edges"], base["age_groups"]["labels"]
    groups = age_groups([AGE_CODES[c] for c in EXPECTED_GROUPS], edges, labels)
    assert dict(zip(EXPECTED_GROUPS, groups)) == EXPECTED_GROUPS
    # every one of the paper's four viewer groups has ML-1M users
    assert set(base["age_groups"]["viewers"]) <= set(EXPECTED_GROUPS.values())
    # a representative age outside its code's years, or a code missing, is one line naming it
    for change, message in (({**AGE_CODES, 1: 20}, "age code 1 (Under 18) -> 20: expected an age in 1-17"),
                            ({k: v for k, v in AGE_CODES.items() if k != 56},
                             "age codes [1, 18, 25, 35, 45, 50]: expected exactly MovieLens 1M's "
                             "[1, 18, 25, 35, 45, 50, 56]")):
        params = {**base, "movielens": {**base["movielens"], "ml_1m_age_codes": change}}
        with pytest.raises(ParameterError, match=re.escape(f"parameters data_engineering.movielens: {message}")):
            validated("data_engineering", params)
    with pytest.raises(ParameterError, match="movielens.version='10m': should be '100k' or '1m'"):
        validated("data_engineering", {**base, "movielens": {**base["movielens"], "version": "10m"}})


def test_the_1m_download_fetches_ml_1m_zip_and_offline_names_the_version_and_where_to_get_it(tmp_path, monkeypatch):
    fetched = []
    monkeypatch.setattr(movielens, "download_movielens",
                        lambda folder, **kw: fetched.append((folder, kw["url"], kw["label"])) or b"PK zip")
    params = {"datasets_dir": str(tmp_path), "movielens": {"version": "1m", "download": True}}
    ml_100k = DataSource(tmp_path / "ml-100k.zip")        # present, but not the version asked for
    assert nodes.downloaded_movielens(ml_100k, fixture_1m(tmp_path), params) == ({}, {})
    assert nodes.downloaded_movielens(ml_100k, None, params) == ({}, {"ml-1m.zip": b"PK zip"})
    assert fetched == [(tmp_path, "https://files.grouplens.org/datasets/movielens/ml-1m.zip", "MovieLens 1M")]
    assert movielens_1m.DOWNLOAD_URL + ".md5" == "https://files.grouplens.org/datasets/movielens/ml-1m.zip.md5"
    offline = {**params, "movielens": {"version": "1m", "download": False}}
    message = (f"MovieLens 1M not found under {tmp_path} (data_engineering.movielens.version: 1m): MovieLens 1M: "
               "download ml-1m.zip from https://grouplens.org/datasets/movielens/1m/")
    for node in (nodes.downloaded_movielens, nodes.movielens_tables):
        with pytest.raises(InputDataError) as error:
            node(ml_100k, None, offline)
        assert message in str(error.value)
    assert len(fetched) == 1


def _movielens_nodes(datasets, version: str) -> dict:
    """The data_engineering pipeline's MovieLens nodes (download_movielens, read_movielens_tables) run by Kedro with
    the project's catalog entries for the sources and archives, and its parameters with ``version`` given as a
    run's ``--params`` would; the tables stay in memory (nothing is written to the checkout)."""
    loader = OmegaConfigLoader(str(PROJECT_ROOT / "conf"), env="local",
                               runtime_params={"data_engineering": {"movielens": {"version": version}}},
                               **{k: v for k, v in settings.CONFIG_LOADER_ARGS.items() if k != "default_run_env"})
    entries = ("movielens_100k_source", "movielens_1m_source", "movielens_archive", "movielens_1m_archive")
    catalog = DataCatalog.from_config({k: loader["catalog"][k] for k in entries})
    params = loader["parameters"]["data_engineering"]
    assert params["datasets_dir"] == datasets.resolve().as_posix() and params["movielens"]["version"] == version
    validated("data_engineering", params)
    catalog["params:data_engineering"] = MemoryDataset(params)
    outputs = ("movielens_ratings", "movielens_users", "movielens_movies", "movielens_skips")
    for name in outputs:
        catalog[name] = MemoryDataset()
    pipeline = create_pipeline().only_nodes("download_movielens", "read_movielens_tables")
    SequentialRunner().run(pipeline, catalog)
    return {name: catalog.load(name) for name in outputs}


def test_version_1m_makes_the_pipeline_read_the_1m_fixture_and_bin_its_age_codes(tmp_path, monkeypatch):
    datasets = tmp_path / "datasets"
    datasets.mkdir()
    fixture_1m(datasets)
    monkeypatch.setenv("HYBRID_DATASETS_DIR", str(datasets))
    monkeypatch.setattr(movielens, "download_movielens", lambda *a, **kw: pytest.fail("nothing may be downloaded"))
    tables = _movielens_nodes(datasets, "1m")
    assert len(tables["movielens_ratings"]) == 10 and len(tables["movielens_movies"]) == 6
    users = tables["movielens_users"].set_index("user_id")
    assert users["age_group"].dtype == "category"
    assert dict(zip(users["age_code"], users["age_group"].astype(str))) == EXPECTED_GROUPS
    assert len(tables["movielens_skips"]) == 16
    assert tables["movielens_skips"]["file"].str.startswith(f"{datasets / 'ml-1m.zip'}!ml-1m/").all()


@pytest.mark.real_data
def test_version_100k_still_reads_the_real_100k_beside_a_1m_copy(tmp_path, monkeypatch):
    datasets = tmp_path / "datasets"
    datasets.mkdir()
    (datasets / "ml-100k.zip").symlink_to(require_shared("ml-100k.zip") / "ml-100k.zip")
    fixture_1m(datasets)
    monkeypatch.setenv("HYBRID_DATASETS_DIR", str(datasets))
    monkeypatch.setattr(movielens, "download_movielens", lambda *a, **kw: pytest.fail("nothing may be downloaded"))
    tables = _movielens_nodes(datasets, "100k")
    assert len(tables["movielens_ratings"]) == 100_000 and len(tables["movielens_users"]) == 943
    assert len(tables["movielens_movies"]) == 1682 and "age_code" not in tables["movielens_users"]
    assert tables["movielens_skips"].empty


def test_the_ingestion_report_title_names_the_movielens_read():
    counts = pd.DataFrame([("movielens", "all", "ratings", "all", 10), ("movielens", "all", "users", "all", 9),
                           ("movielens", "all", "movies", "all", 6)],
                          columns=["dataset", "split", "attribute", "label", "count"])
    summary = pd.DataFrame(columns=["dataset", "reason", "count"])
    for version, label in (("1m", "MovieLens 1M: 10 ratings"), ("100k", "MovieLens 100K: 10 ratings")):
        figure = nodes.ingestion_counts_plot(counts, summary, version)
        assert label in figure.get_suptitle()
