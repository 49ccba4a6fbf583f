"""The paper's algorithm and the baselines on small constructed tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hybrid_recommender.recommender import (
    DemographicSVD,
    GlobalSVD,
    GroupPopularity,
    HybridRecommender,
    RandomRecommender,
    Viewer,
    favoured_cluster,
)
from hybrid_recommender.recommender.affinity import (
    affinity_matrix,
    movie_affinity,
    selection_weights,
)
from hybrid_recommender.recommender.ranking_metrics import split_ratings
from hybrid_recommender.recommender.svd import (
    fit_surprise_svd,
    surprise_group_scores,
    surprise_mean_predictions,
    truncated_svd_group_scores,
)

from .helpers import recommendation_params, toy_tables

PARAMS = recommendation_params()


def hybrid(**kw) -> HybridRecommender:
    ratings, users, movies, clusters = toy_tables()
    args = {"min_users": 5, "min_ratings": 20, "seed": 1, **kw}
    return HybridRecommender(PARAMS["affinity"], **args).fit(ratings, users, movies, clusters)


def test_favoured_cluster_of_the_papers_example():
    cluster, counts = favoured_cluster([1, 1, 1, 2, 3, 3, 4, 1, 1])
    assert cluster == 1
    assert counts.to_dict() == {1: 5.0, 3: 2.0, 2: 1.0, 4: 1.0}
    with pytest.raises(ValueError, match="no selected movies"):
        favoured_cluster([])


def test_affinity_weighting_changes_the_favoured_cluster():
    # 8 Drama selections vs 3 Comedy: a plain count picks Drama, a happy group's weights pick Comedy.
    _, _, movies, _ = toy_tables()
    affinity = movie_affinity(movies, affinity_matrix(PARAMS["affinity"], "mood_congruence"))
    selected = np.array([1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13])
    clusters = np.where(selected <= 10, 0, 1)
    assert favoured_cluster(clusters)[0] == 0
    assert favoured_cluster(clusters, selection_weights(selected, affinity, "neutral", 0.25))[0] == 0
    assert favoured_cluster(clusters, selection_weights(selected, affinity, "sad", 0.25))[0] == 0
    happy = selection_weights(selected, affinity, "happy", 0.25)
    assert happy[0] == 0.25 and happy[-1] == 1.25
    assert favoured_cluster(clusters, happy)[0] == 1
    # and through the recommender, for the 25-37 male group
    rec = hybrid()
    assert rec.recommend(Viewer("25-37", "male", "neutral")).explanation["favoured_cluster"] == 0
    assert rec.recommend(Viewer("25-37", "male", "happy")).explanation["favoured_cluster"] == 1


def test_mood_repair_is_the_opposite_stance_for_sadness():
    rec = hybrid(stance="mood_congruence")
    sad = Viewer("25-37", "male", "sad")
    assert rec.recommend(sad).explanation["favoured_cluster"] == 0                 # Drama: congruent
    assert rec.recommend(sad, stance="mood_repair").explanation["favoured_cluster"] == 1   # Comedy: repair
    assert rec.recommend(sad, stance="mood_repair").explanation["stance"] == "mood_repair"
    assert hybrid(stance="mood_repair").recommend(sad).explanation["favoured_cluster"] == 1


def test_affinity_of_a_movie_comes_from_its_genres():
    _, _, movies, _ = toy_tables()
    movies.loc[movies["item_id"] == 11, "Romance"] = 1                    # Comedy + Romance
    matrix = affinity_matrix(PARAMS["affinity"], "mood_congruence")
    assert matrix.shape == (7, 19)
    by_max = movie_affinity(movies, matrix, "max")
    by_mean = movie_affinity(movies, matrix, "mean")
    assert by_max.loc[11, "sad"] == 1.0 and by_mean.loc[11, "sad"] == 0.5   # Romance is sad-congruent, Comedy not
    assert by_max.loc[1, "sad"] == 1.0 and by_max.loc[1, "happy"] == 0.0
    assert (by_max["neutral"] == 0).all()


def test_affinity_configuration_errors_are_named():
    config = {"genres": PARAMS["affinity"]["genres"], "stances": {"x": {"happy": [1] * 19}}}
    with pytest.raises(ValueError, match="missing"):
        affinity_matrix(config, "x")
    with pytest.raises(ValueError, match="unknown affinity stance"):
        affinity_matrix(PARAMS["affinity"], "mood_swing")
    bad = {"genres": PARAMS["affinity"]["genres"],
           "stances": {"x": {e: [0] * 18 for e in PARAMS["affinity"]["stances"]["mood_congruence"]}}}
    with pytest.raises(ValueError, match="19 weights"):
        affinity_matrix(bad, "x")


def test_group_svd_ranks_a_highly_rated_movie_above_a_low_rated_one():
    ratings, *_ = toy_tables()
    group = ratings[ratings["user_id"] <= 12]
    items = np.arange(1, 11)
    scores = surprise_group_scores(group[group["item_id"] <= 10], np.arange(1, 13), items, seed=0)
    assert scores[0] > scores[1]                                  # movie 1 (all 5s) above movie 2 (all 1s)
    assert scores[0] == scores.max() and scores[1] == scores.min()
    ranking = hybrid().recommend(Viewer("25-37", "male", "neutral"), n=10)
    assert ranking.item_ids.index(1) < ranking.item_ids.index(2)
    assert ranking.item_ids[0] == 1
    assert ranking.scores == sorted(ranking.scores, reverse=True)          # all 10 Drama movies, by score
    assert "topped_up_from_clusters" not in ranking.explanation


def test_vectorised_group_scores_equal_surprise_predict():
    ratings, *_ = toy_tables()
    algo, trainset = fit_surprise_svd(ratings[ratings["user_id"] <= 24], seed=3)
    users, items = np.array([1, 5, 13, 99]), np.array([1, 2, 11, 19, 20, 42])   # 99 and 20/42 are unknown
    expected = [np.mean([algo.predict(int(u), int(i)).est for u in users]) for i in items]
    assert np.allclose(surprise_mean_predictions(algo, trainset, users, items), expected)


def test_truncated_svd_scores_follow_selection_counts():
    ratings = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [10, 11, 10, 11, 10], "rating": 3})
    scores = truncated_svd_group_scores(ratings, np.array([1, 2, 3]), np.array([10, 11, 12]), rank=3)
    assert np.allclose(scores, [1.0, 2 / 3, 0.0])
    low_rank = truncated_svd_group_scores(ratings, np.array([1, 2, 3]), np.array([10, 11, 12]), rank=1)
    assert low_rank[0] > low_rank[1] > low_rank[2]


def test_thin_groups_are_widened_and_the_fallback_is_recorded():
    rec = hybrid()
    assert rec.recommend(Viewer("25-37", "male", "happy")).explanation["fallback"] == "none"
    boy = rec.recommend(Viewer("8-14", "male", "happy")).explanation          # 2 boys < 5 users
    assert boy["fallback"] == "drop_gender"
    assert boy["group"] == {"age_groups": ["8-14"], "gender": "any", "fallback": "drop_gender", "n_users": 5,
                            "n_ratings": 25}
    child = rec.recommend(Viewer("0-7", "male", "happy")).explanation       # 1 user, then 0-7 + 8-14
    assert child["fallback"] == "neighbour_age_groups"
    assert child["group"]["age_groups"] == ["0-7", "8-14"] and child["group"]["n_users"] == 6
    nobody = rec.recommend(Viewer("48+", "female", "sad"))                  # no such users at all
    assert nobody.explanation["fallback"] == "neighbour_age_groups" and len(nobody) == 10
    unknown = rec.recommend(Viewer("25-37", None, "sad")).explanation
    assert unknown["fallback"] == "gender_unknown" and unknown["group"]["n_users"] == 24


def test_already_rated_movies_are_excluded_and_the_list_is_topped_up():
    rec = hybrid()
    seen = {1, 3, 4, 5, 6}
    got = rec.recommend(Viewer("25-37", "male", "neutral", rated_item_ids=seen), n=8)
    assert len(got) == 8 and not seen & set(got.item_ids)
    assert got.explanation["excluded_already_rated"] == 5
    assert got.explanation["favoured_cluster"] == 0
    assert got.explanation["topped_up_from_clusters"] == [1]      # only 5 Drama movies left
    assert set(got.item_ids[:5]) == {2, 7, 8, 9, 10}
    assert got.explanation["scores"] == dict(zip(got.item_ids, [round(s, 4) for s in got.scores]))
    with pytest.raises(ValueError, match="no movie left"):
        rec.recommend(Viewer("25-37", "male", "neutral", rated_item_ids=range(1, 21)))


@pytest.mark.parametrize("viewer, message", [
    (Viewer("25-37", "male", "joy"), "unknown emotion 'joy'; expected one of"),
    (Viewer("99+", "male", "happy"), "unknown age group '99\\+'; expected one of"),
    (Viewer(None, "male", "happy"), "unknown age group None"),
    (Viewer("25-37", "robot", "happy"), "unknown gender 'robot'"),
    (Viewer(age=-3, gender="male", emotion="happy"), "outside the age bins"),
])
def test_bad_viewer_attributes_are_clear_errors(viewer, message):
    rec = hybrid()
    with pytest.raises(ValueError, match=message):
        rec.recommend(viewer)
    with pytest.raises(ValueError, match="positive"):
        rec.recommend(Viewer("25-37", "male", "happy"), n=0)
    with pytest.raises(ValueError, match="stance"):
        rec.recommend(Viewer("25-37", "male", "happy"), stance="mood_swing")


def test_age_in_years_and_case_are_accepted():
    rec = hybrid()
    a = rec.recommend(Viewer(age=30, gender="Male", emotion="HAPPY"))
    b = rec.recommend(Viewer("25-37", "male", "happy"))
    assert a.item_ids == b.item_ids and a.explanation["viewer_group"]["age_group"] == "25-37"


def test_baselines_share_the_interface():
    ratings, users, movies, clusters = toy_tables()
    common = {"min_users": 5, "min_ratings": 20, "seed": 1}
    recs = [DemographicSVD(**common), GroupPopularity(**common), GlobalSVD(seed=1), RandomRecommender(seed=1)]
    for rec in recs:
        rec.fit(ratings, users, movies, clusters)
        got = rec.recommend(Viewer("25-37", "female", "sad", rated_item_ids={11}), n=5)
        assert len(set(got.item_ids)) == 5 and 11 not in got.item_ids
        assert set(got.item_ids) <= set(range(1, 21))
        assert got.explanation["recommender"] == rec.name
    popular = recs[1].recommend(Viewer("25-37", "female", "sad"), n=11)
    assert set(popular.item_ids) == {*range(11, 19), 1, 2, 3}           # exactly what the group rated
    demo = recs[0].recommend(Viewer("25-37", "male", "sad"), n=20)
    assert demo.item_ids.index(1) < demo.item_ids.index(2)
    with pytest.raises(RuntimeError, match="fit"):
        GlobalSVD().recommend(Viewer("25-37", "male", "sad"))


def test_split_is_a_seeded_per_user_holdout():
    ratings, *_ = toy_tables()
    train, test = split_ratings(ratings, 0.2, seed=5)
    assert len(train) + len(test) == len(ratings)
    assert set(test["user_id"]) == set(ratings["user_id"])             # every user holds something out
    assert pd.concat([train, test]).duplicated(["user_id", "item_id"]).sum() == 0
    again, _ = split_ratings(ratings.sample(frac=1, random_state=0), 0.2, seed=5)
    assert train.equals(again)
    other, _ = split_ratings(ratings, 0.2, seed=6)
    assert not train.equals(other)
