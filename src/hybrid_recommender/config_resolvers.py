"""OmegaConf resolvers used in conf/: paths resolved from the project, not from the working directory."""

from __future__ import annotations

import os
from pathlib import Path

from hybrid_recommender.paths import PROJECT_ROOT

DATASETS_DIR_ENV = "HYBRID_DATASETS_DIR"


def project_path(relative: str) -> str:
    """Absolute path of ``relative`` under the project root."""
    return (PROJECT_ROOT / relative).resolve().as_posix()


def datasets_dir(*candidates: str) -> str:
    """Where the raw data sets are: $HYBRID_DATASETS_DIR if set, else the first candidate folder that exists.

    Candidates are relative to the project root; the last one is the fallback even if it does not exist yet.
    """
    if os.environ.get(DATASETS_DIR_ENV):
        return Path(os.environ[DATASETS_DIR_ENV]).expanduser().resolve().as_posix()
    paths = [Path(project_path(c)) for c in candidates] or [Path(project_path("data/01_raw"))]
    return next((p for p in paths if p.is_dir()), paths[-1]).as_posix()


TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"


def tracking_uri(default: str) -> str:
    """Where runs go: $MLFLOW_TRACKING_URI when set (a team's ``mlflow server``), else ``default`` (the project's
    sqlite file). Kedro's ``oc.env`` is allowed in credentials only, so conf/mlflow.yml reads it through here."""
    return os.environ.get(TRACKING_URI_ENV) or default


def artifact_location(default: str) -> str | None:
    """Where a new experiment's artifacts go: ``default`` (the project's mlruns/) for the local sqlite store; with
    $MLFLOW_TRACKING_URI set, None, so the server decides (``mlflow server --serve-artifacts``)."""
    return None if os.environ.get(TRACKING_URI_ENV) else default


CUSTOM_RESOLVERS = {"project_path": project_path, "datasets_dir": datasets_dir, "tracking_uri": tracking_uri,
                    "artifact_location": artifact_location}
