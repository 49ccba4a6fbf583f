"""Unit tests: heads, masked loss, aggregation, normalisations, clips, fusion, SVM C selection, class weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import timm
import torch

from hybrid_recommender.face_models import make_heads
from hybrid_recommender.face_models.augment import BatchAugment
from hybrid_recommender.face_models.data import class_weights, label_codes
from hybrid_recommender.face_models.model import multi_head_loss
from hybrid_recommender.face_models.networks import FrameCNN, SequenceLSTM
from hybrid_recommender.face_models.preprocessing import (
    Preprocessing,
    ten_crops,
    to_gray_uint8,
)
from hybrid_recommender.face_models.video import (
    aggregate,
    clip_windows,
    fit_linear_svm,
    fuse,
    fusion_weights,
    minmax01,
    normalise,
    rootsift_l2,
)
from hybrid_recommender.labels import DEFAULT_AGE_GROUPS

HEADS = make_heads(DEFAULT_AGE_GROUPS)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return FrameCNN("regnetx_002", HEADS, in_chans=1, pretrained=False)   # timm backbones stay available


def test_one_forward_pass_gives_all_three_heads(net):
    out = net(torch.randn(5, 1, 44, 44))
    assert set(out) == {"emotion", "gender", "age_group"}
    assert out["emotion"].shape == (5, 7) and out["gender"].shape == (5, 2) and out["age_group"].shape == (5, 6)
    assert net.features(torch.randn(2, 1, 44, 44)).shape == (2, net.num_features)


def test_sequence_lstm_shapes():
    lstm = SequenceLSTM(feature_dim=12, hidden=128)
    assert lstm(torch.randn(4, 16, 12)).shape == (4, 7)
    assert SequenceLSTM(12, hidden=256).lstm.hidden_size == 256


def test_masked_loss_leaves_heads_without_labels_untouched(net):
    net.zero_grad(set_to_none=True)
    x = torch.randn(6, 1, 44, 44)
    targets = {"emotion": torch.tensor([0, 3, 6, 1, 2, 4]), "gender": torch.full((6,), -1),
               "age_group": torch.full((6,), -1)}
    total, parts = multi_head_loss(net(x), targets)
    total.backward()
    assert set(parts) == {"emotion"}
    assert net.heads["emotion"].weight.grad.abs().sum() > 0
    for head in ("gender", "age_group"):
        grad = net.heads[head].weight.grad
        assert grad is None or torch.count_nonzero(grad) == 0


def test_masked_loss_only_counts_known_labels():
    logits = {"emotion": torch.tensor([[5.0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 9.0]])}
    only_first, _ = multi_head_loss(logits, {"emotion": torch.tensor([0, -1])})
    expected = torch.nn.functional.cross_entropy(logits["emotion"][:1], torch.tensor([0]))
    assert torch.isclose(only_first, expected)


def test_label_codes_mark_missing_and_out_of_vocabulary_labels():
    values = pd.Series(pd.Categorical(["happy", None, "contempt", "sad"],
                                      categories=["happy", "sad", "contempt"]))
    assert label_codes(values, HEADS["emotion"]).tolist() == [3, -1, -1, 5]
    assert label_codes(pd.Series(["female", "unknown", None]), HEADS["gender"]).tolist() == [1, -1, -1]


def test_square_root_class_weights():
    labels = [np.array([0] * 100 + [1] * 25 + [-1] * 7)]
    w = class_weights(labels, 2, power=0.5).numpy()
    assert w[1] / w[0] == pytest.approx(2.0)                 # sqrt(100 / 25)
    assert (w[0] * 100 + w[1] * 25) / 125 == pytest.approx(1.0)
    assert class_weights(labels, 2, power=0).tolist() == [1.0, 1.0]


def test_aggregation_mean_max_std_by_hand():
    frames = np.array([[1.0, 2.0], [3.0, 6.0]])
    assert aggregate(frames).tolist() == [2.0, 4.0, 3.0, 6.0, 1.0, 2.0]
    assert aggregate(np.array([[1.0, -2.0]])).tolist() == [1.0, -2.0, 1.0, -2.0, 0.0, 0.0]  # a still


def test_rootsift_l2_and_minmax_by_hand():
    v = np.array([4.0, -9.0, 0.0])
    np.testing.assert_allclose(rootsift_l2(v), [2 / np.sqrt(13), -3 / np.sqrt(13), 0.0])
    np.testing.assert_allclose(np.linalg.norm(rootsift_l2(np.random.default_rng(0).normal(size=(3, 8))), axis=1), 1.0)
    np.testing.assert_allclose(minmax01(np.array([2.0, 4.0, 6.0])), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(minmax01(np.array([[1.0, 3.0], [5.0, 5.0]])), [[0.0, 1.0], [0.0, 0.0]])
    assert normalise(v, "l2").shape == (3,)
    with pytest.raises(ValueError):
        normalise(v, "l1")


def test_clip_windows_overlap_by_eight():
    windows = clip_windows(40, 16, 8)
    assert [(int(w[0]), int(w[-1])) for w in windows] == [(0, 15), (8, 23), (16, 31), (24, 39)]
    assert all(len(w) == 16 and np.all(np.diff(w) == 1) for w in windows)
    assert len(clip_windows(16)) == 1
    # leftover frames at the end: a last window ends on the last frame
    assert [int(w[0]) for w in clip_windows(41)] == [0, 8, 16, 24, 25]


def test_short_sequences_loop_or_hold_the_last_frame():
    assert clip_windows(3, 16, 8, "loop")[0].tolist() == [0, 1, 2] * 5 + [0]
    assert clip_windows(3, 16, 8, "repeat_last")[0].tolist() == [0, 1, 2] + [2] * 13
    assert clip_windows(1)[0].tolist() == [0] * 16
    assert clip_windows(0) == []


def test_fusion_weights_are_proportional_to_validation_accuracy():
    w = fusion_weights({"cnn_branch": 0.6, "lstm_branch": 0.3})
    assert w == pytest.approx({"cnn_branch": 2 / 3, "lstm_branch": 1 / 3})
    fused = fuse({"cnn_branch": np.array([[1.0, 0.0]]), "lstm_branch": np.array([[0.0, 1.0]])}, w)
    np.testing.assert_allclose(fused, [[2 / 3, 1 / 3]])
    assert fusion_weights({"a": 0.0, "b": 0.0}) == {"a": 0.5, "b": 0.5}


def test_svm_cross_validation_picks_c():
    rng = np.random.default_rng(0)
    # classes split at x = 11: a small C shrinks the intercept towards 0 and puts every sample in one class
    X = np.concatenate([rng.uniform(10, 11, (60, 1)), rng.uniform(11, 12, (60, 1))])
    y = np.array([0] * 60 + [1] * 60)
    groups = np.arange(120) % 12
    Cs = [1e-6, 1e-2, 1.0, 100.0]
    svm, search = fit_linear_svm(X, y, groups, Cs, folds=5)
    scores = search.cv_results_["mean_test_score"]
    assert search.n_splits_ == 5
    assert search.best_params_["C"] == Cs[int(np.argmax(scores))]
    assert scores[0] < 0.6 and search.best_params_["C"] >= 1.0  # heavy regularisation under-fits, is not chosen
    assert (svm.predict(X) == y).mean() > 0.85


def test_preprocessing_gray_resize_and_ten_crop():
    rgb = np.zeros((2, 64, 64, 3), np.uint8)
    rgb[..., 0] = 255
    gray = to_gray_uint8(rgb, 48)
    assert gray.shape == (2, 1, 48, 48) and int(gray[0, 0, 10, 10]) == round(0.299 * 255)
    assert to_gray_uint8(np.zeros((48, 48), np.uint8), 48).shape == (1, 1, 48, 48)
    assert ten_crops(gray, Preprocessing()).shape == (10, 2, 1, 40, 40)


def test_face_vgg_is_a_timm_backbone_that_keeps_a_spatial_map_for_small_faces():
    backbone = timm.create_model("face_vgg_s", pretrained=False, num_classes=0, in_chans=1)
    assert backbone(torch.randn(2, 1, 40, 40)).shape == (2, 256)
    assert backbone.forward_features(torch.randn(2, 1, 40, 40)).shape[-1] == 5   # 40 px -> 5x5, not 1x1
    assert 1.0e6 < sum(p.numel() for p in backbone.parameters()) < 1.5e6
    with pytest.raises(ValueError, match="no pretrained weights"):
        timm.create_model("face_vgg_s", pretrained=True)
    # the 2x2-grid variant: the same weights, features pooled per quarter of the 5x5 map (4 x 256)
    grid = timm.create_model("face_vgg_s_grid2", pretrained=False, num_classes=0, in_chans=1)
    grid.load_state_dict(backbone.state_dict())
    grid.eval()
    x = torch.randn(2, 1, 40, 40)
    with torch.no_grad():
        feats = grid(x)
        top_left = grid.forward_features(x)[..., :3, :3].mean((-2, -1))
    assert grid.num_features == 1024 and feats.shape == (2, 1024)
    assert torch.allclose(feats.view(2, 256, 2, 2)[..., 0, 0], top_left, atol=1e-5)


def test_batch_augmentation_keeps_shape_mirrors_and_erases():
    prep = Preprocessing()
    faces = torch.arange(48, dtype=torch.uint8).repeat(48, 1)[None, None].repeat(64, 1, 1, 1) * 5   # a left-right ramp
    plain = BatchAugment(0.0, 0.0, 0.0, False, 0.0, (0.02, 0.15))(faces, prep)
    np.testing.assert_allclose(plain.numpy(), (faces[..., 4:44, 4:44].float() / 255 - 0.5).div(0.5).numpy(), atol=1e-5)
    torch.manual_seed(0)
    flipped = BatchAugment(0.0, 0.0, 0.0, True, 0.0, (0.02, 0.15))(faces, prep)
    left_to_right = flipped[:, 0, 20, -1] > flipped[:, 0, 20, 0]
    assert 0 < int(left_to_right.sum()) < 64                       # about half the faces mirrored
    erased = BatchAugment(10.0, 0.1, 0.08, True, 1.0, (0.1, 0.15))(faces, prep)
    assert erased.shape == (64, 1, 40, 40) and bool(((erased == 0).flatten(1).sum(1) >= 0.1 * 1600 * 0.5).all())
