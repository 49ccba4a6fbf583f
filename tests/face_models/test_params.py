"""The typed face_models settings: every environment's merged parameters validate; a misspelt key or a value out
of range is refused with a message naming it; a group's settings are the section with its overrides."""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import ValidationError

from hybrid_recommender.face_models import make_heads
from hybrid_recommender.face_models.params import (
    FaceModelsParams,
    FrameCNNSettings,
    Head,
    SVMParams,
    Variant,
)
from hybrid_recommender.face_models.training import AUGMENTATIONS
from hybrid_recommender.face_models.video import NORMALISATIONS
from tests.face_models.conftest import face_model_params

ENVIRONMENTS = ("local", "fast", "cpu", "paper", "smoke")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_environment_validates_and_keeps_its_values(env):
    raw = face_model_params(env)
    settings = FaceModelsParams.model_validate(raw)
    assert settings.model_dump(mode="json")["frame_cnn"]["backbones"] == raw["frame_cnn"]["backbones"]
    for group, heads in settings.frame_cnn.groups.items():
        cfg = settings.frame_cnn_for(group)
        merged = {**raw["frame_cnn"], **raw["frame_cnn"]["group_overrides"].get(group, {}), **raw["hardware"]}
        for key in ("max_epochs", "batch_size", "budget_minutes", "max_time", "init_from", "ema_start_fraction"):
            assert getattr(cfg, key) == merged[key], (env, group, key)
        assert cfg.accelerator == raw["hardware"]["accelerator"] and "_".join(heads) == group
    assert settings.lstm_settings().hidden_sizes == raw["video"]["lstm"]["hidden_sizes"]


def _error(env: str, section: tuple[str, ...], key: str, value) -> str:
    """The validation message of ``env``'s parameters with ``section.key`` set to ``value``."""
    params = face_model_params(env)
    target = params
    for part in section:
        target = target[part]
    target[key] = value
    with pytest.raises(ValidationError) as caught:
        FaceModelsParams.model_validate(params)
    return str(caught.value)


@pytest.mark.parametrize("section, key, value", [
    ((), "seeed", 1),
    (("frame_cnn",), "max_epoch", 3),
    (("video", "lstm"), "hiden_sizes", [64]),
    (("frame_cnn", "augment"), "rotaton", 5.0),
])
def test_a_misspelt_key_is_refused_by_name(section, key, value):
    message = _error("cpu", section, key, value)
    assert ".".join([*section, key]) in message and "Extra inputs are not permitted" in message


@pytest.mark.parametrize("section, key, value, expected", [
    (("frame_cnn",), "dropout", 1.5, "less than 1"),
    (("frame_cnn",), "batch_size", 0, "greater than 0"),
    (("frame_cnn",), "optimizer", "adam", "'sgd' or 'adamw'"),
    (("framing",), "margin", -2, "greater than or equal to 0"),
    (("video", "svm"), "normalisations", ["l1"], "'l2' or 'minmax'"),
    (("preprocessing",), "crop_size", 64, "must not exceed image_size"),
    (("frame_cnn",), "max_time", "8 minutes", "should match pattern"),
])
def test_a_value_out_of_range_is_refused_naming_the_key(section, key, value, expected):
    message = _error("local", section, key, value)
    assert ".".join(section) in message and expected in message
    if expected != "must not exceed image_size":   # a check across two keys names both in its message
        assert key in message


def test_a_group_override_is_checked_like_the_section_it_overrides():
    overrides = ("frame_cnn", "group_overrides")
    message = _error("cpu", (*overrides, "emotion"), "max_epoch", 3)
    assert "group_overrides.emotion.max_epoch: Extra inputs are not permitted" in message
    message = _error("cpu", (*overrides, "gender_age_group"), "ema_start_fraction", -1)
    assert "group_overrides.gender_age_group.ema_start_fraction" in message
    assert "may not set ['head_groups']" in _error("cpu", (*overrides, "emotion"), "head_groups", [["gender"]])
    message = _error("cpu", (*overrides, "emotion"), "init_from", "gender_age_group")
    assert "init_from 'gender_age_group' must name a head group listed earlier" in message
    assert "not head groups" in _error("cpu", overrides, "gender_age", {"max_epochs": 2})
    # the section's own init_from is every group's, the first group's too: nothing earlier to start from
    assert "group_overrides.emotion.init_from 'emotion' must name a head group listed earlier" in \
        _error("local", ("frame_cnn",), "init_from", "emotion")


def test_plain_dict_settings_validate_the_same_way():
    """train_frame_cnn takes a dict of the frame_cnn and hardware keys too (tests, benchmarks): still checked."""
    raw = face_model_params("smoke")
    FrameCNNSettings.model_validate({**raw["frame_cnn"], **raw["hardware"]})
    with pytest.raises(ValidationError, match="accelerator"):
        FrameCNNSettings.model_validate(raw["frame_cnn"])


def test_the_choices_are_the_codes():
    """The settings name the same variants, heads and normalisations the training code knows."""
    assert set(get_args(Variant)) == set(AUGMENTATIONS)
    assert set(get_args(Head)) == set(make_heads(["a"]))
    assert set(get_args(get_args(SVMParams.model_fields["normalisations"].annotation)[0])) == set(NORMALISATIONS)
