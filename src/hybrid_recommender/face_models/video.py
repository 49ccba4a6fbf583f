"""The paper's video branches: frame-feature aggregation, the two normalisations, linear SVMs, the LSTM's clips,
and fusion.

Normalisation (paper eq. 1 and 2, after Knyazev et al. 2017, its ref. [46]):

* ``l2``: the printed eq. 1, |F_i| / sum_j F_j^2, is garbled (it is neither a norm nor scale-invariant). The
  cited work applies *RootSIFT-style power normalisation followed by L2*: F <- sign(F) * sqrt(|F|), then
  F <- F / ||F||_2. That is what is implemented.
* ``minmax``: eq. 2, (F_i - min F) / (max F - min F), over the one video's feature vector (a constant vector
  maps to zeros).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedKFold
from sklearn.svm import LinearSVC

from hybrid_recommender.face_models.networks import SequenceLSTM
from hybrid_recommender.face_models.preprocessing import eval_input
from hybrid_recommender.labels import EMOTIONS

NORMALISATIONS = ("l2", "minmax")


def aggregate(frame_features: np.ndarray) -> np.ndarray:
    """(T, D) per-frame features of one video -> (3D,) [mean, max, std] (population std, 0 for one frame)."""
    f = np.asarray(frame_features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] == 0:
        raise ValueError(f"aggregate needs (T>=1, D) features, got {f.shape}")
    return np.concatenate([f.mean(0), f.max(0), f.std(0)])


def rootsift_l2(v: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Signed square root, then L2 normalisation (rows of a 2-D array, or one vector)."""
    v = np.asarray(v, dtype=np.float64)
    r = np.sign(v) * np.sqrt(np.abs(v))
    norm = np.linalg.norm(r, axis=-1, keepdims=True)
    return r / np.maximum(norm, eps)


def minmax01(v: np.ndarray) -> np.ndarray:
    """Per-vector min-max scaling to [0, 1] (rows of a 2-D array, or one vector)."""
    v = np.asarray(v, dtype=np.float64)
    lo, hi = v.min(axis=-1, keepdims=True), v.max(axis=-1, keepdims=True)
    span = hi - lo
    return np.where(span > 0, (v - lo) / np.where(span > 0, span, 1.0), 0.0)


def normalise(v: np.ndarray, how: str) -> np.ndarray:
    if how == "l2":
        return rootsift_l2(v)
    if how == "minmax":
        return minmax01(v)
    raise ValueError(f"normalisation must be one of {NORMALISATIONS}, got {how!r}")


def linear_svc(seed: int, C: float = 1.0) -> LinearSVC:
    """The CNN branch's classifier: a class-balanced linear SVM (one-vs-rest)."""
    return LinearSVC(C=C, dual="auto", max_iter=20000, random_state=seed, class_weight="balanced")


def fit_linear_svm(X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None,
                   Cs: Sequence[float] = (0.01, 0.1, 1.0, 10.0, 100.0), folds: int = 5, seed: int = 0):
    """LinearSVC with C chosen by k-fold cross-validation (grouped by subject when groups are given).

    Returns the refitted best estimator and the GridSearchCV (``best_params_['C']``, ``cv_results_``).
    """
    y = np.asarray(y)
    n_min = np.bincount(y).max() if len(y) else 0
    if groups is not None and len(np.unique(groups)) >= folds:
        cv = list(GroupKFold(n_splits=folds).split(X, y, groups))
    else:
        per_class = np.bincount(y)[np.bincount(y) > 0].min() if len(y) else 0
        k = max(2, min(folds, int(per_class))) if n_min else 2
        cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    search = GridSearchCV(linear_svc(seed),
                          {"C": list(Cs)}, cv=cv, scoring="accuracy", n_jobs=1, error_score=0.0)
    search.fit(X, y)
    return search.best_estimator_, search


def svm_probabilities(decision: np.ndarray) -> np.ndarray:
    """Softmax of LinearSVC decision values: scores comparable across members for fusion."""
    d = np.asarray(decision, dtype=np.float64)
    if d.ndim == 1:  # binary LinearSVC
        d = np.stack([-d, d], axis=1)
    d = d - d.max(axis=1, keepdims=True)
    e = np.exp(d)
    return e / e.sum(axis=1, keepdims=True)


