"""MovieLens 100K (GroupLens): ``ml-100k/u.data``, ``u.user``, ``u.item``, ``u.genre``."""

from __future__ import annotations

import hashlib
import logging
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.ingest.common import SkipLog
from hybrid_recommender.ingest.sources import DataSource, strip_prefix
from hybrid_recommender.labels import GENRES

log = logging.getLogger(__name__)

FILES = ("u.data", "u.user", "u.item", "u.genre")
ARCHIVE_NAME = "ml-100k.zip"
DOWNLOAD_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
HOW_TO_GET = (
    "MovieLens 100K: download ml-100k.zip from https://grouplens.org/datasets/movielens/100k/ and put the zip "
    "(or the extracted ml-100k/ folder) in the datasets directory"
)


def _member_map(source: DataSource) -> dict[str, str]:
    """Official file name -> member name, wherever the ml-100k/ folder sits in the archive."""
    found = {}
    for name in source.names():
        rel = strip_prefix(name, "ml-100k") or name
        base = rel.split("/")[-1]
        if base in FILES and base not in found:
            found[base] = name
    missing = [f for f in FILES if f not in found]
    if missing:
        not_files = {n.split("/")[-1]: f"{n} is {what}" for n, what in source.not_files(FILES).items()}
        odd = "".join(f" ({not_files[f]}, not a file)" for f in missing if f in not_files)
        raise InputDataError(
            f"{source.path}: expected the MovieLens 100K layout ml-100k/{{{','.join(FILES)}}}; "
            f"missing {', '.join(missing)}{odd}. {HOW_TO_GET}."
        )
    return found


def _lines(raw: bytes, sep: str, count: int, member: str, skips: SkipLog) -> list[tuple[int, list[str]]]:
    """(line number, fields) of every non-blank line with ``count`` fields; the others are counted skips.

    Line numbers are those of the file, blank lines included, so a skip row points at the right line.
    """
    kept = []
    for line_no, text in enumerate(raw.decode("latin-1").splitlines(), start=1):
        if not text.strip():
            continue
        fields = text.split(sep)
        if len(fields) != count:
            name = "tab" if sep == "\t" else repr(sep)
            skips.add(member, f"expected {count} {name}-separated fields, got {len(fields)}: {text[:60]!r}", line_no)
            continue
        kept.append((line_no, fields))
    return kept


def _integers(fields: list[str]) -> list[int] | None:
    try:
        return [int(f) for f in fields]
    except ValueError:
        return None


def _parse_ratings(raw: bytes, member: str, where: str, skips: SkipLog) -> pd.DataFrame:
    """user_id, item_id, rating (int8), timestamp, and the line each came from."""
    rows = []
    for line_no, fields in _lines(raw, "\t", 4, member, skips):
        values = _integers(fields)
        if values is None:
            skips.add(member, f"expected 4 integer fields: {'|'.join(fields)[:60]}", line_no)
        elif not 1 <= values[2] <= 5:
            skips.add(member, f"rating outside 1-5: {'|'.join(fields)[:60]}", line_no)
        else:
            rows.append((*values, line_no))
    if not rows:
        first = next((ln for ln in raw.decode("latin-1").splitlines() if ln.strip()), "")
        raise InputDataError(f"{where}: expected 4 tab-separated integer fields per line (user id, item id, rating "
                             f"1-5, unix timestamp); no line has them (first line: {first[:60]!r}).")
    ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp", "line"], dtype="int64")
    ratings["rating"] = ratings["rating"].astype("int8")
    return ratings


