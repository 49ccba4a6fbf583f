"""The ``evaluation`` parameters as a typed model, checked when a run starts (an unknown key or a value out of
range stops the run before any node). The YAML files hold the values; this the rules."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveInt,
)

from hybrid_recommender.param_types import Fraction, Section
from hybrid_recommender.recommender.params import Emotion, Rating, Stance


class Faces(Section):
    age_dataset: Literal["utkface", "rafdb"]
    emotion_dataset: Literal["fer2013", "rafdb"]
    track_datasets: Annotated[list[Literal["afew", "ckplus"]], Field(min_length=1)]


class Bootstrap(Section):
    resamples: PositiveInt
    level: Annotated[float, Field(gt=0, lt=1)]


class Grid(Section):
    shrinkage: list[NonNegativeFloat]
    popularity_weight: list[Fraction]
    emotion_weight: list[NonNegativeFloat]


class ImprovedHybrid(Section):
    validation_fraction: Annotated[float, Field(gt=0, lt=1)]
    liked_tolerance: NonNegativeFloat
    max_validation_users: PositiveInt
    grid: Grid
    target_min_observations: NonNegativeInt


class Mlflow(Section):
    experiment: str
    run_name: str


class EvaluationParams(Section):
    seed: int
    n_observations: PositiveInt
    age_groups: Annotated[list[str], Field(min_length=1)]
    emotion_distribution: dict[Emotion, NonNegativeFloat]
    faces: Faces
    top_n: PositiveInt
    relevant_min_rating: Rating
    estimate_threshold: Rating
    context_stance: Stance
    bootstrap: Bootstrap
    plot_rule: Literal["zero", "one"]
    improved_hybrid: ImprovedHybrid
    mlflow: Mlflow
