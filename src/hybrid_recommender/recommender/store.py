"""Fitted recommenders saved as data and loaded without pickle: nothing the project loads can run code.

Every recommender precomputes a full ranking per (age group, gender, emotion[, stance]) group at fit time
(base.py), and ``recommend`` only filters and slices those rankings. So a fitted recommender *is* its rankings:

    <folder>/recommender.json    format + version, name, kind, age bins, groups, stances, cluster genres,
                                 the settings it was fitted with, the lookup (group -> ranking) and each
                                 ranking's explanation (JSON)
    <folder>/rankings.parquet    one row per (ranking, position): ranking, item_id, score[, source cluster]

``save_recommenders`` writes one such folder per recommender under a folder with ``recommenders.json``
(format, version, names). There are no model factors to store: the SVD factors only serve to build the
rankings. Loading reads JSON and parquet only; a pickle (or anything else) is refused with a clear error.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.recommender.base import (
    GENDERS,
    Ranking,
    Recommendation,
    Recommender,
    Viewer,
)
from hybrid_recommender.recommender.hybrid import topped_up_explanation

FORMAT = "hybrid-recommender/precomputed-rankings"
FORMAT_VERSION = 1
META_FILE = "recommender.json"
RANKINGS_FILE = "rankings.parquet"
INDEX_FILE = "recommenders.json"
SETTINGS = ("seed", "min_users", "min_ratings", "svd_params", "method", "stance", "affinity_baseline",
            "affinity_aggregation", "truncated_rank", "top_genres")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_PICKLE_PROTOCOL_BYTE = 0x80
_HOW_TO_WRITE = "run `kedro run --pipelines clustering,recommendation` to write it"


class StoredRecommender(Recommender):
    """A fitted recommender loaded from its saved rankings: ``recommend`` gives exactly what the fitted one gave.

    It holds no training data and cannot be refitted; build and fit a new recommender for that.
    """

    def __init__(self, name: str, kind: str, rankings: dict[tuple, Ranking], uses_emotion: bool = False,
                 stances: tuple[str, ...] = (), stance: str | None = None,
                 cluster_genres: dict[int, str] | None = None, settings: dict | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.name, self.kind, self.uses_emotion = name, kind, bool(uses_emotion)
        self.stances, self.stance = tuple(stances), stance
        self.cluster_genres = cluster_genres
        self.settings = dict(settings or {})
        self._rankings = rankings
        self._fitted = True

    def _fit(self, ratings, users, movies, clusters) -> None:
        raise TypeError(f"{self.name} was loaded from saved rankings and cannot be refitted; "
                        f"build a new one with build_recommenders(...) and fit that")

    def _rank(self, age_group, gender, emotion):
        raise KeyError((age_group, gender, emotion))

    def ranking(self, age_group: str, gender: str | None, emotion: str, stance: str | None = None) -> Ranking:
        if self.stances:
            stance = stance or self.stance
            if stance not in self.stances:
                raise ValueError(f"unknown affinity stance {stance!r}; expected one of {list(self.stances)}")
        elif stance is not None:
            raise ValueError(f"{self.name} has no affinity stances (only the hybrid recommenders have)")
        try:
            return self._rankings[(age_group, gender, emotion, stance)]
        except KeyError:
            raise ValueError(f"{self.name}: no saved ranking for group {(age_group, gender, emotion, stance)}; "
                             f"expected one of {list(self.age_groups)} x {[*GENDERS, None]} x "
                             f"{list(self.emotions)}") from None

    def recommend(self, viewer: Viewer, n: int = 10, stance: str | None = None) -> Recommendation:
        if int(n) < 1:
            raise ValueError(f"n must be a positive number of movies, got {n}")
        group = self.validate(viewer)
        return self._select(self.ranking(*group, stance), viewer, int(n), group)

    def _explain_picked(self, ranking: Ranking, picked: np.ndarray) -> dict[str, Any]:
        if ranking.sources is None or self.cluster_genres is None:
            return {}
        return topped_up_explanation(ranking, picked, self.cluster_genres)


# --- JSON that keeps int dict keys and tuples (explanations use both) ----------------------------------------
def _encode(value: Any, where: str = "explanation") -> Any:
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: _encode(v, f"{where}.{k}") for k, v in value.items()}
        if all(isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in value):
            return {"__int_keys__": [[int(k), _encode(v, f"{where}[{k}]")] for k, v in value.items()]}
        raise TypeError(f"{where}: dict keys must be all str or all int, got {list(value)[:5]}")
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, where) for v in value]}
    if isinstance(value, list):
        return [_encode(v, where) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"{where}: cannot store a {type(value).__name__} as JSON")


def _decode(obj: dict) -> Any:
    if obj.keys() == {"__int_keys__"}:
        return {int(k): v for k, v in obj["__int_keys__"]}
    if obj.keys() == {"__tuple__"}:
        return tuple(obj["__tuple__"])
    return obj


# --- save ----------------------------------------------------------------------------------------------------
@contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A temporary sibling folder to write into; it replaces ``path`` when complete and is removed on failure."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputDataError(f"{path}: expected a folder of saved recommenders, found a file; move it away")
    tmp, old = path.with_name(path.name + ".tmp"), path.with_name(path.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        shutil.rmtree(old, ignore_errors=True)
        if path.exists():
            path.rename(old)
        tmp.rename(path)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _groups(rec: Recommender) -> Iterator[tuple]:
    stances = tuple(getattr(rec, "stances", ()) or ())
    for age_group in rec.age_groups:
        for gender in (*GENDERS, None):
            for emotion in rec.emotions:
                for stance in stances or (None,):
                    yield age_group, gender, emotion, stance


def _write(rec: Recommender, folder: Path) -> None:
    if not getattr(rec, "_fitted", False):
        raise ValueError(f"{rec.name}: fit it before saving")
    stances = tuple(getattr(rec, "stances", ()) or ())
    rankings: list[Ranking] = []
    index: dict[int, int] = {}
    lookup = []
    for age_group, gender, emotion, stance in _groups(rec):
        ranking = (rec.ranking(age_group, gender, emotion, stance) if stances
                   else rec.ranking(age_group, gender, emotion))
        i = index.setdefault(id(ranking), len(rankings))
        if i == len(rankings):
            rankings.append(ranking)
        lookup.append([age_group, gender, emotion, stance, i])
    with_sources = [r.sources is not None for r in rankings]
    if any(with_sources) and not all(with_sources):
        raise ValueError(f"{rec.name}: either every ranking tags its items with a source or none does")
    lengths = [len(r.item_ids) for r in rankings]
    table = {"ranking": np.repeat(np.arange(len(rankings), dtype=np.int32), lengths),
             "item_id": np.concatenate([np.asarray(r.item_ids, dtype=np.int64) for r in rankings]),
             "score": np.concatenate([np.asarray(r.scores, dtype=np.float64) for r in rankings])}
    if all(with_sources):
        table["source"] = np.concatenate([np.asarray(r.sources, dtype=np.int64) for r in rankings])
    pd.DataFrame(table).to_parquet(folder / RANKINGS_FILE, index=False)
    cluster_genres = getattr(rec, "cluster_genres", None) if all(with_sources) else None
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "name": rec.name,
        "kind": getattr(rec, "kind", type(rec).__name__), "uses_emotion": bool(rec.uses_emotion),
        "age_bin_edges": list(rec.age_bin_edges), "age_groups": list(rec.age_groups), "emotions": list(rec.emotions),
        "stances": list(stances), "stance": getattr(rec, "stance", None) if stances else None,
        "cluster_genres": _encode({int(k): str(v) for k, v in cluster_genres.items()}) if cluster_genres else None,
        "settings": _encode(getattr(rec, "settings", None) or {k: getattr(rec, k) for k in SETTINGS
                                                                 if hasattr(rec, k)}, "settings"),
        "lookup_columns": ["age_group", "gender", "emotion", "stance", "ranking"],
        "lookup": lookup,
        "explanations": [_encode(r.explanation) for r in rankings],
        "rankings": {"file": RANKINGS_FILE, "count": len(rankings), "rows": int(sum(lengths))},
    }
    (folder / META_FILE).write_text(json.dumps(meta, allow_nan=False))


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"recommender name {name!r} cannot be a folder name; use letters, digits, _ . -")
    return name


def save_recommender(rec: Recommender, path: str | Path) -> None:
    """Save one fitted recommender into the folder ``path`` (replaced when complete, never left half-written)."""
    with _replacing(Path(path)) as tmp:
        _write(rec, tmp)


def save_recommenders(recs: Mapping[str, Recommender], path: str | Path) -> None:
    """Save fitted recommenders into the folder ``path``: one subfolder per name, and ``recommenders.json``."""
    with _replacing(Path(path)) as tmp:
        for name, rec in recs.items():
            (tmp / _check_name(name)).mkdir()
            _write(rec, tmp / name)
        index = {"format": FORMAT, "format_version": FORMAT_VERSION, "recommenders": list(recs)}
        (tmp / INDEX_FILE).write_text(json.dumps(index, indent=1))


# --- load ----------------------------------------------------------------------------------------------------
def _folder(path: str | Path, marker: str) -> Path:
    """``path`` as a folder holding ``marker``; a pickle or any other file is refused, never opened as code."""
    path = Path(path)
    expected = (f"expected a folder written by save_recommender{'s' if marker == INDEX_FILE else ''} "
                f"(with {marker})")
    if path.is_file():
        with open(path, "rb") as f:
            head = f.read(2)
        if path.suffix in (".pkl", ".pickle", ".pck") or (len(head) == 2 and head[0] == _PICKLE_PROTOCOL_BYTE
                                                           and 2 <= head[1] <= 5):
            raise InputDataError(f"{path}: this is a pickle file, which this project never loads (unpickling can "
                                 f"run any code); {expected}: {_HOW_TO_WRITE}")
        raise InputDataError(f"{path}: {expected}, found a file")
    if not path.is_dir():
        raise InputDataError(f"{path}: not found; {expected}: {_HOW_TO_WRITE}")
    if not (path / marker).is_file():
        other = INDEX_FILE if marker == META_FILE else META_FILE
        holds = ("several recommenders: use load_recommenders" if other == INDEX_FILE
                 else "one recommender: use load_recommender")
        hint = f"; it holds {holds}" if (path / other).is_file() else ""
        raise InputDataError(f"{path}: {expected}, but {marker} is missing{hint}")
    return path


def _read_meta(file: Path) -> dict:
    try:
        meta = json.loads(file.read_text(), object_hook=_decode)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputDataError(f"{file}: expected the JSON description of saved recommenders ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise InputDataError(f"{file}: expected format {FORMAT!r}, found {found!r}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise InputDataError(f"{file}: format version {meta.get('format_version')!r} is not the supported "
                             f"version {FORMAT_VERSION}; {_HOW_TO_WRITE} again with this version of the project")
    return meta


def load_recommender(path: str | Path) -> StoredRecommender:
    """A recommender saved by :func:`save_recommender`, read from JSON and parquet only (no pickle)."""
    folder = _folder(path, META_FILE)
    meta = _read_meta(folder / META_FILE)
    try:
        name, count = meta["name"], int(meta["rankings"]["count"])
        explanations, lookup = meta["explanations"], meta["lookup"]
        table = pd.read_parquet(folder / RANKINGS_FILE)
        ranking_ids = table["ranking"].to_numpy()
        items = table["item_id"].to_numpy(dtype=np.int64)
        scores = table["score"].to_numpy(dtype=np.float64)
        sources = table["source"].to_numpy(dtype=np.int64) if "source" in table.columns else None
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise InputDataError(f"{folder}: expected {META_FILE} with name, rankings, lookup and explanations and "
                             f"{RANKINGS_FILE} with columns ranking, item_id, score ({type(exc).__name__}: {exc})"
                             ) from exc
    if len(explanations) != count or (len(ranking_ids) and (np.any(np.diff(ranking_ids) < 0)
                                                           or ranking_ids[0] < 0 or ranking_ids[-1] >= count)):
        raise InputDataError(f"{folder / RANKINGS_FILE}: expected rankings 0..{count - 1} in order, one "
                             f"explanation each ({len(explanations)} explanations)")
    starts = np.searchsorted(ranking_ids, np.arange(count + 1))
    rankings = [Ranking(items[a:b], scores[a:b], explanations[i], None if sources is None else sources[a:b])
                for i, (a, b) in enumerate(zip(starts[:-1], starts[1:]))]
    by_group = {}
    for row in lookup:
        age_group, gender, emotion, stance, i = row
        if not 0 <= int(i) < count:
            raise InputDataError(f"{folder / META_FILE}: lookup row {row} names ranking {i} of {count}")
        by_group[(age_group, gender, emotion, stance)] = rankings[int(i)]
    cluster_genres = meta.get("cluster_genres")
    rec = StoredRecommender(
        name=name, kind=meta.get("kind", "unknown"), rankings=by_group, uses_emotion=meta.get("uses_emotion", False),
        stances=tuple(meta.get("stances") or ()), stance=meta.get("stance"),
        cluster_genres={int(k): v for k, v in cluster_genres.items()} if cluster_genres else None,
        settings=meta.get("settings"), age_bin_edges=meta["age_bin_edges"], age_groups=meta["age_groups"],
        emotions=meta["emotions"])
    missing = [g for g in _groups(rec) if g not in by_group]
    if missing:
        raise InputDataError(f"{folder / META_FILE}: no ranking for {len(missing)} groups (e.g. {missing[0]}); "
                             f"expected every (age group, gender, emotion[, stance])")
    return rec


def load_recommenders(path: str | Path) -> dict[str, StoredRecommender]:
    """Recommenders saved by :func:`save_recommenders`, by name, read without pickle."""
    folder = _folder(path, INDEX_FILE)
    index = _read_meta(folder / INDEX_FILE)
    names = index.get("recommenders")
    if not isinstance(names, list):
        raise InputDataError(f"{folder / INDEX_FILE}: expected a list of recommender names under 'recommenders'")
    recs = {}
    for name in names:
        try:
            _check_name(name)
        except ValueError as exc:
            raise InputDataError(f"{folder / INDEX_FILE}: {exc}") from None
        recs[name] = load_recommender(folder / name)
    return recs
