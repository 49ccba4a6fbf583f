"""The data_engineering pipeline end to end on the real data, the configuration, and the CLI's errors.

Every Kedro run here is a real ``kedro run`` in a throwaway copy of the project (``project_copy``), so the
tests never write into the checkout's data/, mlflow.db or mlruns/.
"""

import os
import shutil
import subprocess
import tarfile

import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader

from hybrid_recommender import settings
from hybrid_recommender.config_resolvers import datasets_dir
from hybrid_recommender.errors import InputDataError
from hybrid_recommender.paths import PROJECT_ROOT
from hybrid_recommender.pipelines.data_engineering import nodes
from tests.conftest import SHARED_DATASETS, is_known_copy, kedro_run, require_shared

REAL = ("ml-100k.zip", "fer2013.zip", "utkface_crop_part1.tar.gz", "ckplus48.zip")


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


@pytest.mark.real_data
def test_fast_environment_reads_the_shared_datasets_beside_the_checkout(monkeypatch):
    beside = PROJECT_ROOT.parent / "shared" / "datasets"
    if not beside.is_dir():
        require_shared()  # skips, or fails under CI=true
        beside = SHARED_DATASETS
    monkeypatch.delenv("HYBRID_DATASETS_DIR", raising=False)
    fast = config_loader("fast")["parameters"]["data_engineering"]
    assert fast["datasets_dir"] == beside.resolve().as_posix()


def _checkout_state() -> dict:
    """What a test run must not change in the checkout: the tracking database and the data layers."""
    files = [PROJECT_ROOT / "mlflow.db", *sorted((PROJECT_ROOT / "data").rglob("*")), *(PROJECT_ROOT / "mlruns").glob("*")]
    return {str(p): p.stat().st_mtime_ns for p in files if p.exists()}


@pytest.mark.kedro_run
@pytest.mark.real_data
def test_data_engineering_runs_on_the_real_data_and_writes_the_report(project_copy):
    shared = require_shared(*REAL)
    before = _checkout_state()
    result = kedro_run(project_copy, shared, "--pipeline", "data_engineering")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr + result.stdout
    assert _checkout_state() == before, "the test run wrote into the checkout"
    assert (project_copy / "mlflow.db").stat().st_size > 0
    reporting = project_copy / "data" / "08_reporting"
    counts = pd.read_csv(reporting / "ingestion_counts.csv")
    faces = counts[counts["attribute"] == "faces"].set_index(["dataset", "split"])["count"]
    # Official sizes, true of any complete copy: FER2013 Training 28,709 (train + the carved val), PublicTest
    # 3,589 (test; PrivateTest is left out under the carved protocol); CK+48 981 frames; MovieLens 100K 100,000
    # ratings by 943 users.
    assert faces[("fer2013", "train")] + faces[("fer2013", "val")] == 28_709 and faces[("fer2013", "test")] == 3_589
    splits = pd.read_csv(reporting / "face_splits.csv").set_index(["dataset", "split"])
    assert splits.loc[("fer2013", "val"), "sources"] == f"Training {faces[('fer2013', 'val')]}"
    assert splits.loc[("fer2013", "test"), "sources"] == "PublicTest 3589"
    assert "stratified by emotion, seed 13" in splits.loc[("fer2013", "val"), "rule"]
    assert splits.loc[("ckplus", "test"), "use"].startswith("scored only")
    assert faces.xs("ckplus").sum() == 981
    total = counts.set_index(["dataset", "attribute"])["count"]
    assert total[("movielens", "ratings")] == 100_000 and total[("movielens", "users")] == 943
    utkface = pd.read_parquet(project_copy / "data" / "03_primary" / "utkface_faces.parquet")
    skips = pd.read_csv(reporting / "ingestion_skips.csv")
    with tarfile.open(shared / "utkface_crop_part1.tar.gz") as tf:
        images = sum(m.isfile() and m.name.endswith(".jpg") for m in tf)
    # Every UTKFace image is a face or a counted skip, whatever the copy.
    assert len(utkface) + (skips["dataset"] == "utkface").sum() == images
    assert faces.xs("utkface").sum() == len(utkface) > 0
    if is_known_copy("utkface_crop_part1.tar.gz"):  # the shared copy: four fifths of part 1
        assert len(utkface) == 7_738
    if is_known_copy("fer2013.zip"):  # its real all-black images, flagged not dropped
        blank = counts[(counts["attribute"] == "blank")].groupby("dataset")["count"].sum()
        assert blank["fer2013"] == 12
    assert (reporting / "ingestion_counts.png").stat().st_size > 10_000
    # A data set has faces in the report exactly when it is in the datasets folder.
    inventory = {"rafdb": ("rafdb_basic.zip", "basic.zip", "rafdb_basic", "RAF-DB", "basic", "rafdb"),
                 "afew": ("AFEW.zip", "afew.zip", "AFEW", "afew")}
    for name, candidates in inventory.items():
        present = any((shared / c).exists() for c in candidates)
        assert (name in set(faces.index.get_level_values("dataset"))) == present


