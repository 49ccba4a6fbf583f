"""Faces and their (partial) labels from data_engineering's index tables; the mixed LightningDataModule.

Each data set labels only some attributes (FER2013/CK+: emotion; UTKFace: age group and gender; RAF-DB: all
three; its age bins are its own, so RAF-DB rows have NaN ``age_group`` and train no age head). A missing label
is ``-1`` and is masked out of that head's loss.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from hybrid_recommender.face_models import Heads
from hybrid_recommender.face_models.augment import BatchAugment
from hybrid_recommender.face_models.preprocessing import (
    Preprocessing,
    eval_input,
    to_gray_uint8,
)
from hybrid_recommender.labels import EMOTIONS

log = logging.getLogger(__name__)
MISSING = -1


def label_codes(values: pd.Series, classes: Sequence[str]) -> np.ndarray:
    """Class index of each value, -1 where missing or outside ``classes`` (e.g. contempt, 'unknown' gender)."""
    lookup = {c: i for i, c in enumerate(classes)}
    return np.array([lookup.get(v, MISSING) if isinstance(v, str) else MISSING for v in values.astype(object)],
                    dtype=np.int64)


@dataclass
class FaceSet:
    """Faces of one data set and split, ready for the network: uint8 (N, 1, S, S) and -1-masked labels."""

    name: str
    images: torch.Tensor
    labels: dict[str, np.ndarray]
    index: pd.DataFrame = field(repr=False)

    def __len__(self) -> int:
        return int(self.images.shape[0])


def face_set(name: str, index: pd.DataFrame, pixels: np.ndarray, prep: Preprocessing, heads: Heads,
             splits: Sequence[str] | None = None, exclude_blank: bool = True, limit: int | None = None,
             seed: int = 0) -> FaceSet:
    """Select rows (by split, dropping blank images), convert their pixels, and code their labels."""
    rows = index
    if splits is not None:
        rows = rows[rows["split"].isin(list(splits))]
    if exclude_blank and "is_blank" in rows:
        rows = rows[~rows["is_blank"].astype(bool)]
    if limit is not None and len(rows) > limit:
        rows = rows.sample(n=limit, random_state=seed).sort_values("pixel_row")
    rows = rows.reset_index(drop=True)
    if len(rows):
        images = to_gray_uint8(np.asarray(pixels[np.sort(rows["pixel_row"].to_numpy())]), prep.image_size)
        order = np.argsort(np.argsort(rows["pixel_row"].to_numpy()))  # pixels were read in sorted order
        images = images[torch.from_numpy(order)]
    else:
        images = torch.zeros((0, 1, prep.image_size, prep.image_size), dtype=torch.uint8)
    labels = {head: label_codes(rows[head] if head in rows else pd.Series([None] * len(rows)), classes)
              for head, classes in heads.items()}
    if "age_group" in heads:   # the exact age in years, for an age head that learns years (-1: unknown)
        ages = pd.to_numeric(rows["age"], errors="coerce") if "age" in rows else pd.Series(np.nan, index=rows.index)
        labels["age"] = ages.fillna(MISSING).to_numpy(np.float32)
    return FaceSet(name, images, labels, rows)


def label_keys(heads: Heads) -> list[str]:
    """The label tensors a batch carries, in order: one per head, and the exact age where an age head is."""
    return [*heads, *(["age"] if "age_group" in heads else [])]


def class_weights(label_arrays: Sequence[np.ndarray], n_classes: int, power: float) -> torch.Tensor:
    """Per-class loss weights ``n_c ** -power`` (paper: power 0.5, square root of the counts), mean 1 over samples.

    Classes with no sample get the largest weight seen (they cannot affect the loss anyway).
    """
    labels = np.concatenate([a[a >= 0] for a in label_arrays]) if label_arrays else np.zeros(0, np.int64)
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    if power == 0 or counts.sum() == 0:
        return torch.ones(n_classes)
    weights = np.where(counts > 0, np.maximum(counts, 1.0) ** -power, 0.0)
    weights[counts == 0] = weights.max() if weights.max() > 0 else 1.0
    weights /= (weights * counts).sum() / counts.sum()
    return torch.tensor(weights, dtype=torch.float32)


def _stacked(sets: Sequence[FaceSet], heads: Heads) -> TensorDataset:
    """One preloaded tensor of uint8 faces and one label tensor per :func:`label_keys` entry."""
    return TensorDataset(torch.cat([s.images for s in sets]),
                         *[torch.from_numpy(np.concatenate([s.labels[k] for s in sets])) for k in label_keys(heads)])


class FaceDataModule(pl.LightningDataModule):
    """Training faces of several data sets in one shuffled stream of uint8 batches, augmented a whole batch at a
    time after the transfer to the device; validation faces centre-cropped."""

    def __init__(self, train_sets: Sequence[FaceSet], val_sets: Sequence[FaceSet], prep: Preprocessing, heads: Heads,
                 batch_size: int, augment: BatchAugment, seed: int):
        super().__init__()
        self.train_sets = [s for s in train_sets if len(s)]
        self.val_sets = [s for s in val_sets if len(s)]
        if not self.train_sets:
            raise ValueError("face_models: no training faces (all training tables are empty)")
        self.prep, self.heads, self.batch_size, self.augment, self.seed = prep, heads, batch_size, augment, seed

    def train_dataloader(self):
        # drop_last: a last batch of one face would break batch norm
        return DataLoader(_stacked(self.train_sets, self.heads), batch_size=self.batch_size, shuffle=True,
                          drop_last=len(self) > self.batch_size,
                          generator=torch.Generator().manual_seed(self.seed))

    def val_dataloader(self):
        if not self.val_sets:
            return []
        return DataLoader(_stacked(self.val_sets, self.heads), batch_size=512, shuffle=False)

    def __len__(self) -> int:
        return sum(len(s) for s in self.train_sets)

    def on_after_batch_transfer(self, batch, dataloader_idx):
        faces, *labels = batch
        x = self.augment(faces, self.prep) if self.trainer.training else eval_input(faces, self.prep)
        return x, dict(zip(label_keys(self.heads), labels))


# ----------------------------------------------------------------------------------------- sequences
@dataclass
class Sequences:
    """Emotion-labelled face sequences (CK+ onset-to-apex frames, AFEW clips); a still is a one-frame sequence."""

    table: pd.DataFrame            # one row per sequence: sequence_id, dataset, subject, split, fold, emotion, label
    frames: list[torch.Tensor]     # uint8 (T, 1, S, S) per sequence, in frame order

    def __len__(self) -> int:
        return len(self.table)

    def subset(self, mask) -> "Sequences":
        mask = np.asarray(mask, dtype=bool)
        idx = np.flatnonzero(mask)
        return Sequences(self.table.iloc[idx].reset_index(drop=True), [self.frames[i] for i in idx])


def build_sequences(tables: Mapping[str, tuple[pd.DataFrame, np.ndarray]], prep: Preprocessing,
                    max_sequences_per_split: int | None = None, seed: int = 0) -> Sequences:
    """Group frames of each (data set, sequence_id) in frame order; rows without a 7-class emotion are dropped."""
    rows, frames = [], []
    for name, (index, pixels) in tables.items():
        if index is None or len(index) == 0:
            continue
        index = index.copy()
        index["label"] = label_codes(index["emotion"], EMOTIONS)
        index = index[index["label"] >= 0]
        seq_ids = index["sequence_id"].astype(object).where(index["sequence_id"].notna(), index["face_id"].astype(object))
        index = index.assign(_seq=seq_ids.to_numpy())
        for seq_id, group in index.groupby("_seq", sort=True):
            group = group.sort_values("frame_index")
            first = group.iloc[0]
            rows.append({"sequence_id": str(seq_id), "dataset": name, "subject": str(first["subject"]),
                         "split": str(first["split"]), "fold": int(first["fold"]), "emotion": str(first["emotion"]),
                         "label": int(first["label"]), "n_frames": len(group),
                         "_rows": group["pixel_row"].to_numpy()})
    table = pd.DataFrame(rows, columns=["sequence_id", "dataset", "subject", "split", "fold", "emotion", "label",
                                        "n_frames", "_rows"])
    if max_sequences_per_split is not None and len(table):
        parts = [g.sample(n=min(len(g), max_sequences_per_split), random_state=seed)
                 for _, g in table.groupby("split", sort=True)]
        table = pd.concat(parts).sort_values(["dataset", "sequence_id"])
    table = table.reset_index(drop=True)
    for _, row in table.iterrows():
        frames.append(to_gray_uint8(np.asarray(tables[row["dataset"]][1][np.asarray(row["_rows"])]), prep.image_size))
    return Sequences(table.drop(columns="_rows"), frames)
