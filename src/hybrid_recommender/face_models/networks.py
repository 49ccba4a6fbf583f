"""The networks the predictor runs: a frame CNN (timm backbone, one linear head per attribute) and a sequence
LSTM. Plain torch and timm: their training (LightningModules) is in :mod:`.model`."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass

import timm
import torch
import torch.nn.functional as F
from torch import nn

from hybrid_recommender.face_models import Heads
from hybrid_recommender.face_models.preprocessing import (
    Preprocessing,
    eval_input,
    normalise,
    ten_crops,
)

log = logging.getLogger(__name__)


def _can_reach(host: str = "huggingface.co", port: int = 443, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def create_backbone(name: str, in_chans: int, pretrained: bool) -> nn.Module:
    """A timm feature extractor (``num_classes=0``); ImageNet weights only when asked and reachable.

    The project's face backbones (``face_vgg_*``, registered by importing ``face_models``) have none.
    """
    if pretrained and not name.startswith("face_vgg"):
        if _can_reach():
            try:
                return timm.create_model(name, pretrained=True, num_classes=0, in_chans=in_chans)
            except Exception as exc:  # noqa: BLE001 - any download failure falls back to random weights
                log.warning("face_models: pretrained weights for %s could not be fetched (%s); random init", name, exc)
        else:
            log.warning("face_models: pretrained=true but the weight hub is unreachable; %s starts from random init",
                        name)
    return timm.create_model(name, pretrained=False, num_classes=0, in_chans=in_chans)


class FrameCNN(nn.Module):
    """timm backbone + one linear head per attribute; one forward pass gives all three attributes' logits.

    With ``age`` (an :class:`AgeYears`), the age head predicts a distribution over exact years (logits ``age``) and
    the ``age_group`` probabilities are its sums over each group's years, so any set of groups comes from one model.
    Each logit head has a temperature (1 until :mod:`.calibration` fits one on the validation split), a buffer
    saved with the weights.
    """

    def __init__(self, backbone: str, heads: Heads, in_chans: int = 1, pretrained: bool = False, dropout: float = 0.2,
                 age: AgeYears | None = None):
        super().__init__()
        self.backbone_name = backbone
        self.classes = {h: tuple(c) for h, c in heads.items()}
        self.age = age if "age_group" in heads else None
        self.backbone = create_backbone(backbone, in_chans, pretrained)
        # the pooled (pre-logits) output: VGG adds a 4096-wide ConvMlp after its 512 conv features
        self.num_features = int(getattr(self.backbone, "head_hidden_size", None) or self.backbone.num_features)
        self.dropout = nn.Dropout(dropout)
        outputs = {h: len(c) for h, c in heads.items()}
        if self.age is not None:
            del outputs["age_group"]
            outputs["age"] = self.age.n_years
            self.register_buffer("age_membership", self.age.membership(self.classes["age_group"]))
            self.register_buffer("age_years", torch.arange(self.age.n_years, dtype=torch.float32))
        self.heads = nn.ModuleDict({h: nn.Linear(self.num_features, n) for h, n in outputs.items()})
        for h in outputs:
            self.register_buffer(f"temperature_{h}", torch.ones(()))

    def temperature(self, head: str) -> torch.Tensor:
        return getattr(self, f"temperature_{head}")

    def set_temperature(self, head: str, value: float) -> None:
        self.temperature(head).fill_(float(value))

    def head_probabilities(self, logits: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Calibrated softmax of each head; with an age-years head also ``age_group`` (sums over each group's years)
        and ``age_expected`` (the distribution's mean, in years)."""
        probs = {h: F.softmax(v.float() / self.temperature(h), 1) for h, v in logits.items()}
        if self.age is not None:
            probs["age_group"] = probs["age"] @ self.age_membership
            probs["age_expected"] = probs["age"] @ self.age_years
        return probs

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate layer (pooled backbone output): what the video branches aggregate."""
        return self.backbone(x)

    def heads_of(self, feats: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.dropout(feats)
        return {h: head(feats) for h, head in self.heads.items()}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.heads_of(self.features(x))

    def probabilities(self, faces: torch.Tensor, prep: Preprocessing, ten_crop: bool
                      ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Softmax of each head for uint8 faces (N, 1, S, S), from the centre crop or averaged over the ten crops
        (corners, centre and their mirrors); also the centre crop's features (for the video branches)."""
        if not ten_crop:
            feats = self.features(eval_input(faces, prep))
            return self.head_probabilities(self.heads_of(feats)), feats
        feats = self.features(normalise(ten_crops(faces, prep).flatten(0, 1), prep))
        probs = {h: p.view(10, len(faces), *p.shape[1:]).mean(0)
                 for h, p in self.head_probabilities(self.heads_of(feats)).items()}
        return probs, feats.view(10, len(faces), -1)[4]


@dataclass(frozen=True)
class AgeYears:
    """An age head over exact years 0..``max_age`` (older ages count as ``max_age``), grouped by ``edges``
    (closed on the left, as :func:`hybrid_recommender.labels.age_groups` bins)."""

    max_age: int
    edges: tuple[int, ...]

    @property
    def n_years(self) -> int:
        return self.max_age + 1

    def membership(self, groups: tuple[str, ...]) -> torch.Tensor:
        """(years, groups) 0/1: which group each year belongs to."""
        if len(self.edges) != len(groups) + 1:
            raise ValueError(f"age head: {len(self.edges)} edges need {len(self.edges) - 1} groups, got {groups}")
        years = torch.arange(self.n_years)
        lo, hi = torch.tensor(self.edges[:-1]), torch.tensor(self.edges[1:])
        return ((years[:, None] >= lo[None]) & (years[:, None] < hi[None])).float()

    def to_dict(self) -> dict:
        return {"max_age": self.max_age, "edges": list(self.edges)}


class SequenceLSTM(nn.Module):
    """One LSTM layer over per-frame features (16-frame clips), emotion logits from its last output."""

    def __init__(self, feature_dim: int, hidden: int = 128, n_classes: int = 7, dropout: float = 0.3):
        super().__init__()
        self.norm = nn.LayerNorm(feature_dim)
        self.lstm = nn.LSTM(feature_dim, hidden, num_layers=1, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, n_classes)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:   # (B, T, D) -> (B, n_classes)
        out, _ = self.lstm(self.norm(clips))
        return self.out(self.dropout(out[:, -1]))
