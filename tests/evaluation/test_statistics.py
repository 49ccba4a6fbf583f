"""Cluster bootstrap over viewers, the rated-candidates subset rule and paired differences, on hand-built scores
whose means, intervals and differences are known by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hybrid_recommender.evaluation.scoring import aggregate_scores
from hybrid_recommender.evaluation.statistics import (
    paired_differences,
    resampled_means,
    viewer_draws,
)
from hybrid_recommender.recommender.ranking_metrics import bootstrap_means

PAIRS = [("a", "b"), ("b", "a"), ("a", "a"), ("a", "zero")]


def rows(user, group, hits, system="a", protocol="full_ranking", held_out=20, top_n=10, first_obs=0):
    """One row per value of `hits` (an observation each, recommended 5 and relevant 5: precision = recall =
    hits / 5) for one viewer."""
    return pd.DataFrame({"obs_id": range(first_obs, first_obs + len(hits)), "user_id": user, "age_group": group,
                         "system": system, "attributes": "oracle", "relevance": "liked", "protocol": protocol,
                         "hits": hits, "recommended": 5, "relevant": 5, "held_out": held_out, "top_n": top_n})


def one(table, **where):
    sel = np.logical_and.reduce([table[k] == v for k, v in where.items()])
    assert sel.sum() == 1, where
    return table[sel].iloc[0]


def test_a_viewer_repeated_ten_times_is_one_cluster():
    # two viewers, ten observations each, precision 0 and 1: a resample holds {0, 0}, {0, 1} or {1, 1} viewers
    scores = pd.concat([rows(1, "8-14", [0] * 10), rows(2, "8-14", [5] * 10, first_obs=10)])
    info, est, boot = resampled_means(scores, 2000, seed=3)
    precision = boot[(info["rule"] == "zero") & (info["age_group"] == "8-14"), 0][0]
    assert set(np.unique(precision)) <= {0.0, 0.5, 1.0}
    assert np.mean(precision == 0.5) == pytest.approx(0.5, abs=0.05)
    row = one(aggregate_scores(scores, 2000, 0.95, 3), rule="zero", age_group="8-14")
    assert (row["observations"], row["viewers"], row["excluded_observations"], row["subset"]) == (20, 2, 0, "all")
    assert (row["precision"], row["precision_low"], row["precision_high"]) == (0.5, 0.0, 1.0)
    # resampling the 20 observations as if independent gives a far narrower interval
    _, low, high = bootstrap_means({"precision": np.repeat([0.0, 1.0], 10)}, 2000, 0.95, seed=3)["precision"]
    assert 0.2 < low < high < 0.8


def test_age_group_means_by_hand_and_all_pools_the_groups_resampled_within_each():
    # 8-14: viewer 1 (precision 0.2, 0.4), viewer 2 (1.0); 25-37: viewer 3 (0.6 three times)
    scores = pd.concat([rows(1, "8-14", [1, 2]), rows(2, "8-14", [5], first_obs=2),
                        rows(3, "25-37", [3, 3, 3], first_obs=3)])
    agg = aggregate_scores(scores, 1000, 0.95, 0)
    assert list(agg[agg["rule"] == "zero"]["age_group"]) == ["8-14", "25-37", "all"]
    young, adult, every = (one(agg, rule="zero", age_group=g) for g in ("8-14", "25-37", "all"))
    assert young["precision"] == pytest.approx(1.6 / 3) and young["viewers"] == 2
    assert (adult["precision"], adult["precision_low"], adult["precision_high"]) == pytest.approx((0.6, 0.6, 0.6))
    assert every["precision"] == pytest.approx(3.4 / 6) and (every["observations"], every["viewers"]) == (6, 3)
    # "all": 25-37's lone viewer is always drawn; 8-14 draws {1, 1} (1/4), {1, 2} (1/2) or {2, 2} (1/4)
    assert (every["precision_low"], every["precision_high"]) == pytest.approx((3.0 / 7, 3.8 / 5))
    assert every["f1_of_means"] == pytest.approx(every["precision"])       # precision = recall here
    assert list(agg.columns[:12]) == ["system", "attributes", "relevance", "protocol", "rule", "age_group",
                                      "observations", "viewers", "excluded_observations", "subset",
                                      "undefined_precision", "undefined_recall"]


def test_draws_depend_on_the_viewers_and_seed_only():
    scores = pd.concat([rows(1, "8-14", [1, 2]), rows(2, "8-14", [5], first_obs=2), rows(3, "0-7", [3], first_obs=3)])
    shuffled = scores.sample(frac=1, random_state=1).assign(system="b")
    for (ids, w), (ids2, w2) in zip(viewer_draws(scores, 50, 4).values(), viewer_draws(shuffled, 50, 4).values()):
        np.testing.assert_array_equal(ids, ids2)
        np.testing.assert_array_equal(w, w2)
        assert (w.sum(1) == len(ids)).all()


def _paired_case():
    """Systems a and b on 16 viewers (1-4 observations each) in two groups; a has one more hit than b on every
    observation (precision and recall +0.2), zero has none."""
    rng = np.random.default_rng(0)
    parts, first = [], 0
    for user in range(16):
        hits = rng.integers(0, 5, rng.integers(1, 5))
        for system, h in (("a", hits + 1), ("b", hits), ("zero", 0 * hits)):
            parts.append(rows(user, "8-14" if user < 8 else "25-37", h, system, first_obs=first))
        first += len(hits)
    return pd.concat(parts, ignore_index=True)


def test_paired_difference_known_by_hand_uses_the_same_draws_as_aggregate_scores():
    scores = _paired_case()
    diff = paired_differences(scores, PAIRS, 500, 0.95, 11)
    assert list(diff.columns) == ["system", "rival", "attributes", "relevance", "protocol", "rule", "age_group",
                                  "metric", "difference", "low", "high", "observations", "viewers", "subset",
                                  "verdict"]
    assert len(diff) == len(PAIRS) * 2 * 3 * 4        # pairs x rules x (two groups, all) x metrics
    for metric in ("precision", "recall"):
        ab = diff[(diff["system"] == "a") & (diff["rival"] == "b") & (diff["metric"] == metric)]
        assert np.allclose(ab[["difference", "low", "high"]], 0.2) and (ab["verdict"] == "better").all()
        ba = diff[(diff["system"] == "b") & (diff["rival"] == "a") & (diff["metric"] == metric)]
        assert np.allclose(ba[["difference", "low", "high"]], -0.2) and (ba["verdict"] == "worse").all()
    same = diff[(diff["system"] == "a") & (diff["rival"] == "a")]
    assert (same[["difference", "low", "high"]] == 0).all().all() and (same["verdict"] == "undecided").all()
    # a - zero is a itself, resample by resample: the same interval as aggregate_scores with the same seed
    plain, other = (aggregate_scores(scores, 500, 0.95, seed) for seed in (11, 12))
    agg = plain.set_index(["system", "rule", "age_group"])
    vs_zero = diff[diff["rival"] == "zero"].set_index(["rule", "age_group", "metric"])
    for (rule, group, metric), r in vs_zero.iterrows():
        a = agg.loc[("a", rule, group)]
        assert (r["difference"], r["low"], r["high"]) == pytest.approx(
            (a[metric], a[f"{metric}_low"], a[f"{metric}_high"]))
        assert (r["observations"], r["viewers"]) == (a["observations"], a["viewers"])
    assert not np.allclose(plain["precision_low"], other["precision_low"])    # the test can tell the draws apart


def test_rated_candidates_count_only_viewers_with_more_than_n_held_out_and_pair_on_the_same_observations():
    # viewer 1 has 3 held-out ratings (<= n = 10): every order recommends all of them; viewer 2 has 12
    scores = pd.concat([rows(u, "8-14", [h] * 2, s, p, held_out=held, first_obs=2 * (u - 1))
                        for u, h, held in ((1, 3, 3), (2, 1, 12))
                        for s, protocols in (("svd", ("rated_candidates", "rated_candidates_threshold")),
                                             ("pop", ("rated_candidates",)))
                        for p in (*protocols, "full_ranking")])
    agg = aggregate_scores(scores, 200, 0.95, 0)
    agg = agg[(agg["rule"] == "zero") & (agg["age_group"] == "8-14")].set_index(["system", "protocol"])
    assert set(agg.index) == {("svd", "rated_candidates"), ("svd", "rated_candidates_threshold"),
                              ("svd", "full_ranking"), ("pop", "rated_candidates"), ("pop", "full_ranking")}
    for system, protocol in agg.index:
        row = agg.loc[(system, protocol)]
        if protocol == "full_ranking":
            assert (row["observations"], row["viewers"], row["excluded_observations"], row["subset"]) == (4, 2, 0, "all")
            assert row["precision"] == pytest.approx(0.4)
        else:
            assert (row["observations"], row["viewers"], row["excluded_observations"]) == (2, 1, 2)
            assert row["subset"] == "held-out ratings > 10" and row["precision"] == pytest.approx(0.2)
    diff = paired_differences(scores, [("svd", "pop")], 200, 0.95, 0)
    assert set(diff["protocol"]) == {"rated_candidates", "full_ranking"}     # no threshold variant for pop
    # rated candidates: the same observations (viewer 2 only), so paired; a rival scored elsewhere is not
    assert one(diff, protocol="rated_candidates", rule="zero", age_group="all", metric="precision")["observations"] == 2
    elsewhere = scores[~((scores["system"] == "pop") & (scores["obs_id"] == 0))]
    assert not (paired_differences(elsewhere, [("svd", "pop")], 200, 0.95, 0)["protocol"] == "full_ranking").any()


def test_no_eligible_viewer_gives_nan_estimates_not_zero():
    scores = rows(1, "8-14", [3, 3], protocol="rated_candidates", held_out=3, top_n=10)
    row = one(aggregate_scores(scores, 100, 0.95, 0), rule="one", age_group="all")
    assert (row["observations"], row["excluded_observations"]) == (0, 2)
    assert np.isnan([row["precision"], row["precision_low"], row["f1_of_means"], row["f1_of_means_high"]]).all()
