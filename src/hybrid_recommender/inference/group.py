"""One list for several viewers: each viewer's list turned into utilities, combined by a group strategy.

A viewer's utility for a movie is its Borda score in that viewer's own list of ``pool`` movies: 1 for the first,
falling linearly to 1/pool for the last, 0 outside it. Positions are used rather than the recommender's raw
scores because the hybrid orders by favoured cluster first and SVD score second: raw scores would undo the
cluster choice. Strategies (Masthoff's group recommendation strategies):
- ``average``: the mean utility over viewers;
- ``least_misery``: the lowest utility of any viewer (ties by the mean), so no viewer is left with a film far
  down their own list;
- ``majority_emotion``: the room's emotion (the emotion most viewers show, ties by summed confidence) replaces
  each viewer's own, then ``average``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from hybrid_recommender.recommender.base import Recommendation, Viewer

STRATEGIES = ("average", "least_misery", "majority_emotion")


def majority_emotion(emotions: Sequence[str], confidences: Sequence[float]) -> str:
    """The most frequent emotion; ties go to the larger summed confidence, then alphabetical order."""
    counts = Counter(emotions)
    conf: dict[str, float] = {}
    for e, c in zip(emotions, confidences):
        conf[e] = conf.get(e, 0.0) + float(c)
    return sorted(counts, key=lambda e: (-counts[e], -conf[e], e))[0]


def utilities(rec: Recommendation, pool: int) -> dict[int, float]:
    return {item: (pool - rank) / pool for rank, item in enumerate(rec.item_ids)}


def combine(viewers: Sequence[Viewer], recommend: Callable[[Viewer, int], Recommendation], strategy: str,
            n: int, pool: int, emotion_confidences: Sequence[float]) -> dict:
    """The group's top-n: item ids, group scores, the strategy's explanation and each viewer's contribution."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown group strategy {strategy!r}; expected one of {list(STRATEGIES)}")
    explanation: dict = {"strategy": strategy, "pool_per_viewer": pool, "utility": "Borda position in the "
                         "viewer's own list (1 = their first movie, 0 = outside their top pool)"}
    if strategy == "majority_emotion":
        room = majority_emotion([v.emotion for v in viewers], emotion_confidences)
        viewers = [replace(v, emotion=room) for v in viewers]
        explanation["room_emotion"] = room
    lists = [recommend(v, pool) for v in viewers]
    util = [utilities(r, pool) for r in lists]
    candidates = sorted(set().union(*[u.keys() for u in util]))
    table = np.array([[u.get(i, 0.0) for i in candidates] for u in util])       # viewers x candidates
    mean = table.mean(0)
    primary = table.min(0) if strategy == "least_misery" else mean
    order = np.lexsort((np.asarray(candidates), -mean, -primary))[:n]
    items = [int(candidates[j]) for j in order]
    scores = [round(float(primary[j]), 4) for j in order]
    picked = table[:, order]
    totals = picked.sum(0)
    contributions = []
    for v, (viewer_list, row) in enumerate(zip(lists, picked)):
        own = set(viewer_list.item_ids[:n])
        contributions.append({
            "mean_utility": round(float(row.mean()), 4),
            "share_of_group_score": round(float(np.divide(row, totals, out=np.zeros_like(row), where=totals > 0)
                                                .mean()), 4),
            "films_from_own_top_n": int(sum(i in own for i in items)),
            "utility_per_film": {i: round(float(x), 4) for i, x in zip(items, row)},
            "own_explanation": viewer_list.explanation,
        })
    explanation["viewer_emotions_used"] = [v.emotion for v in viewers]
    return {"item_ids": items, "scores": scores, "explanation": explanation, "contributions": contributions}
