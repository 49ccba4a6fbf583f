"""`hybrid-recommender` and `python -m hybrid_recommender`, invoked as a user would: subprocesses."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import version

import pytest
from kedro.io import DataCatalog
from kedro.pipeline import Node, Pipeline

from hybrid_recommender.cli import DISTRIBUTION
from hybrid_recommender.errors import InputDataError
from hybrid_recommender.hooks import CACHE_DATASET, WritableOutputsHook
from hybrid_recommender.io.kedro_datasets import ClipFaceCacheDataset
from hybrid_recommender.paths import PROJECT_ROOT

from .conftest import BIN

SCRIPT = BIN / "hybrid-recommender"        # installed from pyproject's [project.scripts]
ENTRY_POINTS = {"python -m": [sys.executable, "-m", "hybrid_recommender"], "script": [str(SCRIPT)]}


def invoke(command: list[str], *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "src"), "KEDRO_DISABLE_TELEMETRY": "true"}
    return subprocess.run([*command, *args], env=env, capture_output=True, text=True, timeout=300,
                          cwd=PROJECT_ROOT.parent)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_help_lists_the_subcommands(entry):
    assert SCRIPT.is_file(), f"{SCRIPT} missing: install the project (make test installs it)"
    for args in (["--help"], []):                       # no subcommand: the same help, not an error
        result = invoke(ENTRY_POINTS[entry], *args)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stdout.startswith("Usage: ") and "[COMMAND]" in result.stdout
        assert re.search(r"^\s+run\s+Run the pipeline", result.stdout, re.M)
        assert re.search(r"^\s+recommend\s+Recommend films", result.stdout, re.M)
        assert re.search(r"^\s+serve\s+Serve the web page", result.stdout, re.M)
    run_help = invoke(ENTRY_POINTS[entry], "run", "--help")
    assert run_help.returncode == 0 and "--pipelines" in run_help.stdout and "--env" in run_help.stdout


@pytest.mark.kedro_run
def test_run_reports_bad_input_as_one_error_line_from_any_folder_of_the_project(project_copy, tmp_path):
    datasets = tmp_path / "datasets"
    datasets.mkdir()
    (datasets / "ml-100k.zip").write_bytes(b"PK\x03\x04 cut short")          # a truncated download
    project_copy.env["HYBRID_DATASETS_DIR"] = str(datasets)
    result = project_copy.command(str(SCRIPT), "run", "--env", "fast", "--pipelines", "data_engineering",
                                  cwd=project_copy.root / "conf")           # a subfolder: runs at the root
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and str(datasets) in errors[0], result.stderr[-2000:]
    assert not (project_copy.root / "conf" / "mlflow.db").exists()
    assert [run.info.status for run in project_copy.mlflow_runs()] == ["FAILED"]


def test_an_unwritable_output_of_any_pipeline_is_one_clear_error():
    """Kedro wraps a save's PermissionError in a DatasetError; the command shows one line naming the path."""
    from kedro.io import DatasetError

    from hybrid_recommender.cli import find_input_error

    try:
        try:
            raise PermissionError(13, "Permission denied", "data/08_reporting/recommender_comparison.csv")
        except PermissionError as exc:
            raise DatasetError("Failed while saving data to dataset recommender_comparison") from exc
    except DatasetError as wrapped:
        error = find_input_error(wrapped)
    assert str(error) == ("data/08_reporting/recommender_comparison.csv: cannot write there (Permission denied); "
                          "make the folder writable (or free disk space) and run again")
    assert find_input_error(DatasetError("Failed while loading data")) is None   # other errors keep their traceback


def test_version_is_the_installed_package_version():
    result = invoke(ENTRY_POINTS["script"], "--version")
    assert result.returncode == 0 and result.stdout.strip() == f"hybrid-recommender, version {version(DISTRIBUTION)}"


@pytest.mark.kedro_run
@pytest.mark.parametrize("command, args, message", [
    ("kedro", ["--params", "clustering.k_max=-3"], "Error: parameter clustering.k_max=-3: should be greater than 0"),
    ("script", ["--params", "clustering.kk_typo=3"], "Error: parameter clustering.kk_typo=3: not a known key"),
    ("script", ["--env", "nosuchenv"], "Error: --env nosuchenv: no such configuration environment"),
])
def test_bad_parameters_or_environment_stop_the_run_before_any_node_with_one_line(project_copy, command, args,
                                                                                    message):
    program = str(BIN / "kedro") if command == "kedro" else str(SCRIPT)
    result = project_copy.command(program, "run", "--pipelines", "clustering", *args)
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in output, output[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and errors[0].startswith(message) and "Loading data from" not in output
    assert not (project_copy / "mlflow.db").exists()                  # no MLflow run was started


def test_an_unwritable_output_folder_stops_the_run_before_any_node(tmp_path):
    blocked = tmp_path / "a_file"
    blocked.write_text("a file where the pipeline wants a folder")
    catalog = DataCatalog.from_config({
        "table": {"type": "pandas.CSVDataset", "filepath": str(tmp_path / "ok" / "table.csv")},
        "report": {"type": "kedro_mlflow.io.artifacts.MlflowArtifactDataset",
                   "dataset": {"type": "pandas.CSVDataset", "filepath": str(blocked / "reports" / "report.csv")}},
        "cache": {"type": CACHE_DATASET, "path": str(blocked / "cache")},       # an input its node fills
        "source": {"type": "pandas.CSVDataset", "filepath": str(blocked / "sources" / "in.csv")},   # read only
    })
    pipeline = Pipeline([Node(lambda cache, source: (1, 2), inputs=["cache", "source"], outputs=["table", "report"],
                              name="make")])
    with pytest.raises(InputDataError, match=f"^{blocked / 'cache'}: cannot write there"):
        WritableOutputsHook().before_pipeline_run({}, pipeline, catalog)
    blocked.unlink()
    WritableOutputsHook().before_pipeline_run({}, pipeline, catalog)
    made = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")}
    assert made == {"ok", "a_file", "a_file/reports", "a_file/cache"}    # no check file left; inputs untouched
    assert ClipFaceCacheDataset.__module__ + "." + ClipFaceCacheDataset.__qualname__ == CACHE_DATASET
