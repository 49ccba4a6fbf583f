"""Group scores of candidate movies: Surprise's SVD (mean predicted rating over the group's users) and the
paper's literal truncated SVD (U.S.V^T) of the group x movie selection-count matrix."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.linalg import svds
from surprise import SVD, Dataset, Reader

SVD_DEFAULTS = {"n_factors": 100, "n_epochs": 20, "lr_all": 0.005, "reg_all": 0.02}
# A block of users x candidate movies holds at most this many predictions (8 bytes each: 32 MiB), so scoring a group
# (or every user, for the global SVD) never holds a dense users x movies matrix.
CHUNK_CELLS = 1 << 22


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
                              rating_scale: tuple[float, float] = (1, 5), chunk_cells: int = CHUNK_CELLS) -> np.ndarray:
    """Mean over `user_ids` of Surprise's prediction for each of `item_ids`, exactly as `algo.predict` would
    give it (global mean + known biases + p_u.q_i when both are known, clipped to the rating scale).

    The clip is per user, so the mean cannot be factored out: users are taken in blocks of at most
    ``chunk_cells / len(item_ids)``, and memory stays bounded whatever the number of users."""
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
    step = max(1, int(chunk_cells) // max(1, len(items)))
    for start in range(0, len(ku), step):
        block = ku[start:start + step]
        est = base[None, :] + (algo.bu[block][:, None] if algo.biased else 0.0)
        est = np.broadcast_to(est, (len(block), len(items))).copy()
        if len(ki):
            est[:, ki_mask] += algo.pu[block] @ algo.qi[ki].T
        total += np.clip(est, *rating_scale, out=est).sum(axis=0)
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


def selection_counts(ratings: pd.DataFrame, user_ids: np.ndarray, item_ids: np.ndarray) -> sparse.csr_matrix:
    """X: the users x movies selection counts as a sparse matrix (row i = ``user_ids[i]``, column j =
    ``item_ids[j]``); ratings of other users or movies are left out, a repeated (user, movie) counts twice."""
    u_pos = pd.Index(user_ids).get_indexer(ratings["user_id"].to_numpy())
    i_pos = pd.Index(item_ids).get_indexer(ratings["item_id"].to_numpy())
    ok = (u_pos >= 0) & (i_pos >= 0)
    x = sparse.coo_matrix((np.ones(int(ok.sum())), (u_pos[ok], i_pos[ok])), shape=(len(user_ids), len(item_ids)))
    return x.tocsr()      # duplicates summed


def truncated_svd_group_scores(ratings: pd.DataFrame, user_ids: np.ndarray, item_ids: np.ndarray,
                               rank: int = 10) -> np.ndarray:
    """The paper's literal reading: X = users x movies selection counts, X^ = U_r S_r V_r^T (rank r), a movie's
    score is its mean reconstructed count over the group's users.

    X stays sparse and X^ is never formed: the mean over users of U_r S_r V_r^T is (the mean of U_r's rows) S_r
    V_r^T, with the r leading singular triplets from ARPACK (``scipy.sparse.linalg.svds``, a fixed start vector,
    so the same on every run). Memory grows with the ratings and (users + movies) x r, not users x movies. When
    r >= min(users, movies) the reconstruction is X itself, and the scores are its column means.
    """
    user_ids = np.asarray(user_ids, dtype=np.int64)
    item_ids = np.asarray(item_ids, dtype=np.int64)
    if len(ratings) == 0 or len(user_ids) == 0 or len(item_ids) == 0:
        return np.zeros(len(item_ids))
    x = selection_counts(ratings, user_ids, item_ids)
    r = max(1, int(rank))
    if r >= min(x.shape):                    # full rank: X^ = X (svds needs r < min(shape))
        return np.asarray(x.mean(axis=0)).ravel()
    # ARPACK's start vector, fixed (seeded, not constant: a constant vector can be orthogonal to a singular vector of
    # a symmetric pattern), so the same triplets on every run.
    v0 = np.random.default_rng(0).uniform(-1.0, 1.0, min(x.shape))
    u, s, vt = svds(x, k=r, v0=v0, tol=0)
    return ((u.mean(axis=0) * s) @ vt).ravel()
