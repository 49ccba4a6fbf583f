"""The ``clustering`` and ``recommendation`` parameters as typed models, checked when a run starts (an unknown
key or a value out of range stops the run before any node). The YAML files hold the values; these the rules."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    model_validator,
)

from hybrid_recommender.labels import EMOTIONS, GENRES
from hybrid_recommender.param_types import Fraction, Section
from hybrid_recommender.recommender.affinity import AGGREGATIONS, STANCES
from hybrid_recommender.recommender.hybrid import METHODS
from hybrid_recommender.recommender.spark_als import ENGINES

Rating = Annotated[float, Field(ge=1, le=5)]
Emotion = Literal[EMOTIONS]
Genre = Literal[GENRES]
Stance = Literal[STANCES]
Method = Literal[tuple(METHODS)]
Engine = Literal[ENGINES]



class ClusteringParams(Section):
    seed: int
    k_min: PositiveInt
    k_max: PositiveInt
    n_init: PositiveInt
    elbow_sensitivity: PositiveFloat
    force_k: PositiveInt | None
    top_genres: PositiveInt

    @model_validator(mode="after")
    def _k_range(self):
        if self.k_max < self.k_min:
            raise ValueError(f"k_max ({self.k_max}) must be at least k_min ({self.k_min})")
        return self


class Split(Section):
    test_fraction: Annotated[float, Field(gt=0, lt=1)]


class Groups(Section):
    min_users: PositiveInt
    min_ratings: NonNegativeInt


class Svd(Section):
    n_factors: PositiveInt
    n_epochs: PositiveInt
    lr_all: PositiveFloat
    reg_all: NonNegativeFloat


class Als(Section):
    """PySpark ALS of the ``spark`` engine (explicit ratings; its seed is ``recommendation.seed``)."""

    rank: PositiveInt
    max_iter: PositiveInt
    reg_param: NonNegativeFloat
    biases: bool
    user_bias_shrinkage: NonNegativeFloat
    item_bias_shrinkage: NonNegativeFloat
    nonnegative: bool
    num_blocks: PositiveInt
    checkpoint_interval: PositiveInt


class Hybrid(Section):
    method: Method
    stance: Stance
    affinity_baseline: NonNegativeFloat
    affinity_aggregation: Literal[AGGREGATIONS]
    truncated_rank: PositiveInt
    top_genres: PositiveInt


class Compare(Section):
    hybrid_methods: list[Method]
    relevant_min_rating: Rating
    emotions: list[Emotion]


class Affinity(Section):
    genres: list[Genre]
    # stance -> emotion -> one weight in [0, 1] per genre
    stances: dict[Stance, dict[Emotion, list[Fraction]]]

    @model_validator(mode="after")
    def _one_weight_per_genre(self):
        for stance, rows in self.stances.items():
            for emotion, weights in rows.items():
                if len(weights) != len(self.genres):
                    raise ValueError(f"stances.{stance}.{emotion} has {len(weights)} weights; expected one per "
                                     f"genre ({len(self.genres)})")
        return self


class RecommendationParams(Section):
    seed: int
    top_n: PositiveInt
    engine: Engine
    split: Split
    groups: Groups
    svd: Svd
    als: Als
    hybrid: Hybrid
    list_stances: list[Stance]
    compare: Compare
    affinity: Affinity
