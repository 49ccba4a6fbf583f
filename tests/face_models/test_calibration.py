"""Temperature scaling, ECE and reliability bins on hand-built cases with a known answer."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from hybrid_recommender.face_models.calibration import (
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
    reliability_figure,
)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@pytest.fixture(scope="module")
def calibrated():
    """Logits z whose softmax is calibrated by construction: each label is drawn from softmax(z)."""
    rng = np.random.default_rng(7)
    z = rng.normal(0.0, 1.5, size=(20_000, 7))
    p = _softmax(z)
    labels = (rng.random((len(p), 1)) > p.cumsum(1)).sum(1)       # inverse-CDF sampling of one class per row
    return z, p, labels


def test_overconfident_logits_recover_temperature_and_fix_ece(calibrated):
    z, _, labels = calibrated
    t = fit_temperature(3.0 * z, labels)
    assert t == pytest.approx(3.0, rel=0.10)
    assert expected_calibration_error(_softmax(3.0 * z), labels) > 0.05
    assert expected_calibration_error(_softmax(3.0 * z / t), labels) < 0.02


def test_underconfident_logits_get_temperature_below_one(calibrated):
    z, _, labels = calibrated
    assert fit_temperature(torch.as_tensor(z / 2.0), torch.as_tensor(labels)) == pytest.approx(0.5, rel=0.10)


def test_soft_targets_recover_temperature(calibrated):
    z, p, _ = calibrated
    # cross-entropy against the true distribution is minimised exactly where softmax(3z / T) = softmax(z)
    assert fit_temperature(3.0 * z, p) == pytest.approx(3.0, rel=0.01)
    # unnormalised rows (a truncated Gaussian over years) and empty/NaN rows (unknown age) change nothing
    noisy = np.vstack([2.0 * p, np.zeros((1, 7)), np.full((1, 7), np.nan)])
    garbage = np.random.default_rng(1).normal(0, 50, size=(2, 7))
    assert fit_temperature(np.vstack([3.0 * z, garbage]), noisy) == pytest.approx(3.0, rel=0.01)


def test_unknown_labels_are_ignored(calibrated):
    z, _, labels = calibrated
    t = fit_temperature(3.0 * z, labels)
    garbage = np.random.default_rng(1).normal(0, 50, size=(500, 7))
    assert fit_temperature(np.vstack([3.0 * z, garbage]), np.r_[labels, np.full(500, -1)]) == t
    assert fit_temperature(3.0 * z, labels) == t                                   # deterministic
    assert fit_temperature(garbage, np.full(500, -1)) == 1.0
    assert fit_temperature(np.zeros((0, 7)), np.zeros(0, np.int64)) == 1.0


def test_separable_data_keeps_temperature_in_range():
    z = np.eye(3)[np.arange(30) % 3] * 10.0                      # always right, and confidently so
    t = fit_temperature(z, np.arange(30) % 3)
    assert 0.05 <= t < 1.0


# 4 known samples, 3 classes, 2 bins [0, .5) and [.5, 1); the last row is unknown and must be ignored
PROBS = np.array([[0.40, 0.30, 0.30],    # top 0.40, label 0: right
                  [0.20, 0.35, 0.45],    # top 0.45, label 0: wrong
                  [0.90, 0.05, 0.05],    # top 0.90, label 0: right
                  [0.10, 0.80, 0.10],    # top 0.80, label 2: wrong
                  [0.05, 0.05, 0.90]])   # unknown
LABELS = np.array([0, 0, 0, 2, -1])


def test_ece_hand_computed():
    # bin [0, .5): confidence (.40 + .45) / 2 = .425, accuracy 1/2 -> |.5 - .425| = .075, weight 2/4
    # bin [.5, 1): confidence (.90 + .80) / 2 = .850, accuracy 1/2 -> |.5 - .850| = .350, weight 2/4
    # ECE = .5 * .075 + .5 * .350 = .2125
    assert expected_calibration_error(PROBS, LABELS, n_bins=2) == pytest.approx(0.2125, abs=1e-6)
    assert np.isnan(expected_calibration_error(PROBS, np.full(5, -1)))


def test_reliability_bins_hand_computed():
    bins = reliability_bins(PROBS, LABELS, n_bins=2)
    assert list(bins.columns) == ["bin_low", "bin_high", "n", "confidence", "accuracy"]
    np.testing.assert_allclose(bins["bin_low"], [0.0, 0.5])
    np.testing.assert_allclose(bins["bin_high"], [0.5, 1.0])
    assert bins["n"].tolist() == [2, 2]
    np.testing.assert_allclose(bins["confidence"], [0.425, 0.85], atol=1e-6)
    np.testing.assert_allclose(bins["accuracy"], [0.5, 0.5])
    # with 4 bins [.25, .5) and [.75, 1) hold the samples; the two others are empty
    four = reliability_bins(PROBS, LABELS, n_bins=4)
    assert four["n"].tolist() == [0, 2, 0, 2]
    assert four["accuracy"].isna().tolist() == [True, False, True, False]


def test_reliability_bins_count_the_known_labels(calibrated):
    z, p, labels = calibrated
    masked = labels.copy()
    masked[::3] = -1
    bins = reliability_bins(p, masked)
    assert len(bins) == 15 and bins["n"].sum() == (masked >= 0).sum()
    # a confidence of exactly 1 lands in the last bin, not outside
    assert reliability_bins(np.array([[1.0, 0.0]]), np.array([0]), n_bins=5)["n"].tolist() == [0, 0, 0, 0, 1]
    # weighted by counts, the bins' accuracy is the overall accuracy
    known = masked >= 0
    overall = (p[known].argmax(1) == masked[known]).mean()
    assert np.nansum(bins["accuracy"] * bins["n"]) / bins["n"].sum() == pytest.approx(overall)


def test_reliability_figure_renders(calibrated):
    z, _, labels = calibrated
    fig = reliability_figure((_softmax(3.0 * z), labels), (_softmax(z), labels), "emotion (val)")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert fig.axes[0].get_ylabel() == "accuracy"
    assert fig.axes[1].get_xlabel() == "confidence (top-class probability)"
    assert any("ECE" in t.get_text() for t in fig.axes[0].get_legend().get_texts())
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    # without the uncalibrated curve
    assert len(reliability_figure(None, (_softmax(z), labels), "gender").axes) == 2
