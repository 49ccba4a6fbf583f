"""Shared test fixtures: the real data sets beside the checkout, small real tables built from them, and a
throwaway copy of the project for Kedro runs.

Real-data tests skip with a reason when ../shared/datasets is absent, except under CI=true, where a
missing data set fails the run: in CI the real-data tests must run. They assert what holds for any honest
copy of a data set; counts particular to the shared copy only when its checksum says it is that copy.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_SKIP_PIP_REQUIREMENTS_CHECK", "true")

import torch  # noqa: E402

from hybrid_recommender.paths import PROJECT_ROOT  # noqa: E402

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

SHARED_DATASETS = Path(os.environ.get("HYBRID_DATASETS_DIR", PROJECT_ROOT.parent / "shared" / "datasets"))

# sha256 of the shared copies (../shared/datasets/README.md): facts particular to them (a withheld split, a
# subset's size) are asserted only for these exact files, so the tests hold on any honest copy.
KNOWN_COPIES = {
    "ml-100k.zip": "9c2ee53c1830499e8f3101f8ff2113c388ba6eabdd319a6311df12cdccdf63dc",
    "fer2013.zip": "1848a480f17a7b721eb63e0e1aca365b49977e6aa2ad79221c1dba0f9bac2164",
    "utkface_crop_part1.tar.gz": "e81a4fd8e79a45ce157b6d6c5bc6fba456dd028899476be90adb12655f373713",
    "ckplus48.zip": "1a7458881434ed1184357628f062f1a639b719edcf9b3f9d685703ae26b8fefd",
}


@functools.cache
def is_known_copy(name: str) -> bool:
    """Whether ``name`` in the datasets folder is byte for byte the shared copy described in its README."""
    path = SHARED_DATASETS / name
    if not path.is_file():
        return False
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest() == KNOWN_COPIES.get(name)


def require_shared(*names: str) -> Path:
    """Path of the shared datasets folder; skips (fails under CI=true) when it or a named archive is missing."""
    missing = [n for n in names if not (SHARED_DATASETS / n).exists()]
    if not SHARED_DATASETS.is_dir() or missing:
        reason = f"real data sets not found: {SHARED_DATASETS} {missing or ''}".strip()
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: real-data tests must run, not skip)")
        pytest.skip(reason)
    return SHARED_DATASETS


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    return require_shared()


@pytest.fixture(scope="session")
def movielens(shared_datasets):
    """Real MovieLens 100K as data_engineering writes it: (ratings, users with age_group, movies)."""
    from hybrid_recommender.ingest.movielens import read_movielens
    from hybrid_recommender.io.sources import DataSource
    from hybrid_recommender.labels import age_groups

    ratings, users, movies, _ = read_movielens(DataSource(require_shared("ml-100k.zip") / "ml-100k.zip"))
    users["age_group"] = age_groups(users["age"])
    return ratings, users, movies


def copy_project(target: Path) -> Path:
    """A runnable copy of the project at ``target``: pyproject.toml, conf/, src/ and empty data layers.

    Kedro runs made in tests use it, so that they never write into the checkout's data/, mlflow.db or mlruns/.
    """
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(PROJECT_ROOT / "pyproject.toml", target / "pyproject.toml")
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(PROJECT_ROOT / "conf", target / "conf", ignore=ignore)
    shutil.copytree(PROJECT_ROOT / "src", target / "src", ignore=ignore)
    for layer in (PROJECT_ROOT / "data").iterdir():
        if layer.is_dir():
            (target / "data" / layer.name).mkdir(parents=True)
    return target


@pytest.fixture
def project_copy(tmp_path) -> Path:
    return copy_project(tmp_path / "project")


def kedro_run(project: Path, datasets: str | Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``kedro run --env fast ARGS`` as a user runs it, in ``project`` (a copy), reading the data sets in
    ``datasets``; the copy's own package is imported, so its paths (mlflow.db, caches) stay inside it."""
    env = {**os.environ, "HYBRID_DATASETS_DIR": str(datasets), "KEDRO_DISABLE_TELEMETRY": "true", "COLUMNS": "400",
           "MLFLOW_SKIP_PIP_REQUIREMENTS_CHECK": "true",
           "PYTHONPATH": os.pathsep.join(p for p in [str(project / "src"), os.environ.get("PYTHONPATH")] if p)}
    return subprocess.run([sys.executable, "-m", "kedro", "run", "--env", "fast", *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a skipped real-data test is a failure, whatever skipped it."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and item.get_closest_marker("real_data") and os.environ.get("CI", "").lower() == "true":
        report.outcome = "failed"
        report.longrepr = f"real-data test skipped under CI=true: {report.longrepr}"
