"""Precision / recall / F1 arithmetic against hand-computed lists, both protocols and both undefined rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hybrid_recommender.recommender.ranking_metrics import (
    bootstrap_means,
    full_ranking_counts,
    rated_candidates_counts,
    with_metrics,
)

ITEMS = np.array([10, 3, 7, 1, 8, 2])                  # a recommender's full ranking, best first
SCORES = np.array([4.5, 4.2, 3.9, 3.6, 3.0, 2.0])       # its rating estimates


def metrics(counts, rule):
    row = with_metrics(pd.DataFrame([dict(zip(("hits", "recommended", "relevant"), counts))]), rule).iloc[0]
    return row["precision"], row["recall"], row["f1"]


def test_full_ranking_counts_hits_over_the_list_and_over_the_relevant():
    counts = full_ranking_counts([1, 2, 3, 4, 5], {2, 5, 9})
    assert counts == (2, 5, 3)
    p, r, f1 = metrics(counts, "zero")
    assert (p, r) == pytest.approx((0.4, 2 / 3)) and f1 == pytest.approx(2 * 0.4 * (2 / 3) / (0.4 + 2 / 3))
    assert metrics(counts, "one") == pytest.approx((p, r, f1))          # nothing undefined: the rules agree


def test_rated_candidates_ranks_only_held_out_movies_in_the_recommenders_order():
    # held-out movies 1, 2, 3 and 99 (never ranked: last); order 3, 1, 2, 99; top 2 = [3, 1]
    assert rated_candidates_counts(ITEMS, SCORES, [1, 2, 3, 99], {1, 99}, 2, None) == (1, 2, 2)
    assert metrics((1, 2, 2), "zero") == pytest.approx((0.5, 0.5, 0.5))
    # with rating estimates, a kept movie counts only if its estimate >= threshold (Surprise FAQ): 1 has 3.6
    assert rated_candidates_counts(ITEMS, SCORES, [1, 2, 3, 99], {1, 99}, 2, 3.7) == (0, 1, 2)
    assert rated_candidates_counts(ITEMS, SCORES, [1, 2, 3, 99], {1, 99}, 10, 3.5) == (1, 2, 2)


def test_undefined_precision_and_recall_follow_the_rule():
    none_recommended = rated_candidates_counts(ITEMS, SCORES, [1, 2, 3], {1}, 2, 4.3)
    assert none_recommended == (0, 0, 1)
    assert metrics(none_recommended, "zero") == (0.0, 0.0, 0.0)
    assert metrics(none_recommended, "one") == (1.0, 0.0, 0.0)          # P = 1 (undefined), R = 0 -> F1 = 0
    nothing_relevant = rated_candidates_counts(ITEMS, SCORES, [3, 7], set(), 2, None)
    assert nothing_relevant == (0, 2, 0)
    assert metrics(nothing_relevant, "zero") == (0.0, 0.0, 0.0)
    assert metrics(nothing_relevant, "one") == (0.0, 1.0, 0.0)
    both = (0, 0, 0)
    assert metrics(both, "one") == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="undefined-value rule"):
        metrics(both, "half")


def test_bootstrap_interval_contains_the_mean_and_f1_of_means_differs_from_mean_f1():
    rng = np.random.default_rng(0)
    p, r = rng.random(60), rng.random(60) ** 3
    out = bootstrap_means({"precision": p, "recall": r, "f1": 2 * p * r / (p + r)}, 500, 0.95, seed=1)
    for name in ("precision", "recall", "f1", "f1_of_means"):
        est, lo, hi = out[name]
        assert lo <= est <= hi and hi - lo > 0
    assert out["f1_of_means"][0] == pytest.approx(2 * p.mean() * r.mean() / (p.mean() + r.mean()))
    assert abs(out["f1_of_means"][0] - out["f1"][0]) > 0.01
    assert bootstrap_means({"precision": p}, 500, 0.95, seed=1) == bootstrap_means({"precision": p}, 500, 0.95, seed=1)
