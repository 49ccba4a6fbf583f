"""Recommenders for a viewer's (age group, gender, emotion), usable without Kedro.

>>> rec = load_recommender("data/06_models/hybrid_recommender")                 # doctest: +SKIP
>>> rec.recommend(Viewer(age=30, gender="female", emotion="sad"), n=10)         # doctest: +SKIP

Fitted recommenders are saved as data (rankings as parquet, explanations as JSON; store.py) and loaded
without pickle. ``recommendation.engine: spark`` swaps the Surprise SVD for one PySpark ALS (spark_als.py).
"""

from typing import Any

from hybrid_recommender.recommender.base import (
    Ranking,
    Recommendation,
    Recommender,
    Viewer,
)
from hybrid_recommender.recommender.baselines import (
    DemographicSVD,
    GlobalSVD,
    GroupPopularity,
    RandomRecommender,
)
from hybrid_recommender.recommender.hybrid import HybridRecommender, favoured_cluster
from hybrid_recommender.recommender.spark_als import ENGINES, ALSFactors, SparkALS
from hybrid_recommender.recommender.store import (
    StoredRecommender,
    load_recommender,
    load_recommenders,
    save_recommender,
    save_recommenders,
)

__all__ = ["ALSFactors", "DemographicSVD", "GlobalSVD", "GroupPopularity", "HybridRecommender", "RandomRecommender",
           "Ranking", "Recommendation", "Recommender", "SparkALS", "StoredRecommender", "Viewer", "build_recommenders",
           "favoured_cluster", "load_recommender", "load_recommenders", "save_recommender", "save_recommenders"]


def build_recommenders(params: dict, affinity: dict, age_bins: dict | None = None,
                       spark: Any = None) -> dict[str, Recommender]:
    """Every recommender, unfitted, configured from the `recommendation` parameters.

    ``params["engine"]`` picks the rating model of the SVD recommenders: ``surprise`` (default) or ``spark``, one
    PySpark ALS shared by them all and fitted once (on the first ``fit``), in ``spark`` (a SparkSession; None:
    the running one, else a local one). Without PySpark, ``spark`` is an ImportError saying how to install it.
    """
    engine = params.get("engine", "surprise")
    if engine not in ENGINES:
        raise ValueError(f"unknown recommendation engine {engine!r}; expected one of {list(ENGINES)}")
    als = SparkALS(params.get("als"), seed=params["seed"], spark=spark) if engine == "spark" else None
    kw = {}
    if age_bins:
        kw = {"age_bin_edges": age_bins["edges"], "age_groups": age_bins["labels"]}
    groups = params["groups"]
    seed = params["seed"]
    hybrid = params["hybrid"]
    common = {"min_users": groups["min_users"], "min_ratings": groups["min_ratings"], "seed": seed, **kw}
    recs: dict[str, Recommender] = {}
    methods = dict.fromkeys([hybrid["method"], *params.get("compare", {}).get("hybrid_methods", [])])
    for method in methods:
        recs[f"hybrid_{method}"] = HybridRecommender(
            affinity, stance=hybrid["stance"], method=method, affinity_baseline=hybrid["affinity_baseline"],
            affinity_aggregation=hybrid["affinity_aggregation"], svd=params["svd"],
            truncated_rank=hybrid["truncated_rank"], top_genres=hybrid["top_genres"], als=als, **common)
    recs["demographic_svd"] = DemographicSVD(svd=params["svd"], als=als, **common)
    recs["global_svd"] = GlobalSVD(svd=params["svd"], seed=seed, als=als, **kw)
    recs["group_popularity"] = GroupPopularity(**common)
    recs["random"] = RandomRecommender(seed=seed, **kw)
    return recs
