"""Classification metrics through torchmetrics, and confusion-matrix figures."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torchmetrics.functional.classification import (  # noqa: E402
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
    """A row-normalised confusion matrix with counts, as a matplotlib figure."""
    cm = np.asarray(confusion, dtype=np.float64)
    rows = cm.sum(1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    size = 1.0 + 0.55 * len(classes)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=7,
                    color="white" if frac[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


def metric_row(model: str, dataset: str, split: str, attribute: str, variant: str, m: dict, classes) -> dict:
    row = {"model": model, "dataset": dataset, "split": split, "attribute": attribute, "variant": variant,
           "n": m["n"], "accuracy": m["accuracy"], "macro_f1": m["macro_f1"]}
    row.update({f"recall_{c}": m["recall"][c] for c in classes})
    return row
