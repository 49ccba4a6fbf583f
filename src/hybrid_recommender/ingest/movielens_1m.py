"""MovieLens 1M (GroupLens): ``ml-1m/ratings.dat``, ``users.dat``, ``movies.dat``: ``::``-separated, latin-1.

The same tables as MovieLens 100K (:mod:`.movielens`), with the same counted skips, and these readings
(docs/data.md, "MovieLens 1M"):

- users: ML-1M gives an age *code* (1 'Under 18', 18 '18-24', 25 '25-34', 35 '35-44', 45 '45-49', 50 '50-55',
  56 '56+'), not years. ``age`` is the representative age in years that the parameters give each code
  (``data_engineering.movielens.ml_1m_age_codes``), so the configured age-group edges bin it like any age;
  ``age_code`` keeps the official code. Occupations are codes 0-20, written as their README names.
- movies: ``release_date`` is 1 January of the year in the title's trailing ``(YYYY)`` (NaT without one; MovieLens
  100K's own dates are mostly 01-Jan-YYYY too); ``imdb_url`` is None (ML-1M has none); genres are pipe-separated
  names of 18 genres. The 19 flag columns follow :data:`hybrid_recommender.labels.GENRES`; ML-1M has no
  'unknown' genre, so ``unknown`` = 1 only for a movie with no genre listed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.ingest.common import SkipLog
from hybrid_recommender.ingest.movielens import (
    gender_of,
    integers,
    known_first_ratings,
    lines,
    member_map,
    parse_ratings,
)
from hybrid_recommender.ingest.sources import DataSource
from hybrid_recommender.labels import GENRES

FOLDER = "ml-1m"
FILES = ("ratings.dat", "users.dat", "movies.dat")
SEP = "::"
LABEL = "MovieLens 1M"
ARCHIVE_NAME = "ml-1m.zip"
DOWNLOAD_URL = "https://files.grouplens.org/datasets/movielens/ml-1m.zip"
HOW_TO_GET = (
    "MovieLens 1M: download ml-1m.zip from https://grouplens.org/datasets/movielens/1m/ and put the zip "
    "(or the extracted ml-1m/ folder) in the datasets directory"
)

# The official age codes and the years each stands for (ML-1M README); 56+ is open, capped at the schema's 120.
AGE_CODE_RANGES: dict[int, tuple[int, int]] = {1: (1, 17), 18: (18, 24), 25: (25, 34), 35: (35, 44), 45: (45, 49),
                                                50: (50, 55), 56: (56, 120)}
AGE_CODE_NAMES: dict[int, str] = {1: "Under 18", 18: "18-24", 25: "25-34", 35: "35-44", 45: "45-49", 50: "50-55",
                                  56: "56+"}
# ML-1M README's occupation codes.
OCCUPATIONS: tuple[str, ...] = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student", "customer service",
    "doctor/health care", "executive/managerial", "farmer", "homemaker", "K-12 student", "lawyer", "programmer",
    "retired", "sales/marketing", "scientist", "self-employed", "technician/engineer", "tradesman/craftsman",
    "unemployed", "writer",
)
ML_1M_GENRES: tuple[str, ...] = GENRES[1:]          # the 18 named genres; 'unknown' is not one of ML-1M's
NO_GENRE = {"", "(no genres listed)"}                # later MovieLens releases write the latter
_YEAR = re.compile(r"\((\d{4})\)\s*$")


def check_age_codes(age_codes: Mapping[int, int]) -> dict[int, int]:
    """The code -> representative age mapping, with int keys (YAML or a CLI may give strings), each age inside the
    years its code stands for; anything else is a ValueError naming the code."""
    mapping = {int(code): int(age) for code, age in dict(age_codes).items()}
    if set(mapping) != set(AGE_CODE_RANGES):
        raise ValueError(f"age codes {sorted(mapping)}: expected exactly MovieLens 1M's {sorted(AGE_CODE_RANGES)}")
    for code, age in mapping.items():
        low, high = AGE_CODE_RANGES[code]
        if not low <= age <= high:
            raise ValueError(f"age code {code} ({AGE_CODE_NAMES[code]}) -> {age}: expected an age in {low}-{high}")
    return mapping


def _parse_users(raw: bytes, member: str, where: str, skips: SkipLog, age_codes: dict[int, int]) -> pd.DataFrame:
    rows, seen = [], set()
    codes = ", ".join(str(c) for c in sorted(age_codes))
    for line_no, (user_id, gender, age_code, occupation, zip_code) in lines(raw, SEP, 5, member, skips):
        ids = integers([user_id, age_code])
        if ids is None or ids[0] < 1 or ids[1] not in age_codes:
            skips.add(member, f"expected a user id >= 1 and an age code of {codes}, got {user_id!r}, {age_code!r}",
                      line_no)
            continue
        if ids[0] in seen:
            skips.add(member, "duplicate user id: kept the first line", line_no)
            continue
        seen.add(ids[0])
        job = integers([occupation])
        if job is None or not 0 <= job[0] < len(OCCUPATIONS):
            # Kept, like an unknown gender: the user's ratings are good. Counted so it is not silent.
            skips.add(member, f"occupation code {occupation!r} is not 0-{len(OCCUPATIONS) - 1}: user kept with "
                              "occupation unknown", line_no)
            job_name = "unknown"
        else:
            job_name = OCCUPATIONS[job[0]]
        rows.append((ids[0], age_codes[ids[1]], gender_of(gender, member, line_no, skips), job_name, zip_code,
                     ids[1]))
    if not rows:
        raise InputDataError(f"{where}: expected '::'-separated 'user id::gender::age code::occupation::zip code' "
                             f"lines, age code one of {codes}; no line has them.")
    users = pd.DataFrame(rows, columns=["user_id", "age", "gender", "occupation", "zip_code", "age_code"])
    return users.astype({"user_id": "int64", "age": "int64", "age_code": "int64"})


def _parse_movies(raw: bytes, member: str, where: str, skips: SkipLog) -> pd.DataFrame:
    rows, seen = [], set()
    for line_no, (item_id, title, genres) in lines(raw, SEP, 3, member, skips):
        item = integers([item_id])
        if item is None or item[0] < 1:
            skips.add(member, f"expected an item id >= 1, got {item_id!r}", line_no)
            continue
        if item[0] in seen:
            skips.add(member, "duplicate item id: kept the first line", line_no)
            continue
        seen.add(item[0])
        names = [] if genres.strip() in NO_GENRE else [g.strip() for g in genres.split("|")]
        unknown = [g for g in names if g not in ML_1M_GENRES]
        if unknown:
            # Kept with its known genres: its ratings are good. Counted so it is not silent.
            skips.add(member, f"genre(s) {', '.join(map(repr, unknown))} not among MovieLens 1M's 18: movie kept "
                              "without them", line_no)
        flags = {g: 1 for g in names if g in ML_1M_GENRES}
        year = _YEAR.search(title)
        rows.append((item[0], title, f"{year.group(1)}-01-01" if year else None, None,
                     int(not flags), *(flags.get(g, 0) for g in ML_1M_GENRES)))
    if not rows:
        raise InputDataError(f"{where}: expected '::'-separated 'movie id::title::genres' lines, genres "
                             "pipe-separated names such as Animation|Children's|Comedy; no line has them.")
    movies = pd.DataFrame(rows, columns=["item_id", "title", "release_date", "imdb_url", *GENRES])
    movies = movies.astype({"item_id": "int64", "imdb_url": "object", **{g: "int8" for g in GENRES}})
    movies["release_date"] = pd.to_datetime(movies["release_date"], format="%Y-%m-%d").astype("datetime64[ns]")
    return movies


def read_movielens_1m(source: DataSource, age_codes: Mapping[int, int]
                      ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Ratings, users, movies and the skipped lines of MovieLens 1M, as MovieLens 100K's reader gives them.

    ``age_codes``: ML-1M's age code -> the representative age in years (parameter
    ``data_engineering.movielens.ml_1m_age_codes``). Bad lines are counted skips, each with its file and line;
    ratings of a user or movie that is not listed, and repeated ratings of the same movie by the same user (the
    first is kept), too.
    """
    try:
        codes = check_age_codes(age_codes)
    except ValueError as exc:
        raise InputDataError(f"data_engineering.movielens.ml_1m_age_codes: {exc}.") from exc
    members = member_map(source, FOLDER, FILES, LABEL, HOW_TO_GET)
    raw = dict(source.iter_files(members.values()))
    skips = SkipLog("movielens", source)
    where = {base: source.where(name) for base, name in members.items()}
    ratings = parse_ratings(raw[members["ratings.dat"]], members["ratings.dat"], where["ratings.dat"], skips, SEP)
    users = _parse_users(raw[members["users.dat"]], members["users.dat"], where["users.dat"], skips, codes)
    movies = _parse_movies(raw[members["movies.dat"]], members["movies.dat"], where["movies.dat"], skips)
    ratings = known_first_ratings(ratings, users, movies, members["ratings.dat"], "users.dat", "movies.dat", skips)
    return ratings, users, movies, skips.frame()
