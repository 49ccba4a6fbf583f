"""What a reviewer checks first: nothing chosen on test data, and hand-built cases whose answers are known."""

from __future__ import annotations

import pandas as pd
import pytest
from kedro.framework.project import pipelines
from kedro.framework.startup import bootstrap_project

from hybrid_recommender.evaluation import observations as obs_mod
from hybrid_recommender.evaluation.reporting import improved_hybrid_target
from hybrid_recommender.paths import PROJECT_ROOT

CHOSEN = ("improved_hybrid_weights", "recommenders", "hybrid_recommender", "movie_clusters",
          "face_attribute_predictor")


@pytest.mark.parametrize("output", CHOSEN)
def test_nothing_that_chooses_or_fits_reads_the_test_ratings(output):
    """Every node upstream of a fitted or tuned object: only the split itself may touch ratings_test."""
    bootstrap_project(PROJECT_ROOT)
    pipelines.set_requested(None)
    upstream = pipelines["__default__"].to_outputs(output)
    readers = [n.name for n in upstream.nodes if "ratings_test" in n.inputs]
    assert readers == [], f"{output} is chosen with the test ratings through {readers}"
    assert "ratings_train" in upstream.all_outputs() or output in ("movie_clusters", "face_attribute_predictor")


def test_the_improved_hybrid_is_tuned_on_a_split_of_the_training_ratings():
    bootstrap_project(PROJECT_ROOT)
    pipelines.set_requested(None)
    node = next(n for n in pipelines["__default__"].nodes if n.name == "choose_improved_hybrid_weights_on_validation")
    assert "ratings_train" in node.inputs and "ratings_test" not in node.inputs


def _faces(splits):
    return pd.DataFrame({"face_id": [f"f{i}" for i in range(len(splits))], "split": splits,
                         "is_blank": False, "emotion": "happy", "age_group": None})


def test_observations_read_test_faces_only_and_say_so_when_there_are_none():
    faces = _faces(["train", "val", "test", "test"])
    assert obs_mod.held_out_faces(faces, ["emotion"], "fer2013")["face_id"].tolist() == ["f2", "f3"]
    with pytest.raises(ValueError, match=r"fer2013: no test face with labels .* scores test faces only"):
        obs_mod.held_out_faces(_faces(["train", "val"]), ["emotion"], "fer2013")


def _aggregated(rows):
    base = {"attributes": "oracle", "relevance": "liked", "protocol": "full_ranking", "rule": "zero"}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_improved_hybrid_target_on_a_hand_built_table():
    """8-14 (10 observations): improved 0.30 beats popularity 0.20 but not the benchmark 0.35; 15-24 (40): it beats
    both. Only groups with at least 20 observations are held to the target."""
    table = _aggregated([
        {"system": "improved_hybrid", "age_group": "8-14", "observations": 10, "f1_of_means": 0.30},
        {"system": "group_popularity", "age_group": "8-14", "observations": 10, "f1_of_means": 0.20},
        {"system": "demographic_svd", "age_group": "8-14", "observations": 10, "f1_of_means": 0.35},
        {"system": "improved_hybrid", "age_group": "15-24", "observations": 40, "f1_of_means": 0.50},
        {"system": "group_popularity", "age_group": "15-24", "observations": 40, "f1_of_means": 0.40},
        {"system": "demographic_svd", "age_group": "15-24", "observations": 40, "f1_of_means": 0.45},
        {"system": "improved_hybrid", "age_group": "25-37", "observations": 40, "f1_of_means": 0.5,
         "attributes": "still"},                                   # not oracle: never part of the target
    ])
    target = improved_hybrid_target(table, "improved_hybrid", ["group_popularity", "demographic_svd"], 20)
    got = target.set_index(["age_group", "rival"])
    assert len(target) == 4
    assert got.loc[("8-14", "group_popularity"), "beats"] and not got.loc[("8-14", "demographic_svd"), "beats"]
    assert got.loc[("15-24", "group_popularity"), "beats"] and got.loc[("15-24", "demographic_svd"), "beats"]
    assert not got.loc[("8-14", "demographic_svd"), "enough_observations"]
    assert got.loc[("15-24", "demographic_svd"), "rival_f1_of_means"] == 0.45
    held = target[target["enough_observations"]]
    assert held["beats"].all()                                     # met where it counts
