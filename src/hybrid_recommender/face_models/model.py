"""The LightningModules that train the networks of :mod:`.networks`: losses, metrics, optimisers, schedules."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanAbsoluteError
from torchmetrics.classification import MulticlassAccuracy

from hybrid_recommender.face_models import Heads
from hybrid_recommender.face_models.networks import AgeYears, FrameCNN, SequenceLSTM

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


def age_distribution_targets(ages: torch.Tensor, n_years: int, sigma: float) -> torch.Tensor:
    """DLDL's label distribution: a discretised Gaussian over the years 0..n_years-1 around each exact age."""
    years = torch.arange(n_years, device=ages.device, dtype=torch.float32)
    centre = ages.float().clamp(0, n_years - 1)[:, None]
    dist = torch.exp(-0.5 * ((years[None] - centre) / sigma) ** 2)
    return dist / dist.sum(1, keepdim=True)


def age_distribution_loss(logits: torch.Tensor, ages: torch.Tensor, sigma: float, l1_weight: float
                          ) -> torch.Tensor | None:
    """DLDL-v2 (Gao et al. 2018): cross-entropy to the Gaussian label distribution (KL up to a constant) plus
    ``l1_weight`` times the L1 error of the distribution's expectation, in years; faces of unknown age (< 0)
    are masked out."""
    known = ages >= 0
    if not bool(known.any()):
        return None
    z, a = logits[known].float(), ages[known].float()
    log_p = F.log_softmax(z, 1)
    kl = -(age_distribution_targets(a, z.shape[1], sigma) * log_p).sum(1).mean()
    expected = log_p.exp() @ torch.arange(z.shape[1], device=z.device, dtype=torch.float32)
    return kl + l1_weight * (expected - a.clamp(0, z.shape[1] - 1)).abs().mean()


def multi_head_loss(logits: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor],
                    weights: Mapping[str, torch.Tensor | None] | None = None,
                    head_weights: Mapping[str, float] | None = None, label_smoothing: float = 0.0,
                    age_loss: Mapping[str, float] | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Sum of the heads' masked losses; a face trains only the heads it has labels for. An ``age`` (years) head
    learns the exact ages (``targets["age"]``) with :func:`age_distribution_loss` (``age_loss``: sigma,
    l1_weight) and is weighted as the age group head."""
    parts = {}
    for head, out in logits.items():
        if head == "age":
            loss = age_distribution_loss(out, targets["age"], **(age_loss or {"sigma": 2.0, "l1_weight": 1.0}))
            weight_key = "age_group"
        else:
            w = None if weights is None else weights.get(head)
            loss = masked_cross_entropy(out, targets[head], w, label_smoothing)
            weight_key = head
        if loss is not None:
            parts[head] = loss * (1.0 if head_weights is None else float(head_weights.get(weight_key, 1.0)))
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
                 warmup_fraction: float, channels_last: bool, age_years: Mapping | None = None,
                 age_loss: Mapping[str, float] | None = None):
        super().__init__()
        self.save_hyperparameters()
        age = AgeYears(int(age_years["max_age"]), tuple(age_years["edges"])) if age_years else None
        self.net = FrameCNN(backbone, heads, 1, pretrained, dropout, age=age)
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        for head in heads:
            self.register_buffer(f"cw_{head}", torch.tensor(class_weights[head], dtype=torch.float32))
        self.val_acc = nn.ModuleDict({h: MulticlassAccuracy(len(c), average="micro", ignore_index=-1)
                                      for h, c in heads.items()})
        self.val_age_mae = MeanAbsoluteError() if self.net.age is not None else None

    def _class_weights(self):
        return {h: getattr(self, f"cw_{h}") for h in self.hparams.heads}

    def forward(self, x):
        if self.hparams.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        total, parts = multi_head_loss(self(x), y, self._class_weights(), self.hparams.head_weights,
                                       self.hparams.label_smoothing, self.hparams.age_loss)
        self.log("train/loss", total, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(x))
        for head, loss in parts.items():
            self.log(f"train/loss_{head}", loss, on_step=False, on_epoch=True, batch_size=len(x))
        return total

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        total, _ = multi_head_loss(logits, y, None, age_loss=self.hparams.age_loss)
        self.log("val/loss", total, on_epoch=True, prog_bar=True, batch_size=len(x))
        probs = self.net.head_probabilities(logits)
        for head in self.hparams.heads:
            if bool((y[head] >= 0).any()):
                self.val_acc[head].update(probs[head], y[head])
        if self.val_age_mae is not None and bool((y["age"] >= 0).any()):
            known = y["age"] >= 0
            self.val_age_mae.update(probs["age_expected"][known], y["age"][known].float())

    def on_validation_epoch_end(self):
        for head, metric in self.val_acc.items():
            if metric.update_called:
                self.log(f"val/{head}_acc", metric.compute(), prog_bar=head in ("emotion", "age_group"))
            metric.reset()
        if self.val_age_mae is not None and self.val_age_mae.update_called:
            self.log("val/age_mae", self.val_age_mae.compute(), prog_bar=True)
            self.val_age_mae.reset()

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
