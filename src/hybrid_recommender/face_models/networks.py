"""The networks the predictor runs: a frame CNN (timm backbone, one linear head per attribute) and a sequence
LSTM. Plain torch and timm: their training (LightningModules) is in :mod:`.model`."""

from __future__ import annotations

import logging
import socket

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
    """timm backbone + one linear head per attribute; one forward pass gives all three attributes' logits."""

    def __init__(self, backbone: str, heads: Heads, in_chans: int = 1, pretrained: bool = False, dropout: float = 0.2):
        super().__init__()
        self.backbone_name = backbone
        self.classes = {h: tuple(c) for h, c in heads.items()}
        self.backbone = create_backbone(backbone, in_chans, pretrained)
        # the pooled (pre-logits) output: VGG adds a 4096-wide ConvMlp after its 512 conv features
        self.num_features = int(getattr(self.backbone, "head_hidden_size", None) or self.backbone.num_features)
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleDict({h: nn.Linear(self.num_features, len(c)) for h, c in heads.items()})

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
            return {h: F.softmax(v, 1) for h, v in self.heads_of(feats).items()}, feats
        feats = self.features(normalise(ten_crops(faces, prep).flatten(0, 1), prep))
        probs = {h: F.softmax(v, 1).view(10, len(faces), -1).mean(0) for h, v in self.heads_of(feats).items()}
        return probs, feats.view(10, len(faces), -1)[4]


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
