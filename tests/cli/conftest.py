"""A temporary copy of the project to run real `kedro run`s in, so tests never touch the project's own data/ or
mlflow.db (the project's paths resolve from the copied src/)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from hybrid_recommender.paths import PROJECT_ROOT

BIN = Path(sys.executable).parent
# Plain one-line log records (Kedro's default rich handler wraps lines at the terminal width).
PLAIN_LOGGING = """\
version: 1
disable_existing_loggers: false
formatters: {plain: {format: "%(levelname)s %(name)s: %(message)s"}}
handlers: {console: {class: logging.StreamHandler, formatter: plain, stream: ext://sys.stdout}}
root: {handlers: [console], level: INFO}
"""


@dataclass
class ProjectCopy:
    root: Path
    env: dict

    def command(self, *args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(args, cwd=cwd or self.root, env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(args, cwd=self.root, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)

    def mlflow_runs(self) -> list:
        """Top-level MLflow runs of the copy, oldest first."""
        from mlflow.tracking import MlflowClient

        client = MlflowClient(f"sqlite:///{self.root / 'mlflow.db'}")
        experiment = client.get_experiment_by_name("hybrid_recommender")
        runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
        return [r for r in runs if "mlflow.parentRunId" not in r.data.tags]


@pytest.fixture
def project_copy(tmp_path) -> ProjectCopy:
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy2(PROJECT_ROOT / "pyproject.toml", root)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(PROJECT_ROOT / "src", root / "src", ignore=ignore)
    shutil.copytree(PROJECT_ROOT / "conf", root / "conf", ignore=shutil.ignore_patterns("local"))
    (root / "conf" / "local").mkdir()
    (root / "logging.yml").write_text(PLAIN_LOGGING)
    env = {**os.environ, "PYTHONPATH": str(root / "src"), "KEDRO_LOGGING_CONFIG": str(root / "logging.yml"),
           "KEDRO_DISABLE_TELEMETRY": "true", "MLFLOW_SKIP_PIP_REQUIREMENTS_CHECK": "true",
           "PYTHONUNBUFFERED": "1"}
    env.pop("HYBRID_DATASETS_DIR", None)
    return ProjectCopy(root, env)
