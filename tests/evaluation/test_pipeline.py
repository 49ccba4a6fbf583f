"""The evaluation pipeline is registered: `recommendation` carries its face-free P/R/F1 nodes, the default run
carries all of it, and every output is in the catalog."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import yaml
from kedro.framework.project import pipelines
from kedro.framework.startup import bootstrap_project
from kedro.io import DataCatalog, DatasetError

from hybrid_recommender.paths import PROJECT_ROOT
from hybrid_recommender.pipelines.evaluation import create_pipeline
from tests.conftest import project_parameters


def test_registry_adds_the_face_free_evaluation_to_recommendation_and_everything_to_default():
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


def test_the_mlflow_node_gets_the_plots_as_drawn_through_their_catalog_entries(tmp_path):
    """The figures the evaluation's MLflow run logs are the catalog's (written as PNGs), not drawn a second time."""
    entries = yaml.safe_load((PROJECT_ROOT / "conf/base/catalog_evaluation.yml").read_text())
    node = next(n for n in create_pipeline().nodes if n.name == "log_evaluation_parent_and_observation_runs")
    assert {"prf_bar_chart", "favoured_cluster_heatmap"} <= set(node.inputs)
    for name in ("prf_bar_chart", "favoured_cluster_heatmap"):
        config = {**entries[name], "filepath": str(tmp_path / f"{name}.png")}
        dataset = DataCatalog.from_config({name: config})[name]
        with pytest.raises(DatasetError, match=f"{name}.png: the figure is handed on only within the run"):
            dataset.load()
        figure = plt.figure()
        dataset.save(figure)
        assert dataset.load() is figure and (tmp_path / f"{name}.png").stat().st_size > 0
        plt.close(figure)
