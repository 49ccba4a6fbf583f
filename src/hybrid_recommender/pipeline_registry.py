"""Project pipelines."""

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from hybrid_recommender.pipelines.evaluation import (
    create_pipeline as evaluation_pipeline,
)
from hybrid_recommender.pipelines.evaluation.pipeline import NO_FACES


def register_pipelines() -> dict[str, Pipeline]:
    # Kedro 1.7 loads only the requested pipelines (`--pipelines a,b`); the default run loads them all.
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(pipelines.values(), Pipeline([]))
    # `kedro run --pipelines recommendation` also writes the P/R/F1 tables: the evaluation nodes that need no
    # face model (oracle attributes). The whole evaluation is `--pipelines evaluation` (and part of the default).
    if "recommendation" in pipelines:
        pipelines["recommendation"] = pipelines["recommendation"] + evaluation_pipeline().only_nodes_with_tags(
            NO_FACES)
    return pipelines
