"""The inference pipeline: registered, wired to the catalog, and run on a batch of generated real-face files
(one unreadable), with the same code as the command."""

from __future__ import annotations

import pytest
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from hybrid_recommender.face_models.predictor import FaceAttributePredictor
from hybrid_recommender.inference.settings import InferenceSettings
from hybrid_recommender.paths import PROJECT_ROOT
from hybrid_recommender.pipelines.inference import create_pipeline
from tests.inference.clips import background, paste, scene, write_image


class KeptDataset(MemoryDataset):
    """Keeps its data after the run (the runner releases intermediate in-memory data sets)."""

    def _release(self) -> None:
        pass


def test_pipeline_is_wired_to_the_catalog_and_parameters():
    pipe = create_pipeline()
    assert {n.name for n in pipe.nodes} == {"list_cold_start_movies", "recommend_for_batch_inputs",
                                            "tabulate_batch_recommendations", "collect_inference_metrics"}
    catalog = yaml.safe_load((PROJECT_ROOT / "conf/base/catalog_inference.yml").read_text())
    assert pipe.all_outputs() == set(catalog)
    assert catalog["inference_results"]["type"].startswith("kedro_mlflow")
    assert catalog["inference_metrics"]["type"].endswith("MlflowMetricsHistoryDataset")
    params = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_inference.yml").read_text())["inference"]
    assert InferenceSettings.model_validate(params).resources.cold_start == catalog["cold_start_lists"]["filepath"]


@pytest.mark.real_data
def test_pipeline_runs_a_batch_and_counts_a_bad_file(tmp_path, predictor_dir, hybrid, movielens, faces):
    _, users, movies = movielens
    folder = tmp_path / "frames"
    folder.mkdir()
    frames, _ = scene(faces[:1], 4, step=5)
    for i, f in enumerate(frames):
        write_image(folder / f"{i:03d}.png", f)
    two = background()
    paste(two, faces[3], 60, 150, 150)
    paste(two, faces[4], 380, 150, 150)
    write_image(tmp_path / "two.jpg", two)
    (tmp_path / "bad.png").write_bytes(b"not a png at all")
    params = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_inference.yml").read_text())["inference"]
    params["batch_inputs"] = [str(folder), str(tmp_path / "*.jpg"), str(tmp_path / "bad.png")]
    groups = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_recommendation.yml").read_text())
    catalog = DataCatalog({
        "ratings_train": MemoryDataset(hybrid[1]), "movielens_users": MemoryDataset(users),
        "movielens_movies": MemoryDataset(movies), "params:inference": MemoryDataset(params),
        "params:recommendation.groups": MemoryDataset(groups["recommendation"]["groups"]),
        "face_attribute_predictor": MemoryDataset(FaceAttributePredictor.load(predictor_dir), copy_mode="assign"),
        "hybrid_recommender": MemoryDataset(hybrid[0], copy_mode="assign"),
        **{name: KeptDataset(copy_mode="assign") for name in create_pipeline().all_outputs()},
    })
    SequentialRunner().run(create_pipeline(), catalog)
    results = catalog.load("inference_results")
    assert [r["input"] for r in results] == [str(folder), str(tmp_path / "two.jpg"), str(tmp_path / "bad.png")]
    assert results[0]["input_kind"] == "folder" and results[0]["frames"] == 4 and len(results[0]["viewers"]) == 1
    assert results[1]["mode"] == "group" and len(results[1]["viewers"]) == 2
    assert "not a readable image" in results[2]["error"]
    table = catalog.load("inference_summary")
    assert len(table) == 2 * params["top_n"] + 1 and table["error"].astype(bool).sum() == 1
    metrics = catalog.load("inference_metrics")
    assert metrics["inference.inputs"]["value"] == 3 and metrics["inference.errors"]["value"] == 1
    assert metrics["inference.viewers"]["value"] == 3
    lists = catalog.load("cold_start_lists")
    assert len(lists["everyone"]) == params["top_n"] and "25-37|female" in lists["by_group"]
