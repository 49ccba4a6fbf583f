"""What MLflow can compare: the parent's per-age-group metrics (values, bounds, differences), the observation runs
in their own experiment linked by tag, 0/1 flags as metrics, and the provenance (git, predictor, seeds, data).
Every MLflow test writes to a temporary sqlite store, from a temporary working directory."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import subprocess

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from hybrid_recommender.evaluation import provenance as prov
from hybrid_recommender.evaluation.observation_runs import (
    PARENT_RUN_TAG,
    difference_metrics,
    face_metrics,
    log_evaluation,
    metric_key,
    observations_filter,
    observations_url,
    parent_metrics,
    prf_metrics,
)
from hybrid_recommender.paths import PROJECT_ROOT

AGES = ["8-14", "15-24", "25-37", "38-47", "all"]
SOURCES = ["oracle", "still", "video", "video_cnn_branch", "video_lstm_branch"]
PROTOCOLS = ["full_ranking", "rated_candidates", "rated_candidates_threshold"]
COLUMNS = ["precision", "recall", "f1_of_means", "mean_f1"]


def _prf(systems, sources=SOURCES, protocols=PROTOCOLS, ages=AGES) -> pd.DataFrame:
    """One row per combination (both relevances, both rules), every value distinct."""
    rows = []
    for i, (s, a, rel, p, rule, g) in enumerate(itertools.product(systems, sources, ["liked", "context"], protocols,
                                                                   ["zero", "one"], ages)):
        row = {"system": s, "attributes": a, "relevance": rel, "protocol": p, "rule": rule, "age_group": g,
               "observations": 30, "viewers": 25, "subset": "all", "excluded_observations": 0}
        for j, c in enumerate(COLUMNS):
            row[c], row[f"{c}_low"], row[f"{c}_high"] = i + j / 10, i + j / 10 - 0.01, i + j / 10 + 0.01
        rows.append(row)
    return pd.DataFrame(rows)


def _differences(systems, rivals, sources=SOURCES, protocols=PROTOCOLS, ages=AGES) -> pd.DataFrame:
    rows = [{"system": s, "rival": r, "attributes": a, "relevance": rel, "protocol": p, "rule": rule, "age_group": g,
             "metric": m, "difference": i / 100, "low": i / 100 - 0.5, "high": i / 100 + 0.5, "observations": 30,
             "viewers": 25, "subset": "all", "verdict": "better"}
            for i, (s, r, a, rel, p, rule, g, m) in enumerate(itertools.product(
                systems, rivals, sources, ["liked", "context"], protocols, ["zero", "one"], ages,
                ["precision", "recall", "f1_of_means"]))]
    return pd.DataFrame(rows)


def test_per_age_keys_carry_their_rows_values_and_bounds():
    prf = _prf(["improved_hybrid", "random"], ages=["8-14", "48+", "all"])
    out = prf_metrics(prf)
    liked_zero = prf[(prf["relevance"] == "liked") & (prf["rule"] == "zero")]
    assert len(out) == len(liked_zero) * 9                      # context and rule one stay in the CSV
    for r in liked_zero.sample(10, random_state=0).itertuples():
        age = "48plus" if r.age_group == "48+" else r.age_group   # "+" is not allowed in an MLflow key
        base = f"{r.system}.{r.attributes}.{r.protocol}.{age}"
        assert out[f"{base}.precision"] == r.precision and out[f"{base}.recall_low"] == r.recall_low
        assert out[f"{base}.f1"] == r.f1_of_means and out[f"{base}.f1_high"] == r.f1_of_means_high
        assert out[f"{base}.precision_high"] == r.precision_high and out[f"{base}.recall"] == r.recall
    row = liked_zero.iloc[0]
    assert out["improved_hybrid.oracle.full_ranking.8-14.f1_low"] == row["f1_of_means_low"]
    assert metric_key("a@b", "48+", "x:y") == "a_b.48plus.x_y"


def test_difference_keys_carry_difference_and_interval():
    diffs = _differences(["improved_hybrid"], ["group_popularity", "demographic_svd"])
    out = difference_metrics(diffs)
    sel = diffs[(diffs["relevance"] == "liked") & (diffs["rule"] == "zero")]
    assert len(out) == 3 * len(sel)
    r = sel[(sel["rival"] == "demographic_svd") & (sel["attributes"] == "video") & (sel["age_group"] == "25-37")
            & (sel["protocol"] == "rated_candidates") & (sel["metric"] == "f1_of_means")].iloc[0]
    key = "diff.improved_hybrid-demographic_svd.video.rated_candidates.25-37.f1"
    assert (out[key], out[f"{key}_low"], out[f"{key}_high"]) == (r["difference"], r["low"], r["high"])


def test_two_rows_for_one_key_are_refused():
    prf = _prf(["random"], ages=["all"])
    with pytest.raises(ValueError, match="more than one"):
        prf_metrics(pd.concat([prf, prf.iloc[:1]]))


def test_face_accuracies_from_table_iii_still_and_video():
    obs = pd.DataFrame({"attributes_right": [True, False, True, True],
                        "attributes_right_video": [True, None, False, None]})
    out = face_metrics(pd.DataFrame({"ours": [10.0, 61.5]}), obs)
    assert out == {"face.all_three_accuracy_table_iii": 61.5, "face.all_three_accuracy_still": 75.0,
                   "face.all_three_accuracy_video": 50.0}
    assert "face.all_three_accuracy_video" not in face_metrics(None, obs.drop(columns="attributes_right_video"))


def _observations(n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """n observations (every other one with a video emotion) and their hand-made scores."""
    obs = pd.DataFrame([{"obs_id": i, "user_id": 100 + i, "age_group": "25-37", "gender": "male", "emotion": "sad",
                         "pred_age_group": "25-37", "pred_gender": "female", "pred_emotion": "happy",
                         "age_face_id": "utkface/x.jpg", "emotion_face_id": "fer2013/y.jpg",
                         "attributes_right": i % 3 == 0,
                         "emotion_track_id": f"afew/clip{i}" if i % 2 == 0 else None,
                         "emotion_track_dataset": "afew" if i % 2 == 0 else None,
                         "video_emotion": "sad" if i % 2 == 0 else None,
                         "attributes_right_video": (i % 4 == 0) if i % 2 == 0 else None} for i in range(n)])
    scores = pd.DataFrame([{"obs_id": i, "system": "group_popularity", "attributes": a, "relevance": rel,
                            "protocol": p, "hits": 3, "recommended": 10, "relevant": 4, "group_used": "25-37/male",
                            "fallback": False, "favoured_cluster": 2, "top_items": "4 5 6"}
                           for i in range(n) for a in ("predicted", "oracle") for rel in ("liked", "context")
                           for p in ("full_ranking", "rated_candidates")])
    return obs, scores


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A temporary sqlite store and experiment; the working directory is an empty folder that must stay empty
    (nothing may fall back to ./mlflow.db or ./mlruns)."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    try:
        mlflow.create_experiment("eval_obs", artifact_location=(tmp_path / "mlruns").as_uri())
        yield MlflowClient(uri)
    finally:
        mlflow.set_tracking_uri(None)
    assert not list(cwd.iterdir())


def test_observations_in_their_own_experiment_linked_by_tag(store, tmp_path):
    client = store
    obs, scores = _observations(6)
    prf = _prf(["improved_hybrid", "hybrid_surprise_svd", "demographic_svd", "global_svd", "group_popularity",
                "random", "hybrid_truncated_svd"])
    diffs = _differences(["improved_hybrid"], ["group_popularity", "demographic_svd"])
    metrics = parent_metrics(prf, pd.DataFrame({"ours": [61.5]}), obs, diffs)
    assert len(prf_metrics(prf)) == 7 * 5 * 3 * 5 * 9 == 4725
    provenance = {"git_commit": "abc", "seeds.evaluation.seed": "7"}
    out = log_evaluation(obs, scores, metrics, {"n_observations": 6}, {"report.md": "# r"}, "group_popularity",
                         "eval_obs", "evaluation", provenance=provenance)
    again = log_evaluation(obs.iloc[:2], scores, {"x": 1.0}, {}, {}, "group_popularity", "eval_obs", "evaluation")

    main = client.get_experiment_by_name("eval_obs")
    observations = client.get_experiment_by_name("eval_obs_observations")
    assert out["experiment_id"] == main.experiment_id and out["child_runs"] == 6
    assert out["observations_experiment_id"] == again["observations_experiment_id"] == observations.experiment_id
    assert observations.artifact_location == main.artifact_location          # beside the main one, not ./mlruns
    parents = client.search_runs([main.experiment_id], max_results=100)
    assert {r.info.run_id for r in parents} == {out["parent_run_id"], again["parent_run_id"]}
    assert len(client.search_runs([observations.experiment_id], max_results=100)) == 6 + 2

    children = client.search_runs([observations.experiment_id], observations_filter(out["parent_run_id"]),
                                  max_results=100)
    assert len(children) == 6
    for child in children:
        d, i = child.data, int(child.data.tags["evaluation.obs_id"])
        assert d.tags[PARENT_RUN_TAG] == out["parent_run_id"] and "mlflow.parentRunId" not in d.tags
        assert d.metrics["attributes_right"] == float(i % 3 == 0) and "attributes_right" not in d.params
        assert d.metrics.get("attributes_right_video") == (float(i % 4 == 0) if i % 2 == 0 else None)
        assert ("video_emotion" in d.params) == (i % 2 == 0) and d.params["pred_gender"] == "female"
        assert d.metrics["group_popularity.oracle.liked.full_ranking.hits"] == 3

    parent = client.get_run(out["parent_run_id"]).data
    assert parent.metrics == pytest.approx(metrics) and len(parent.metrics) == len(metrics) > 4725
    assert parent.metrics["random.video_lstm_branch.rated_candidates_threshold.38-47.recall_high"] == \
        metrics["random.video_lstm_branch.rated_candidates_threshold.38-47.recall_high"]
    assert parent.tags["provenance.git_commit"] == parent.params["provenance.git_commit"] == "abc"
    assert parent.tags["evaluation.observations_experiment_id"] == observations.experiment_id
    assert "mlflow.parentRunId" not in parent.tags
    assert {a.path for a in client.list_artifacts(out["parent_run_id"])} == {"report.md", "provenance.json"}
    saved = json.loads(open(client.download_artifacts(out["parent_run_id"], "provenance.json", str(tmp_path))).read())
    assert saved == provenance
    url = observations_url(out["parent_run_id"], observations.experiment_id)
    assert url.startswith(f"http://127.0.0.1:5000/#/experiments/{observations.experiment_id}?searchFilter=tags.")
    assert out["parent_run_id"] in url


def test_deleted_observations_experiment_is_restored(store):
    obs, scores = _observations(1)
    first = log_evaluation(obs, scores, {}, {}, {}, "group_popularity", "eval_obs")
    store.delete_experiment(first["observations_experiment_id"])
    second = log_evaluation(obs, scores, {}, {}, {}, "group_popularity", "eval_obs")
    assert second["observations_experiment_id"] == first["observations_experiment_id"]
    assert store.get_experiment(first["observations_experiment_id"]).lifecycle_stage == "active"


# ------------------------------------------------------------------------------------------------- provenance
def test_seeds_are_collected_by_dotted_path():
    params = {"evaluation": {"seed": 7, "top_n": 10, "improved_hybrid": {"grid_seed": 3}},
              "data_engineering": {"fer2013": {"split_seed": 11, "seeds": [1, 2]}}, "recommendation": {"seed": 42}}
    assert prov.collect_seeds(params) == {"evaluation.seed": "7", "evaluation.improved_hybrid.grid_seed": "3",
                                          "data_engineering.fer2013.split_seed": "11", "recommendation.seed": "42"}


def test_fingerprints_of_a_file_and_a_folder(tmp_path):
    data = tmp_path / "set.zip"
    data.write_bytes(os.urandom(3 << 20))
    assert prov.fingerprint(data) == ("sha256", hashlib.sha256(data.read_bytes()).hexdigest())
    folder = tmp_path / "folder"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "x.png").write_bytes(b"12")
    kind, before = prov.fingerprint(folder)
    assert kind == "tree_sha256" and prov.folder_fingerprint(folder) == before
    (folder / "a" / "x.png").write_bytes(b"123")
    assert prov.folder_fingerprint(folder) != before
    assert prov.fingerprint(tmp_path / "nothing") == ("sha256", "missing")
    inventory = pd.DataFrame({"dataset": ["fer2013", "rafdb", "afew"], "present": [True, False, True],
                              "path": [str(data), "", str(folder)]})
    assert prov.data_fingerprints(inventory) == {
        "data.fer2013.path": str(data), "data.fer2013.sha256": hashlib.sha256(data.read_bytes()).hexdigest(),
        "data.afew.path": str(folder), "data.afew.tree_sha256": prov.folder_fingerprint(folder)}


def test_predictor_hashes_config_content_and_weights(tmp_path):
    from hybrid_recommender.face_models.predictor import CONFIG_FILE, WEIGHTS_FILE

    assert (prov.CONFIG_FILE, prov.WEIGHTS_FILE) == (CONFIG_FILE, WEIGHTS_FILE)
    a, b = tmp_path / "a", tmp_path / "b"
    for folder, text in ((a, '{"x": 1, "y": [1, 2]}'), (b, '{\n  "y": [1, 2],\n  "x": 1\n}')):
        folder.mkdir()
        (folder / CONFIG_FILE).write_text(text)
        (folder / WEIGHTS_FILE).write_bytes(b"weights")
    ha, hb = prov.predictor_hashes(a), prov.predictor_hashes(b)
    assert ha == hb and ha["predictor.weights_sha256"] == hashlib.sha256(b"weights").hexdigest()
    (b / CONFIG_FILE).write_text('{"x": 2, "y": [1, 2]}')
    assert prov.predictor_hashes(b)["predictor.config_sha256"] != ha["predictor.config_sha256"]
    assert prov.predictor_hashes(tmp_path / "none") == {"predictor.config_sha256": "missing",
                                                        "predictor.weights_sha256": "missing"}


def test_git_commit_is_head_and_unknown_without_git(tmp_path, monkeypatch):
    if shutil.which("git") is None:
        pytest.skip("git is not installed here")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True)
    state = prov.git_state(PROJECT_ROOT)
    if head.returncode == 0:
        assert state["git_commit"] == head.stdout.strip() and state["git_dirty"] in ("true", "false")
    else:                                                                    # e.g. a copy without .git
        assert state["git_commit"] == "unknown"
    assert prov.git_state(PROJECT_ROOT, git=str(tmp_path / "no-git")) == {"git_commit": "unknown",
                                                                           "git_dirty": "unknown"}
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    (tmp_path / "plain").mkdir()
    assert prov.git_state(tmp_path / "plain")["git_commit"] == "unknown"     # not a repository
    monkeypatch.setenv("PATH", str(tmp_path))                                # git absent from PATH
    assert prov.git_state(PROJECT_ROOT)["git_commit"] == "unknown"


def test_evaluation_provenance_is_flat_strings(tmp_path):
    predictor = tmp_path / "face_attribute_predictor"
    predictor.mkdir()
    (predictor / "config.json").write_text("{}")
    movielens = tmp_path / "ml-100k.zip"
    movielens.write_bytes(b"zip")
    inventory = pd.DataFrame({"dataset": ["utkface"], "present": [False], "path": [""], "labels": ["age,gender"],
                              "problem": [""], "readable": [False]})
    out = prov.evaluation_provenance(inventory, predictor, {"evaluation": {"seed": 7}},
                                     extra_paths={"movielens": movielens})
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in out.items())
    assert out["seeds.evaluation.seed"] == "7" and out["predictor.weights_sha256"] == "missing"
    assert out["data.movielens.sha256"] == hashlib.sha256(b"zip").hexdigest() and "data.utkface.path" not in out
    assert {"git_commit", "git_dirty", "predictor.config_sha256"} <= set(out)
    assert np.all([len(v) < 6000 for v in out.values()])
