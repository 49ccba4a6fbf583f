"""What a reviewer sees in Kedro-Viz and MLflow: every catalog entry on a standard layer (in an order the graph can
be drawn top to bottom), each pipeline's nodes tagged with its name, reports previewable, clean metric keys, runs
named after what they ran, and the suite's own guard on the checkout."""

from __future__ import annotations

import importlib
import pkgutil
import re

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline
from kedro_mlflow.config.kedro_mlflow_config import KedroMlflowConfig
from mlflow.tracking import MlflowClient

import hybrid_recommender.pipelines as pipelines_package
from hybrid_recommender.face_models.metrics import confusion_figure
from hybrid_recommender.hooks import RunNameHook, run_name
from hybrid_recommender.mlflow_runs import child_run, log_member_figures
from hybrid_recommender.paths import PROJECT_ROOT
from hybrid_recommender.pipelines.clustering import nodes as clustering
from hybrid_recommender.pipelines.recommendation import nodes as recommendation
from tests.conftest import changed_files, checkout_state

LAYERS = ("raw", "intermediate", "primary", "feature", "model_input", "models", "model_output", "reporting")
CATALOGS = sorted((PROJECT_ROOT / "conf" / "base").glob("catalog*.yml"))
CLEAN_KEY = re.compile(r"^[a-z0-9_]+(/[a-z0-9_.]+)+$")


def catalog_entries() -> dict[str, dict]:
    entries = {}
    for path in CATALOGS:
        for name, entry in (yaml.safe_load(path.read_text()) or {}).items():
            if not name.startswith("_"):          # YAML anchors, ignored by Kedro
                entries[name] = {**entry, "_file": path.name}
    return entries


def layer(entry: dict) -> str | None:
    return ((entry.get("metadata") or {}).get("kedro-viz") or {}).get("layer")


def project_pipelines() -> dict[str, Pipeline]:
    out = {}
    for module in pkgutil.iter_modules(pipelines_package.__path__):
        out[module.name] = importlib.import_module(f"{pipelines_package.__name__}.{module.name}.pipeline").create_pipeline()
    return out


def test_every_catalog_entry_has_a_standard_kedro_viz_layer():
    assert {p.name for p in CATALOGS} >= {"catalog_data_engineering.yml", "catalog_face_models.yml",
                                          "catalog_clustering.yml", "catalog_recommendation.yml"}
    wrong = {f"{e['_file']}: {name} ({layer(e)!r})" for name, e in catalog_entries().items() if layer(e) not in LAYERS}
    assert not wrong, f"catalog entries without a layer from {LAYERS}: {sorted(wrong)}"


def test_no_layer_comes_before_one_it_depends_on():
    """Kedro-Viz sorts the layers by the graph and fails on a cycle: an output is never on an earlier layer than
    anything upstream of it (through unlayered datasets too)."""
    entries = catalog_entries()
    rank = {name: LAYERS.index(layer(e)) for name, e in entries.items() if layer(e) in LAYERS}
    whole = sum(project_pipelines().values(), Pipeline([]))
    upstream: dict[str, int] = {}
    wrong = []
    for node in whole.nodes:                       # topologically sorted
        above = max([max(upstream.get(i, -1), rank.get(i, -1)) for i in node.inputs] or [-1])
        for out in node.outputs:
            if out in rank and rank[out] < above:
                wrong.append(f"{node.name}: {out} ({LAYERS[rank[out]]}) after an input on {LAYERS[above]}")
            upstream[out] = max(above, rank.get(out, -1))
    assert not wrong, wrong


def test_every_pipeline_tags_its_nodes_with_its_name():
    pipelines = project_pipelines()
    assert {"data_engineering", "face_models", "clustering", "recommendation"} <= set(pipelines)
    for name, pipeline in pipelines.items():
        untagged = [n.name for n in pipeline.nodes if name not in n.tags]
        assert not untagged, f"{name}: nodes without the tag {name!r}: {untagged}"


def test_report_tables_and_plots_have_a_preview():
    """Clicking a report in Kedro-Viz shows it: tables have preview_args, plots are single PNGs."""
    for name, entry in catalog_entries().items():
        inner = entry.get("dataset", entry)
        path = str(inner.get("filepath", "")) if isinstance(inner, dict) else ""
        if layer(entry) != "reporting" or not path:
            continue
        viz = entry["metadata"]["kedro-viz"]
        if path.endswith(".csv"):
            assert viz.get("preview_args", {}).get("nrows", 0) >= 10, name
        config = {k: v for k, v in entry.items() if k != "_file"}
        dataset = DataCatalog.from_config({name: config})[name]
        if path.endswith((".csv", ".png")):
            assert callable(getattr(dataset, "preview", None)), f"{name}: no preview"


