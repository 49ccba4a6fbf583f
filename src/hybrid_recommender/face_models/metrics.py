"""Classification metrics through torchmetrics, and confusion-matrix figures."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_confusion_matrix,
    multiclass_f1_score,
    multiclass_recall,
)


def classification_metrics(probabilities: np.ndarray, labels: np.ndarray, classes: Sequence[str]) -> dict:
    """Accuracy, macro-F1, per-class recall and the confusion matrix of the known (>= 0) labels."""
    labels = np.asarray(labels)
    known = labels >= 0
    n = int(known.sum())
    k = len(classes)
    if n == 0:
        return {"n": 0, "accuracy": float("nan"), "macro_f1": float("nan"),
                "recall": {c: float("nan") for c in classes}, "confusion": np.zeros((k, k), np.int64)}
    p = torch.as_tensor(np.asarray(probabilities)[known], dtype=torch.float32)
    y = torch.as_tensor(labels[known], dtype=torch.long)
    recall = multiclass_recall(p, y, k, average="none")
    present = torch.bincount(y, minlength=k) > 0
    return {
        "n": n,
        "accuracy": float(multiclass_accuracy(p, y, k, average="micro")),
        "macro_f1": float(multiclass_f1_score(p, y, k, average="macro")),
        "recall": {c: (float(recall[i]) if present[i] else float("nan")) for i, c in enumerate(classes)},
        "confusion": multiclass_confusion_matrix(p, y, k).numpy(),
    }


def confusion_figure(confusion: np.ndarray, classes: Sequence[str], title: str):
    """A confusion matrix for a report page: each cell shows its count and its share of the true class (the row),
    coloured by that share on a labelled 0-1 scale."""
    cm = np.asarray(confusion, dtype=np.float64)
    rows = cm.sum(1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    k = len(classes)
    side = min(7.0, max(3.5, 0.8 * k + 1.5))            # 2 classes to 8 and more, every cell readable
    # a pyplot-free Figure: dozens per run, freed with their last reference (no open-figure warning, nothing to close)
    fig = Figure(figsize=(side + 1.6, side + 0.4), layout="constrained")
    ax = fig.add_subplot()
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), classes, rotation=45 if k > 3 else 0, ha="right" if k > 3 else "center")
    ax.set_yticks(range(k), classes)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    ax.set_title(f"{title}\n({int(cm.sum()):,} samples; cell: count and share of its true class)", fontsize=10)
    size = 9 if k <= 7 else 7
    for i in range(k):
        for j in range(k):
            ax.text(j, i, f"{int(cm[i, j]):,}\n{frac[i, j]:.0%}", ha="center", va="center", fontsize=size,
                    color="white" if frac[i, j] > 0.5 else "black")
    bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label("share of the true class (row-normalised)")
    return fig


def metric_row(model: str, dataset: str, split: str, attribute: str, variant: str, m: dict, classes) -> dict:
    row = {"model": model, "dataset": dataset, "split": split, "attribute": attribute, "variant": variant,
           "n": m["n"], "accuracy": m["accuracy"], "macro_f1": m["macro_f1"]}
    row.update({f"recall_{c}": m["recall"][c] for c in classes})
    return row
