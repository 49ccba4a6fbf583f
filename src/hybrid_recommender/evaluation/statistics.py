"""Cluster bootstrap over viewers for the evaluation's means, and paired differences between systems.

An observation is a MovieLens test viewer with a drawn face, and viewers repeat (8-14: 10 users, 38 observations),
so observations are not independent: a resample draws viewers with replacement within each age group and a drawn
viewer brings all of his observations. The draws depend only on the viewers and the seed, so every system,
attribute source, relevance, protocol and rule is resampled with the same draws: differences are paired.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hybrid_recommender.recommender.ranking_metrics import (
    RATED_PROTOCOLS,
    UNDEFINED_RULES,
    f1_of,
    with_metrics,
)

CELL = ["rule", "system", "attributes", "relevance", "protocol"]
METRICS = ("precision", "recall", "f1")
ALL = "all"


def viewer_draws(scores: pd.DataFrame, n_boot: int, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{age group: (its viewers' sorted user ids, n_boot x viewers matrix of how often each viewer is drawn)}.

    Drawing len(ids) viewers with replacement is a multinomial count per viewer; groups are drawn in sorted order
    from one generator, so the same observations and seed give the same draws whatever the row order."""
    rng = np.random.default_rng(int(seed))
    out = {}
    for group, ids in scores.groupby("age_group")["user_id"].unique().sort_index().items():
        ids = np.sort(ids.astype(np.int64))
        out[group] = ids, rng.multinomial(len(ids), np.full(len(ids), 1 / len(ids)), size=int(n_boot))
    return out


