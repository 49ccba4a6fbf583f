"""The inference settings: one typed model whose defaults are conf/base/parameters_inference.yml (a test holds
them equal), so plain Python callers, the ``recommend`` command and the pipeline read the same values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import Field, NonNegativeInt, PositiveInt

from hybrid_recommender.param_types import Fraction, Section
from hybrid_recommender.recommender.params import Stance

Detector = Literal["mtcnn", "blazeface"]
GroupStrategy = Literal["average", "least_misery", "majority_emotion"]



class MinDetectionScore(Section):
    mtcnn: Fraction = 0.95
    blazeface: Fraction = 0.75


class Tracker(Section):
    iou_threshold: Fraction = 0.3
    max_missed: NonNegativeInt = 2
    window: PositiveInt = 64


class Calibration(Section):
    scale_x: Annotated[float, Field(gt=0)] = 0.96
    scale_y: Annotated[float, Field(gt=0)] = 1.2
    shift_y: float = -0.1


class BlazeFace(Section):
    model_path: str | None = None
    score_threshold: Fraction = 0.75
    iou_threshold: Fraction = 0.3
    calibration: Calibration = Calibration()


class ColdStart(Section):
    age_group: str | None = None
    gender: Literal["male", "female"] | None = None


class ResourcePaths(Section):
    """What the command loads, relative to the project root (the pipeline reads the same through the catalog)."""

    predictor: str = "data/06_models/face_attribute_predictor"
    recommender: str = "data/06_models/hybrid_recommender"
    cold_start: str = "data/06_models/cold_start_lists.json"
    movies: str = "data/03_primary/movielens_movies.parquet"


class AgeChoice(Section):
    """face_models.age_choice.AgeChoiceRule's settings."""

    confident: Fraction = 0.5
    child_min_probability: Fraction = 0.7
    child_groups: list[str] = ["0-7", "8-14"]


class InferenceSettings(Section):
    """``inference`` in parameters_inference.yml; docs/inference.md says what each setting does."""

    top_n: PositiveInt = 10
    group_strategy: GroupStrategy = "average"
    group_pool: PositiveInt = 100
    stance: Stance | None = None
    num_threads: PositiveInt | None = 1
    detector: Detector = "mtcnn"
    detect_every: PositiveInt = 5
    detect_max_side: PositiveInt | None = 320
    min_face_size: PositiveInt = 48
    min_detection_score: MinDetectionScore = MinDetectionScore()
    max_faces: PositiveInt = 8
    min_track_frames: PositiveInt = 3
    tracker: Tracker = Tracker()
    blazeface: BlazeFace = BlazeFace()
    emotion_confidence_threshold: Annotated[float, Field(ge=0)] = 0.35
    gender_confidence_threshold: Fraction = 0.0
    age_choice: AgeChoice = AgeChoice()
    max_file_mb: Annotated[float, Field(gt=0)] = 500
    max_frames: PositiveInt = 900
    frame_step: PositiveInt = 1
    camera_frames: PositiveInt = 75
    cold_start: ColdStart = ColdStart()
    resources: ResourcePaths = ResourcePaths()
    batch_inputs: list[str] = []


def settings_from(params: InferenceSettings | Mapping | None = None) -> InferenceSettings:
    """The settings, from a (partial) ``inference`` mapping: missing keys keep their defaults, nested ones too."""
    if isinstance(params, InferenceSettings):
        return params
    return InferenceSettings.model_validate(dict(params or {}))
