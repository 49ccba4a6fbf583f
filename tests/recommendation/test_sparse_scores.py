"""The truncated-SVD group scores without a dense users x movies matrix: equal to the dense U_r S_r V_r^T reading
on real MovieLens 100K groups, and feasible where the dense matrix could not even be allocated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from hybrid_recommender.recommender.clustering import cluster_movies
from hybrid_recommender.recommender.svd import (
    fit_surprise_svd,
    selection_counts,
    surprise_mean_predictions,
    truncated_svd_group_scores,
)

RANKS = (3, 10)            # 10: the configured recommendation.hybrid.truncated_rank


def dense_reference(ratings: pd.DataFrame, user_ids: np.ndarray, item_ids: np.ndarray, rank: int):
    """The previous implementation, verbatim: a dense count matrix, its full SVD, X^ formed, column means.
    Also the singular values, to tell a tie at the cut (where the truncation itself is not unique)."""
    u_pos = pd.Index(user_ids).get_indexer(ratings["user_id"].to_numpy())
    i_pos = pd.Index(item_ids).get_indexer(ratings["item_id"].to_numpy())
    ok = (u_pos >= 0) & (i_pos >= 0)
    x = np.zeros((len(user_ids), len(item_ids)))
    np.add.at(x, (u_pos[ok], i_pos[ok]), 1.0)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    r = max(1, min(int(rank), len(s)))
    return ((u[:, :r] * s[:r]) @ vt[:r]).mean(axis=0), s


def _tie_at_cut(s: np.ndarray, rank: int) -> bool:
    return rank < len(s) and abs(s[rank - 1] - s[rank]) <= 1e-8 * max(1.0, s[0])


@pytest.fixture(scope="module")
def group_cells(movielens):
    """Every (age group, gender) group of real ML-100K users x every genre cluster (k = 8), with the group's
    ratings of the cluster's movies: the cells the hybrid scores."""
    ratings, users, movies = movielens
    clusters = cluster_movies(movies, 8)
    cells = []
    for (_, _), members in users.groupby(["age_group", "gender"], observed=True):
        user_ids = np.sort(members["user_id"].to_numpy(np.int64))
        group = ratings[ratings["user_id"].isin(user_ids)]
        for _, cluster in clusters.groupby("cluster"):
            item_ids = np.sort(cluster["item_id"].to_numpy(np.int64))
            cells.append((group[group["item_id"].isin(item_ids)], user_ids, item_ids))
    return cells


@pytest.mark.real_data
def test_sparse_scores_equal_the_dense_reference_on_real_movielens_groups(group_cells):
    compared = ties = 0
    for sub, user_ids, item_ids in group_cells:
        for rank in RANKS:
            expected, s = dense_reference(sub, user_ids, item_ids, rank)
            if _tie_at_cut(s, rank):           # equal singular values at the cut: no unique rank-r truncation
                ties += 1
                continue
            got = truncated_svd_group_scores(sub, user_ids, item_ids, rank)
            scale = max(np.abs(expected).max(), 1e-12)
            np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6 * scale,
                                       err_msg=f"{len(user_ids)} users x {len(item_ids)} movies, rank {rank}")
            # the same ranking, up to movies whose scores tie
            order = np.argsort(-got, kind="stable")
            assert np.all(np.diff(expected[order]) <= 1e-6 * scale)
            compared += 1
    assert compared >= 0.9 * len(group_cells) * len(RANKS) and compared + ties == len(group_cells) * len(RANKS)


def test_full_rank_is_the_column_means_and_small_cases_match_the_dense_reference():
    ratings = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3, 9], "item_id": [10, 11, 10, 11, 10, 10, 10]})
    users, items = np.array([1, 2, 3]), np.array([10, 11, 12])     # user 9 is not in the group
    x = selection_counts(ratings, users, items)
    assert sparse.issparse(x) and x.toarray().tolist() == [[1, 1, 0], [1, 1, 0], [2, 0, 0]]   # repeats add up
    for rank in (3, 50):      # r >= min(shape): X^ = X
        np.testing.assert_allclose(truncated_svd_group_scores(ratings, users, items, rank), [4 / 3, 2 / 3, 0.0])
    for rank in (1, 2):
        expected, _ = dense_reference(ratings, users, items, rank)
        np.testing.assert_allclose(truncated_svd_group_scores(ratings, users, items, rank), expected, rtol=1e-6,
                                   atol=1e-12)
    assert truncated_svd_group_scores(ratings.iloc[:0], users, items).tolist() == [0.0, 0.0, 0.0]


def test_scores_are_deterministic_and_need_no_dense_users_x_movies_matrix():
    """200,000 users x 50,000 movies (dense: 80 GB of float64) with 400,000 selections: scored in memory that
    grows with the selections, the same on every call."""
    rng = np.random.default_rng(7)
    n_users, n_items, n = 200_000, 50_000, 400_000
    item_pop = rng.zipf(1.3, n) % n_items                       # a few popular movies, a long tail
    ratings = pd.DataFrame({"user_id": rng.integers(0, n_users, n), "item_id": item_pop})
    users, items = np.arange(n_users), np.arange(n_items)
    first = truncated_svd_group_scores(ratings, users, items, rank=10)
    second = truncated_svd_group_scores(ratings, users, items, rank=10)
    assert first.shape == (n_items,) and np.array_equal(first, second)
    counts = np.bincount(item_pop, minlength=n_items) / n_users
    top = np.argsort(-counts)[:5]
    # the leading components carry the most selected movies: their scores are close to their mean counts
    np.testing.assert_allclose(first[top], counts[top], rtol=0.05)


def test_surprise_mean_predictions_in_user_blocks_equal_one_block_and_algo_predict():
    """The Surprise group scores take users in blocks of bounded size (never all users x candidates at once):
    any block size gives the same means, and they are the mean of ``algo.predict``."""
    rng = np.random.default_rng(3)
    ratings = pd.DataFrame({"user_id": rng.integers(1, 120, 3000), "item_id": rng.integers(1, 80, 3000),
                            "rating": rng.integers(1, 6, 3000)}).drop_duplicates(["user_id", "item_id"])
    algo, trainset = fit_surprise_svd(ratings, {"n_factors": 8, "n_epochs": 5}, seed=1)
    users, items = np.arange(1, 125), np.arange(1, 85)       # a few unknown users and movies too
    whole = surprise_mean_predictions(algo, trainset, users, items, chunk_cells=1 << 30)
    for cells in (1, 7, 500):
        np.testing.assert_allclose(surprise_mean_predictions(algo, trainset, users, items, chunk_cells=cells), whole,
                                   rtol=1e-12)
    expected = [np.mean([algo.predict(int(u), int(i)).est for u in users]) for i in items[::20]]
    np.testing.assert_allclose(whole[::20], expected, rtol=1e-12)