def in_subset(scores: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Which rows count, and the rule that selected them. The rated-candidates protocols rank only the viewer's
    held-out movies: with top_n or fewer of them every system recommends all of them whatever its order, so those
    viewers cannot separate systems and are left out; full_ranking keeps every observation."""
    rated = scores["protocol"].isin(RATED_PROTOCOLS).to_numpy()
    keep = ~rated | (scores["held_out"] > scores["top_n"]).to_numpy()
    return keep, np.where(rated, "held-out ratings > " + scores["top_n"].astype(str), "all")


def resampled_means(scores: pd.DataFrame, n_boot: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Per (rule, system, attributes, relevance, protocol) and age group (then "all", the groups' resamples pooled):
    a frame of counts (observations, viewers, excluded_observations, subset, undefined_precision, undefined_recall,
    obs_ids), the means over its observations (rows x [precision, recall, F1]) and their resamples under
    `viewer_draws` (rows x 3 x n_boot). A resample's mean is a ratio (drawn sums / drawn counts) so that a subset of
    viewers is a domain of the same draws; it is NaN when no viewer of the subset was drawn."""
    draws = viewer_draws(scores, n_boot, seed)
    table = pd.concat([with_metrics(scores, rule) for rule in UNDEFINED_RULES], ignore_index=True)
    keep, table["subset"] = in_subset(table)
    cell = table.groupby(CELL, sort=False).ngroup().to_numpy()
    viewers = pd.MultiIndex.from_tuples([(g, u) for g, (ids, _) in draws.items() for u in ids])
    col = viewers.get_indexer(pd.MultiIndex.from_arrays([table["age_group"], table["user_id"].astype(np.int64)]))
    n_cells, n_viewers = cell.max() + 1, len(viewers)

    def per_viewer(weights=None, rows=keep):      # cells x viewers sums over the (kept) rows
        w = None if weights is None else np.asarray(weights, dtype=np.float64)[rows]
        flat = cell[rows] * n_viewers + col[rows]
        return np.bincount(flat, w, minlength=n_cells * n_viewers).reshape(n_cells, n_viewers)

    count, total = per_viewer(), per_viewer(rows=np.ones(len(table), bool))   # integer counts
    sums = np.stack([per_viewer(table[m]) for m in METRICS])
    undefined = {"undefined_precision": per_viewer(table["recommended"] == 0),
                 "undefined_recall": per_viewer(table["relevant"] == 0)}
    first = table.groupby(cell)[[*CELL, "subset"]].first()
    obs_ids = table[keep].groupby([cell[keep], table["age_group"][keep]])["obs_id"].agg(frozenset)

    order = list(dict.fromkeys(scores["age_group"]))
    start = dict(zip(draws, np.cumsum([0, *(len(ids) for ids, _ in draws.values())])))
    frames, est, boot = [], [], []
    for rank, group in enumerate([*order, ALL]):
        if group == ALL:
            cols, w = slice(None), np.hstack([d for _, d in draws.values()])
        else:
            cols, w = slice(start[group], start[group] + len(draws[group][0])), draws[group][1]
        present = np.flatnonzero(total[:, cols].sum(1) > 0)
        c, s = count[present][:, cols], sums[:, present][:, :, cols]
        with np.errstate(invalid="ignore", divide="ignore"):
            est.append((s.sum(-1) / c.sum(1)).T)
            boot.append(np.moveaxis((s @ w.T) / (c @ w.T), 0, 1))
        ids = [frozenset().union(*(obs_ids.get((i, g), frozenset()) for g in order)) if group == ALL
               else obs_ids.get((i, group), frozenset()) for i in present]
        frames.append(first.loc[present].assign(
            age_group=group, observations=c.sum(1), viewers=(c > 0).sum(1),
            excluded_observations=total[present][:, cols].sum(1) - c.sum(1),
            **{k: v[present][:, cols].sum(1).astype(int) for k, v in undefined.items()},
            obs_ids=ids, _cell=present, _rank=rank))
    info = pd.concat(frames, ignore_index=True)
    at = np.lexsort((info["_rank"], info["_cell"]))       # cells in order of appearance, age groups within
    info = info.iloc[at].drop(columns=["_cell", "_rank"]).reset_index(drop=True)
    return info, np.concatenate(est)[at], np.concatenate(boot)[at]


def f1_nan(p: np.ndarray, r: np.ndarray) -> np.ndarray:
    """F1 of precision and recall, NaN where either is NaN (an empty resample) rather than 0."""
    return np.where(np.isnan(p) | np.isnan(r), np.nan, f1_of(np.nan_to_num(p), np.nan_to_num(r)))


def metric_values(est: np.ndarray, boot: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{metric: (estimates, resamples)} of the reported metrics; f1_of_means is per resample, from its means."""
    return {"precision": (est[:, 0], boot[:, 0]), "recall": (est[:, 1], boot[:, 1]),
            "mean_f1": (est[:, 2], boot[:, 2]),
            "f1_of_means": (f1_nan(est[:, 0], est[:, 1]), f1_nan(boot[:, 0], boot[:, 1]))}


def percentile_interval(boot: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval along the last axis (numpy's linear quantile), ignoring empty (NaN) resamples;
    vectorised because np.nanquantile loops in Python over the rows."""
    alpha = (1 - float(level)) / 2
    b = np.sort(boot, axis=-1)                                   # NaN sorts last
    n = (~np.isnan(b)).sum(-1, keepdims=True)
    out = []
    for q in (alpha, 1 - alpha):
        pos = q * (n - 1)
        lo = np.clip(np.floor(pos).astype(int), 0, None)
        hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
        below, above = np.take_along_axis(b, lo, -1), np.take_along_axis(b, hi, -1)
        out.append(np.where(n > 0, below + (pos - lo) * (above - below), np.nan)[..., 0])
    return out[0], out[1]


def paired_differences(scores: pd.DataFrame, pairs: Sequence[tuple[str, str]], n_boot: int, level: float,
                       seed: int) -> pd.DataFrame:
    """system - rival for every (attributes, relevance, protocol, rule, age group and "all") where both were scored
    on the same observations: the difference of the estimates and the percentile interval of the differences under
    the same viewer draws as `aggregate_scores` (same seed); verdict "better"/"worse" when the interval excludes 0
    above/below, else "undecided". Long format, one row per metric."""
    info, est, boot = resampled_means(scores, n_boot, seed)
    values = metric_values(est, boot)
    info = info.assign(_pos=np.arange(len(info)))
    key = ["attributes", "relevance", "protocol", "rule", "age_group"]
    frames = []
    for pair, (system, rival) in enumerate(pairs):
        m = info[info["system"] == system].merge(info[info["system"] == rival], on=key, suffixes=("", "_r"))
        m = m[[a == b and len(a) > 0 for a, b in zip(m["obs_ids"], m["obs_ids_r"])]]   # paired only if same obs
        a, b = m["_pos"].to_numpy(), m["_pos_r"].to_numpy()
        for metric, (e, bt) in values.items():
            low, high = percentile_interval(bt[a] - bt[b], level)
            frames.append(m[[*key, "observations", "viewers", "subset", "_pos"]].assign(
                _pair=pair, system=system, rival=rival, metric=metric, difference=e[a] - e[b], low=low, high=high,
                verdict=np.select([low > 0, high < 0], ["better", "worse"], "undecided")))
    cols = ["system", "rival", *key, "metric", "difference", "low", "high", "observations", "viewers", "subset",
            "verdict"]
    if not frames:
        return pd.DataFrame(columns=cols)
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["_pair", "_pos"], kind="stable")[cols].reset_index(drop=True)