def test_parent_run_metrics_are_logged_under_their_own_namespaced_keys():
    """kedro-mlflow would prefix each key with the dataset's name; ``prefix: ""`` keeps the node's keys."""
    metrics = {n: e for n, e in catalog_entries().items() if e["type"].endswith("MlflowMetricsHistoryDataset")}
    assert {"clustering_metrics", "recommendation_metrics", "face_models_metrics"} <= set(metrics)
    assert all(e.get("prefix") == "" for e in metrics.values()), metrics
    curve = pd.DataFrame({"k": [2, 3, 4], "wcss": [30.0, 20.0, 17.0]})
    keys = set(clustering.clustering_metrics(curve, 3))
    comparison = pd.DataFrame({"recommender": ["hybrid", "demographic_svd"], "emotion": ["happy", "sad"],
                               "users": [10, 10], "precision_at_10": [0.1, 0.2], "hit_rate_at_10": [0.3, 0.4]})
    keys |= set(recommendation.recommendation_metrics(comparison))
    assert keys == {"clustering/kmeans_chosen_k", "clustering/kmeans_wcss", "recommendation/hybrid/precision_at_10",
                    "recommendation/hybrid/hit_rate_at_10", "recommendation/demographic_svd/precision_at_10",
                    "recommendation/demographic_svd/hit_rate_at_10"}
    assert all(CLEAN_KEY.match(k) for k in keys)


@pytest.mark.parametrize(("pipelines", "env", "expected"), [
    (["__default__"], "fast", "all-fast"), ("face_models", "cpu", "face_models-cpu"),
    (["data_engineering", "clustering"], None, "data_engineering+clustering-local")])
def test_runs_are_named_after_their_pipelines_and_environment(pipelines, env, expected):
    assert run_name(pipelines, env) == expected


def test_the_run_name_hook_sets_kedro_mlflows_run_name_unless_one_is_configured():
    class Context:
        env = "fast"

    for configured, expected in ((None, "clustering-fast"), ("my run", "my run")):
        context = Context()
        context.mlflow = KedroMlflowConfig()
        context.mlflow.tracking.run.name = configured
        hook = RunNameHook()
        hook.after_context_created(context)
        hook.before_pipeline_run({"pipeline_names": ["clustering"], "env": "fast"})
        assert context.mlflow.tracking.run.name == expected


def test_the_checkout_guard_sees_a_file_added_rewritten_or_removed(tmp_path):
    (tmp_path / "data" / "08_reporting").mkdir(parents=True)
    (tmp_path / "mlruns").mkdir()
    report = tmp_path / "data" / "08_reporting" / "r.csv"
    report.write_text("a\n")
    before = checkout_state(tmp_path)
    assert changed_files(before, checkout_state(tmp_path)) == []
    (tmp_path / "mlflow.db").write_bytes(b"x")
    (tmp_path / "mlruns" / "1").mkdir()
    (tmp_path / "mlruns" / "1" / "artifact.png").write_bytes(b"png")
    report.write_text("a,b\n")
    assert changed_files(before, checkout_state(tmp_path)) == ["data/08_reporting/r.csv", "mlflow.db",
                                                               "mlruns/1/artifact.png"]


def test_each_video_member_gets_its_own_confusion_matrices(tmp_path):
    """The SVM and LSTM runs hold their matrices (not only the fusion run); a member without a run logs nothing."""

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    try:
        mlflow.create_experiment("hybrid_recommender", artifact_location=(tmp_path / "mlruns").as_uri())
        members = {}
        for name in ("svm_face_vgg_s_l2", "lstm128_face_vgg_s"):
            with child_run(name) as run:
                members[name] = {"run_id": run.run_id}
        members["lstm256_face_vgg_s"] = {"run_id": None}
        figure = confusion_figure(np.eye(7, dtype=int) * 5, EMOTIONS_7, "test")
        figures = {f"video__{m}__ckplus__{s}.png": figure for m in members for s in ("test", "subject_kfold")}
        figures["video__fused__ckplus__test.png"] = figure
        logged = log_member_figures(members, figures)
        assert set(logged) == {"svm_face_vgg_s_l2", "lstm128_face_vgg_s"}
        client = MlflowClient()
        for name in logged:
            artifacts = {a.path for a in client.list_artifacts(members[name]["run_id"], "confusion")}
            assert artifacts == {"confusion/ckplus__test.png", "confusion/ckplus__subject_kfold.png"}
    finally:
        mlflow.set_tracking_uri(previous)


EMOTIONS_7 = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
