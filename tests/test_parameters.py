"""Parameters: every environment passes its checks, a bad key or value is one line naming it, and a code default
of a setting equals the YAML (the YAML is the one home of every value)."""

from __future__ import annotations

import inspect

import pytest

from hybrid_recommender.inference.coldstart import cold_start_lists
from hybrid_recommender.inference.face_tracker import IouTracker
from hybrid_recommender.inference.settings import InferenceSettings
from hybrid_recommender.parameters import (
    PARAMETERS,
    ParameterError,
    check_parameters,
    validated,
)
from hybrid_recommender.recommender.baselines import (
    GlobalSVD,
    GroupPopularity,
    RandomRecommender,
)
from hybrid_recommender.recommender.clustering import (
    cluster_movies,
    elbow_k,
    wcss_curve,
)
from hybrid_recommender.recommender.hybrid import HybridRecommender
from hybrid_recommender.recommender.improved import ImprovedHybridRecommender
from hybrid_recommender.recommender.ranking_metrics import (
    bootstrap_means,
    split_ratings,
)
from hybrid_recommender.recommender.svd import (
    SVD_DEFAULTS,
    fit_surprise_svd,
    surprise_group_scores,
)
from tests.conftest import PROJECT_ROOT, project_parameters

ENVIRONMENTS = sorted(p.name for p in (PROJECT_ROOT / "conf").iterdir() if p.is_dir() and p.name != "base")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_environment_passes_the_parameter_checks(env):
    params = {section: project_parameters(section, env) for section in PARAMETERS}
    check_parameters(params)
    assert {"local", "fast", "cpu", "paper", "smoke"} <= set(ENVIRONMENTS)


@pytest.mark.parametrize("section, change, message", [
    ("clustering", {"k_max": -3}, "parameter clustering.k_max=-3: should be greater than 0"),
    ("clustering", {"k_min": 5, "k_max": 3}, "parameters clustering: k_max (3) must be at least k_min (5)"),
    ("clustering", {"kk_typo": 3}, "parameter clustering.kk_typo=3: not a known key; known keys here: seed, k_min"),
    ("recommendation", {"split": {"test_fraction": 1.5}}, "recommendation.split.test_fraction=1.5: should be less"),
    ("recommendation", {"hybrid": {"stance": "mood_swing"}},
     "recommendation.hybrid.stance='mood_swing': should be 'mood_congruence' or 'mood_repair'"),
    ("data_engineering", {"utkface": {"split_fractions": {"train": 0.8, "val": 0.1, "test": 0.2}}},
     "data_engineering.utkface.split_fractions: train + val + test = 1.1; expected 1"),
    ("data_engineering", {"age_groups": {"viewers": ["8-14", "99+"]}}, "viewers ['99+'] are not among the labels"),
    ("evaluation", {"faces": {"emotion_dataset": "ckplus"}}, "evaluation.faces.emotion_dataset='ckplus': should be"),
    ("inference", {"detector": "yolo"}, "parameter inference.detector='yolo': should be 'mtcnn' or 'blazeface'"),
    ("inference", {"tracker": {"iou": 0.5}},
     "parameter inference.tracker.iou=0.5: not a known key; known keys here: iou_threshold, max_missed, window"),
])
def test_a_bad_key_or_value_is_one_line_naming_the_key_the_value_and_what_is_allowed(section, change, message):
    params = _merged(project_parameters(section), change)
    with pytest.raises(ParameterError) as error:
        validated(section, params)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_an_unknown_section_and_every_bad_key_are_named_in_one_line():
    params = {"clusterin": {"k_max": 3}, "clustering": {**project_parameters("clustering"), "k_min": 0},
              "inference": {"top_n": 0}}
    with pytest.raises(ParameterError) as error:
        check_parameters(params)
    assert str(error.value) == ("parameter section(s) clusterin: not known; expected one of clustering, "
                                "data_engineering, evaluation, face_models, inference, recommendation; "
                                "parameter clustering.k_min=0: should be greater than 0; "
                                "parameter inference.top_n=0: should be greater than 0")


def test_the_inference_defaults_are_the_yaml():
    assert InferenceSettings().model_dump() == project_parameters("inference")


def _default(function, name):
    return inspect.signature(function).parameters[name].default


def test_code_defaults_of_other_settings_are_the_yaml():
    rec, clustering = project_parameters("recommendation"), project_parameters("clustering")
    evaluation, inference = project_parameters("evaluation"), project_parameters("inference")
    assert SVD_DEFAULTS == rec["svd"]
    for cls in (HybridRecommender, ImprovedHybridRecommender):
        assert _default(cls, "stance") == rec["hybrid"]["stance"] == evaluation["context_stance"]
        assert _default(cls, "affinity_aggregation") == rec["hybrid"]["affinity_aggregation"]
        assert (_default(cls, "min_users"), _default(cls, "min_ratings")) == tuple(rec["groups"].values())
    hybrid = {k: _default(HybridRecommender, k) for k in ("method", "affinity_baseline", "truncated_rank",
                                                          "top_genres")}
    assert hybrid == {k: rec["hybrid"][k] for k in hybrid}
    assert _default(split_ratings, "test_fraction") == rec["split"]["test_fraction"]
    assert (_default(bootstrap_means, "n_boot"), _default(bootstrap_means, "level")) == \
        tuple(evaluation["bootstrap"].values())
    assert _default(wcss_curve, "n_init") == clustering["n_init"]
    assert _default(elbow_k, "sensitivity") == clustering["elbow_sensitivity"]
    assert (_default(cold_start_lists, "min_users"), _default(cold_start_lists, "min_ratings")) == \
        tuple(rec["groups"].values())
    # seeds: the recommender's and the clustering's from their sections, the bootstrap's from evaluation's
    for function in (split_ratings, fit_surprise_svd, surprise_group_scores, GroupPopularity, GlobalSVD,
                     RandomRecommender, HybridRecommender):
        assert _default(function, "seed") == rec["seed"], function
    assert _default(wcss_curve, "seed") == _default(cluster_movies, "seed") == clustering["seed"]
    assert _default(bootstrap_means, "seed") == evaluation["seed"]
    # the tracker takes its settings from InferenceSettings: no defaults of its own
    assert all(_default(IouTracker, name) is inspect.Parameter.empty for name in inference["tracker"])


def _merged(base: dict, change: dict) -> dict:
    out = dict(base)
    for key, value in change.items():
        out[key] = _merged(base.get(key, {}), value) if isinstance(value, dict) and key in base else value
    return out
