"""The evaluation nodes end to end on small real data with a tiny trained predictor: the tables, one MLflow
parent with exactly n observation children, and the notebook executed against these outputs in a temporary
project copy (through the Kedro catalog)."""

from __future__ import annotations

import os
import shutil

import matplotlib.pyplot as plt
import mlflow
import nbformat
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from mlflow.tracking import MlflowClient
from nbclient import NotebookClient

from hybrid_recommender.paths import PROJECT_ROOT
from hybrid_recommender.pipelines.evaluation import nodes

pytestmark = [pytest.mark.real_data, pytest.mark.slow, pytest.mark.kedro_run]


def test_tables_carry_ours_beside_the_paper(evaluated, params):
    obs = evaluated["evaluation_observations"]
    assert len(obs) == params["n_observations"]
    table3 = evaluated["face_attribute_accuracy"]
    cells = table3[~table3["emotion"].eq("average") & ~table3["gender"].eq("average")]
    assert len(cells) == 2 * 4 * 7 and cells["paper"].notna().all()
    assert table3.iloc[-1]["paper"] == 60.07 and 0 <= table3.iloc[-1]["ours"] <= 100
    assert (table3["difference"].dropna() == (table3["ours"] - table3["paper"]).dropna()).all()
    prf = evaluated["prf_by_age_group"]
    assert set(prf["attributes"]) == {"oracle", "predicted"} and set(prf["relevance"]) == {"liked", "context"}
    assert {"improved_hybrid", "hybrid_surprise_svd", "demographic_svd", "group_popularity"} == set(prf["system"])
    report = evaluated["evaluation_report"]
    for text in ("Table III", "simulated", "rated_candidates, undefined -> one", "full_ranking, undefined -> zero",
                 "Improved hybrid", "contradicts itself", "46.21"):
        assert text in report


def test_one_parent_run_and_exactly_n_observation_children(evaluated, params, rec_params, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment("e2e", artifact_location=(tmp_path / "mlruns").as_uri())   # not ./mlruns
    e = evaluated
    try:
        out = nodes.evaluation_mlflow_runs(
            e["evaluation_observations"], e["evaluation_oracle_scores"], e["evaluation_predicted_scores"],
            e["prf_by_age_group"], e["face_attribute_accuracy"], e["face_attribute_accuracy_per_attribute"],
            e["face_models_comparison"], e["improved_hybrid_target"], e["favoured_clusters"], e["evaluation_report"],
            e["prf_bar_chart"], e["favoured_cluster_heatmap"], e["improved_hybrid_weights"],
            {**params, "mlflow": {"experiment": "e2e", "run_name": "evaluation"}}, rec_params)
    finally:
        mlflow.set_tracking_uri(None)
    client = MlflowClient(uri)
    runs = client.search_runs([out["experiment_id"]], max_results=200)
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == out["parent_run_id"]]
    n = params["n_observations"]
    assert out["child_runs"] == n and len(children) == n and len(runs) == n + 1
    child = children[0].data
    assert {"user_id", "age_group", "pred_age_group", "gender", "pred_gender", "emotion", "pred_emotion",
            "age_face_id", "emotion_face_id", "predicted.group_used", "predicted.fallback",
            "predicted.favoured_cluster"} <= set(child.params)
    for system in ("improved_hybrid", "hybrid_surprise_svd", "demographic_svd"):
        for metric in ("precision_zero", "recall_one", "f1_zero", "hits"):
            assert f"{system}.predicted.liked.full_ranking.{metric}" in child.metrics
            assert f"{system}.oracle.context.rated_candidates.{metric}" in child.metrics
    artifacts = {a.path for a in client.list_artifacts(out["parent_run_id"])}
    assert {"evaluation_report.md", "prf_by_age_group.csv", "face_attribute_accuracy.csv",
            "prf_by_age_group.png", "favoured_clusters.png"} <= artifacts


def test_notebook_runs_top_to_bottom_through_the_catalog(evaluated, tmp_path, monkeypatch):
    project = tmp_path / "project"
    for part in ("conf", "src", "notebooks"):
        shutil.copytree(PROJECT_ROOT / part, project / part, ignore=shutil.ignore_patterns("__pycache__", "local"))
    (project / "conf" / "local").mkdir()
    shutil.copy(PROJECT_ROOT / "pyproject.toml", project / "pyproject.toml")
    # this process imported the checkout's package: resolve ${project_path:...} (the MLflow store) in the copy
    monkeypatch.setattr("hybrid_recommender.config_resolvers.PROJECT_ROOT", project)
    bootstrap_project(project)
    with KedroSession.create(project_path=project, env="fast") as session:
        catalog = session.load_context().catalog
        for name, value in evaluated.items():
            catalog.save(name, value)
        fig, ax = plt.subplots()
        ax.plot([1, 2, 3], [3, 2, 1])
        try:
            catalog.save("elbow_plot", fig)              # an MLflow artifact dataset: opens a run in the copy's store
        finally:
            mlflow.end_run()
            mlflow.set_tracking_uri(None)
    nb = nbformat.read(project / "notebooks" / "reproduce_paper.ipynb", as_version=4)
    env_before = dict(os.environ)
    os.environ.update({"KEDRO_ENV": "fast", "MLFLOW_TRACKING_URI":
                       f"sqlite:///{project / 'mlflow.db'}"})
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(project / "notebooks")}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(str(o.get("data", {}).get("text/markdown", "")) for o in outputs)
    assert "Section V reproduced" in text
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 3
