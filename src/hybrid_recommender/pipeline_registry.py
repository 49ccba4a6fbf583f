"""Project pipelines."""

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from hybrid_recommender.pipelines.evaluation.pipeline import NO_FACES


def register_pipelines() -> dict[str, Pipeline]:
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(pipelines.values(), Pipeline([]))
    # `kedro run --pipelines recommendation` also writes the P/R/F1 tables: the evaluation nodes that need no
    # face model (oracle attributes). The whole evaluation is `--pipelines evaluation` (and part of the default).
    pipelines["recommendation"] = pipelines["recommendation"] + pipelines["evaluation"].only_nodes_with_tags(NO_FACES)
    return pipelines
