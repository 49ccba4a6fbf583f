"""Loading what inference needs from files, each behind one function.

The recommender is loaded only through :func:`load_recommender`, which uses the pickle-free store
(``hybrid_recommender.recommender.store``, from the reliability issue); this module never unpickles anything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from safetensors import SafetensorError

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.face_models.predictor import (
    WEIGHTS_FILE,
    FaceAttributePredictor,
)
from hybrid_recommender.inference.core import Resources
from hybrid_recommender.inference.settings import ResourcePaths
from hybrid_recommender.labels import GENRES
from hybrid_recommender.recommender.store import load_recommender as load_from_store


def load_recommender(path: str | Path):
    """The fitted recommender saved at ``path`` by the pickle-free recommender store."""
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"{path}: no fitted recommender here (run `kedro run --pipelines recommendation` first, "
                             f"or pass --recommender)")
    return load_from_store(path)


def load_predictor(path: str | Path):
    """The face attribute predictor folder and its model card ({} for predictors saved before model cards)."""
    path = Path(path)
    if not (path / "config.json").is_file() or not (path / WEIGHTS_FILE).is_file():
        raise InputDataError(f"{path}: no face attribute predictor here (expected config.json and "
                             f"{WEIGHTS_FILE}; run `kedro run --pipelines face_models` first, or pass --predictor)")
    try:
        predictor = FaceAttributePredictor.load(path)
    except SafetensorError as exc:
        raise InputDataError(f"{path / WEIGHTS_FILE}: damaged ({exc}); not a complete safetensors file. Copy it "
                             f"again or rebuild it (`kedro run --pipelines face_models`)") from None
    return predictor, dict(predictor.model_card)


def load_cold_start(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"{path}: no cold-start lists here (run `kedro run --pipelines inference` once to write "
                             f"them, or pass --cold-start)")
    lists = json.loads(path.read_text())
    if not {"everyone", "by_group"} <= set(lists):
        raise InputDataError(f"{path}: expected a JSON object with 'everyone' and 'by_group' lists")
    return lists


def load_titles(path: str | Path) -> dict[int, str]:
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"{path}: no MovieLens movies table here (run `kedro run --pipelines data_engineering`)")
    movies = pd.read_parquet(path, columns=["item_id", "title"])
    return dict(zip(movies["item_id"].astype(int), movies["title"].astype(str)))


def load_movie_details(path: str | Path) -> dict[int, dict]:
    """item id -> {"year": release year or None, "genres": [MovieLens genre flags set]}, for front ends."""
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"{path}: no MovieLens movies table here (run `kedro run --pipelines data_engineering`)")
    movies = pd.read_parquet(path, columns=["item_id", "release_date", *GENRES])
    years = pd.to_datetime(movies["release_date"]).dt.year
    flags = movies[list(GENRES)].to_numpy(dtype=bool)
    return {int(item): {"year": None if pd.isna(year) else int(year),
                        "genres": [g for g, on in zip(GENRES, row) if on and g != "unknown"]}
            for item, year, row in zip(movies["item_id"], years, flags)}


def load_resources(paths: ResourcePaths | Mapping[str, str] | None = None, root: Path | None = None) -> Resources:
    """Resources from the paths in ``parameters_inference.yml`` (``inference.resources``; a mapping names those
    that differ), relative to ``root``."""
    paths = paths if isinstance(paths, ResourcePaths) else ResourcePaths.model_validate(dict(paths or {}))
    root = Path(root) if root else Path.cwd()

    def at(p: str) -> Path:
        return Path(p) if Path(p).is_absolute() else root / p

    predictor, card = load_predictor(at(paths.predictor))
    return Resources(predictor, load_recommender(at(paths.recommender)), load_cold_start(at(paths.cold_start)),
                     load_titles(at(paths.movies)), card, load_movie_details(at(paths.movies)))
