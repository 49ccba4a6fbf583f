"""The spark engine (`recommendation.engine: spark`): one PySpark ALS in local mode on the real MovieLens 100K.

ALS's RMSE on the project's held-out split is within 0.03 of Surprise SVD's; the hybrid fitted with either engine
favours the same cluster for every group; Kedro starts a Spark session (SparkHooks, conf/base/spark.yml) for the
spark engine only. One Spark session serves the module's fitting tests; the Kedro runs go to a project copy.
"""

from __future__ import annotations

import json
import shutil
import sys
import time

import numpy as np
import pandas as pd
import pytest

from hybrid_recommender.labels import DEFAULT_AGE_GROUPS, EMOTIONS
from hybrid_recommender.parameters import ParameterError, validated
from hybrid_recommender.recommender import Viewer, build_recommenders
from hybrid_recommender.recommender.spark_als import ALS_DEFAULTS, INSTALL_HINT, ALSFactors
from hybrid_recommender.recommender.svd import fit_surprise_svd

from .helpers import real_split, recommendation_params

pytestmark = [pytest.mark.real_data, pytest.mark.slow]

N = 10
GROUPS = [(a, g, e) for a in DEFAULT_AGE_GROUPS for g in ("male", "female", None) for e in EMOTIONS]
RMSE_TOLERANCE = 0.03


def _needs_spark():
    pytest.importorskip("pyspark", reason=f"PySpark not installed ({INSTALL_HINT})")
    if shutil.which("java") is None:
        pytest.skip("no Java on the PATH (Spark needs Java 17 or 21)")


# --- no Spark needed ------------------------------------------------------------------------------------------
def test_engine_and_als_settings_are_checked_and_their_code_defaults_are_the_yaml():
    params = recommendation_params()
    assert params["engine"] == "surprise"                         # the Surprise path is the default
    assert ALS_DEFAULTS == params["als"]
    with pytest.raises(ParameterError, match=r"recommendation.engine='dask': should be 'surprise' or 'spark'"):
        validated("recommendation", {**params, "engine": "dask"})
    with pytest.raises(ParameterError, match=r"recommendation.als.rank=0: should be greater than 0"):
        validated("recommendation", {**params, "als": {**params["als"], "rank": 0}})


def test_without_pyspark_the_spark_engine_says_how_to_install_it(monkeypatch):
    params = recommendation_params()
    monkeypatch.setitem(sys.modules, "pyspark", None)             # `import pyspark` raises ImportError
    with pytest.raises(ImportError, match=r"pip install -e '\.\[spark\]'"):
        build_recommenders({**params, "engine": "spark"}, params["affinity"])
    assert "hybrid_surprise_svd" in build_recommenders(params, params["affinity"])   # surprise needs no Spark


@pytest.mark.parametrize("biased", [True, False])
def test_group_means_of_als_predictions_are_chunked_and_equal_the_dense_mean(biased):
    rng = np.random.default_rng(0)
    users, items = np.array([2, 5, 7, 9]), np.array([10, 20, 30])
    u, v = rng.normal(0.8, 0.6, (4, 3)), rng.normal(0.8, 0.6, (3, 3))
    if biased:       # ALS of the baseline's residuals: unseen ids fall back to the baseline
        ub, ib = np.array([0.3, -0.2, 0.1, 0.6]), np.array([-0.1, 0.4, 0.2])
        factors = ALSFactors(users, u, items, v, global_mean=3.3, offset=3.3, user_bias=ub, item_bias=ib)
        known = 3.3 + ub[3] + ib[2] + u[3] @ v[2]
        fallbacks = (3.3 + ub[0], 3.3 + ib[2], 3.3)
    else:            # plain ALS of the ratings: unseen ids fall back to the means
        factors = ALSFactors(users, u, items, v, global_mean=3.3, user_fallback=np.array([3.0, 4.0, 2.0, 4.5]),
                             item_fallback=np.array([3.5, 2.5, 4.0]))
        known, fallbacks = u[3] @ v[2], (3.0, 4.0, 3.3)
    asked_users, asked_items = np.array([9, 2, 5, 7, 100]), np.array([30, 10, 99, 20])   # 100, 99: never seen
    pairs_u, pairs_i = np.repeat(asked_users, len(asked_items)), np.tile(asked_items, len(asked_users))
    dense = factors.predict(pairs_u, pairs_i).reshape(len(asked_users), len(asked_items))
    assert dense[0, 0] == pytest.approx(np.clip(known, 1, 5))                   # user 9, movie 30
    assert (dense[1, 2], dense[4, 0], dense[4, 2]) == pytest.approx(fallbacks)  # unseen movie, user, both
    assert dense.min() >= 1 and dense.max() <= 5
    for chunk in (1, 5, 1 << 22):                                   # one user per chunk, a few, all at once
        np.testing.assert_allclose(factors.mean_predictions(asked_users, asked_items, chunk), dense.mean(axis=0))


