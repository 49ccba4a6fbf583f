"""Movie clustering over the 19 genre flags (paper Section III-B): k-means, WCSS curve, kneedle elbow, profiles."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from kneed import KneeLocator
from sklearn.cluster import KMeans
from tqdm.auto import tqdm

from hybrid_recommender.labels import GENRES

log = logging.getLogger(__name__)


def genre_matrix(movies: pd.DataFrame, genres: Sequence[str] = GENRES) -> np.ndarray:
    """The movies' genre flags as a float matrix (one row per movie, in the table's order)."""
    missing = [g for g in genres if g not in movies.columns]
    if missing:
        raise ValueError(f"movies table lacks genre columns {missing}; expected all of {list(genres)}")
    return movies[list(genres)].to_numpy(dtype=np.float64)


def _kmeans(k: int, seed: int, n_init: int) -> KMeans:
    return KMeans(n_clusters=int(k), n_init=int(n_init), random_state=int(seed))


def wcss_curve(x: np.ndarray, k_values: Sequence[int], seed: int = 42, n_init: int = 10) -> pd.DataFrame:
    """Within-cluster sum of squares (k-means inertia) for each k."""
    k_values = sorted({int(k) for k in k_values})
    if not k_values or k_values[0] < 1 or k_values[-1] > len(x):
        raise ValueError(f"k range must lie in [1, {len(x)}] (number of movies), got {k_values}")
    rows = []
    for k in tqdm(k_values, desc="k-means WCSS", leave=False):
        rows.append({"k": k, "wcss": float(_kmeans(k, seed, n_init).fit(x).inertia_)})
    return pd.DataFrame(rows)


def elbow_k(curve: pd.DataFrame, sensitivity: float = 1.0, force_k: int | None = None) -> int:
    """The elbow of a decreasing convex WCSS curve by the kneedle rule (kneed); `force_k` overrides it."""
    if force_k is not None:
        return int(force_k)
    if len(curve) < 3:
        raise ValueError(f"the elbow needs at least 3 values of k, got {list(curve['k'])}")
    knee = KneeLocator(curve["k"].to_numpy(), curve["wcss"].to_numpy(), S=float(sensitivity),
                       curve="convex", direction="decreasing").knee
    if knee is None:
        k = int(curve["k"].iloc[len(curve) // 2])
        log.warning("kneedle found no elbow in the WCSS curve; using the middle of the range, k=%d", k)
        return k
    return int(knee)


def cluster_movies(movies: pd.DataFrame, k: int, seed: int = 42, n_init: int = 10,
                   genres: Sequence[str] = GENRES) -> pd.DataFrame:
    """item_id -> cluster (0..k-1), clusters renumbered by decreasing size so numbering is stable."""
    x = genre_matrix(movies, genres)
    labels = _kmeans(k, seed, n_init).fit_predict(x)
    sizes = pd.Series(labels).value_counts()
    order = sorted(sizes.index, key=lambda c: (-sizes[c], c))
    remap = {old: new for new, old in enumerate(order)}
    return pd.DataFrame({"item_id": movies["item_id"].to_numpy(dtype=np.int64),
                         "title": movies["title"].to_numpy(),
                         "cluster": np.array([remap[c] for c in labels], dtype=np.int64)})


def cluster_profiles(movies: pd.DataFrame, clusters: pd.DataFrame, top: int = 3,
                     genres: Sequence[str] = GENRES) -> pd.DataFrame:
    """Per cluster: size, the share of its movies carrying each genre, and its top genres (for naming it)."""
    table = clusters[["item_id", "cluster"]].merge(movies[["item_id", *genres]], on="item_id", how="left")
    share = table.groupby("cluster")[list(genres)].mean()
    rows = []
    for c, s in share.iterrows():
        best = s.sort_values(ascending=False, kind="stable")
        best = best[best > 0].head(top)
        rows.append({"cluster": int(c), "size": int((table["cluster"] == c).sum()),
                     "top_genres": ", ".join(best.index),
                     "top_genre_shares": ", ".join(f"{g} {v:.0%}" for g, v in best.items()),
                     "example_titles": " | ".join(table.loc[table["cluster"] == c, "item_id"]
                                                  .map(movies.set_index("item_id")["title"]).head(3))})
    profile = pd.DataFrame(rows)
    return profile.merge(share.add_prefix("share_").reset_index(), on="cluster")
