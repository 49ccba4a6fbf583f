"""Every parameter section and the model that checks it; a bad key or value becomes one :class:`ParameterError`
line naming the key, the value and what is allowed (hooks.ParameterCheckHook runs the check when a run starts)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.evaluation.params import EvaluationParams
from hybrid_recommender.face_models.params import FaceModelsParams
from hybrid_recommender.inference.settings import InferenceSettings
from hybrid_recommender.ingest.params import DataEngineeringParams
from hybrid_recommender.recommender.params import ClusteringParams, RecommendationParams

PARAMETERS: dict[str, type[BaseModel]] = {
    "clustering": ClusteringParams,
    "data_engineering": DataEngineeringParams,
    "evaluation": EvaluationParams,
    "face_models": FaceModelsParams,
    "inference": InferenceSettings,
    "recommendation": RecommendationParams,
}


class ParameterError(InputDataError):
    """A parameter is unknown, missing or out of range (conf/<env>/parameters_*.yml or ``--params``)."""


def validated(section: str, values: Mapping) -> BaseModel:
    """``values`` of parameter ``section`` as its model; a :class:`ParameterError` for any bad key or value."""
    try:
        return PARAMETERS[section].model_validate(dict(values))
    except ValidationError as exc:
        raise ParameterError("; ".join(_describe(section, PARAMETERS[section], e) for e in exc.errors())) from None


def check_parameters(params: Mapping[str, Any]) -> None:
    """Every section of ``params`` (Kedro's resolved parameters) checked; one error naming every bad key."""
    unknown = sorted(set(params) - set(PARAMETERS))
    problems = [f"parameter section(s) {', '.join(unknown)}: not known; expected one of {', '.join(PARAMETERS)}"] \
        if unknown else []
    for section in sorted(set(params) & set(PARAMETERS)):
        try:
            validated(section, params[section])
        except ParameterError as exc:
            problems.append(str(exc))
    if problems:
        raise ParameterError("; ".join(problems))


def _describe(section: str, model: type[BaseModel], error: Mapping) -> str:
    loc = [str(part) for part in error["loc"]]
    key = ".".join([section, *loc])
    if error["type"] == "extra_forbidden":
        known = _keys_at(model, loc[:-1])
        allowed = f"; known keys here: {', '.join(known)}" if known else ""
        return f"parameter {key}={error['input']!r}: not a known key{allowed}"
    if error["type"] == "missing":
        return f"parameter {key}: missing"
    message = error["msg"].removeprefix("Value error, ").replace("Input should", "should")
    if isinstance(error["input"], Mapping):         # a rule across keys: the message names them
        return f"parameters {key}: {message}"
    return f"parameter {key}={error['input']!r}: {message}"


def _keys_at(model: type[BaseModel], loc: list[str]) -> list[str]:
    """The keys the nested model at ``loc`` accepts ([] where ``loc`` leaves the nested models)."""
    for part in loc:
        field = model.model_fields.get(part)
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            return []
        model = field.annotation
    return list(model.model_fields)
