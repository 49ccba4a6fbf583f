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


def test_tables_carry_both_paths_the_margins_and_the_paired_differences(evaluated, params):
    obs = evaluated["evaluation_observations"]
    assert len(obs) == params["n_observations"]
    # every observation has a face track: a CK+ test sequence, or its still as a one-frame track (no CK+ neutral)
    tracks = evaluated["evaluation_track_predictions"]
    assert set(obs["emotion_track_id"]) <= set(tracks["track_id"])
    neutral = obs["emotion"] == "neutral"
    assert (obs.loc[neutral, "emotion_track_id"] == obs.loc[neutral, "emotion_face_id"]).all()
    assert (obs.loc[~neutral, "emotion_track_kind"] == "sequence").all()
    seq = tracks[tracks["kind"] == "sequence"]
    assert len(seq) and (seq["dataset"] == "ckplus").all() and (seq["frames"] == 3).all()
    products, factors = evaluated["face_attribute_accuracy"], evaluated["table_iii_factors"]
    cells = products[~products["emotion"].eq("average") & ~products["gender"].eq("average")]
    assert len(cells) == 2 * 4 * 7 and cells["paper"].notna().all() and (cells["kind"] == "product of margins").all()
    first = cells.dropna(subset=["ours"]).iloc[0]
    person = factors[(factors["gender"] == first["gender"]) & (factors["age_group"] == first["age_group"])]
    mood = factors[factors["emotion"] == first["emotion"]]
    assert first["ours"] == pytest.approx(person["rate"].item() * mood["rate"].item() / 100)
    prf = evaluated["prf_by_age_group"]
    assert {"oracle", "still", "video"} <= set(prf["attributes"]) and set(prf["relevance"]) == {"liked", "context"}
    assert {"improved_hybrid", "hybrid_surprise_svd", "demographic_svd", "group_popularity"} == set(prf["system"])
    diff = evaluated["prf_differences"]
    assert set(diff["rival"]) == {"demographic_svd", "group_popularity"}
    per = evaluated["face_attribute_accuracy_per_attribute"].set_index(["attribute", "path", "faces"])
    assert per.loc[("all_three", "video (fused)", "observations"), "n"] == len(obs)
    assert per.loc[("emotion", "video (fused)", "observations"), "right"] == \
        (obs["video_emotion"] == obs["emotion"]).sum()
    report = evaluated["evaluation_report"]
    for text in ("Table III", "simulated", "product of its row's age-and-gender rate", "Paired differences",
                 "rated_candidates, undefined -> one", "full_ranking, undefined -> zero", "Improved hybrid",
                 "contradicts itself", "46.21"):
        assert text in report
    assert len(factors) == 2 * 4 + 7


def test_one_parent_run_and_exactly_n_observation_children(evaluated, params, rec_params, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment("e2e", artifact_location=(tmp_path / "mlruns").as_uri())   # not ./mlruns
    e = evaluated
    try:
        provenance = {"environment": "smoke", "git_commit": "abc", "seeds.evaluation.seed": "7"}
        out, run_provenance = nodes.evaluation_mlflow_runs(
            e["evaluation_observations"], e["evaluation_oracle_scores"], e["evaluation_predicted_scores"],
            e["prf_by_age_group"], e["prf_differences"], e["face_attribute_accuracy"], e["table_iii_factors"],
            e["face_attribute_accuracy_per_attribute"], e["face_models_comparison"], e["improved_hybrid_target"],
            e["favoured_clusters"], e["evaluation_report"], e["prf_bar_chart"], e["favoured_cluster_heatmap"],
            e["improved_hybrid_weights"], provenance, {**params, "mlflow": {"experiment": "e2e", "run_name": "evaluation"}},
            rec_params)
    finally:
        mlflow.set_tracking_uri(None)
    assert run_provenance == {**provenance, "parent_run_id": out["parent_run_id"]}
    client = MlflowClient(uri)
    assert len(client.search_runs([out["experiment_id"]], max_results=200)) == 1      # only the parent
    children = client.search_runs([out["observations_experiment_id"]],
                                  f"tags.`evaluation.parent_run_id` = '{out['parent_run_id']}'", max_results=200)
    n = params["n_observations"]
    assert out["child_runs"] == n and len(children) == n
    child = children[0].data
    assert {"user_id", "age_group", "pred_age_group", "gender", "pred_gender", "emotion", "pred_emotion",
            "age_face_id", "emotion_face_id", "emotion_track_id", "video_emotion", "still.group_used",
            "video.fallback", "still.favoured_cluster"} <= set(child.params)
    assert child.metrics["attributes_right"] in (0.0, 1.0) and child.metrics["attributes_right_video"] in (0.0, 1.0)
    for system in ("improved_hybrid", "hybrid_surprise_svd", "demographic_svd"):
        for metric in ("precision_zero", "recall_one", "f1_zero", "hits"):
            assert f"{system}.video.liked.full_ranking.{metric}" in child.metrics
            assert f"{system}.oracle.context.rated_candidates.{metric}" in child.metrics
    parent = client.get_run(out["parent_run_id"]).data
    prf = e["prf_by_age_group"].set_index(["system", "attributes", "relevance", "protocol", "rule", "age_group"])
    f1 = prf.loc[("hybrid_surprise_svd", "video", "liked", "full_ranking", "zero", "8-14")]
    assert parent.metrics["hybrid_surprise_svd.video.full_ranking.8-14.f1"] == pytest.approx(f1["f1_of_means"])
    assert parent.metrics["hybrid_surprise_svd.video.full_ranking.8-14.f1_high"] == pytest.approx(
        f1["f1_of_means_high"])
    assert parent.tags["provenance.git_commit"] == "abc"
    artifacts = {a.path for a in client.list_artifacts(out["parent_run_id"])}
    assert {"evaluation_report.md", "prf_by_age_group.csv", "prf_differences.csv", "table_iii_factors.csv",
            "prf_by_age_group.png", "favoured_clusters.png", "provenance.json"} <= artifacts


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
