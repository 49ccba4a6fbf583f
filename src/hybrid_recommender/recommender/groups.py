"""Demographic groups of users keyed by (age group, gender), widened when thin.

Rule (in this order, the first that has at least `min_users` users and `min_ratings` training ratings wins):
1. the exact group: age group and gender (skipped when the viewer's gender is unknown);
2. `drop_gender`: the age group, both genders;
3. `neighbour_age_groups`: add the age groups next to it (both sides), then the next ring, ... both genders;
4. `all_users` when even every age group together is below the minimum (recorded as such).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

FALLBACKS = ("none", "gender_unknown", "drop_gender", "neighbour_age_groups", "all_users")


@dataclass(frozen=True)
class ResolvedGroup:
    requested_age_group: str
    requested_gender: str | None
    age_groups: tuple[str, ...]
    gender: str | None
    fallback: str
    n_users: int
    n_ratings: int
    user_ids: np.ndarray = field(compare=False, repr=False)

    @property
    def key(self) -> tuple:
        return (self.age_groups, self.gender)

    def describe(self) -> dict:
        return {"age_groups": list(self.age_groups), "gender": self.gender or "any", "fallback": self.fallback,
                "n_users": self.n_users, "n_ratings": self.n_ratings}


class GroupIndex:
    """Which training users fall in which (age group, gender), and the widening rule for thin groups."""

    def __init__(self, ratings: pd.DataFrame, users: pd.DataFrame, age_groups: Sequence[str],
                 min_users: int = 10, min_ratings: int = 500):
        missing = {"user_id", "age_group", "gender"} - set(users.columns)
        if missing:
            raise ValueError(f"users need columns user_id, age_group, gender; missing {sorted(missing)}")
        self.age_groups = tuple(age_groups)
        self.min_users = int(min_users)
        self.min_ratings = int(min_ratings)
        counts = ratings.groupby("user_id").size()
        table = users[["user_id", "age_group", "gender"]].copy()
        table["age_group"] = table["age_group"].astype(str)
        table["n_ratings"] = table["user_id"].map(counts).fillna(0).astype(np.int64)
        self.users = table[table["n_ratings"] > 0].reset_index(drop=True)
        unknown = sorted(set(self.users["age_group"]) - set(self.age_groups))
        if unknown:
            raise ValueError(f"users carry age groups {unknown} outside the configured {list(self.age_groups)}")
        self._cache: dict[tuple, ResolvedGroup] = {}

    def members(self, age_groups: Sequence[str], gender: str | None) -> pd.DataFrame:
        mask = self.users["age_group"].isin(list(age_groups))
        if gender is not None:
            mask &= self.users["gender"] == gender
        return self.users[mask]

    def candidates(self, age_group: str, gender: str | None) -> list[tuple[tuple[str, ...], str | None, str]]:
        if age_group not in self.age_groups:
            raise ValueError(f"unknown age group {age_group!r}; expected one of {list(self.age_groups)}")
        steps = []
        if gender is not None:
            steps.append(((age_group,), gender, "none"))
            steps.append(((age_group,), None, "drop_gender"))
        else:
            steps.append(((age_group,), None, "gender_unknown"))
        i = self.age_groups.index(age_group)
        for ring in range(1, len(self.age_groups)):
            lo, hi = max(0, i - ring), min(len(self.age_groups), i + ring + 1)
            ages = self.age_groups[lo:hi]
            if ages != steps[-1][0]:
                steps.append((ages, None, "neighbour_age_groups"))
        return steps

    def resolve(self, age_group: str, gender: str | None) -> ResolvedGroup:
        key = (age_group, gender)
        if key in self._cache:
            return self._cache[key]
        chosen = None
        for ages, g, fallback in self.candidates(age_group, gender):
            members = self.members(ages, g)
            if len(members) >= self.min_users and members["n_ratings"].sum() >= self.min_ratings:
                chosen = (ages, g, fallback, members)
                break
        if chosen is None:
            log.warning("group (%s, %s) stays below min_users=%d/min_ratings=%d even with every age group; "
                        "using all users", age_group, gender, self.min_users, self.min_ratings)
            members = self.users
            chosen = (self.age_groups, None, "all_users", members)
        ages, g, fallback, members = chosen
        if len(members) == 0:
            raise ValueError(f"no training users at all for group ({age_group}, {gender})")
        resolved = ResolvedGroup(age_group, gender, tuple(ages), g, fallback, int(len(members)),
                                 int(members["n_ratings"].sum()), members["user_id"].to_numpy(dtype=np.int64))
        self._cache[key] = resolved
        return resolved
