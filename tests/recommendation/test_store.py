"""Fitted recommenders saved as data and loaded without pickle: a planted pickle never runs."""

from __future__ import annotations

import json
import pickle

import pytest
import yaml
from kedro.io import DataCatalog, DatasetError

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.paths import PROJECT_ROOT
from hybrid_recommender.recommender import (
    GlobalSVD,
    GroupPopularity,
    HybridRecommender,
    StoredRecommender,
    Viewer,
    load_recommender,
    load_recommenders,
    save_recommender,
    save_recommenders,
)
from hybrid_recommender.recommender.store import FORMAT_VERSION, META_FILE

from .helpers import recommendation_params, toy_tables

PARAMS = recommendation_params()


class Payload:
    """Unpickling this creates the file ``marker``: the stand-in for code a planted model would run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


@pytest.fixture(scope="module")
def fitted():
    ratings, users, movies, clusters = toy_tables()
    common = {"min_users": 5, "min_ratings": 20, "seed": 1}
    recs = {"hybrid_surprise_svd": HybridRecommender(PARAMS["affinity"], **common),
            "group_popularity": GroupPopularity(**common), "global_svd": GlobalSVD(seed=1)}
    return {name: rec.fit(ratings, users, movies, clusters) for name, rec in recs.items()}


def catalog_entry(name: str, filepath) -> DataCatalog:
    """The project's catalog entry for ``name``, pointed at ``filepath``."""
    config = yaml.safe_load((PROJECT_ROOT / "conf" / "base" / "catalog_recommendation.yml").read_text())[name]
    return DataCatalog.from_config({name: {**config, "filepath": str(filepath)}})


@pytest.mark.parametrize("name", ["recommenders", "hybrid_recommender"])
def test_a_planted_pickle_is_refused_and_never_runs(tmp_path, name):
    marker = tmp_path / "payload-ran"
    planted = tmp_path / "06_models" / name
    planted.parent.mkdir()
    planted.write_bytes(pickle.dumps(Payload(marker)))          # where the catalog reads the model from
    old_name = tmp_path / f"{name}.pkl"
    old_name.write_bytes(pickle.dumps(Payload(marker)))         # the old pickle file name
    with pytest.raises(DatasetError, match="this is a pickle file, which this project never loads"):
        catalog_entry(name, planted).load(name)
    for path in (planted, old_name):
        with pytest.raises(InputDataError, match=f"{path}: this is a pickle file"):
            load_recommenders(path)
        with pytest.raises(InputDataError, match=f"{path}: this is a pickle file"):
            load_recommender(path)
    assert not marker.exists()


def test_a_pickle_disguised_as_the_rankings_is_refused(tmp_path, fitted):
    marker = tmp_path / "payload-ran"
    save_recommender(fitted["group_popularity"], tmp_path / "rec")
    (tmp_path / "rec" / "rankings.parquet").write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(InputDataError, match="rankings.parquet with columns ranking, item_id, score"):
        load_recommender(tmp_path / "rec")
    assert not marker.exists()


def test_the_catalog_saves_and_loads_recommenders_as_data(tmp_path, fitted):
    catalog = catalog_entry("recommenders", tmp_path / "recommenders")
    assert not catalog.exists("recommenders")
    catalog.save("recommenders", fitted)
    assert catalog.exists("recommenders")
    loaded = catalog.load("recommenders")
    assert list(loaded) == list(fitted) and all(isinstance(r, StoredRecommender) for r in loaded.values())
    assert sorted(p.name for p in (tmp_path / "recommenders" / "global_svd").iterdir()) == [
        "rankings.parquet", "recommender.json"]
    for name, rec in fitted.items():
        for viewer in (Viewer("25-37", "male", "happy", rated_item_ids={1, 3, 4, 5, 6}), Viewer("8-14", None, "sad")):
            assert loaded[name].recommend(viewer, 8) == rec.recommend(viewer, 8)
    one = catalog_entry("hybrid_recommender", tmp_path / "hybrid")
    one.save("hybrid_recommender", loaded["hybrid_surprise_svd"])          # a loaded one saves the same data
    again = one.load("hybrid_recommender")
    viewer = Viewer(age=30, gender="female", emotion="sad")
    assert again.recommend(viewer, 5, stance="mood_repair") == fitted["hybrid_surprise_svd"].recommend(
        viewer, 5, stance="mood_repair")
    assert again.settings["method"] == "surprise_svd" and again.kind == "HybridRecommender"


def test_loaded_recommenders_keep_the_errors_of_the_fitted_ones(tmp_path, fitted):
    save_recommenders(fitted, tmp_path / "recs")
    loaded = load_recommenders(tmp_path / "recs")
    hybrid, popular = loaded["hybrid_surprise_svd"], loaded["group_popularity"]
    for rec in (hybrid, fitted["hybrid_surprise_svd"]):
        with pytest.raises(ValueError, match="unknown emotion 'joy'"):
            rec.recommend(Viewer("25-37", "male", "joy"))
        with pytest.raises(ValueError, match="unknown affinity stance 'mood_swing'"):
            rec.recommend(Viewer("25-37", "male", "happy"), stance="mood_swing")
        with pytest.raises(ValueError, match="no movie left"):
            rec.recommend(Viewer("25-37", "male", "neutral", rated_item_ids=range(1, 21)))
    with pytest.raises(ValueError, match="no affinity stances"):
        popular.recommend(Viewer("25-37", "male", "happy"), stance="mood_repair")
    with pytest.raises(TypeError, match="cannot be refitted"):
        popular.fit(*toy_tables()[:3])


def test_save_replaces_a_folder_whole_and_a_failed_save_keeps_the_old_one(tmp_path, fitted):
    target = tmp_path / "hybrid"
    save_recommender(fitted["group_popularity"], target)
    save_recommender(fitted["hybrid_surprise_svd"], target)
    assert load_recommender(target).name == "hybrid_surprise_svd"
    with pytest.raises(ValueError, match="fit it before saving"):
        save_recommender(GlobalSVD(), target)
    assert load_recommender(target).name == "hybrid_surprise_svd"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hybrid"]          # no .tmp / .old left behind


def test_wrong_folders_and_versions_are_named(tmp_path, fitted):
    save_recommenders(fitted, tmp_path / "recs")
    with pytest.raises(InputDataError, match="holds several recommenders: use load_recommenders"):
        load_recommender(tmp_path / "recs")
    with pytest.raises(InputDataError, match="holds one recommender: use load_recommender"):
        load_recommenders(tmp_path / "recs" / "global_svd")
    with pytest.raises(InputDataError, match=f"{tmp_path / 'nowhere'}: not found"):
        load_recommender(tmp_path / "nowhere")
    meta_file = tmp_path / "recs" / "global_svd" / META_FILE
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**meta, "format_version": FORMAT_VERSION + 1}))
    with pytest.raises(InputDataError, match=f"format version {FORMAT_VERSION + 1} is not the supported version"):
        load_recommenders(tmp_path / "recs")
    meta_file.write_text(json.dumps({**meta, "lookup": meta["lookup"][:-1]}))
    with pytest.raises(InputDataError, match="no ranking for 1 groups"):
        load_recommender(tmp_path / "recs" / "global_svd")
