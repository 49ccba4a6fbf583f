"""Nodes of clustering: thin wrappers around hybrid_recommender.recommender.clustering, named for what they return."""

from __future__ import annotations

import logging

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from hybrid_recommender.recommender import clustering  # noqa: E402

log = logging.getLogger(__name__)


def kmeans_wcss_curve(movies: pd.DataFrame, params: dict) -> pd.DataFrame:
    """Within-cluster sum of squares of k-means on the 19 genre flags, for k = k_min..k_max."""
    x = clustering.genre_matrix(movies)
    return clustering.wcss_curve(x, range(int(params["k_min"]), int(params["k_max"]) + 1),
                                 seed=params["seed"], n_init=params["n_init"])


def elbow_k(curve: pd.DataFrame, params: dict) -> int:
    """The k at the elbow of the WCSS curve (kneedle), unless `force_k` is set."""
    knee = clustering.elbow_k(curve, params["elbow_sensitivity"])
    k = int(params["force_k"]) if params.get("force_k") is not None else knee
    log.info("k-means: elbow at k=%d%s", knee, f"; forced k={k}" if k != knee else "")
    return k


def movie_clusters(movies: pd.DataFrame, k: int, params: dict) -> pd.DataFrame:
    """item_id, title, cluster (0 = largest cluster)."""
    return clustering.cluster_movies(movies, k, seed=params["seed"], n_init=params["n_init"])


def cluster_profiles(movies: pd.DataFrame, clusters: pd.DataFrame, params: dict) -> pd.DataFrame:
    """Size, top genres, example titles and genre shares of every cluster."""
    return clustering.cluster_profiles(movies, clusters, top=params["top_genres"])


def elbow_plot(curve: pd.DataFrame, k: int, params: dict) -> plt.Figure:
    """The WCSS curve with the chosen k marked."""
    knee = clustering.elbow_k(curve, params["elbow_sensitivity"])
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(curve["k"], curve["wcss"], "o-", color="tab:blue", label="WCSS (k-means inertia)")
    at = curve.set_index("k")["wcss"]
    ax.axvline(knee, color="tab:red", ls="--", label=f"kneedle elbow k={knee}")
    if k != knee:
        ax.axvline(k, color="tab:green", ls=":", label=f"forced k={k}")
    if k in at.index:
        ax.plot([k], [at[k]], "o", ms=12, mfc="none", mec="tab:red")
    ax.set_xlabel("number of clusters k")
    ax.set_ylabel("within-cluster sum of squares")
    ax.set_title("MovieLens genre clusters: elbow")
    ax.set_xticks(list(curve["k"]))
    ax.legend()
    fig.tight_layout()
    return fig


def clustering_metrics(curve: pd.DataFrame, k: int) -> dict:
    """The chosen k and the WCSS curve (one step per k) as MLflow metrics, namespaced ``clustering/``."""
    return {"clustering/kmeans_chosen_k": {"value": float(k), "step": 0},
            "clustering/kmeans_wcss": [{"value": float(w), "step": int(s)} for s, w in zip(curve["k"], curve["wcss"])]}
