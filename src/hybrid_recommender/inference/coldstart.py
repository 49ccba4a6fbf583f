"""The cold-start lists used when no usable face is seen: the most-rated training movies over everyone, and
within each (age group, gender) group (the project's GroupPopularity, with its thin-group widening).

Saved as plain JSON (no pickle), so any front end can read it.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.recommender import GroupPopularity, Viewer
from hybrid_recommender.recommender.base import GENDERS, ranked


def cold_start_lists(ratings: pd.DataFrame, users: pd.DataFrame, movies: pd.DataFrame, n: int,
                     min_users: int = 10, min_ratings: int = 500) -> dict:
    """{"everyone": [...], "by_group": {"<age group>|<gender>": [...]}, "rule": ...}: top-n item ids each."""
    stats = ratings.groupby("item_id")["rating"].agg(["size", "mean"])
    items, _ = ranked(stats.index.to_numpy(), stats["size"].to_numpy(), stats["mean"].to_numpy())
    pop = GroupPopularity(min_users=min_users, min_ratings=min_ratings).fit(ratings, users, movies, precompute=False)
    by_group = {}
    for age_group in pop.age_groups:
        for gender in (*GENDERS, None):
            got = pop.recommend(Viewer(age_group=age_group, gender=gender), n)
            by_group[f"{age_group}|{gender or 'unknown'}"] = got.item_ids
    return {"everyone": [int(i) for i in items[:n]], "by_group": by_group, "n": int(n),
            "rule": "most-rated training movies (ties: higher mean rating, then lower id), over everyone or "
                    "within the given age group and gender (widened like the recommenders when thin)"}


def cold_start(lists: Mapping, age_group: str | None = None, gender: str | None = None) -> tuple[list[int], str]:
    """The cold-start list for an optional age group / gender, and which list it is."""
    if age_group:
        key = f"{age_group}|{gender or 'unknown'}"
        if key not in lists["by_group"]:
            known = sorted({k.split('|')[0] for k in lists['by_group']})
            raise InputDataError(f"unknown cold-start age group {age_group!r} (expected one of {known}) or gender "
                             f"{gender!r} (expected male, female or none)")
        return list(lists["by_group"][key]), f"popularity in age group {age_group}, gender {gender or 'any'}"
    return list(lists["everyone"]), "popularity over everyone"
