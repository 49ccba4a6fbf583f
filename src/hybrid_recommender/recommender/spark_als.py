"""The rating model of the ``spark`` engine: one PySpark ALS factorisation (explicit ratings) of the training ratings.

Under ``recommendation.engine: spark`` every score that the Surprise SVD gives under ``surprise`` (the hybrid's
per-(group, cluster) scores, the demographic and global SVD baselines) comes from one ALS model fitted once on the
training ratings. Spark fits it (the part that grows with the ratings); its factors are small (users x rank,
items x rank) and are collected to the driver as numpy arrays (:class:`ALSFactors`), where a group's score of a
movie is the mean over the group's users of the predicted rating ``clip(mu + b_u + b_i + U_u . V_i, 1, 5)``,
computed in chunks of users: never a dense all-users x all-items matrix.

ALS itself has no bias terms; with ``als.biases`` (default) it factorises the residuals of a damped baseline
``mu + b_u + b_i`` (the baseline Surprise's SVD learns), which keeps a movie that a handful of users rated from the
extreme mean prediction plain ALS gives it (plain ALS: as good an RMSE, top-10 lists full of such movies).

A user or movie ALS never saw (a movie no training rating mentions) has no factors; its prediction falls back to
the baseline, as Surprise's SVD does: ``mu + b_u`` for a known user and an unseen movie, ``mu + b_i`` for an unseen
user, ``mu`` (the training mean) for both. (With ``biases`` off: the user's, the movie's, the global mean rating.)

PySpark is imported only when a model is fitted, so this module (and the package) works without it; asking for the
spark engine without PySpark is an ImportError that says how to install it.

>>> factors = fit_als(spark, train, {"rank": 10, "max_iter": 10, "reg_param": 0.1}, seed=42)  # doctest: +SKIP
>>> factors.mean_predictions(group_user_ids, cluster_item_ids)                                # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

ENGINES = ("surprise", "spark")
INSTALL_HINT = "install the spark extra: pip install -e '.[spark]' (PySpark; Java 17 or 21 on the PATH)"
# ALS settings of `recommendation.als` (the YAML is their home; tests check these equal it). Chosen on ML-100K's
# project split (docs/recommendation.md, "The Spark engine"): RMSE at or below Surprise SVD's.
ALS_DEFAULTS = {"rank": 10, "max_iter": 10, "reg_param": 0.1, "biases": True, "user_bias_shrinkage": 10.0,
                "item_bias_shrinkage": 25.0, "nonnegative": False, "num_blocks": 2, "checkpoint_interval": 10}
# A chunk of users x candidate movies holds at most this many predictions (8 bytes each: 32 MiB).
CHUNK_CELLS = 1 << 22


def require_pyspark() -> Any:
    """The pyspark module; an ImportError saying how to install it when it is missing."""
    try:
        import pyspark
    except ImportError as exc:
        raise ImportError(f"recommendation.engine 'spark' needs PySpark, which is not installed: {INSTALL_HINT}") \
            from exc
    return pyspark


def spark_session() -> Any:
    """The running SparkSession (the one the Kedro hook started), else a new local one with Spark's defaults."""
    require_pyspark()
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is None:
        with quiet_pandas_warnings():
            session = SparkSession.builder.getOrCreate()
        log.info("Spark engine: no running Spark session; started one with Spark's defaults (master %s)",
                 session.sparkContext.master)
    return session