# --- through Kedro: the hook starts Spark for the spark engine only -------------------------------------------
@pytest.fixture(scope="module")
def real(movielens):
    return real_split(movielens)


@pytest.fixture(scope="module")
def kedro_project(tmp_path_factory, real):
    """A project copy whose catalog holds the recommendation pipeline's inputs; runs in this process."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    from tests.conftest import ProjectCopy

    project = ProjectCopy.create(tmp_path_factory.mktemp("spark_engine") / "project")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("hybrid_recommender.config_resolvers.PROJECT_ROOT", project.root)   # mlflow.db in the copy
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{project / 'mlflow.db'}")
        mp.chdir(project.root)                                   # MLflow's relative ./mlruns too
        bootstrap_project(project.root)
        with KedroSession.create(project_path=project.root, env="fast") as session:
            catalog = session.load_context().catalog
            inputs = {"ratings_train": real["train"], "movielens_users": real["users"],
                      "movielens_movies": real["movies"], "movie_clusters": real["clusters"]}
            for name, value in inputs.items():
                catalog.save(name, value)
    yield project
    _forget_tracking()


def _forget_tracking() -> None:
    """kedro-mlflow points this process's MLflow at the copy's store: point it back (other tests use the default)."""
    if "mlflow" in sys.modules:
        import mlflow

        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(None)


def _run(project, monkeypatch, engine: str | None, nodes: list[str]) -> list:
    """Run ``nodes`` of the default pipeline in the copy (with ``engine``); the sessions SparkHooks started."""
    from kedro.framework.session import KedroSession

    from hybrid_recommender.hooks import SparkHooks

    started = []
    original = SparkHooks.start_session

    def spy(self, conf):
        session = original(self, conf)
        started.append({"master": session.sparkContext.master, "conf": dict(conf),
                        "shuffle_partitions": session.conf.get("spark.sql.shuffle.partitions")})
        return session

    monkeypatch.setattr(SparkHooks, "start_session", spy)
    monkeypatch.setattr("hybrid_recommender.config_resolvers.PROJECT_ROOT", project.root)
    # Every MLflow path inside the copy, whatever an earlier test left in this process (an active run, the global
    # tracking URI): the store named explicitly, and relative paths (MLflow's ./mlruns) resolved in the copy.
    _forget_tracking()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{project / 'mlflow.db'}")
    monkeypatch.chdir(project.root)
    runtime = {"recommendation": {"engine": engine}} if engine else None
    try:
        with KedroSession.create(project_path=project.root, env="fast", runtime_params=runtime) as session:
            session.run(node_names=nodes)
    finally:
        _forget_tracking()
    return started


@pytest.mark.kedro_run
def test_a_surprise_run_starts_no_spark_session(kedro_project, monkeypatch):
    pyspark_loaded = "pyspark" in sys.modules
    if not pyspark_loaded:
        started = _run(kedro_project, monkeypatch, None, ["tabulate_emotion_genre_affinity"])
        assert started == [] and "pyspark" not in sys.modules     # the surprise path does not even import it
        return
    from pyspark import SparkContext

    jvm_before, context_before = SparkContext._gateway, SparkContext._active_spark_context
    started = _run(kedro_project, monkeypatch, None, ["tabulate_emotion_genre_affinity"])
    assert started == []
    assert SparkContext._active_spark_context is context_before and SparkContext._gateway is jvm_before


@pytest.mark.kedro_run
def test_a_spark_run_through_kedro_fits_als_in_the_hooks_session_and_stops_it(kedro_project, monkeypatch):
    _needs_spark()
    from pyspark.sql import SparkSession

    running_before = SparkSession.getActiveSession()
    started = _run(kedro_project, monkeypatch, "spark",
                   ["fit_recommenders", "select_hybrid_recommender", "list_group_recommendations"])
    assert len(started) == 1                                      # conf/base/spark.yml
    assert started[0]["conf"]["spark.master"] == "local[*]"
    if running_before is None:
        assert started[0]["master"] == "local[*]" and started[0]["shuffle_partitions"] == "4"
        assert SparkSession.getActiveSession() is None            # stopped after the run
    lists = pd.read_parquet(kedro_project / "data/07_model_output/group_recommendations.parquet")
    explanations = lists.drop_duplicates(["stance", "age_group", "gender", "emotion"])["explanation"].map(json.loads)
    assert len(explanations) == 2 * len(DEFAULT_AGE_GROUPS) * 2 * len(EMOTIONS)
    assert {e["engine"] for e in explanations} == {"spark"} and {e["method"] for e in explanations} == {"surprise_svd"}
    saved = json.loads((kedro_project / "data/06_models/recommenders/demographic_svd/recommender.json").read_text())
    assert "spark" in json.dumps(saved)
    params = kedro_project.mlflow_runs()[-1].data.params           # kedro-mlflow logs the flattened parameters
    assert params["recommendation.engine"] == "spark" and params["recommendation.als.rank"] == "10"


# --- the engines compared on the project's split (one Spark session for the module) ---------------------------
@pytest.fixture(scope="module")
def spark():
    """The session SparkHooks starts from conf/base/spark.yml (module-scoped: created after the Kedro runs above,
    which check that no session is running before theirs)."""
    _needs_spark()
    from kedro.config import OmegaConfigLoader

    from hybrid_recommender.config_loader import CONFIG_LOADER_ARGS
    from hybrid_recommender.hooks import SparkHooks
    from hybrid_recommender.paths import PROJECT_ROOT

    args = {k: v for k, v in CONFIG_LOADER_ARGS.items() if k != "default_run_env"}
    hook = SparkHooks()
    session = hook.start_session(OmegaConfigLoader(str(PROJECT_ROOT / "conf"), env="local", **args)["spark"])
    yield session
    hook.stop_session()


@pytest.fixture(scope="module")
def fitted(real, spark):
    """The rating-model recommenders under each engine; the spark ones share one ALS fit."""
    params = real["params"]
    args = (real["train"], real["users"], real["movies"], real["clusters"])
    names = ("hybrid_surprise_svd", "demographic_svd", "global_svd")
    out = {}
    for engine in ("spark", "surprise"):
        recs = build_recommenders({**params, "engine": engine}, params["affinity"], spark=spark)
        start = time.perf_counter()
        out[engine] = {name: recs[name].fit(*args) for name in names}
        print(f"\n{engine}: {', '.join(names)} fitted and precomputed in {time.perf_counter() - start:.1f} s")
    return out


def test_als_rmse_on_the_held_out_split_is_within_003_of_surprise_svd(real, fitted):
    train, test = real["train"], real["test"]
    als = fitted["spark"]["hybrid_surprise_svd"].als
    factors = als.factors(train)                                    # already fitted: the same table
    assert als.fits == 1                                            # one ALS for the hybrid and both baselines
    algo, _ = fit_surprise_svd(train, real["params"]["svd"], real["params"]["seed"])
    surprise = np.array([algo.predict(u, i).est for u, i in zip(test["user_id"], test["item_id"])])
    truth = test["rating"].to_numpy(dtype=np.float64)
    rmse_surprise = float(np.sqrt(np.mean((surprise - truth) ** 2)))
    rmse_als = float(np.sqrt(np.mean((factors.predict(test["user_id"], test["item_id"]) - truth) ** 2)))
    print(f"\nRMSE on the held-out split ({len(test)} ratings): Surprise SVD {rmse_surprise:.4f}, "
          f"Spark ALS {rmse_als:.4f} (rank {factors.rank}, {factors.params['max_iter']} iterations, "
          f"reg {factors.params['reg_param']})")
    assert abs(rmse_als - rmse_surprise) <= RMSE_TOLERANCE
    assert 0.85 < rmse_als < 1.0


def test_both_engines_favour_the_same_cluster_and_list_it_first_for_every_group(real, fitted):
    spark_rec, surprise_rec = fitted["spark"]["hybrid_surprise_svd"], fitted["surprise"]["hybrid_surprise_svd"]
    cluster_of = real["clusters"].set_index("item_id")["cluster"]
    for stance in spark_rec.stances:
        for age_group, gender, emotion in GROUPS:
            viewer = Viewer(age_group, gender, emotion)
            got = spark_rec.recommend(viewer, N, stance=stance)
            expected = surprise_rec.recommend(viewer, N, stance=stance)
            favoured = got.explanation["favoured_cluster"]
            assert favoured == expected.explanation["favoured_cluster"], (stance, age_group, gender, emotion)
            assert got.explanation["engine"] == "spark" and expected.explanation["engine"] == "surprise"
            assert len(got.item_ids) == N == len(set(got.item_ids))
            assert set(cluster_of.loc[got.item_ids]) == {favoured}
            ranking = spark_rec.ranking(age_group, gender, emotion, stance)
            size = int((cluster_of == favoured).sum())
            assert (ranking.sources[:size] == favoured).all() and (ranking.sources[size:] != favoured).all()
            assert np.all(np.diff(ranking.scores[:size]) <= 1e-12)        # by decreasing ALS group score
    for name in ("demographic_svd", "global_svd"):
        got = fitted["spark"][name].recommend(Viewer("25-37", "female", "sad"), N)
        assert len(got.item_ids) == N and got.explanation["engine"] == "spark"
