"""Shared test fixtures: the real data sets beside the checkout, and small real tables built from them.

Real-data tests skip with a reason when ../shared/datasets is absent, except under CI=true, where a
missing data set fails the run: in CI the real-data tests must run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_SKIP_PIP_REQUIREMENTS_CHECK", "true")

import torch  # noqa: E402

from hybrid_recommender.paths import PROJECT_ROOT  # noqa: E402

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

SHARED_DATASETS = Path(os.environ.get("HYBRID_DATASETS_DIR", PROJECT_ROOT.parent / "shared" / "datasets"))


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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a skipped real-data test is a failure, whatever skipped it."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and item.get_closest_marker("real_data") and os.environ.get("CI", "").lower() == "true":
        report.outcome = "failed"
        report.longrepr = f"real-data test skipped under CI=true: {report.longrepr}"