def _parse_users(raw: bytes, member: str, where: str, skips: SkipLog) -> pd.DataFrame:
    rows, seen = [], {}
    for line_no, (user_id, age, gender, occupation, zip_code) in _lines(raw, "|", 5, member, skips):
        ids = _integers([user_id, age])
        if ids is None or ids[0] < 1 or not 1 <= ids[1] <= 120:
            skips.add(member, f"expected a user id >= 1 and an age 1-120, got {user_id!r}, {age!r}", line_no)
            continue
        if ids[0] in seen:
            skips.add(member, "duplicate user id: kept the first line", line_no)
            continue
        seen[ids[0]] = line_no
        if gender not in ("M", "F"):
            # Kept: the user's ratings are good; only the gender is unknown. Counted so it is not silent.
            skips.add(member, f"gender {gender!r} is neither M nor F: user kept with gender unknown", line_no)
        rows.append((*ids, {"M": "male", "F": "female"}.get(gender, "unknown"), occupation, zip_code))
    if not rows:
        raise InputDataError(f"{where}: expected pipe-separated 'user id|age|gender|occupation|zip code' lines.")
    users = pd.DataFrame(rows, columns=["user_id", "age", "gender", "occupation", "zip_code"])
    return users.astype({"user_id": "int64", "age": "int64"})


def _parse_movies(raw: bytes, member: str, where: str, skips: SkipLog) -> pd.DataFrame:
    columns = ["item_id", "title", "release_date", "video_release_date", "imdb_url", *GENRES]
    rows, seen = [], set()
    for line_no, fields in _lines(raw, "|", len(columns), member, skips):
        item = _integers(fields[:1])
        flags = _integers(fields[5:])
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
    members = _member_map(source)
    raw = dict(source.iter_files(members.values()))
    skips = SkipLog("movielens", source)
    where = {base: source.where(name) for base, name in members.items()}
    ratings = _parse_ratings(raw[members["u.data"]], members["u.data"], where["u.data"], skips)
    users = _parse_users(raw[members["u.user"]], members["u.user"], where["u.user"], skips)
    movies = _parse_movies(raw[members["u.item"]], members["u.item"], where["u.item"], skips)
    genre_names = [ln.split("|")[0] for ln in raw[members["u.genre"]].decode("latin-1").splitlines() if ln.strip()]
    if tuple(genre_names) != GENRES:
        raise InputDataError(f"{where['u.genre']}: expected the 19 MovieLens genres {list(GENRES)}, got {genre_names}.")
    known_user = ratings["user_id"].isin(users["user_id"])
    known_item = ratings["item_id"].isin(movies["item_id"])
    for line in ratings[~known_user | ~known_item].itertuples():
        missing = f"user {line.user_id} not in u.user" if not known_user[line.Index] else \
            f"item {line.item_id} not in u.item"
        skips.add(members["u.data"], missing, line.line)
    ratings = ratings[known_user & known_item]
    repeated = ratings.duplicated(["user_id", "item_id"], keep="first")
    for line in ratings.loc[repeated, "line"]:
        skips.add(members["u.data"], "duplicate rating of the same item by the same user: kept the first line", line)
    ratings = ratings[~repeated].drop(columns="line").reset_index(drop=True)
    return ratings, users, movies, skips.frame()


def download_movielens(target_dir: Path, url: str = DOWNLOAD_URL, timeout: float = 30.0) -> bytes:
    """ml-100k.zip from GroupLens, for ``target_dir``, verified against the MD5 GroupLens publishes.

    Writing it is the catalog's (``movielens_archive``). ``target_dir`` must exist: the user's data folder is
    never created, so a mistyped path is not hidden.
    """
    if not target_dir.is_dir():
        raise InputDataError(f"{target_dir}: not a folder, so MovieLens 100K cannot be downloaded into it. "
                             f"{HOW_TO_GET}.")
    try:
        with urllib.request.urlopen(url + ".md5", timeout=timeout) as resp:
            expected_md5 = resp.read().decode().split()[0].strip().lower()
        log.info("Downloading MovieLens 100K from %s", url)
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            payload = resp.read()
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise InputDataError(
            f"MovieLens 100K not found in {target_dir} and it could not be downloaded ({exc}). {HOW_TO_GET}."
        ) from exc
    actual_md5 = hashlib.md5(payload).hexdigest()
    if actual_md5 != expected_md5:
        raise InputDataError(f"{url}: downloaded file has MD5 {actual_md5}, GroupLens publishes {expected_md5}.")
    return payload
