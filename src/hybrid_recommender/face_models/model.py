"""The LightningModules that train the networks of :mod:`.networks`: losses, metrics, optimisers, schedules."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from hybrid_recommender.face_models import Heads
from hybrid_recommender.face_models.networks import FrameCNN, SequenceLSTM

log = logging.getLogger(__name__)


def masked_cross_entropy(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                         label_smoothing: float = 0.0) -> torch.Tensor | None:
    """Weighted cross-entropy over the samples whose label is known (>= 0); None when none is.

    Returning None (instead of a 0-valued term) keeps a head without labels in the batch out of the graph, so its
    gradient stays zero.
    """
    known = target >= 0
    if not bool(known.any()):
        return None
    return F.cross_entropy(logits[known], target[known], weight=weight, label_smoothing=label_smoothing)


def multi_head_loss(logits: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor],
                    weights: Mapping[str, torch.Tensor | None] | None = None,
                    head_weights: Mapping[str, float] | None = None, label_smoothing: float = 0.0
                    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Sum of the heads' masked losses; a face trains only the heads it has labels for."""
    parts = {}
    for head, out in logits.items():
        w = None if weights is None else weights.get(head)
        loss = masked_cross_entropy(out, targets[head], w, label_smoothing)
        if loss is not None:
            parts[head] = loss * (1.0 if head_weights is None else float(head_weights.get(head, 1.0)))
    if not parts:
        total = sum(o.sum() for o in logits.values()) * 0.0
    else:
        total = torch.stack(list(parts.values())).sum()
    return total, parts


class FaceAttributeModule(pl.LightningModule):
    """Frame CNN training: masked multi-head loss with optional class weights and label smoothing; SGD with
    Nesterov momentum (or AdamW) under a one-cycle schedule; inputs in channels_last when asked."""

    def __init__(self, backbone: str, heads: Heads, pretrained: bool, dropout: float, optimizer: str, lr: float,
                 momentum: float, weight_decay: float, label_smoothing: float,
                 class_weights: Mapping[str, list[float]], head_weights: Mapping[str, float], schedule: str,
                 warmup_fraction: float, channels_last: bool):
        super().__init__()
        self.save_hyperparameters()
        self.net = FrameCNN(backbone, heads, 1, pretrained, dropout)
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        for head in heads:
            self.register_buffer(f"cw_{head}", torch.tensor(class_weights[head], dtype=torch.float32))
        self.val_acc = nn.ModuleDict({h: MulticlassAccuracy(len(c), average="micro", ignore_index=-1)
                                      for h, c in heads.items()})

    def _class_weights(self):
        return {h: getattr(self, f"cw_{h}") for h in self.hparams.heads}

    def forward(self, x):
        if self.hparams.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        total, parts = multi_head_loss(self(x), y, self._class_weights(), self.hparams.head_weights,
                                       self.hparams.label_smoothing)
        self.log("train/loss", total, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(x))
        for head, loss in parts.items():
            self.log(f"train/loss_{head}", loss, on_step=False, on_epoch=True, batch_size=len(x))
        return total

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        total, _ = multi_head_loss(logits, y, None)
        self.log("val/loss", total, on_epoch=True, prog_bar=True, batch_size=len(x))
        for head in self.hparams.heads:
            if bool((y[head] >= 0).any()):
                self.val_acc[head].update(logits[head], y[head])

    def on_validation_epoch_end(self):
        for head, metric in self.val_acc.items():
            if metric.update_called:
                self.log(f"val/{head}_acc", metric.compute(), prog_bar=head == "emotion")
            metric.reset()

    def configure_optimizers(self):
        hp = self.hparams
        if hp.optimizer == "sgd":
            opt = torch.optim.SGD(self.parameters(), lr=hp.lr, momentum=hp.momentum, nesterov=True,
                                  weight_decay=hp.weight_decay)
        elif hp.optimizer == "adamw":
            opt = torch.optim.AdamW(self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
        else:
            raise ValueError(f"face_models.frame_cnn.optimizer must be 'sgd' or 'adamw', got {hp.optimizer!r}")
        if hp.schedule == "constant":
            return opt
        if hp.schedule != "onecycle":
            raise ValueError(f"face_models.frame_cnn.schedule must be 'onecycle' or 'constant', got {hp.schedule!r}")
        total = int(self.trainer.estimated_stepping_batches)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=hp.lr, total_steps=max(total, 1),
                                                    pct_start=hp.warmup_fraction)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


class LSTMModule(pl.LightningModule):
    def __init__(self, feature_dim: int, hidden: int, n_classes: int, dropout: float, lr: float, weight_decay: float,
                 class_weights: list[float]):
        super().__init__()
        self.save_hyperparameters()
        self.net = SequenceLSTM(feature_dim, hidden, n_classes, dropout)
        self.register_buffer("cw", torch.tensor(class_weights, dtype=torch.float32))
        self.val_acc = MulticlassAccuracy(n_classes, average="micro")

    def forward(self, clips):
        return self.net(clips)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y, weight=self.cw)
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(x))
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val/loss", F.cross_entropy(logits, y), on_epoch=True, prog_bar=True, batch_size=len(x))
        self.val_acc.update(logits, y)

    def on_validation_epoch_end(self):
        if self.val_acc.update_called:
            self.log("val/clip_acc", self.val_acc.compute(), prog_bar=True)
        self.val_acc.reset()

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