@contextmanager
def quiet_pandas_warnings():
    """Without PySpark's warnings about pandas 3 (on every conversion, that it "does not yet fully support pandas
    >= 3.0.0", and its use of the deprecated ``copy`` keyword): the columns converted here (ints, floats and
    float arrays) are the plain case."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"PySpark does not yet fully support pandas")
        warnings.filterwarnings("ignore", message=r"The copy keyword is deprecated")
        yield


@dataclass
class ALSFactors:
    """ALS's user and movie factors, collected to numpy, with the baselines and the fallbacks for unseen ids.

    A known (user, movie) pair is predicted ``clip(offset + user_bias[u] + item_bias[i] + U_u . V_i)``; with
    ``biases`` off, offset and biases are 0 and ALS factorised the ratings themselves. Plain numpy arrays and
    floats: picklable, no Spark needed to use it.
    """

    user_ids: np.ndarray          # sorted raw user ids (int64)
    user_factors: np.ndarray      # len(user_ids) x rank
    item_ids: np.ndarray          # sorted raw movie ids (int64)
    item_factors: np.ndarray      # len(item_ids) x rank
    global_mean: float            # training mean rating: the prediction when user and movie are both unseen
    offset: float = 0.0           # the global mean when ALS factorised the residuals of the baseline, else 0
    user_bias: np.ndarray | None = None       # per user (None: zeros)
    item_bias: np.ndarray | None = None       # per movie (None: zeros)
    user_fallback: np.ndarray | None = None   # per user: the prediction for a movie ALS never saw
    item_fallback: np.ndarray | None = None   # per movie: the prediction for a user ALS never saw
    rating_scale: tuple[float, float] = (1.0, 5.0)
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        n_users, n_items = len(self.user_ids), len(self.item_ids)
        if self.user_bias is None:
            self.user_bias = np.zeros(n_users)
        if self.item_bias is None:
            self.item_bias = np.zeros(n_items)
        if self.user_fallback is None:
            self.user_fallback = self.offset + self.user_bias if self.offset else np.full(n_users, self.global_mean)
        if self.item_fallback is None:
            self.item_fallback = self.offset + self.item_bias if self.offset else np.full(n_items, self.global_mean)

    @property
    def rank(self) -> int:
        return int(self.user_factors.shape[1])

    def _positions(self, known: np.ndarray, ids: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(known, ids)
        pos[pos >= len(known)] = 0
        return np.where(known[pos] == ids, pos, -1) if len(known) else np.full(len(ids), -1)

    def predict(self, user_ids, item_ids) -> np.ndarray:
        """The predicted rating of each (user, movie) pair, clipped to the rating scale (with the fallbacks)."""
        users = np.asarray(user_ids, dtype=np.int64)
        items = np.asarray(item_ids, dtype=np.int64)
        if users.shape != items.shape:
            raise ValueError(f"{len(users)} user ids for {len(items)} movie ids")
        up, ip = self._positions(self.user_ids, users), self._positions(self.item_ids, items)
        ku, ki = up >= 0, ip >= 0
        out = np.full(len(users), float(self.global_mean))
        out[ku & ~ki] = self.user_fallback[up[ku & ~ki]]
        out[~ku & ki] = self.item_fallback[ip[~ku & ki]]
        both = ku & ki
        u, i = up[both], ip[both]
        out[both] = (self.offset + self.user_bias[u] + self.item_bias[i]
                     + np.einsum("ij,ij->i", self.user_factors[u], self.item_factors[i]))
        return np.clip(out, *self.rating_scale)

    def mean_predictions(self, user_ids, item_ids, chunk_cells: int = CHUNK_CELLS) -> np.ndarray:
        """Mean over ``user_ids`` of each of ``item_ids``' predicted rating, clipped to the scale per user.

        Users are taken in chunks of at most ``chunk_cells / len(item_ids)``, so memory stays bounded whatever the
        number of users.
        """
        users = np.asarray(user_ids, dtype=np.int64)
        items = np.asarray(item_ids, dtype=np.int64)
        if len(users) == 0 or len(items) == 0:
            return np.zeros(len(items))
        up, ip = self._positions(self.user_ids, users), self._positions(self.item_ids, items)
        ku, ki = up[up >= 0], ip >= 0
        n_unknown_users = int((up < 0).sum())
        total = np.zeros(len(items))
        lo, hi = self.rating_scale
        if len(ku):
            total[~ki] += np.clip(self.user_fallback[ku], lo, hi).sum()
            v = self.item_factors[ip[ki]].T                        # rank x known candidates
            item_base = self.item_bias[ip[ki]]
            if v.shape[1]:
                step = max(1, int(chunk_cells) // v.shape[1])
                sums = np.zeros(v.shape[1])
                for start in range(0, len(ku), step):
                    chunk = ku[start:start + step]
                    block = self.user_factors[chunk] @ v
                    block += (self.offset + self.user_bias[chunk])[:, None]
                    block += item_base[None, :]
                    sums += np.clip(block, lo, hi, out=block).sum(axis=0)
                total[ki] += sums
        if n_unknown_users:
            total[ki] += n_unknown_users * np.clip(self.item_fallback[ip[ki]], lo, hi)
            total[~ki] += n_unknown_users * np.clip(self.global_mean, lo, hi)
        return total / len(users)


def _spark_ratings(spark: Any, ratings: Any) -> Any:
    """(user_id int, item_id int, rating float) as a Spark DataFrame, from a pandas or a Spark frame."""
    from pyspark.sql import functions as F

    if isinstance(ratings, pd.DataFrame):
        missing = [c for c in ("user_id", "item_id", "rating") if c not in ratings.columns]
        if missing:
            raise ValueError(f"ratings need columns user_id, item_id, rating; missing {missing}")
        table = ratings[["user_id", "item_id", "rating"]].astype(
            {"user_id": "int32", "item_id": "int32", "rating": "float64"})
        with quiet_pandas_warnings():
            return spark.createDataFrame(table, schema="user_id int, item_id int, rating double")
    return ratings.select(F.col("user_id").cast("int"), F.col("item_id").cast("int"),
                          F.col("rating").cast("double"))


def _collect_factors(frame: Any) -> tuple[np.ndarray, np.ndarray]:
    with quiet_pandas_warnings():
        table = frame.toPandas().sort_values("id")
    ids = table["id"].to_numpy(dtype=np.int64)
    vectors = np.asarray(np.stack(table["features"].to_numpy()) if len(table) else np.zeros((0, 0)),
                         dtype=np.float64)
    return ids, vectors


def _baseline_pandas(ratings: pd.DataFrame, params: Mapping) -> tuple[float, pd.Series, pd.Series, pd.DataFrame]:
    """(global mean, user biases, item biases, residual ratings) of a pandas table: Koren's damped baseline,
    b_i = sum(r - mu) / (item_shrinkage + n_i), then b_u = sum(r - mu - b_i) / (user_shrinkage + n_u)."""
    table = ratings[["user_id", "item_id", "rating"]]
    mu = float(table["rating"].mean())
    dev = table["rating"].to_numpy(dtype=np.float64) - mu
    by_item = pd.Series(dev).groupby(table["item_id"].to_numpy())
    item_bias = by_item.sum() / (float(params["item_bias_shrinkage"]) + by_item.size())
    dev = dev - item_bias.reindex(table["item_id"].to_numpy()).to_numpy()
    by_user = pd.Series(dev).groupby(table["user_id"].to_numpy())
    user_bias = by_user.sum() / (float(params["user_bias_shrinkage"]) + by_user.size())
    dev = dev - user_bias.reindex(table["user_id"].to_numpy()).to_numpy()
    residuals = pd.DataFrame({"user_id": table["user_id"].to_numpy(), "item_id": table["item_id"].to_numpy(),
                              "rating": dev})
    return mu, user_bias, item_bias, residuals


def _baseline_spark(frame: Any, params: Mapping) -> tuple[float, pd.Series, pd.Series, Any]:
    """:func:`_baseline_pandas` of a Spark frame, computed by Spark (the biases are collected: one per id)."""
    from pyspark.sql import functions as F

    mu = frame.agg(F.avg("rating")).first()[0]
    if mu is None:
        raise ValueError("ALS needs at least one training rating; got an empty ratings table")
    items = frame.groupBy("item_id").agg(
        (F.sum(F.col("rating") - F.lit(mu)) / (F.count("*") + F.lit(float(params["item_bias_shrinkage"]))))
        .alias("b_i"))
    with_items = frame.join(items, "item_id")
    user_shrinkage = F.lit(float(params["user_bias_shrinkage"]))
    users = with_items.groupBy("user_id").agg(
        (F.sum(F.col("rating") - F.lit(mu) - F.col("b_i")) / (F.count("*") + user_shrinkage)).alias("b_u"))
    residuals = with_items.join(users, "user_id").select(
        "user_id", "item_id", (F.col("rating") - F.lit(mu) - F.col("b_i") - F.col("b_u")).alias("rating"))
    with quiet_pandas_warnings():
        item_bias = items.toPandas().set_index("item_id")["b_i"]
        user_bias = users.toPandas().set_index("user_id")["b_u"]
    return float(mu), user_bias, item_bias, residuals


def _means(ratings: Any, frame: Any, key: str, ids: np.ndarray) -> np.ndarray:
    """Each id's mean rating: from the pandas table when there is one (no Spark job), else with Spark."""
    if isinstance(ratings, pd.DataFrame):
        means = ratings.groupby(key)["rating"].mean()
    else:
        from pyspark.sql import functions as F

        with quiet_pandas_warnings():
            table = frame.groupBy(key).agg(F.avg("rating").alias("mean")).toPandas()
        means = pd.Series(table["mean"].to_numpy(dtype=np.float64), index=table[key].to_numpy(dtype=np.int64))
    means.index = means.index.astype(np.int64)
    return means.reindex(ids).to_numpy(dtype=np.float64)