def full_decision(svm: LinearSVC, X: np.ndarray, n_classes: int) -> np.ndarray:
    """Decision values over all ``n_classes`` (classes absent from training get -inf-like scores)."""
    d = svm.decision_function(X)
    if d.ndim == 1:
        d = np.stack([-d, d], axis=1)
    out = np.full((X.shape[0], n_classes), -1e3)
    out[:, svm.classes_] = d
    return out


def fusion_weights(val_accuracy: Mapping[str, float]) -> dict[str, float]:
    """Weights proportional to each member's validation accuracy (paper: weights by their performance)."""
    total = float(sum(max(a, 0.0) for a in val_accuracy.values()))
    if total <= 0:
        return {k: 1.0 / len(val_accuracy) for k in val_accuracy}
    return {k: max(float(a), 0.0) / total for k, a in val_accuracy.items()}


def fuse(probabilities: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """Weighted sum of the members' class probabilities."""
    keys = [k for k in probabilities if weights.get(k, 0) > 0] or list(probabilities)
    return sum(np.asarray(probabilities[k]) * weights.get(k, 1.0 / len(keys)) for k in keys)


@torch.inference_mode()
def frame_features(net, frames_uint8: torch.Tensor, prep, batch_size: int = 256) -> np.ndarray:
    """Penultimate-layer features of uint8 (T, 1, S, S) frames (centre crop), as float32 (T, D)."""
    net.eval()
    out = [net.features(eval_input(frames_uint8[i:i + batch_size], prep)) for i in range(0, len(frames_uint8),
                                                                                          batch_size)]
    return torch.cat(out).float().numpy() if out else np.zeros((0, net.num_features), np.float32)


def clip_windows(n_frames: int, length: int = 16, stride: int = 8, pad: str = "loop") -> list[np.ndarray]:
    """Frame indices of the overlapping clips of one sequence.

    ``n_frames >= length``: windows start at 0, stride, 2*stride, ...; when frames at the end are left over, a
    last window ends on the last frame (a 40-frame sequence gives 0-15, 8-23, 16-31, 24-39).
    Shorter sequences give one clip of ``length`` frames: ``pad='loop'`` plays the sequence again from its start
    (0,1,2,0,1,2,...), ``pad='repeat_last'`` holds the last frame (0,1,2,2,2,...).
    """
    if n_frames <= 0:
        return []
    if n_frames < length:
        if pad == "loop":
            return [np.arange(length) % n_frames]
        if pad == "repeat_last":
            return [np.minimum(np.arange(length), n_frames - 1)]
        raise ValueError(f"pad must be 'loop' or 'repeat_last', got {pad!r}")
    starts = list(range(0, n_frames - length + 1, stride))
    if starts[-1] + length < n_frames:
        starts.append(n_frames - length)
    return [np.arange(s, s + length) for s in starts]


def clip_sequences(features: Sequence[np.ndarray], length: int, stride: int, pad: str) -> tuple[np.ndarray, np.ndarray]:
    """All clips (n_clips, length, D) and the sequence each comes from."""
    clips, owner = [], []
    for i, f in enumerate(features):
        for w in clip_windows(len(f), length, stride, pad):
            clips.append(f[w])
            owner.append(i)
    d = features[0].shape[1] if len(features) else 0
    return (np.stack(clips).astype(np.float32) if clips else np.zeros((0, length, d), np.float32)), np.asarray(owner)


@torch.inference_mode()
def lstm_sequence_probs(net: SequenceLSTM, features: Sequence[np.ndarray], length: int, stride: int,
                        pad: str) -> np.ndarray:
    """Sequence probabilities: the mean of the softmax over the sequence's clips."""
    net.eval()
    clips, owner = clip_sequences(features, length, stride, pad)
    out = np.zeros((len(features), len(EMOTIONS)), np.float64)
    if not len(clips):
        return out
    p = F.softmax(net(torch.from_numpy(clips)), 1).double().numpy()
    np.add.at(out, owner, p)
    return out / np.maximum(np.bincount(owner, minlength=len(features)), 1)[:, None]
