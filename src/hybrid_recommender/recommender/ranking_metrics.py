"""Train/test split of the ratings and an offline comparison of recommenders on the held-out ratings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from hybrid_recommender.recommender.base import Recommender, Viewer


def split_ratings(ratings: pd.DataFrame, test_fraction: float = 0.2,
                  seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame]:
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


# --- precision / recall / F1 of one list, under the two protocols ---------------------------------------------
# The counts are kept (hits, recommended, relevant); precision/recall/F1 are derived from them under a rule for the
# undefined cases (0/0): "zero" (Surprise >= 1.1.4) or "one" (older Surprise, the FAQ's precision_recall_at_k).
# rated_candidates: top n of the held-out movies by the system's own order, for every system; the threshold variant
# (Surprise FAQ: estimate >= threshold) only exists for systems whose scores are rating estimates. Both rank only
# held-out movies, so they are aggregated over viewers with more than n of them (else every order ties).
PROTOCOLS = ("rated_candidates", "rated_candidates_threshold", "full_ranking")
RATED_PROTOCOLS = ("rated_candidates", "rated_candidates_threshold")
UNDEFINED_RULES = {"zero": 0.0, "one": 1.0}


def full_ranking_counts(recommended: Sequence[int], relevant: frozenset | set) -> tuple[int, int, int]:
    """(hits, recommended, relevant) of a top-N list drawn from every movie the viewer has not rated in training."""
    hits = len(set(int(i) for i in recommended) & relevant)
    return hits, len(recommended), len(relevant)


def rated_candidates_counts(ranking_items: np.ndarray, ranking_scores: np.ndarray | None,
                            candidates: Sequence[int], relevant: frozenset | set, n: int,
                            estimate_threshold: float | None) -> tuple[int, int, int]:
    """(hits, recommended, relevant) when only the viewer's held-out movies are ranked (Surprise FAQ protocol).

    The candidates are ordered by their position in the recommender's full ranking (movies it does not rank come
    last); the top n are kept. When the recommender's scores are rating estimates (`estimate_threshold` given), a
    kept movie counts as recommended only if its estimate is >= the threshold, as in Surprise's FAQ.
    """
    candidates = np.asarray(sorted(int(c) for c in candidates), dtype=np.int64)
    pos = pd.Index(ranking_items).get_indexer(candidates)
    unranked = pos < 0
    order = np.lexsort((candidates, np.where(unranked, len(ranking_items), pos)))
    top = order[:int(n)]
    keep = ~unranked[top]
    if estimate_threshold is not None and ranking_scores is not None:
        keep &= np.where(unranked[top], -np.inf, ranking_scores[pos[top]]) >= estimate_threshold
    recommended = candidates[top][keep]
    hits = len(set(recommended.tolist()) & relevant)
    return hits, len(recommended), len(relevant & set(candidates.tolist()))


def with_metrics(counts: pd.DataFrame, rule: str) -> pd.DataFrame:
    """precision, recall and F1 (per row) from the hits / recommended / relevant columns under an undefined rule."""
    if rule not in UNDEFINED_RULES:
        raise ValueError(f"unknown undefined-value rule {rule!r}; expected one of {list(UNDEFINED_RULES)}")
    p, r, f1 = precision_recall_f1(counts["hits"], counts["recommended"], counts["relevant"], UNDEFINED_RULES[rule])
    return counts.assign(rule=rule, precision=p, recall=r, f1=f1)


def precision_recall_f1(hits, recommended, relevant, undefined: float = 0.0) -> tuple[np.ndarray, ...]:
    """Element-wise precision, recall and F1 from counts; ``undefined`` where a ratio is 0/0."""
    hits, rec, rel = (np.asarray(x, dtype=np.float64) for x in (hits, recommended, relevant))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(rec > 0, hits / rec, undefined)
        r = np.where(rel > 0, hits / rel, undefined)
    return p, r, f1_of(p, r)


def f1_of(p: np.ndarray, r: np.ndarray) -> np.ndarray:
    """The harmonic mean of precision and recall, element-wise (0 where both are 0): the project's one F1."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(p + r > 0, 2 * p * r / (p + r), 0.0)


def bootstrap_means(columns: Mapping[str, np.ndarray], n_boot: int = 1000, level: float = 0.95,
                    seed: int = 7) -> dict[str, tuple[float, float, float]]:
    """Mean and percentile bootstrap interval of each column (the same resamples for all), plus the F1 of the
    mean precision and mean recall when both are given. Returns {name: (estimate, low, high)}."""
    values = {k: np.asarray(v, dtype=np.float64) for k, v in columns.items()}
    n = len(next(iter(values.values())))
    if n == 0:
        return {k: (np.nan, np.nan, np.nan) for k in [*values, "f1_of_means"]}
    idx = np.random.default_rng(int(seed)).integers(0, n, size=(int(n_boot), n))
    alpha = (1 - level) / 2
    out, boots = {}, {}
    for k, v in values.items():
        boots[k] = v[idx].mean(axis=1)
        out[k] = (float(v.mean()), *map(float, np.quantile(boots[k], [alpha, 1 - alpha])))
    if "precision" in values and "recall" in values:
        est = float(f1_of(np.array(out["precision"][0]), np.array(out["recall"][0])))
        b = f1_of(boots["precision"], boots["recall"])
        out["f1_of_means"] = (est, *map(float, np.quantile(b, [alpha, 1 - alpha])))
    return out
