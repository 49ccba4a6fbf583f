"""Temperature scaling of a classifier head, its expected calibration error and reliability diagrams.

The temperature is fitted on the validation split only; the test split is for measuring its effect."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torchmetrics.functional.classification import multiclass_calibration_error

T_MIN, T_MAX = 0.05, 20.0


def fit_temperature(logits: torch.Tensor | np.ndarray, targets: torch.Tensor | np.ndarray,
                    max_iter: int = 100, group_matrix: torch.Tensor | np.ndarray | None = None) -> float:
    """The scalar T > 0 minimising the mean negative log-likelihood of softmax(logits / T).

    ``targets`` is either (N,) class indices, -1 = unknown, or an (N, K) matrix of target probabilities (soft
    targets, e.g. an age distribution over years); a soft row that sums to zero or holds NaN is unknown.
    ``group_matrix`` (K, G) 0/1: the classes are summed into G groups and the targets are group indices, so the
    temperature calibrates the groups' probabilities (an age head over years, judged by its age groups).
    Returns 1.0 (leave the head as it is) when no target is known."""
    z = torch.as_tensor(logits).detach().to("cpu", torch.float64)
    y = torch.as_tensor(targets).detach().to("cpu")
    if y.ndim == 1:
        known = y >= 0
        y = y[known].long()
    else:
        y = y.to(torch.float64)
        mass = y.sum(1)
        known = torch.isfinite(mass) & (mass > 0)
        y = y[known] / mass[known, None]           # truncated label distributions need not sum to exactly 1
    z = z[known]
    if len(z) == 0:
        return 1.0

    # optimise log T: unconstrained, and the NLL is much better conditioned in it than in T
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

    groups = None if group_matrix is None else torch.as_tensor(group_matrix).to("cpu", torch.float64)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        scaled = z * torch.exp(-log_t)
        if groups is not None:
            log_p = torch.log((F.softmax(scaled, 1) @ groups).clamp_min(1e-12))
            loss = F.nll_loss(log_p, y)
        else:
            loss = F.cross_entropy(scaled, y) if y.ndim == 1 else -(y * F.log_softmax(scaled, 1)).sum(1).mean()
        loss.backward()
        return loss

    opt.step(closure)
    t = float(torch.exp(log_t.detach()))
    if math.isnan(t):
        return 1.0
    # separable validation data drives T towards 0 without end: keep it in a sane range
    return min(max(t, T_MIN), T_MAX)


def _known(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels)
    known = labels >= 0
    return np.asarray(probs, dtype=np.float64)[known], labels[known].astype(np.int64)


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """Top-label ECE over equal-width confidence bins of the known (>= 0) labels; NaN when none is known."""
    p, y = _known(probs, labels)
    if len(y) == 0:
        return float("nan")
    # clip: torchmetrics treats any value outside [0, 1] (rounding error) as a sign of logits and re-softmaxes
    p = torch.as_tensor(np.clip(p, 0.0, 1.0))
    return float(multiclass_calibration_error(p, torch.as_tensor(y), p.shape[1], n_bins=n_bins, norm="l1"))


def reliability_bins(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> pd.DataFrame:
    """Per equal-width confidence bin [low, high): count, mean top-class probability and accuracy of the known
    labels (NaN for an empty bin). Bins as torchmetrics draws them, except a confidence of exactly 1 joins the
    last bin rather than one of its own."""
    p, y = _known(probs, labels)
    conf = torch.as_tensor(p.max(1) if len(y) else np.zeros(0), dtype=torch.float32)   # torchmetrics' precision
    correct = torch.as_tensor(p.argmax(1) == y if len(y) else np.zeros(0, bool))
    edges = torch.linspace(0, 1, n_bins + 1, dtype=torch.float32)
    idx = (torch.bucketize(conf, edges, right=True) - 1).clamp(0, n_bins - 1).numpy()
    n = np.bincount(idx, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(idx, conf.double().numpy(), n_bins) / n
        accuracy = np.bincount(idx, correct.double().numpy(), n_bins) / n
    e = edges.double().numpy()
    return pd.DataFrame({"bin_low": e[:-1], "bin_high": e[1:], "n": n, "confidence": confidence,
                         "accuracy": accuracy})


def reliability_figure(before: tuple[np.ndarray, np.ndarray] | None, after: tuple[np.ndarray, np.ndarray],
                       title: str, n_bins: int = 15) -> Figure:
    """Reliability diagram: accuracy per confidence bin against the diagonal, before (uncalibrated, optional) and
    after temperature scaling, ECE of each in the legend; counts per bin in a histogram underneath."""
    # a pyplot-free Figure, like confusion_figure: freed with its last reference, nothing to close
    fig = Figure(figsize=(5.5, 6.0), layout="constrained")
    grid = fig.add_gridspec(2, 1, height_ratios=(3, 1))
    ax = fig.add_subplot(grid[0])
    hist = fig.add_subplot(grid[1], sharex=ax)
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    width = 1.0 / n_bins
    curves = [("before", before, "tab:orange", -0.25), ("after", after, "tab:blue", 0.25)]
    for name, data, colour, shift in curves:
        if data is None:
            continue
        bins = reliability_bins(*data, n_bins=n_bins)
        mid = (bins["bin_low"] + bins["bin_high"]) / 2
        ece = expected_calibration_error(*data, n_bins=n_bins)
        label = f"{name} calibration (ECE {ece:.3f})"
        if name == "after":
            ax.bar(mid, bins["accuracy"].fillna(0), width=width, color=colour, alpha=0.6, edgecolor=colour,
                   label=label)
        else:
            ax.plot(mid, bins["accuracy"], marker="o", color=colour, label=label)
        # side by side, so both counts stay readable
        hist.bar(mid + shift * width, bins["n"], width=width / 2, color=colour, alpha=0.8, label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    ax.tick_params(labelbottom=False)
    hist.set_xlabel("confidence (top-class probability)")
    hist.set_ylabel("count")
    return fig
