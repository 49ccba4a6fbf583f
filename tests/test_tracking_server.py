"""A team's MLflow server: a real `mlflow server` (SQL backend store, served artifacts) on 127.0.0.1 in a temporary
folder; a Kedro run and nested runs with $MLFLOW_TRACKING_URI pointing at it land there, and nothing is written to
the project's own mlflow.db or mlruns/."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import require_shared


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def tracking_server(tmp_path):
    """`mlflow server` with a sqlite backend store and served artifacts under tmp_path; stopped afterwards."""
    port = _free_port()
    root = tmp_path / "server"
    root.mkdir()
    log = (root / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{root / 'backend.db'}", "--serve-artifacts",
         "--artifacts-destination", str(root / "artifacts")],
        cwd=root, stdout=log, stderr=subprocess.STDOUT)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"mlflow server did not start: {(root / 'server.log').read_text()[-2000:]}")
        time.sleep(0.5)
    try:
        yield uri, root
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.mark.real_data
@pytest.mark.kedro_run
def test_a_run_with_the_uri_in_the_environment_lands_on_the_server(tracking_server, project_copy, tmp_path,
                                                                    monkeypatch):
    from mlflow.tracking import MlflowClient

    uri, server_root = tracking_server
    shared = require_shared("ml-100k.zip", "fer2013.zip", "utkface_crop_part1.tar.gz", "ckplus48.zip")
    project_copy.env["MLFLOW_TRACKING_URI"] = uri
    result = project_copy.kedro_run(shared, "--pipeline", "data_engineering")
    assert result.returncode == 0, result.stderr[-3000:]

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("hybrid_recommender")
    assert experiment is not None and experiment.artifact_location.startswith("mlflow-artifacts:")
    [parent] = client.search_runs([experiment.experiment_id])
    assert parent.info.status == "FINISHED" and parent.data.params   # the run's parameters, flattened
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert artifacts, "the pipeline's MLflow artifacts (ingestion counts, splits) should be on the server"
    assert _files(server_root / "artifacts"), "served artifacts are stored by the server, under its destination"
    # nothing in the project: no sqlite file, no mlruns/
    assert not (project_copy / "mlflow.db").exists() and not (project_copy / "mlruns").exists()

    # a nested run as the face models and the evaluation make them, in this process: kedro-mlflow sets the URI
    # process-wide as a run starts (here, explicitly; an earlier in-process session may have set another)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    import mlflow

    from hybrid_recommender.mlflow_runs import child_run

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run(experiment_id=experiment.experiment_id, run_name="parent") as run:
            with child_run("frame_cnn_test") as child:
                child.log_params({"net": {f"p{i}": i for i in range(250)}})     # more than one batch of 100
                child.log_metrics({f"m{i}": float(i) for i in range(1200)})     # more than one batch of 1000
                child.log_text("hello", "notes/hello.txt")
    finally:
        mlflow.set_tracking_uri(previous)
    stored = client.get_run(child.run_id)
    assert stored.data.tags["mlflow.parentRunId"] == run.info.run_id and stored.info.status == "FINISHED"
    assert len(stored.data.params) == 250 and stored.data.params["net.p249"] == "249"
    assert len(stored.data.metrics) == 1200 and stored.data.metrics["m1199"] == 1199.0
    assert [a.path for a in client.list_artifacts(child.run_id, "notes")] == ["notes/hello.txt"]
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "mlflow.db").exists()
