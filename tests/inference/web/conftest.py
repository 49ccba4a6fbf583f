"""The web tests' server: the app over the resources tests/inference builds (its conftest's fixtures: a tiny
predictor trained a few steps on real faces, a hybrid fitted on real MovieLens 100K; shared, not built again),
served on a free 127.0.0.1 port in this process; and real held-out UTKFace faces for the camera and uploads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import project_parameters, require_shared
from tests.inference.web.helpers import LocalServer, held_out_faces


@pytest.fixture(scope="session")
def web_resources(resource_files, hybrid):
    """Resources loaded as `serve` loads them; the recommender fitted above is handed over through
    load_recommender (the pickle-free store's seam), as tests/inference does."""
    from hybrid_recommender.inference import resources as res

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(res, "load_recommender", lambda path: hybrid[0])
        return res.load_resources(resource_files)


@pytest.fixture(scope="session")
def web_server(web_resources):
    """The page and API on a free loopback port, torch on one thread as `serve` runs it."""
    import torch

    from hybrid_recommender.inference import InferenceSettings
    from hybrid_recommender.web import create_app

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with LocalServer(create_app(web_resources, InferenceSettings())) as server:
            yield server
    finally:
        torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def test_faces(shared_datasets):
    """Four adult UTKFace faces of the project's held-out (test) split."""
    fractions = project_parameters("data_engineering")["utkface"]["split_fractions"]
    archive = require_shared("utkface_crop_part1.tar.gz") / "utkface_crop_part1.tar.gz"
    return held_out_faces(archive, 4, fractions)


@pytest.fixture()
def artifacts(tmp_path) -> Path:
    """Where screenshots go: $WEB_TEST_ARTIFACTS when set (CI keeps it), else the test's tmp_path."""
    folder = Path(os.environ.get("WEB_TEST_ARTIFACTS") or tmp_path / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
