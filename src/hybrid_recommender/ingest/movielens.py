"""MovieLens 100K (GroupLens): ``ml-100k/u.data``, ``u.user``, ``u.item``, ``u.genre``.

The line-level helpers here (counted skips, the official layout inside an archive, the known-user / known-item /
first-rating rule, the MD5-checked download) are shared with MovieLens 1M (:mod:`.movielens_1m`)."""

from __future__ import annotations

import hashlib
import logging
import urllib.error
import urllib.request
from array import array
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.ingest.common import SkipLog
from hybrid_recommender.ingest.sources import DataSource, strip_prefix
from hybrid_recommender.labels import GENRES

log = logging.getLogger(__name__)

FILES = ("u.data", "u.user", "u.item", "u.genre")
LABEL = "MovieLens 100K"
ARCHIVE_NAME = "ml-100k.zip"
DOWNLOAD_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
HOW_TO_GET = (
    "MovieLens 100K: download ml-100k.zip from https://grouplens.org/datasets/movielens/100k/ and put the zip "
    "(or the extracted ml-100k/ folder) in the datasets directory"
)


def member_map(source: DataSource, folder: str = "ml-100k", files: tuple[str, ...] = FILES,
               label: str = LABEL, how_to_get: str = HOW_TO_GET) -> dict[str, str]:
    """Official file name -> member name, wherever the ``folder`` (ml-100k/, ml-1m/) sits in the archive."""
    found = {}
    for name in source.names():
        rel = strip_prefix(name, folder) or name
        base = rel.split("/")[-1]
        if base in files and base not in found:
            found[base] = name
    missing = [f for f in files if f not in found]
    if missing:
        not_files = {n.split("/")[-1]: f"{n} is {what}" for n, what in source.not_files(files).items()}
        odd = "".join(f" ({not_files[f]}, not a file)" for f in missing if f in not_files)
        raise InputDataError(
            f"{source.path}: expected the {label} layout {folder}/{{{','.join(files)}}}; "
            f"missing {', '.join(missing)}{odd}. {how_to_get}."
        )
    return found


def separator_name(sep: str) -> str:
    return "tab" if sep == "\t" else repr(sep)


def lines(raw: bytes, sep: str, count: int, member: str, skips: SkipLog) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of every non-blank line with ``count`` fields; the others are counted skips.

    Line numbers are those of the file, blank lines included, so a skip row points at the right line. A generator:
    MovieLens 1M's million ratings are never held twice as lists of fields.
    """
    for line_no, text in enumerate(raw.decode("latin-1").splitlines(), start=1):
        if not text.strip():
            continue
        fields = text.split(sep)
        if len(fields) != count:
            skips.add(member, f"expected {count} {separator_name(sep)}-separated fields, got {len(fields)}: "
                              f"{text[:60]!r}", line_no)
            continue
        yield line_no, fields


def integers(fields: list[str]) -> list[int] | None:
    try:
        return [int(f) for f in fields]
    except ValueError:
        return None


def parse_ratings(raw: bytes, member: str, where: str, skips: SkipLog, sep: str = "\t") -> pd.DataFrame:
    """user_id, item_id, rating (int8), timestamp, and the line each came from (``sep``-separated lines)."""
    columns = ["user_id", "item_id", "rating", "timestamp", "line"]
    values_of = {c: array("q") for c in columns}      # compact: 8 bytes a value, a million ratings in 40 MB
    shown = "|" if sep == "\t" else sep                # how a bad line's fields are quoted in its skip row
    for line_no, fields in lines(raw, sep, 4, member, skips):
        values = integers(fields)
        if values is None:
            skips.add(member, f"expected 4 integer fields: {shown.join(fields)[:60]}", line_no)
        elif not 1 <= values[2] <= 5:
            skips.add(member, f"rating outside 1-5: {shown.join(fields)[:60]}", line_no)
        else:
            for column, value in zip(columns, (*values, line_no)):
                values_of[column].append(value)
    if not values_of["line"]:
        first = next((ln for ln in raw.decode("latin-1").splitlines() if ln.strip()), "")
        raise InputDataError(f"{where}: expected 4 {separator_name(sep)}-separated integer fields per line (user id, "
                             f"item id, rating 1-5, unix timestamp); no line has them (first line: {first[:60]!r}).")
    ratings = pd.DataFrame({c: np.frombuffer(v, dtype=np.int64).copy() for c, v in values_of.items()})
    ratings["rating"] = ratings["rating"].astype("int8")
    return ratings


def gender_of(code: str, member: str, line_no: int, skips: SkipLog) -> str:
    """male / female for M / F; anything else is kept as unknown (the user's ratings are good; only the gender
    is unknown) and counted, so it is not silent."""
    if code not in ("M", "F"):
        skips.add(member, f"gender {code!r} is neither M nor F: user kept with gender unknown", line_no)
    return {"M": "male", "F": "female"}.get(code, "unknown")


def _parse_users(raw: bytes, member: str, where: str, skips: SkipLog) -> pd.DataFrame:
    rows, seen = [], {}
    for line_no, (user_id, age, gender, occupation, zip_code) in lines(raw, "|", 5, member, skips):
        ids = integers([user_id, age])
        if ids is None or ids[0] < 1 or not 1 <= ids[1] <= 120:
            skips.add(member, f"expected a user id >= 1 and an age 1-120, got {user_id!r}, {age!r}", line_no)
            continue
        if ids[0] in seen:
            skips.add(member, "duplicate user id: kept the first line", line_no)
            continue
        seen[ids[0]] = line_no
        rows.append((*ids, gender_of(gender, member, line_no, skips), occupation, zip_code))
    if not rows:
        raise InputDataError(f"{where}: expected pipe-separated 'user id|age|gender|occupation|zip code' lines.")
    users = pd.DataFrame(rows, columns=["user_id", "age", "gender", "occupation", "zip_code"])
    return users.astype({"user_id": "int64", "age": "int64"})


def _parse_movies(raw: bytes, member: str, where: str, skips: SkipLog) -> pd.DataFrame:
    columns = ["item_id", "title", "release_date", "video_release_date", "imdb_url", *GENRES]
    rows, seen = [], set()
    for line_no, fields in lines(raw, "|", len(columns), member, skips):
        item = integers(fields[:1])
        flags = integers(fields[5:])
        if item is None or item[0] < 1 or flags is None or not set(flags) <= {0, 1}:
            skips.add(member, "expected an item id >= 1 and 19 genre flags 0/1", line_no)
            continue
        if item[0] in seen:
            skips.add(member, "duplicate item id: kept the first line", line_no)
            continue
        seen.add(item[0])
        rows.append((item[0], fields[1], fields[2], fields[4] or None, *flags))
    if not rows:
        raise InputDataError(f"{where}: expected 24 pipe-separated fields per movie, the last 19 genre flags 0/1.")
    movies = pd.DataFrame(rows, columns=[c for c in columns if c != "video_release_date"])
    movies = movies.astype({"item_id": "int64", **{g: "int8" for g in GENRES}})
    movies["release_date"] = pd.to_datetime(movies["release_date"], format="%d-%b-%Y", errors="coerce")
    return movies


def read_movielens(source: DataSource) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Ratings, users, movies and the skipped lines of MovieLens 100K.

    Bad lines are counted skips, each with its file and line; ratings of a user or movie that is not
    listed, and repeated ratings of the same movie by the same user (the first is kept), too.
    """
    members = member_map(source)
    raw = dict(source.iter_files(members.values()))
    skips = SkipLog("movielens", source)
    where = {base: source.where(name) for base, name in members.items()}
    ratings = parse_ratings(raw[members["u.data"]], members["u.data"], where["u.data"], skips)
    users = _parse_users(raw[members["u.user"]], members["u.user"], where["u.user"], skips)
    movies = _parse_movies(raw[members["u.item"]], members["u.item"], where["u.item"], skips)
    genre_names = [ln.split("|")[0] for ln in raw[members["u.genre"]].decode("latin-1").splitlines() if ln.strip()]
    if tuple(genre_names) != GENRES:
        raise InputDataError(f"{where['u.genre']}: expected the 19 MovieLens genres {list(GENRES)}, got {genre_names}.")
    ratings = known_first_ratings(ratings, users, movies, members["u.data"], "u.user", "u.item", skips)
    return ratings, users, movies, skips.frame()


