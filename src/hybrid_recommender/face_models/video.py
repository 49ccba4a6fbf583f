"""The paper's video branches: frame-feature aggregation, the two normalisations, linear SVMs, and fusion.

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
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedKFold
from sklearn.svm import LinearSVC

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
    from hybrid_recommender.face_models.preprocessing import eval_input

    net.eval()
    out = [net.features(eval_input(frames_uint8[i:i + batch_size], prep)) for i in range(0, len(frames_uint8),
                                                                                          batch_size)]
    return torch.cat(out).float().numpy() if out else np.zeros((0, net.num_features), np.float32)