def _link_shared(target, *names):
    shared = require_shared(*names)
    target.mkdir(exist_ok=True)
    for name in names:
        (target / name).symlink_to(shared / name)
    return target


def _clean_error(result: subprocess.CompletedProcess) -> str:
    """The run failed with one ``Error:`` line and no traceback; returns stderr."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-3000:]
    assert "Error: " in result.stderr
    return result.stderr


@pytest.mark.kedro_run
@pytest.mark.real_data
def test_a_missing_required_data_set_stops_with_a_message_not_a_traceback(tmp_path, project_copy):
    datasets = _link_shared(tmp_path / "datasets", "fer2013.zip", "utkface_crop_part1.tar.gz")
    (datasets / "ml-100k").mkdir()  # empty folder: not a data set
    stderr = _clean_error(kedro_run(project_copy, datasets, "--pipeline", "data_engineering",
                                    "--params", "data_engineering.movielens.download=false"))
    assert f"MovieLens 100K not found under {datasets}" in stderr
    assert "grouplens.org" in stderr


@pytest.mark.kedro_run
@pytest.mark.real_data
def test_no_emotion_data_set_names_the_layouts_to_provide(tmp_path, project_copy):
    datasets = _link_shared(tmp_path / "datasets", "ml-100k.zip", "utkface_crop_part1.tar.gz")
    stderr = _clean_error(kedro_run(project_copy, datasets, "--pipeline", "data_engineering"))
    assert "No data set with emotion labels" in stderr
    assert "train/<emotion>/*.jpg" in stderr and "CK+48/<emotion>" in stderr


@pytest.mark.kedro_run
def test_a_datasets_dir_that_is_a_file_is_one_error_line(tmp_path, project_copy):
    datasets = tmp_path / "datasets.zip"
    datasets.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    stderr = _clean_error(kedro_run(project_copy, datasets, "--pipeline", "data_engineering"))
    assert f"The datasets folder {datasets} (from $HYBRID_DATASETS_DIR) is a file, not a folder" in stderr
    assert "ml-100k.zip or ml-100k/" in stderr and "train/<emotion>/*.jpg" in stderr and "crop_part1/" in stderr


def test_a_mistyped_datasets_dir_is_named_and_never_created(tmp_path, monkeypatch):
    monkeypatch.setenv("HYBRID_DATASETS_DIR", str(tmp_path / "datsets"))
    params = config_loader("fast")["parameters"]["data_engineering"]
    params = {**params, "movielens": {**params["movielens"], "download": True}}
    assert params["datasets_dir"] == (tmp_path / "datsets").as_posix()
    for node in (lambda: nodes.data_set_inventory(params, *[None] * 5),
                 lambda: nodes.downloaded_movielens(None, None, params),  # the download must not create it either
                 lambda: nodes.movielens_tables(None, None, params)):
        with pytest.raises(InputDataError) as error:
            node()
        message = str(error.value)
        assert f"The datasets folder {tmp_path / 'datsets'} (from $HYBRID_DATASETS_DIR) does not exist" in message
        # what each data set expects there, as for a folder that holds only some of them
        for expected in ("ml-100k.zip or ml-100k/", "train/<emotion>/*.jpg", "crop_part1/", "CK+48/<emotion>",
                         "EmoLabel/list_patition_label.txt", "Train_AFEW/<Emotion>"):
            assert expected in message
        assert not (tmp_path / "datsets").exists()


def _make_read_only(folder):
    """Read-only even for root (who ignores permission bits): the immutable attribute where chattr works."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return lambda: folder.chmod(0o755)
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)]).returncode != 0:
        pytest.skip("running as root without chattr: no way to make a folder read-only here")
    return lambda: subprocess.run(["chattr", "-i", str(folder)], check=True)


@pytest.mark.kedro_run
@pytest.mark.real_data
def test_a_read_only_output_folder_is_one_error_line_naming_it(tmp_path, project_copy):
    datasets = _link_shared(tmp_path / "datasets", "ml-100k.zip", "ckplus48.zip", "utkface_crop_part1.tar.gz")
    primary = project_copy / "data" / "03_primary"
    undo = _make_read_only(primary)
    try:
        stderr = _clean_error(kedro_run(project_copy, datasets, "--pipeline", "data_engineering"))
    finally:
        undo()
    assert f"{primary.relative_to(project_copy).as_posix()}: cannot write there" in stderr
    assert not any(primary.iterdir())
