"""MovieLens 100K (GroupLens): ``ml-100k/u.data``, ``u.user``, ``u.item``, ``u.genre``."""

from __future__ import annotations

import hashlib
import io
import logging
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.ingest.common import SkipLog
from hybrid_recommender.io.sources import DataSource, strip_prefix

log = logging.getLogger(__name__)

GENRES: tuple[str, ...] = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
FILES = ("u.data", "u.user", "u.item", "u.genre")
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
        raise InputDataError(
            f"{source.path}: expected the MovieLens 100K layout ml-100k/{{{','.join(FILES)}}}; "
            f"missing {', '.join(missing)}. {HOW_TO_GET}."
        )
    return found


def _parse_ratings(raw: bytes, where: str, skips: SkipLog) -> pd.DataFrame:
    text = raw.decode("latin-1")
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip()), "")
    if len(first.split("\t")) != 4:
        raise InputDataError(
            f"{where}: expected 4 tab-separated integer fields per line (user id, item id, rating 1-5, "
            f"unix timestamp); line 1 has {len(first.split(chr(9)))} field(s): {first[:60]!r}."
        )
    frame = pd.read_csv(io.StringIO(text), sep="\t", header=None, names=["user_id", "item_id", "rating", "timestamp"],
                        dtype=str, keep_default_na=False)
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    integral = numeric.notna().all(axis=1) & (numeric.fillna(0) % 1 == 0).all(axis=1)
    in_range = numeric["rating"].between(1, 5)
    for line_no in np.flatnonzero(~(integral & in_range)):
        row = frame.iloc[line_no]
        reason = ("rating outside 1-5" if integral.iloc[line_no] else "expected 4 integer fields")
        skips.add(f"{where}:{line_no + 1}", f"{reason}: {'|'.join(row.astype(str))[:60]}")
    ratings = numeric[integral & in_range].astype("int64").reset_index(drop=True)
    ratings["rating"] = ratings["rating"].astype("int8")
    return ratings


def _parse_users(raw: bytes, where: str) -> pd.DataFrame:
    users = pd.read_csv(io.BytesIO(raw), sep="|", header=None, encoding="latin-1",
                        names=["user_id", "age", "gender", "occupation", "zip_code"], dtype={"zip_code": str})
    if users["user_id"].isna().any() or not pd.api.types.is_integer_dtype(users["age"]):
        raise InputDataError(f"{where}: expected pipe-separated 'user id|age|gender|occupation|zip code' lines.")
    users["gender"] = users["gender"].map({"M": "male", "F": "female"}).fillna("unknown")
    return users


def _parse_movies(raw: bytes, where: str) -> pd.DataFrame:
    columns = ["item_id", "title", "release_date", "video_release_date", "imdb_url", *GENRES]
    movies = pd.read_csv(io.BytesIO(raw), sep="|", header=None, encoding="latin-1", names=columns)
    flags = movies[list(GENRES)]
    if flags.isna().any().any() or not flags.isin([0, 1]).all().all():
        raise InputDataError(f"{where}: expected 24 pipe-separated fields per movie, the last 19 genre flags 0/1.")
    movies[list(GENRES)] = flags.astype("int8")
    movies["release_date"] = pd.to_datetime(movies["release_date"], format="%d-%b-%Y", errors="coerce")
    return movies.drop(columns="video_release_date")


def read_movielens(source: DataSource) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Ratings, users, movies and the skipped rating lines of MovieLens 100K."""
    members = _member_map(source)
    raw = dict(source.iter_files(members.values()))
    skips = SkipLog("movielens")
    where = {base: f"{source.path}/{name}" if source.kind == "dir" else f"{source.path}!{name}"
             for base, name in members.items()}
    ratings = _parse_ratings(raw[members["u.data"]], where["u.data"], skips)
    users = _parse_users(raw[members["u.user"]], where["u.user"])
    movies = _parse_movies(raw[members["u.item"]], where["u.item"])
    genre_names = [ln.split("|")[0] for ln in raw[members["u.genre"]].decode("latin-1").splitlines() if ln.strip()]
    if tuple(genre_names) != GENRES:
        raise InputDataError(f"{where['u.genre']}: expected the 19 MovieLens genres {list(GENRES)}, got {genre_names}.")
    unknown = ~ratings["user_id"].isin(users["user_id"]) | ~ratings["item_id"].isin(movies["item_id"])
    for line in ratings[unknown].itertuples():
        skips.add(where["u.data"], f"user {line.user_id} or item {line.item_id} not in u.user/u.item")
    return ratings[~unknown].reset_index(drop=True), users, movies, skips.frame()


def download_movielens(target_dir: Path, url: str = DOWNLOAD_URL, timeout: float = 30.0) -> Path:
    """Download ml-100k.zip from GroupLens and verify it against the MD5 GroupLens publishes beside it."""
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / "ml-100k.zip"
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
    target.write_bytes(payload)
    return target