def _aligned(values: pd.Series, ids: np.ndarray) -> np.ndarray:
    values = values.copy()
    values.index = values.index.astype(np.int64)
    return values.reindex(ids).fillna(0.0).to_numpy(dtype=np.float64)


_CHECKPOINT_DIRS: list[str] = []


def _ensure_checkpoint_dir(spark: Any) -> None:
    """ALS cuts its lineage every ``checkpoint_interval`` iterations only when the Spark context has a checkpoint
    folder; without one, many iterations overflow the stack. Use a temporary folder when none is configured
    (``spark.checkpoint.dir`` in conf/base/spark.yml; on a cluster a shared file system's path)."""
    sc = spark.sparkContext
    if sc.getCheckpointDir() is None:
        folder = tempfile.mkdtemp(prefix="hybrid-recommender-als-checkpoints-")
        _CHECKPOINT_DIRS.append(folder)
        sc.setCheckpointDir(folder)


@atexit.register
def _remove_checkpoint_dirs() -> None:
    for folder in _CHECKPOINT_DIRS:
        shutil.rmtree(folder, ignore_errors=True)


def fit_als(spark: Any, ratings: Any, als_params: Mapping | None = None, seed: int = 42,
            rating_scale: tuple[float, float] = (1, 5)) -> ALSFactors:
    """Fit PySpark's ALS (explicit ratings) on ``ratings`` (pandas or Spark: user_id, item_id, rating) with
    ``spark`` and return its factors, biases and fallbacks as numpy (:class:`ALSFactors`).

    With ``biases`` (default) ALS factorises the residuals of a damped baseline (global mean + user bias + movie
    bias, the baseline of Surprise's SVD and of Koren's models): a movie rated by a handful of users keeps a
    prediction near the baseline instead of the extreme one plain ALS gives it.
    """
    require_pyspark()
    from pyspark.ml.recommendation import ALS

    params = {**ALS_DEFAULTS, **dict(als_params or {})}
    unknown = sorted(set(params) - set(ALS_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown ALS setting(s) {unknown}; expected {sorted(ALS_DEFAULTS)}")
    pandas_input = isinstance(ratings, pd.DataFrame)
    if pandas_input and len(ratings) == 0:
        raise ValueError("ALS needs at least one training rating; got an empty ratings table")
    frames = []
    try:
        if params["biases"] and pandas_input:
            mu, user_bias, item_bias, residuals = _baseline_pandas(ratings, params)
            target = _spark_ratings(spark, residuals)
        else:
            source = _spark_ratings(spark, ratings).persist()
            frames.append(source)
            if params["biases"]:
                mu, user_bias, item_bias, target = _baseline_spark(source, params)
            else:
                target = source
        target = target.persist()
        frames.append(target)
        _ensure_checkpoint_dir(spark)
        als = ALS(rank=int(params["rank"]), maxIter=int(params["max_iter"]), regParam=float(params["reg_param"]),
                  nonnegative=bool(params["nonnegative"]), numUserBlocks=int(params["num_blocks"]),
                  numItemBlocks=int(params["num_blocks"]), checkpointInterval=int(params["checkpoint_interval"]),
                  implicitPrefs=False, coldStartStrategy="drop", seed=int(seed),
                  userCol="user_id", itemCol="item_id", ratingCol="rating")
        model = als.fit(target)
        user_ids, user_factors = _collect_factors(model.userFactors)
        item_ids, item_factors = _collect_factors(model.itemFactors)
        scale = tuple(float(x) for x in rating_scale)
        settings = {**params, "seed": int(seed)}
        if params["biases"]:
            factors = ALSFactors(user_ids, user_factors, item_ids, item_factors, global_mean=mu, offset=mu,
                                 user_bias=_aligned(user_bias, user_ids), item_bias=_aligned(item_bias, item_ids),
                                 rating_scale=scale, params=settings)
        else:
            from pyspark.sql import functions as F

            mu = float(ratings["rating"].mean()) if pandas_input else target.agg(F.avg("rating")).first()[0]
            factors = ALSFactors(user_ids, user_factors, item_ids, item_factors, global_mean=mu,
                                 user_fallback=_means(ratings, target, "user_id", user_ids),
                                 item_fallback=_means(ratings, target, "item_id", item_ids),
                                 rating_scale=scale, params=settings)
    finally:
        for frame in frames:
            frame.unpersist()
    log.info("ALS (rank %d, %d iterations, reg %.3g, %s) fitted on Spark %s: %d users, %d movies", factors.rank,
             params["max_iter"], params["reg_param"], "on the baseline's residuals" if params["biases"] else
             "on the ratings", spark.version, len(user_ids), len(item_ids))
    return factors


def _fingerprint(ratings: Any) -> tuple:
    if isinstance(ratings, pd.DataFrame):
        cols = ratings[["user_id", "item_id", "rating"]]
        return ("pandas", len(cols), int(pd.util.hash_pandas_object(cols, index=False).sum()))
    return ("spark", id(ratings))


class SparkALS:
    """The ``spark`` engine's rating model, shared by the recommenders built together: ALS is fitted on the first
    ``factors(ratings)`` call and reused while the ratings are the same table (by content), so a run fits it once.

    ``spark``: a SparkSession; None takes the running one (started by the Kedro hook) or starts a local one when
    the model is first fitted. The session is not kept when the object is pickled (the factors are).
    """

    engine = "spark"

    def __init__(self, als_params: Mapping | None = None, seed: int = 42, spark: Any = None):
        require_pyspark()
        self.params = {**ALS_DEFAULTS, **dict(als_params or {})}
        self.seed = int(seed)
        self._spark = spark
        self._key: tuple | None = None
        self._factors: ALSFactors | None = None
        self.fits = 0

    def factors(self, ratings: Any) -> ALSFactors:
        key = _fingerprint(ratings)
        if self._factors is None or key != self._key:
            spark = self._spark if self._spark is not None else spark_session()
            self._factors = fit_als(spark, ratings, self.params, self.seed)
            self._key = key
            self.fits += 1
        return self._factors

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_spark": None}
