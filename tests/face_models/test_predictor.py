"""The fused predictor round-trips through save and load, and predicts faces, batches and sequences."""

from __future__ import annotations

import json

import numpy as np
import torch

from hybrid_recommender.face_models.predictor import FaceAttributePredictor
from hybrid_recommender.io.predictor_dataset import FacePredictorDataset
from tests.predictor_factory import tiny_predictor

AGE_GROUPS = ("8-14", "15-24", "25-37", "38-47", "other")   # the configured groups, not the defaults


def _predictor() -> FaceAttributePredictor:
    """Two networks as the CPU recipe trains them: one for emotion, one for gender and age group."""
    return tiny_predictor(AGE_GROUPS, model_card={
        "validation_accuracy": {"regnetx_002_emotion emotion (centre crop)": 0.25},
        "networks": {"regnetx_002_emotion": {"backbone": "regnetx_002", "heads": ["emotion"], "epochs": 1}}})


def test_predictor_round_trips_through_the_catalog_dataset(tmp_path):
    predictor = _predictor()
    faces = np.random.default_rng(1).integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    before = predictor.predict(faces)
    seq_before = predictor.predict_sequence(faces)

    dataset = FacePredictorDataset(str(tmp_path / "predictor"), artifact_path=None)
    dataset.save(predictor)
    assert dataset.exists()
    config = json.loads((tmp_path / "predictor" / "config.json").read_text())
    assert config["preprocessing"]["crop_size"] == 40 and config["framing"]["margin"] == 8
    assert config["model_card"]["environment"] == "test" and config["labels"]["age_group"] == list(AGE_GROUPS)
    loaded = dataset.load()

    after = loaded.predict(faces)
    for head, shape in (("emotion", (5, 7)), ("gender", (5, 2)), ("age_group", (5, 5))):
        assert after[head].shape == shape
        np.testing.assert_allclose(after[head].sum(1), 1.0, atol=1e-5)
        np.testing.assert_allclose(after[head], before[head], atol=1e-6)
    seq_after = loaded.predict_sequence(faces)
    np.testing.assert_allclose(seq_after["emotion"], seq_before["emotion"], atol=1e-6)
    assert set(seq_after["branches"]) == {"cnn_branch", "lstm_branch", "frame_cnn"}
    assert seq_after["emotion"].shape == (7,) and abs(seq_after["emotion"].sum() - 1) < 1e-6


def test_predictor_accepts_one_image_gray_or_rgb_and_ten_crop(tmp_path):
    predictor = _predictor()
    gray = np.random.default_rng(2).integers(0, 256, (48, 48), dtype=np.uint8)
    one = predictor.predict(gray)
    assert one["emotion"].shape == (1, 7)
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    np.testing.assert_allclose(predictor.predict(rgb)["emotion"], one["emotion"], atol=1e-5)
    assert predictor.predict(gray, ten_crop=True)["age_group"].shape == (1, 5)
    still = predictor.predict_sequence(gray)            # a still image is a one-frame sequence
    assert still["gender"].shape == (2,)
    assert predictor.top(one)[0]["gender"] in ("male", "female")


def test_loading_a_predictor_returns_its_model_card(tmp_path):
    _predictor().save(tmp_path / "p")
    loaded = FaceAttributePredictor.load(tmp_path / "p")
    assert loaded.model_card["validation_accuracy"] == {"regnetx_002_emotion emotion (centre crop)": 0.25}
    assert "test environment" in loaded.describe() and "0.25" in loaded.describe()
    assert "regnetx_002_emotion: regnetx_002 for emotion" in loaded.describe()


def test_each_head_comes_from_the_networks_that_have_it():
    predictor = _predictor()
    faces = torch.from_numpy(np.random.default_rng(3).integers(0, 256, (4, 1, 48, 48), dtype=np.uint8))
    probs = predictor.predict(faces)
    own, _ = predictor.frame_models["regnetx_002_emotion"].probabilities(faces, predictor.prep, False)
    np.testing.assert_allclose(probs["emotion"], own["emotion"].detach().double().numpy(), atol=1e-6)
    own, _ = predictor.frame_models["face_vgg_xs_ga"].probabilities(faces, predictor.prep, False)
    for head in ("gender", "age_group"):
        np.testing.assert_allclose(probs[head], own[head].detach().double().numpy(), atol=1e-6)
