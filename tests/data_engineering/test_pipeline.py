"""The data_engineering pipeline end to end on the real data, the configuration, and the CLI's errors."""

import os
import subprocess
import sys

import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from hybrid_recommender import settings
from hybrid_recommender.config_resolvers import datasets_dir
from hybrid_recommender.paths import PROJECT_ROOT
from tests.conftest import SHARED_DATASETS, require_shared


def config_loader(env: str) -> OmegaConfigLoader:
    return OmegaConfigLoader(str(PROJECT_ROOT / "conf"), env=env, **{k: v for k, v in settings.CONFIG_LOADER_ARGS.items()
                                                                        if k != "default_run_env"})


def test_environments_override_single_keys_without_wiping_siblings():
    base = config_loader("local")["parameters"]["data_engineering"]
    paper = config_loader("paper")["parameters"]["data_engineering"]
    assert base["utkface"]["image_size"] == 64 and paper["utkface"]["image_size"] == 200
    assert paper["utkface"]["split_fractions"] == base["utkface"]["split_fractions"]
    assert paper["age_groups"] == base["age_groups"]


def test_datasets_dir_prefers_the_environment_variable_then_existing_candidates(tmp_path, monkeypatch):
    monkeypatch.delenv("HYBRID_DATASETS_DIR", raising=False)
    assert datasets_dir("no/such/folder", "data/01_raw") == (PROJECT_ROOT / "data/01_raw").as_posix()
    monkeypatch.setenv("HYBRID_DATASETS_DIR", str(tmp_path))
    assert datasets_dir("data/01_raw") == tmp_path.as_posix()


def test_fast_environment_reads_the_shared_datasets_beside_the_checkout(monkeypatch):
    require_shared()
    monkeypatch.delenv("HYBRID_DATASETS_DIR", raising=False)
    fast = config_loader("fast")["parameters"]["data_engineering"]
    assert fast["datasets_dir"] == SHARED_DATASETS.resolve().as_posix()


@pytest.mark.real_data
def test_data_engineering_runs_on_the_real_data_and_writes_the_report():
    require_shared("ml-100k.zip", "fer2013.zip", "utkface_crop_part1.tar.gz", "ckplus48.zip")
    bootstrap_project(PROJECT_ROOT)
    with KedroSession.create(project_path=PROJECT_ROOT, env="fast") as session:
        session.run(pipeline_names=["data_engineering"])
    reporting = PROJECT_ROOT / "data" / "08_reporting"
    counts = pd.read_csv(reporting / "ingestion_counts.csv")
    faces = counts[counts["attribute"] == "faces"].set_index(["dataset", "split"])["count"]
    assert faces[("fer2013", "train")] == 28_709 and faces[("fer2013", "val")] == 3_589
    assert faces.xs("utkface").sum() == 7_738 and faces.xs("ckplus").sum() == 981
    total = counts.set_index(["dataset", "attribute"])["count"]
    assert total[("movielens", "ratings")] == 100_000 and total[("movielens", "users")] == 943
    blank = counts[(counts["attribute"] == "blank")].groupby("dataset")["count"].sum()
    assert blank["fer2013"] == 12
    summary = pd.read_csv(reporting / "ingestion_skip_summary.csv")
    assert summary.set_index("dataset").loc["utkface", "count"] == 1
    assert (reporting / "ingestion_counts.png").stat().st_size > 10_000
    inventory_missing = {"rafdb", "afew"}
    assert inventory_missing.isdisjoint(set(faces.index.get_level_values("dataset")))


def _kedro_run(datasets: str, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HYBRID_DATASETS_DIR": datasets, "KEDRO_DISABLE_TELEMETRY": "true"}
    return subprocess.run([sys.executable, "-m", "kedro", "run", "--env", "fast", "--pipelines", "data_engineering",
                           *extra], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_a_missing_required_data_set_stops_with_a_message_not_a_traceback(tmp_path):
    (tmp_path / "ml-100k").mkdir()  # empty folder: not a data set
    result = _kedro_run(str(tmp_path), "--params", "data_engineering.download_movielens=false")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    assert f"MovieLens 100K not found under {tmp_path}" in result.stderr
    assert "grouplens.org" in result.stderr


def test_no_emotion_data_set_names_the_layouts_to_provide(tmp_path):
    shared = require_shared("ml-100k.zip", "utkface_crop_part1.tar.gz")
    for name in ("ml-100k.zip", "utkface_crop_part1.tar.gz"):
        (tmp_path / name).symlink_to(shared / name)
    result = _kedro_run(str(tmp_path))
    assert result.returncode != 0 and "Traceback" not in result.stderr + result.stdout
    assert "No data set with emotion labels" in result.stderr
    assert "train/<emotion>/*.jpg" in result.stderr and "CK+48/<emotion>" in result.stderr
