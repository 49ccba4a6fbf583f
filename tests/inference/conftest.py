"""A small face predictor trained on real faces (a few steps: the tests check wiring, not accuracy), a hybrid
recommender fitted on real MovieLens 100K, and the files the command reads."""

from __future__ import annotations

import pytest

from tests.conftest import require_shared
from tests.face_models.conftest import SMALL, fer_small, utk_small  # noqa: F401 - fixtures reused here
from tests.predictor_factory import FRAMING, tiny_predictor  # noqa: F401 - FRAMING is imported from here by tests
from tests.recommendation.helpers import recommendation_params


@pytest.fixture(scope="session")
def predictor_dir(tmp_path_factory, fer_small, utk_small):
    """A face_vgg_xs frame CNN trained for 4 steps on small real FER2013 + UTKFace subsets, saved as a predictor."""
    from hybrid_recommender.face_models import make_heads
    from hybrid_recommender.face_models.data import face_set
    from hybrid_recommender.face_models.preprocessing import Preprocessing
    from hybrid_recommender.face_models.training import train_frame_cnn
    from hybrid_recommender.labels import DEFAULT_AGE_GROUPS
    from hybrid_recommender.mlflow_runs import ChildRun
    from tests.face_models.conftest import face_model_params

    smoke = face_model_params("smoke")
    cfg = {**smoke["frame_cnn"], **smoke["hardware"], "max_steps": 4, "batch_size": 32, "progress_bar": False,
           "limit_val_batches": 1, "accelerator": "cpu", "precision": "32-true"}
    heads = make_heads(DEFAULT_AGE_GROUPS)
    prep = Preprocessing(**SMALL)
    train = [face_set(name, *faces, prep, heads, ["train"]) for name, faces in (("fer2013", fer_small),
                                                                                ("utkface", utk_small))]
    val = [face_set(name, *faces, prep, heads, ["val"]) for name, faces in (("fer2013", fer_small),
                                                                            ("utkface", utk_small))]
    work = tmp_path_factory.mktemp("predictor")
    net, _ = train_frame_cnn("face_vgg_xs", heads, train, val, prep, cfg, ChildRun(None), work / "work", seed=3)
    return tiny_predictor(networks={"face_vgg_xs": net}, preprocessing=prep).save(work / "face_attribute_predictor")


@pytest.fixture(scope="session")
def hybrid(movielens):
    from hybrid_recommender.recommender import build_recommenders
    from hybrid_recommender.recommender.clustering import cluster_movies
    from hybrid_recommender.recommender.ranking_metrics import split_ratings

    ratings, users, movies = movielens
    params = recommendation_params()
    train, _ = split_ratings(ratings, params["split"]["test_fraction"], params["seed"])
    clusters = cluster_movies(movies, 11, seed=42, n_init=3)
    rec = build_recommenders(params, params["affinity"])["hybrid_surprise_svd"]
    return rec.fit(train, users, movies, clusters, precompute=False), train


@pytest.fixture(scope="session")
def resource_files(tmp_path_factory, predictor_dir, hybrid, movielens):
    """The files `recommend` reads (the recommender itself is handed over through load_recommender)."""
    import json

    from hybrid_recommender.inference.coldstart import cold_start_lists

    _, users, movies = movielens
    folder = tmp_path_factory.mktemp("resources")
    (folder / "cold_start.json").write_text(json.dumps(cold_start_lists(hybrid[1], users, movies, 10)))
    movies.to_parquet(folder / "movies.parquet")
    return {"predictor": str(predictor_dir), "recommender": str(folder / "recommender"),
            "cold_start": str(folder / "cold_start.json"), "movies": str(folder / "movies.parquet")}


@pytest.fixture()
def resources(resource_files, hybrid, monkeypatch):
    """Resources loaded as the command loads them; load_recommender (the pickle-free store's seam) hands over the
    recommender fitted above."""
    from hybrid_recommender.inference import resources as res

    monkeypatch.setattr(res, "load_recommender", lambda path: hybrid[0])
    return res.load_resources(resource_files)


@pytest.fixture(scope="session")
def faces(shared_datasets):
    from tests.inference.clips import real_faces

    return real_faces(require_shared("utkface_crop_part1.tar.gz") / "utkface_crop_part1.tar.gz", 6)


