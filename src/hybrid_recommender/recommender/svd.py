"""Group scores of candidate movies: Surprise's SVD (mean predicted rating over the group's users) and the
paper's literal truncated SVD (U.S.V^T) of the group x movie selection-count matrix."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from surprise import SVD, Dataset, Reader

SVD_DEFAULTS = {"n_factors": 100, "n_epochs": 20, "lr_all": 0.005, "reg_all": 0.02}


def fit_surprise_svd(ratings: pd.DataFrame, svd_params: Mapping | None = None, seed: int = 42,
                     rating_scale: tuple[float, float] = (1, 5)):
    """A Surprise SVD fitted on (user_id, item_id, rating) rows; returns (algo, trainset)."""
    params = {**SVD_DEFAULTS, **dict(svd_params or {})}
    data = Dataset.load_from_df(ratings[["user_id", "item_id", "rating"]], Reader(rating_scale=tuple(rating_scale)))
    trainset = data.build_full_trainset()
    algo = SVD(random_state=int(seed), **params)
    algo.fit(trainset)
    return algo, trainset


def surprise_mean_predictions(algo, trainset, user_ids: np.ndarray, item_ids: np.ndarray,
                              rating_scale: tuple[float, float] = (1, 5)) -> np.ndarray:
    """Mean over `user_ids` of Surprise's prediction for each of `item_ids`, exactly as `algo.predict` would
    give it (global mean + known biases + p_u.q_i when both are known, clipped to the rating scale)."""
    users = _inner(trainset.to_inner_uid, user_ids)
    items = _inner(trainset.to_inner_iid, item_ids)
    ku = np.array([u for u in users if u is not None], dtype=np.int64)
    ki_mask = np.array([i is not None for i in items], dtype=bool)
    ki = np.array([i for i in items if i is not None], dtype=np.int64)
    n_unknown_users = len(users) - len(ku)

    bi = np.zeros(len(items))
    if algo.biased:
        bi[ki_mask] = algo.bi[ki]
    base = (trainset.global_mean if algo.biased else 0.0) + bi          # per item
    total = np.zeros(len(items))
    if len(ku):
        est = base[None, :] + (algo.bu[ku][:, None] if algo.biased else 0.0)
        est = np.broadcast_to(est, (len(ku), len(items))).copy()
        if len(ki):
            est[:, ki_mask] += algo.pu[ku] @ algo.qi[ki].T
        total += np.clip(est, *rating_scale).sum(axis=0)
    if n_unknown_users:
        total += n_unknown_users * np.clip(base, *rating_scale)
    return total / max(1, len(users))


def _inner(to_inner, raw_ids) -> list:
    """Surprise's inner ids of raw ids, None for the ones it never saw."""
    out = []
    for r in raw_ids:
        r = int(r)
        try:
            out.append(to_inner(r))
        except ValueError:
            out.append(None)
    return out


def surprise_group_scores(ratings: pd.DataFrame, user_ids: np.ndarray, item_ids: np.ndarray,
                          svd_params: Mapping | None = None, seed: int = 42,
                          rating_scale: tuple[float, float] = (1, 5)) -> np.ndarray:
    """Fit Surprise's SVD on `ratings` (the group's ratings of the candidate movies) and score every candidate
    by its mean predicted rating over the group's users."""
    if len(ratings) == 0:
        return np.zeros(len(item_ids))
    algo, trainset = fit_surprise_svd(ratings, svd_params, seed, rating_scale)
    return surprise_mean_predictions(algo, trainset, np.asarray(user_ids), np.asarray(item_ids), rating_scale)


def truncated_svd_group_scores(ratings: pd.DataFrame, user_ids: np.ndarray, item_ids: np.ndarray,
                               rank: int = 10) -> np.ndarray:
    """The paper's literal reading: X = users x movies selection counts, X^ = U_r S_r V_r^T (rank r), a movie's
    score is its mean reconstructed count over the group's users."""
    user_ids = np.asarray(user_ids, dtype=np.int64)
    item_ids = np.asarray(item_ids, dtype=np.int64)
    if len(ratings) == 0 or len(user_ids) == 0 or len(item_ids) == 0:
        return np.zeros(len(item_ids))
    u_pos = pd.Index(user_ids).get_indexer(ratings["user_id"].to_numpy())
    i_pos = pd.Index(item_ids).get_indexer(ratings["item_id"].to_numpy())
    ok = (u_pos >= 0) & (i_pos >= 0)
    x = np.zeros((len(user_ids), len(item_ids)))
    np.add.at(x, (u_pos[ok], i_pos[ok]), 1.0)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    r = max(1, min(int(rank), len(s)))
    x_hat = (u[:, :r] * s[:r]) @ vt[:r]
    return x_hat.mean(axis=0)
