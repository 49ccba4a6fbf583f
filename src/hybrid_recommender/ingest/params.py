"""The ``data_engineering`` parameters as a typed model, checked when a run starts (an unknown key or a value out
of range stops the run before any node). The YAML files hold the values; this the rules."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    NonNegativeInt,
    PositiveInt,
    model_validator,
)

from hybrid_recommender.ingest.movielens_1m import check_age_codes
from hybrid_recommender.param_types import Fraction, Section


class MovieLens(Section):
    version: Literal["100k", "1m"]          # which MovieLens the pipelines read: 100K (the paper's) or 1M
    download: bool                          # fetch it from GroupLens (MD5-checked) when it is not in datasets_dir
    ml_1m_age_codes: dict[int, int]         # ML-1M age code -> representative age in years (binned by age_groups)

    @model_validator(mode="after")
    def _codes(self):
        self.ml_1m_age_codes = check_age_codes(self.ml_1m_age_codes)
        return self


class AgeGroups(Section):
    edges: list[NonNegativeInt]
    labels: list[str]
    viewers: list[str]

    @model_validator(mode="after")
    def _bins(self):
        if any(b <= a for a, b in zip(self.edges, self.edges[1:])):
            raise ValueError(f"edges {self.edges} must increase")
        if len(self.labels) != len(self.edges) - 1:
            raise ValueError(f"{len(self.labels)} labels for {len(self.edges) - 1} bins; expected one label per bin")
        if unknown := sorted(set(self.viewers) - set(self.labels)):
            raise ValueError(f"viewers {unknown} are not among the labels {self.labels}")
        return self


class SplitFractions(Section):
    train: Fraction
    val: Fraction
    test: Fraction

    @model_validator(mode="after")
    def _sum_to_one(self):
        if abs(self.train + self.val + self.test - 1) > 1e-6:
            raise ValueError(f"train + val + test = {self.train + self.val + self.test:g}; expected 1")
        return self


class Fer2013(Section):
    exclude_blank: bool
    protocol: Literal["carved", "official"]
    validation_fraction: Annotated[float, Field(gt=0, lt=1)]
    split_seed: int


class UtkFace(Section):
    image_size: PositiveInt
    split_fractions: SplitFractions


class CkPlus(Section):
    folds: PositiveInt
    split_fractions: SplitFractions


class RafDb(Section):
    image_size: PositiveInt


class Afew(Section):
    image_size: PositiveInt
    max_frames_per_clip: PositiveInt
    mtcnn_thresholds: Annotated[list[Fraction], Field(min_length=3, max_length=3)]   # MTCNN's three stages
    mtcnn_margin: NonNegativeInt


class DataEngineeringParams(Section):
    datasets_dir: str
    movielens: MovieLens
    age_groups: AgeGroups
    fer2013: Fer2013
    utkface: UtkFace
    ckplus: CkPlus
    rafdb: RafDb
    afew: Afew
