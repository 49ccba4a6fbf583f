"""Small constructed tables for the recommender tests, and the project's recommendation parameters."""

from __future__ import annotations

import pandas as pd
import yaml

from hybrid_recommender.labels import GENRES
from hybrid_recommender.paths import PROJECT_ROOT
from hybrid_recommender.recommender.clustering import cluster_movies
from hybrid_recommender.recommender.ranking_metrics import split_ratings


def recommendation_params() -> dict:
    with open(PROJECT_ROOT / "conf" / "base" / "parameters_recommendation.yml") as f:
        return yaml.safe_load(f)["recommendation"]


def real_split(movielens) -> dict:
    """Real MovieLens 100K as the recommenders see it: the project's train/test split and 11 genre clusters."""
    ratings, users, movies = movielens
    params = recommendation_params()
    train, test = split_ratings(ratings, params["split"]["test_fraction"], params["seed"])
    clusters = cluster_movies(movies, 11, seed=42, n_init=3)
    return {"train": train, "test": test, "users": users, "movies": movies, "clusters": clusters, "params": params}


def toy_tables():
    """20 movies (1-10 Drama = cluster 0, 11-20 Comedy = cluster 1) and users whose groups differ in size.

    25-37 male (users 1-12): rate Drama 1-8 and Comedy 11-13; movie 1 always 5 stars, movie 2 always 1 star.
    25-37 female (13-24): rate Comedy 11-18 and Drama 1-3.
    0-7 male (25): one user; 8-14: two male (26, 27) and three female (28-30) users, rating a few of each.
    """
    movies = []
    for i in range(1, 21):
        flags = dict.fromkeys(GENRES, 0)
        flags["Drama" if i <= 10 else "Comedy"] = 1
        movies.append({"item_id": i, "title": f"movie {i}", **flags})
    movies = pd.DataFrame(movies)
    clusters = pd.DataFrame({"item_id": range(1, 21), "cluster": [0] * 10 + [1] * 10})
    users, ratings = [], []

    def add(uid, age_group, gender, items, rule=lambda u, i: 3 + (u + i) % 2):
        users.append({"user_id": uid, "age_group": age_group, "gender": gender})
        ratings.extend({"user_id": uid, "item_id": i, "rating": rule(uid, i)} for i in items)

    drama_rule = lambda u, i: 5 if i == 1 else 1 if i == 2 else 3 + (u + i) % 2  # noqa: E731
    for uid in range(1, 13):
        add(uid, "25-37", "male", [*range(1, 9), 11, 12, 13], drama_rule)
    for uid in range(13, 25):
        add(uid, "25-37", "female", [*range(11, 19), 1, 2, 3])
    add(25, "0-7", "male", [1, 11, 12])
    for uid in (26, 27):
        add(uid, "8-14", "male", [1, 2, 11, 12, 14])
    for uid in (28, 29, 30):
        add(uid, "8-14", "female", [3, 4, 15, 16, 17])
    return pd.DataFrame(ratings), pd.DataFrame(users), movies, clusters
