"""What every model sees: one grayscale channel, resized to ``image_size``, centre- or ten-cropped to ``crop_size``.

FER2013 and CK+ are grayscale, UTKFace/RAF-DB/AFEW are RGB: everything is converted to one luminance channel
(ITU-R 601: 0.299 R + 0.587 G + 0.114 B, as PIL's "L"), which is also what the paper's VGG-16 branch used.
The predictor applies the same function, so training and inference framing/colour match.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.transforms.v2 import functional as TF

LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class Preprocessing:
    image_size: int = 48      # faces are resized to this square size
    crop_size: int = 40       # the network input: a (random / centre / ten-) crop of image_size
    mean: float = 0.5
    std: float = 0.5

    def to_dict(self) -> dict:
        return asdict(self)


def as_batch(images: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, C) or (N, H, W, C) uint8 -> (N, H, W, C)."""
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[None, :, :, None]
    elif images.ndim == 3:
        images = images[None] if images.shape[-1] in (1, 3, 4) else images[..., None]
    if images.ndim != 4:
        raise ValueError(f"expected faces as (H, W), (H, W, C) or (N, H, W, C), got shape {images.shape}")
    return images


def to_gray_uint8(images: np.ndarray, image_size: int, chunk: int = 4096) -> torch.Tensor:
    """uint8 faces (N, H, W, C) with C in {1, 3, 4} -> uint8 tensor (N, 1, image_size, image_size)."""
    images = as_batch(images)
    n = images.shape[0]
    out = torch.empty((n, 1, image_size, image_size), dtype=torch.uint8)
    for start in range(0, n, chunk):
        x = torch.from_numpy(np.array(images[start:start + chunk], copy=True)).permute(0, 3, 1, 2).float()
        if x.shape[1] >= 3:
            w = torch.tensor(LUMA).view(1, 3, 1, 1)
            x = (x[:, :3] * w).sum(1, keepdim=True)
        if x.shape[-1] != image_size or x.shape[-2] != image_size:
            x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=True)
        out[start:start + chunk] = x.round().clamp(0, 255).to(torch.uint8)
    return out


def normalise(x: torch.Tensor, prep: Preprocessing) -> torch.Tensor:
    """uint8 or [0, 1] float -> the network's input scale."""
    if x.dtype == torch.uint8:
        x = x.float() / 255.0
    return (x - prep.mean) / prep.std


def centre_crop(x: torch.Tensor, prep: Preprocessing) -> torch.Tensor:
    return TF.center_crop(x, [prep.crop_size, prep.crop_size])


def ten_crops(x: torch.Tensor, prep: Preprocessing) -> torch.Tensor:
    """(N, C, S, S) -> (10, N, C, crop, crop): four corners, centre, and their mirror images."""
    return torch.stack(TF.ten_crop(x, [prep.crop_size, prep.crop_size]))


def eval_input(faces_uint8: torch.Tensor, prep: Preprocessing) -> torch.Tensor:
    """uint8 (N, 1, S, S) -> normalised centre crops."""
    return normalise(centre_crop(faces_uint8, prep), prep)
