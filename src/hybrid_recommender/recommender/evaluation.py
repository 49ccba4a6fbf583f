"""Train/test split of the ratings and an offline comparison of recommenders on the held-out ratings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from hybrid_recommender.recommender.base import Recommender, Viewer


def split_ratings(ratings: pd.DataFrame, test_fraction: float = 0.2,
                  seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-user random holdout: round(test_fraction * n) of each user's ratings (at least one when the user has
    two or more) go to test; the rest is train. Deterministic for a seed."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    ratings = ratings.sort_values(["user_id", "item_id"], kind="stable").reset_index(drop=True)
    rng = np.random.default_rng(int(seed))
    key = rng.random(len(ratings))
    rank = pd.Series(key).groupby(ratings["user_id"].to_numpy()).rank(method="first").to_numpy()
    size = ratings.groupby("user_id")["item_id"].transform("size").to_numpy()
    n_test = np.where(size >= 2, np.maximum(1, np.rint(size * test_fraction)), 0)
    is_test = rank <= n_test
    return ratings[~is_test].reset_index(drop=True), ratings[is_test].reset_index(drop=True)


def compare_recommenders(recommenders: Mapping[str, Recommender], train: pd.DataFrame, test: pd.DataFrame,
                         users: pd.DataFrame, n: int = 10, emotions: Sequence[str] = ("neutral",),
                         relevant_min_rating: int = 4) -> pd.DataFrame:
    """Precision@n, recall@n and hit rate@n of every recommender on the held-out ratings, for each emotion a
    viewer may show (MovieLens has none: every test user is evaluated under each), plus catalogue coverage."""
    from tqdm.auto import tqdm

    relevant = test[test["rating"] >= relevant_min_rating].groupby("user_id")["item_id"].agg(frozenset)
    history = train.groupby("user_id")["item_id"].agg(frozenset)
    people = users.set_index("user_id").loc[relevant.index, ["age_group", "gender"]]
    rows = []
    for name, rec in recommenders.items():
        for emotion in (emotions if rec.uses_emotion else emotions[:1]):
            precision, recall, hits, seen = [], [], [], set()
            for uid, (age_group, gender) in tqdm(people.iterrows(), total=len(people), leave=False,
                                                 desc=f"evaluate {name} {emotion}"):
                viewer = Viewer(age_group=str(age_group), gender=gender, emotion=emotion,
                                rated_item_ids=history.get(uid, frozenset()))
                got = rec.recommend(viewer, n).item_ids
                rel = relevant[uid]
                k = len(rel.intersection(got))
                precision.append(k / n)
                recall.append(k / len(rel))
                hits.append(k > 0)
                seen.update(got)
            rows.append({"recommender": name, "emotion": emotion if rec.uses_emotion else "any",
                         "users": len(people), f"precision_at_{n}": float(np.mean(precision)),
                         f"recall_at_{n}": float(np.mean(recall)), f"hit_rate_at_{n}": float(np.mean(hits)),
                         "catalogue_coverage": len(seen) / train["item_id"].nunique()})
    return pd.DataFrame(rows)
