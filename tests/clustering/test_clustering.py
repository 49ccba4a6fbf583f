"""Clustering: elbow selection, cluster numbering and profiles, and the registered pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from hybrid_recommender.labels import GENRES
from hybrid_recommender.pipelines import clustering as clustering_pipeline
from hybrid_recommender.pipelines import recommendation as recommendation_pipeline
from hybrid_recommender.recommender import clustering


@pytest.mark.parametrize("true_k", [3, 4, 6, 8])
def test_elbow_finds_the_number_of_well_separated_blobs(true_k):
    # equidistant centres (a scaled simplex), 100 points each
    x, _ = make_blobs(n_samples=100 * true_k, centers=10 * np.eye(true_k), cluster_std=1.0, random_state=true_k)
    curve = clustering.wcss_curve(x, range(1, 13), seed=0, n_init=5)
    assert list(curve["k"]) == list(range(1, 13))
    assert (np.diff(curve["wcss"]) < 0).all()
    assert clustering.elbow_k(curve) == true_k


def test_force_k_overrides_the_elbow_and_short_curves_are_refused():
    curve = pd.DataFrame({"k": [2, 3, 4, 5], "wcss": [100.0, 20.0, 15.0, 12.0]})
    assert clustering.elbow_k(curve) == 3
    assert clustering.elbow_k(curve, force_k=5) == 5
    with pytest.raises(ValueError, match="at least 3"):
        clustering.elbow_k(curve.head(2))
    with pytest.raises(ValueError, match="k range"):
        clustering.wcss_curve(np.zeros((5, 2)), [2, 9])


def _toy_movies() -> pd.DataFrame:
    rows = []
    for i in range(30):
        flags = dict.fromkeys(GENRES, 0)
        flags[("Drama", "Comedy", "Horror")[i % 3]] = 1
        if i % 3 == 1 and i < 10:
            flags["Romance"] = 1
        rows.append({"item_id": i + 1, "title": f"m{i + 1}", **flags})
    return pd.DataFrame(rows)


def test_clusters_are_numbered_by_size_and_profiles_name_their_genres():
    movies = _toy_movies()
    clusters = clustering.cluster_movies(movies, 3, seed=0)
    assert sorted(clusters["cluster"].unique()) == [0, 1, 2]
    sizes = clusters["cluster"].value_counts().sort_index()
    assert (np.diff(sizes.to_numpy()) <= 0).all()
    profiles = clustering.cluster_profiles(movies, clusters)
    assert profiles["size"].sum() == len(movies)
    assert set(profiles["top_genres"].str.split(", ").str[0]) == {"Drama", "Comedy", "Horror"}
    comedy = profiles[profiles["top_genres"].str.startswith("Comedy")].iloc[0]
    assert "Romance" in comedy["top_genres"] and comedy["share_Comedy"] == 1.0


def test_missing_genre_columns_are_named():
    with pytest.raises(ValueError, match="Western"):
        clustering.genre_matrix(_toy_movies().drop(columns=["Western"]))


@pytest.mark.real_data
def test_real_movielens_clusters_every_movie(movielens):
    _, _, movies = movielens
    x = clustering.genre_matrix(movies)
    assert x.shape == (1682, 19)
    curve = clustering.wcss_curve(x, range(2, 13), seed=42, n_init=3)
    k = clustering.elbow_k(curve)
    assert 2 < k < 12
    clusters = clustering.cluster_movies(movies, k, seed=42, n_init=3)
    assert clusters["item_id"].is_unique and len(clusters) == 1682
    assert clusters["cluster"].nunique() == k


def test_pipelines_expose_create_pipeline_with_named_nodes():
    # find_pipelines() imports `create_pipeline` from each pipeline package
    pipes = {"clustering": clustering_pipeline.create_pipeline(),
             "recommendation": recommendation_pipeline.create_pipeline()}
    for pipe in pipes.values():
        names = [node.name for node in pipe.nodes]
        assert len(set(names)) == len(names)
        assert all("(" not in name for name in names)   # explicit names, not Kedro's generated ones
    assert {"elbow_plot", "cluster_profiles", "movie_clusters", "clustering_metrics"} <= \
        pipes["clustering"].all_outputs()
    assert {"group_recommendations", "hybrid_recommender", "recommender_comparison"} <= \
        pipes["recommendation"].all_outputs()
    assert "movie_clusters" in pipes["recommendation"].inputs()
