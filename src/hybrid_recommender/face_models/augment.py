"""Augmentation of whole batches of uint8 faces in one affine warp, on whatever device the batch is on.

Per-sample PIL/torchvision transforms cost more than the forward pass of a small net on two CPU cores; here a
batch (B, 1, S, S) gets random rotation, scale, shift and mirror from one ``affine_grid``/``grid_sample`` call
(which also cuts the crop_size output), then random erasing from one mask. Optional camera effects (light, blur,
low resolution, JPEG; :mod:`camera`) come first, on the uint8 faces, as a real camera degrades the face before
anything else happens to it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from hybrid_recommender.face_models.camera import CameraAugment
from hybrid_recommender.face_models.preprocessing import Preprocessing, normalise


@dataclass(frozen=True)
class BatchAugment:
    rotation: float      # degrees, uniform in +-rotation
    scale: float         # face zoom, uniform in 1 +- scale
    shift: float         # fraction of the face size, uniform in +-shift
    flip: bool           # mirror half of the faces
    erase_p: float       # probability of erasing one rectangle
    erase_area: tuple[float, float]   # its area as a fraction of the crop
    camera: CameraAugment | None = None   # webcam/phone effects before the warp (a mapping: CameraAugment's fields)

    def __post_init__(self) -> None:
        if isinstance(self.camera, Mapping):    # as parameters' model_dump() gives it
            object.__setattr__(self, "camera", CameraAugment(**self.camera))

    def __call__(self, faces: torch.Tensor, prep: Preprocessing) -> torch.Tensor:
        """uint8 (B, 1, S, S) -> normalised float (B, 1, crop, crop)."""
        if self.camera is not None:
            faces = self.camera(faces)
        b, dev = faces.shape[0], faces.device
        x = faces.float() / 255.0

        def uniform(lo, hi):
            return torch.rand(b, device=dev) * (hi - lo) + lo

        angle = uniform(-self.rotation, self.rotation) * (math.pi / 180)
        zoom = uniform(1 - self.scale, 1 + self.scale)
        mirror = torch.where(torch.rand(b, device=dev) < 0.5, -1.0, 1.0) if self.flip else torch.ones(b, device=dev)
        a = (prep.crop_size / prep.image_size) / zoom      # output -> input scale (the crop, then the zoom)
        cos, sin = torch.cos(angle) * a, torch.sin(angle) * a
        theta = torch.stack([torch.stack([cos * mirror, -sin, uniform(-2 * self.shift, 2 * self.shift)], 1),
                             torch.stack([sin * mirror, cos, uniform(-2 * self.shift, 2 * self.shift)], 1)], 1)
        grid = F.affine_grid(theta, [b, 1, prep.crop_size, prep.crop_size], align_corners=False)
        x = normalise(F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False), prep)
        if self.erase_p > 0:
            x = x * (1 - self._erase_mask(b, prep.crop_size, dev))
        return x

    def _erase_mask(self, b: int, size: int, dev) -> torch.Tensor:
        """(B, 1, size, size) 1 inside one random rectangle of each erased face, 0 elsewhere."""
        area = torch.empty(b, device=dev).uniform_(*self.erase_area) * size * size
        log_ratio = torch.empty(b, device=dev).uniform_(math.log(0.3), math.log(3.3))
        h = (area * log_ratio.exp()).sqrt().clamp(1, size)
        w = (area / log_ratio.exp()).sqrt().clamp(1, size)
        top = torch.rand(b, device=dev) * (size - h)
        left = torch.rand(b, device=dev) * (size - w)
        pos = torch.arange(size, device=dev, dtype=torch.float32)
        rows = (pos[None] >= top[:, None]) & (pos[None] < (top + h)[:, None])
        cols = (pos[None] >= left[:, None]) & (pos[None] < (left + w)[:, None])
        erased = torch.rand(b, device=dev) < self.erase_p
        return (rows[:, :, None] & cols[:, None, :] & erased[:, None, None]).float()[:, None]
