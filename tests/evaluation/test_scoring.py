"""Scoring on constructed and real cases: oracle vs still-face attributes, the improved hybrid, same seed, same
tables; MLflow: one parent and exactly n observation children in a temporary tracking store."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from hybrid_recommender.evaluation.observation_runs import log_evaluation
from hybrid_recommender.evaluation.scoring import (
    ATTRIBUTE_COLUMNS,
    aggregate_scores,
    estimates_ratings,
    score_observations,
)
from hybrid_recommender.pipelines.evaluation import nodes
from hybrid_recommender.recommender import DemographicSVD, GroupPopularity
from hybrid_recommender.recommender.improved import (
    ImprovedHybridRecommender,
    congruent_items,
)
from hybrid_recommender.recommender.store import load_recommenders, save_recommenders
from tests.recommendation.helpers import recommendation_params, toy_tables


def _toy_case():
    """Viewer 31, a 25-37 man: trains on dramas 1-3, liked dramas 4-6 held out. His group (men 25-37) watches
    dramas 1-8; women 25-37 watch comedies 11-18. The face predictor takes him for a woman."""
    ratings, users, movies, clusters = toy_tables()
    users = pd.concat([users, pd.DataFrame([{"user_id": 31, "age_group": "25-37", "gender": "male"}])])
    train = pd.concat([ratings, pd.DataFrame({"user_id": 31, "item_id": [1, 2, 3], "rating": 4})])
    test = pd.DataFrame({"user_id": 31, "item_id": [4, 5, 6, 15], "rating": [5, 4, 5, 2]})
    obs = pd.DataFrame([{"obs_id": 0, "user_id": 31, "age_group": "25-37", "gender": "male", "emotion": "sad",
                         "pred_age_group": "25-37", "pred_gender": "female", "pred_emotion": "happy"}])
    return train, test, users, movies, clusters, obs


def test_oracle_attributes_score_at_least_the_still_face_ones_on_a_constructed_case():
    train, test, users, movies, clusters, obs = _toy_case()
    params = recommendation_params()
    rec = GroupPopularity(min_users=5, min_ratings=20).fit(train, users, movies, clusters)
    improved = ImprovedHybridRecommender(params["affinity"], min_users=5, min_ratings=20,
                                         popularity_weight=1.0, emotion_weight=0.0).fit(train, users, movies)
    congruent = congruent_items(movies, params["affinity"], "mood_congruence")
    systems = {"group_popularity": rec, "improved_hybrid": improved}
    out = {a: score_observations(obs, systems, train, test, congruent, a, 3, 4, 3.5) for a in ("oracle", "still")}
    for attributes, table in out.items():
        assert set(table["protocol"]) == {"rated_candidates", "full_ranking"} and len(table) == 2 * 2 * 2
        assert not (set(" ".join(table["top_items"]).split()) & {"1", "2", "3"})   # never a training movie
    key = ["system", "protocol", "relevance"]
    oracle, still = (out[a].set_index(key)["hits"] for a in ("oracle", "still"))
    assert (oracle >= still).all() and oracle.sum() > still.sum()
    full = out["oracle"].set_index(key).loc[("group_popularity", "full_ranking", "liked")]
    assert (full["hits"], full["recommended"], full["relevant"]) == (3, 3, 3)        # dramas 4, 5, 6
    assert out["still"].set_index(key).loc[("group_popularity", "full_ranking", "liked"), "hits"] == 0
    # sad is congruent with Drama: every liked held-out drama is also context-relevant
    ctx = out["oracle"].set_index(key).loc[("group_popularity", "full_ranking", "context")]
    assert ctx["relevant"] == 3


def test_rated_candidates_for_every_system_the_threshold_only_for_rating_estimators(tmp_path):
    train, test, users, movies, clusters, obs = _toy_case()
    svd = DemographicSVD(min_users=5, min_ratings=20).fit(train, users, movies, clusters)
    pop = GroupPopularity(min_users=5, min_ratings=20).fit(train, users, movies, clusters)
    congruent = congruent_items(movies, recommendation_params()["affinity"], "mood_congruence")
    assert estimates_ratings(svd) and not estimates_ratings(pop)
    # as the evaluation gets them: loaded from their saved rankings, they still say what their scores are
    save_recommenders({"demographic_svd": svd, "group_popularity": pop}, tmp_path / "recs")
    stored = load_recommenders(tmp_path / "recs")
    assert estimates_ratings(stored["demographic_svd"]) and not estimates_ratings(stored["group_popularity"])
    assert set(ATTRIBUTE_COLUMNS) == {"oracle", "still", "video", "video_cnn_branch", "video_lstm_branch"}
    # 4 held-out ratings: eligible for the rated-candidates protocols with n = 3, not with n = 4
    for n, observations in ((3, 1), (4, 0)):
        scores = score_observations(obs, {"demographic_svd": svd, "group_popularity": pop}, train, test, congruent,
                                    "oracle", n, 4, 3.5)
        assert (scores["held_out"] == 4).all() and (scores["top_n"] == n).all()
        protocols = scores.groupby("system")["protocol"].agg(set)
        assert protocols["demographic_svd"] == {"rated_candidates", "rated_candidates_threshold", "full_ranking"}
        assert protocols["group_popularity"] == {"rated_candidates", "full_ranking"}
        agg = aggregate_scores(scores, 20, 0.95, 0).set_index(["system", "protocol", "relevance", "rule", "age_group"])
        rated = agg.loc[("demographic_svd", "rated_candidates_threshold", "liked", "zero", "all")]
        assert (rated["observations"], rated["excluded_observations"]) == (observations, 1 - observations)
        assert rated["subset"] == f"held-out ratings > {n}"
        assert agg.loc[("group_popularity", "full_ranking", "liked", "zero", "25-37"), "subset"] == "all"
    # n = 3, no threshold: the top 3 of the held-out 4, 5, 6, 15 by the system's own order; the movies it does
    # not rank come last
    scores = score_observations(obs, {"group_popularity": pop}, train, test, congruent, "oracle", 3, 4, 3.5)
    rated = scores[(scores["protocol"] == "rated_candidates") & (scores["relevance"] == "liked")].iloc[0]
    assert (rated["hits"], rated["recommended"], rated["relevant"]) == (3, 3, 3)


def test_improved_hybrid_emotion_is_soft_and_neutral_means_no_preference():
    train, _, users, movies, clusters, _ = _toy_case()
    params = recommendation_params()
    rec = ImprovedHybridRecommender(params["affinity"], min_users=5, min_ratings=20, popularity_weight=0.5,
                                    emotion_weight=0.5).fit(train, users, movies)
    happy = rec.ranking("25-37", "female", "happy")
    neutral = rec.ranking("25-37", "female", "neutral")
    assert neutral.explanation["weights"]["emotion_weight"] == 0.0
    assert happy.explanation["weights"]["emotion_weight"] == 0.5
    assert set(happy.item_ids) == set(movies["item_id"])               # no cluster filter: every movie ranked
    def rank_of(ranking, item):
        return list(ranking.item_ids).index(item)

    sad = rec.ranking("25-37", "female", "sad")
    # nobody in the group watched drama 5 or comedy 19: sadness lifts the drama, happiness the comedy
    assert rank_of(sad, 5) < rank_of(sad, 19) and rank_of(happy, 19) < rank_of(happy, 5)
    rec.set_weights(10, 1.0, 0.0)
    top = rec.ranking("25-37", "female", "sad").item_ids[:11]
    assert set(top) == {1, 2, 3, *range(11, 19)}                      # popularity alone: what the 12 women watched
    with pytest.raises(ValueError, match="popularity_weight"):
        rec.set_weights(10, 1.5, 0.0)


@pytest.mark.real_data
def test_same_seed_gives_identical_tables_and_improved_weights_come_from_validation(split, systems, params,
                                                                                     rec_params, age_bins):
    train, test, users, movies = split
    viewers = nodes.evaluation_viewers(users, test, params)
    weights, grid = nodes.improved_hybrid_weights(train, users, movies, params, rec_params, age_bins)
    assert len(grid) == 4 and set(weights) == {"shrinkage", "popularity_weight", "emotion_weight"}
    assert grid["validation_users"].iloc[0] > 900
    assert weights == nodes.improved_hybrid_weights(train, users, movies, params, rec_params, age_bins)[0]
    # more validation users than max_validation_users: a seeded sample of that many scores the grid
    capped = {**params, "improved_hybrid": {**params["improved_hybrid"], "max_validation_users": 100}}
    sampled = nodes.improved_hybrid_weights(train, users, movies, capped, rec_params, age_bins)[1]
    assert (sampled["validation_users"] == 100).all() and not sampled["f1.liked.full_ranking"].equals(
        grid["f1.liked.full_ranking"])
    pd.testing.assert_frame_equal(sampled, nodes.improved_hybrid_weights(train, users, movies, capped, rec_params,
                                                                         age_bins)[1])
    every = nodes.evaluated_systems(systems, train, users, movies, weights, params, rec_params, age_bins)
    assert set(every) == {*systems, "improved_hybrid"}
    first = nodes.oracle_scores(viewers, every, train, test, movies, params, rec_params)
    table, md = nodes.prf_by_age_group_oracle(first, params, rec_params)
    again = nodes.prf_by_age_group_oracle(nodes.oracle_scores(viewers, every, train, test, movies, params,
                                                              rec_params), params, rec_params)[0]
    pd.testing.assert_frame_equal(table, again)
    assert len(first) == len(viewers) * 2 * sum(2 + estimates_ratings(rec) for rec in every.values())
    assert set(table["age_group"]) == {*params["age_groups"], "all"} and set(table["rule"]) == {"zero", "one"}
    held = table[table["observations"] > 0]       # rated candidates: a group may have no viewer with > N held out
    assert (held["precision_low"] <= held["precision"]).all() and (held["precision"] <= held["precision_high"]).all()
    proposed = table[(table["role"] == "proposed") & (table["age_group"] == "25-37")]
    assert proposed["paper_precision"].eq(0.873).all() and "0.873 (" in md
    # undefined rule 'one' can only raise precision and recall
    zero, one = (held[held["rule"] == r].reset_index(drop=True) for r in ("zero", "one"))
    assert (one["precision"] >= zero["precision"] - 1e-12).all() and (one["recall"] >= zero["recall"] - 1e-12).all()


def test_mlflow_parent_with_exactly_n_children_in_a_temporary_store(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.create_experiment("eval_test", artifact_location=(tmp_path / "mlruns").as_uri())   # not ./mlruns
    train, test, users, movies, clusters, obs = _toy_case()
    obs = pd.concat([obs.assign(obs_id=i) for i in range(5)], ignore_index=True)
    obs = obs.assign(age_face_id="utkface/x.jpg", emotion_face_id="fer2013/y.jpg", attributes_right=False)
    rec = GroupPopularity(min_users=5, min_ratings=20).fit(train, users, movies, clusters)
    congruent = congruent_items(movies, recommendation_params()["affinity"], "mood_congruence")
    scores = pd.concat([score_observations(obs, {"group_popularity": rec}, train, test, congruent, a, 3, 4, 3.5)
                        for a in ("oracle", "still")])
    agg = aggregate_scores(scores, 50, 0.95, 0)
    try:
        out = log_evaluation(obs, scores, {"overall": 0.5}, {"n_observations": 5}, {"table.csv": agg,
                             "report.md": "# report"}, "group_popularity", "eval_test", "evaluation")
        again = log_evaluation(obs, scores, {"overall": 0.5}, {"n_observations": 5}, {}, "group_popularity",
                               "eval_test", "evaluation")
    finally:
        mlflow.set_tracking_uri(None)
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert out["child_runs"] == 5 and again["parent_run_id"] != out["parent_run_id"]
    # the experiment's first page holds the parents people compare; the observations have their own experiment
    assert len(client.search_runs([out["experiment_id"]], max_results=100)) == 2
    children = client.search_runs([out["observations_experiment_id"]],
                                  f"tags.`evaluation.parent_run_id` = '{out['parent_run_id']}'", max_results=100)
    assert len(children) == 5
    child = children[0]
    assert {"user_id", "gender", "pred_gender", "emotion", "pred_emotion", "age_face_id", "emotion_face_id",
            "oracle.fallback", "still.group_used"} <= set(child.data.params)
    assert child.data.params["pred_gender"] == "female"
    for name in ("group_popularity.oracle.liked.full_ranking.precision_zero",
                 "group_popularity.still.context.rated_candidates.f1_one",
                 "group_popularity.oracle.liked.full_ranking.hits"):
        assert name in child.data.metrics
    assert child.data.metrics["group_popularity.oracle.liked.full_ranking.hits"] == 3
    assert child.data.metrics["attributes_right"] == 0.0
    parent = client.get_run(out["parent_run_id"])
    assert parent.data.metrics["overall"] == 0.5 and parent.data.params["n_observations"] == "5"
    assert {a.path for a in client.list_artifacts(out["parent_run_id"])} == {"table.csv", "report.md"}