def known_first_ratings(ratings: pd.DataFrame, users: pd.DataFrame, movies: pd.DataFrame, member: str,
                        users_file: str, movies_file: str, skips: SkipLog) -> pd.DataFrame:
    """The ratings of listed users and movies, each (user, movie) once: the first line is kept. Every other line
    is a counted skip naming why; the ``line`` column is dropped."""
    known_user = ratings["user_id"].isin(users["user_id"]).to_numpy()
    known_item = ratings["item_id"].isin(movies["item_id"]).to_numpy()
    unknown = ratings[~known_user | ~known_item]
    for user_id, item_id, line, user_ok in zip(unknown["user_id"], unknown["item_id"], unknown["line"],
                                               known_user[~known_user | ~known_item]):
        skips.add(member, f"item {item_id} not in {movies_file}" if user_ok else f"user {user_id} not in {users_file}",
                  int(line))
    ratings = ratings[known_user & known_item]
    repeated = ratings.duplicated(["user_id", "item_id"], keep="first")
    for line in ratings.loc[repeated, "line"]:
        skips.add(member, "duplicate rating of the same item by the same user: kept the first line", int(line))
    return ratings[~repeated].drop(columns="line").reset_index(drop=True)


def download_movielens(target_dir: Path, url: str = DOWNLOAD_URL, timeout: float = 30.0, label: str = LABEL,
                       how_to_get: str = HOW_TO_GET) -> bytes:
    """ml-100k.zip (or, with MovieLens 1M's ``url``, ``label`` and ``how_to_get``, ml-1m.zip) from GroupLens, for
    ``target_dir``, verified against the MD5 GroupLens publishes beside it (``<url>.md5``).

    Writing it is the catalog's (``movielens_archive``, ``movielens_1m_archive``). ``target_dir`` must exist: the
    user's data folder is never created, so a mistyped path is not hidden.
    """
    if not target_dir.is_dir():
        raise InputDataError(f"{target_dir}: not a folder, so {label} cannot be downloaded into it. "
                             f"{how_to_get}.")
    try:
        with urllib.request.urlopen(url + ".md5", timeout=timeout) as resp:
            expected_md5 = resp.read().decode().split()[0].strip().lower()
        log.info("Downloading %s from %s", label, url)
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            payload = resp.read()
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise InputDataError(
            f"{label} not found in {target_dir} and it could not be downloaded ({exc}). {how_to_get}."
        ) from exc
    actual_md5 = hashlib.md5(payload).hexdigest()
    if actual_md5 != expected_md5:
        raise InputDataError(f"{url}: downloaded file has MD5 {actual_md5}, GroupLens publishes {expected_md5}.")
    return payload
