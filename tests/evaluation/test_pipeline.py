"""The evaluation pipeline is registered: `recommendation` carries its face-free P/R/F1 nodes, the default run
carries all of it, and every output is in the catalog."""

from __future__ import annotations

import yaml

from hybrid_recommender.paths import PROJECT_ROOT
from hybrid_recommender.pipelines.evaluation import create_pipeline
from tests.conftest import project_parameters


def test_registry_adds_the_face_free_evaluation_to_recommendation_and_everything_to_default():
    from kedro.framework.project import pipelines
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(PROJECT_ROOT)
    pipelines.set_requested(None)
    recommendation = pipelines["recommendation"]
    assert {"prf_by_age_group_oracle", "prf_by_age_group_oracle_md", "recommender_comparison"} <= \
        recommendation.all_outputs()
    assert "face_attribute_predictor" not in recommendation.inputs()       # runs without a face model
    default = pipelines["__default__"]
    assert {"evaluation_mlflow_runs", "evaluation_report", "face_attribute_accuracy", "prf_by_age_group",
            "face_attribute_predictor"} <= default.all_outputs()
    assert pipelines["evaluation"].all_outputs() <= default.all_outputs()


def test_every_evaluation_output_is_in_the_catalog_and_parameters_are_complete():
    catalog = yaml.safe_load((PROJECT_ROOT / "conf/base/catalog_evaluation.yml").read_text())
    outputs = create_pipeline().all_outputs()
    assert outputs <= set(catalog), outputs - set(catalog)
    params = project_parameters("evaluation")
    assert params["n_observations"] == 150 and params["age_groups"] == ["8-14", "15-24", "25-37", "38-47"]
    assert params["top_n"] == 10 and params["relevant_min_rating"] == 4
