"""`hybrid-recommender` and `python -m hybrid_recommender`, invoked as a user would: subprocesses."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

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
    run_help = invoke(ENTRY_POINTS[entry], "run", "--help")
    assert run_help.returncode == 0 and "--pipelines" in run_help.stdout and "--env" in run_help.stdout


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
