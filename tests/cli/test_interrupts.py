"""An interrupted `kedro run` is recorded as interrupted: real subprocesses, real signals, a copy of the project."""

from __future__ import annotations

import os
import signal
import threading

import numpy as np
import pandas as pd
import pytest
from kedro.io import DatasetError

from hybrid_recommender.hooks import RunInterrupted, RunInterruptHooks
from hybrid_recommender.io.kedro_datasets import NpyArrayDataset
from tests.conftest import require_shared

from .conftest import BIN

SETS = ("ml-100k.zip", "fer2013.zip", "utkface_crop_part1.tar.gz", "ckplus48.zip")
RUN = (str(BIN / "kedro"), "run", "--env", "fast", "--pipelines", "data_engineering")


def run_and_signal(project, signum: int, after: str) -> tuple[int, str]:
    """Start the run, send ``signum`` once a log line contains ``after``; (exit code, output)."""
    proc = project.start(*RUN)
    lines, seen = [], threading.Event()

    def read():
        for line in proc.stdout:
            lines.append(line)
            if after in line:
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if not seen.wait(timeout=600):
        proc.kill()
        pytest.fail(f"no log line with {after!r} before the run ended:\n{''.join(lines)[-3000:]}")
    threading.Event().wait(1.0)                          # well inside the node
    proc.send_signal(signum)
    code = proc.wait(timeout=300)
    reader.join(timeout=30)
    return code, "".join(lines)


def leftovers(project) -> list[str]:
    return sorted(str(p.relative_to(project.root)) for p in (project.root / "data").rglob("*")
                  if ".tmp" in p.name or p.name.endswith(".old"))


def assert_complete_outputs(project) -> None:
    """Every output file a run left is whole (an interrupt never leaves a partial file)."""
    for path in (project.root / "data").rglob("*.npy"):
        np.load(path, mmap_mode="r")                      # a short file fails: mmap needs every byte
    for path in (project.root / "data").rglob("*.parquet"):
        pd.read_parquet(path)


@pytest.mark.kedro_run
@pytest.mark.real_data
def test_interrupted_runs_end_killed_leave_no_temporary_file_and_the_next_run_succeeds(project_copy):
    project_copy.env["HYBRID_DATASETS_DIR"] = str(require_shared(*SETS))
    for number, (signum, node) in enumerate([(signal.SIGINT, "read_fer2013_faces"),
                                             (signal.SIGTERM, "read_utkface_faces")], start=1):
        code, output = run_and_signal(project_copy, signum, f"Running node: {node}")
        runs = project_copy.mlflow_runs()
        assert len(runs) == number
        run = runs[-1].info
        name = signal.Signals(signum).name
        assert code == 128 + signum, output[-3000:]
        assert "Traceback" not in output
        errors = [line for line in output.splitlines() if line.startswith("Error:")]
        assert errors == [f"Error: run interrupted by {name} before the pipeline finished; MLflow run "
                          f"{run.run_id} recorded as KILLED. Outputs already saved are kept (each file complete); "
                          f"run again to rebuild the rest."], output[-3000:]
        assert run.status == "KILLED" and run.end_time is not None and run.end_time >= run.start_time
        assert leftovers(project_copy) == []
        assert_complete_outputs(project_copy)
    done = project_copy.command(*RUN)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert [r.info.status for r in project_copy.mlflow_runs()] == ["KILLED", "KILLED", "FINISHED"]
    assert leftovers(project_copy) == []
    counts = pd.read_csv(project_copy.root / "data" / "08_reporting" / "ingestion_counts.csv")
    assert set(counts["dataset"]) >= {"movielens", "fer2013", "utkface", "ckplus"}


def test_a_signal_during_a_save_waits_for_the_save_then_stops_the_run():
    """The deferral that keeps every saved file whole, with real signals to this process."""
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    hooks = RunInterruptHooks()
    hooks.before_pipeline_run(run_params={}, pipeline=None, catalog=None)
    try:
        hooks.before_dataset_saved(dataset_name="fer2013_pixels")
        os.kill(os.getpid(), signal.SIGTERM)                      # arrives mid-save: recorded, not raised
        with pytest.raises(RunInterrupted, match="interrupted by SIGTERM") as raised:
            hooks.after_dataset_saved(dataset_name="fer2013_pixels")   # raised once the save is done
        assert raised.value.signum == signal.SIGTERM
        with pytest.raises(RunInterrupted):                       # swallowed by a node: raised at the next hook
            hooks.before_node_run(node=None)
    finally:
        hooks.on_pipeline_error(error=RuntimeError("over"))
    assert {sig: signal.getsignal(sig) for sig in before} == before  # handlers restored

    hooks.before_pipeline_run(run_params={}, pipeline=None, catalog=None)
    try:
        hooks.before_dataset_saved(dataset_name="fer2013_pixels")
        os.kill(os.getpid(), signal.SIGTERM)
        with pytest.raises(RunInterrupted, match="SIGINT"):      # a second signal stops at once, even mid-save
            os.kill(os.getpid(), signal.SIGINT)
    finally:
        hooks.on_pipeline_error(error=RuntimeError("over"))
    assert {sig: signal.getsignal(sig) for sig in before} == before


def test_a_failed_pixel_array_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "fer2013_pixels.npy"
    dataset = NpyArrayDataset(str(target))
    dataset.save(np.zeros((2, 4, 4, 3), dtype=np.uint8))
    with pytest.raises(DatasetError, match="Failed while saving"):     # np.save fails after the header
        dataset.save(np.array([object(), object()]))
    assert [p.name for p in tmp_path.iterdir()] == ["fer2013_pixels.npy"]
    assert dataset.load().shape == (2, 4, 4, 3)
