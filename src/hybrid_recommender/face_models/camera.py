"""What a webcam or a phone does to a face: light, blur, resolution, JPEG, tilt, on whole uint8 batches.

Every function takes uint8 faces (B, C, H, W) (C = 1 in training, 3 works too) and one setting per face (a
tensor of shape (B,) or one number for all), returns uint8 of the same shape on the same device, and is
deterministic. Per-face settings are batched: one grouped convolution for blur, one matrix product for low
resolution, a JPEG round trip per face on the CPU (where the codec runs).

``PERTURBATIONS``: the fixed perturbations of the robustness table (benchmarks/age_robustness.py).
``CameraAugment``: random camera effects for training, applied before BatchAugment's affine warp.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

Setting = torch.Tensor | float | int


def _check(faces: torch.Tensor) -> None:
    if faces.dtype != torch.uint8 or faces.ndim != 4:
        raise ValueError(f"camera effects take uint8 (B, C, H, W) faces, got {faces.dtype} {tuple(faces.shape)}")


def _per_face(value: Setting, faces: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """One setting per face, shape (B,), on the faces' device."""
    out = torch.as_tensor(value, dtype=dtype).to(faces.device)
    return out.expand(faces.shape[0]).clone() if out.ndim == 0 else out.reshape(faces.shape[0])


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return x.round().clamp(0, 255).to(torch.uint8)


def brightness_contrast(faces: torch.Tensor, brightness: Setting, contrast: Setting) -> torch.Tensor:
    """Pixels times ``brightness``, then their spread about the face's mean times ``contrast`` (1 = unchanged)."""
    _check(faces)
    b = _per_face(brightness, faces)[:, None, None, None]
    c = _per_face(contrast, faces)[:, None, None, None]
    x = faces.float() * b
    mean = x.mean((1, 2, 3), keepdim=True)
    return _to_uint8(mean + c * (x - mean))


def gaussian_blur(faces: torch.Tensor, sigma: Setting) -> torch.Tensor:
    """Gaussian blur of standard deviation ``sigma`` px per face (0: unchanged), as one separable grouped conv."""
    _check(faces)
    sigma = _per_face(sigma, faces)
    if not bool((sigma > 0).any()):
        return faces.clone()
    b, c, h, w = faces.shape
    radius = min(max(1, math.ceil(3 * float(sigma.max()))), min(h, w) - 1)   # reflect padding needs < size
    offsets = torch.arange(-radius, radius + 1, device=faces.device, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (offsets[None] / sigma.clamp_min(1e-6)[:, None]) ** 2)
    kernel = torch.where(sigma[:, None] > 0, kernel, (offsets == 0).float()[None])   # sigma 0: a delta
    kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, 0)          # (B*C, K): one per channel
    x = F.pad(faces.float().reshape(1, b * c, h, w), (radius,) * 4, mode="reflect")
    x = F.conv2d(x, kernel[:, None, None, :], groups=b * c)
    x = F.conv2d(x, kernel[:, None, :, None], groups=b * c)
    return _to_uint8(x.reshape(b, c, h, w))


def jpeg(faces: torch.Tensor, quality: Setting) -> torch.Tensor:
    """Each face JPEG-encoded at ``quality`` (1-100) and decoded, on the CPU (returned to the faces' device).

    OpenCV's codec, one face at a time: the same libjpeg output as torchvision's encode_jpeg/decode_jpeg (which
    torchvision 0.29 deprecates), some 50 times faster when qualities vary per face (no call per quality)."""
    _check(faces)
    if faces.shape[1] not in (1, 3):
        raise ValueError(f"jpeg: 1 (gray) or 3 (RGB) channels, got {faces.shape[1]}")
    quality = _per_face(quality, faces, torch.int64).cpu()
    if bool(((quality < 1) | (quality > 100)).any()):
        raise ValueError(f"JPEG quality must be 1-100, got {quality.unique().tolist()}")
    images = faces.detach().cpu().permute(0, 2, 3, 1).numpy()[..., ::-1]     # NHWC, RGB -> BGR for OpenCV
    out = np.empty(images.shape, np.uint8)
    for i, (image, q) in enumerate(zip(images, quality.tolist())):
        ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(image), [cv2.IMWRITE_JPEG_QUALITY, int(q)])
        if not ok:
            raise RuntimeError(f"jpeg: OpenCV could not encode face {i} at quality {q}")
        out[i] = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED).reshape(image.shape)
    return torch.from_numpy(out[..., ::-1].copy()).permute(0, 3, 1, 2).contiguous().to(faces.device)


@functools.lru_cache(maxsize=256)
def _down_up_matrix(side: int, size: int) -> torch.Tensor:
    """(size, size): along one axis, downscaling to ``side`` (antialiased bilinear) and back up (bilinear).

    Both resizes are separable and linear, so an image's round trip is M @ X @ M.T: read M off the identity."""
    eye = torch.eye(size)[None, None]
    small = F.interpolate(eye, size=(side, size), mode="bilinear", align_corners=False, antialias=True)
    return F.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)[0, 0]


def low_resolution(faces: torch.Tensor, side: Setting) -> torch.Tensor:
    """Each face as a camera with ``side`` px across it (its height) would see it: downscaled (antialiased) and
    scaled back up (bilinear), all faces in one batched matrix product. ``side`` >= the height: unchanged."""
    _check(faces)
    side = _per_face(side, faces, torch.int64).cpu()
    if bool((side < 1).any()):
        raise ValueError(f"low_resolution: side must be >= 1 px, got {side.unique().tolist()}")
    b, c, h, w = faces.shape
    changed = (side < h).nonzero().flatten()
    if len(changed) == 0:
        return faces.clone()

    def matrices(size: int, sides: list[int]) -> torch.Tensor:
        return torch.stack([_down_up_matrix(s, size) for s in sides]).to(faces.device)[:, None]   # (n, 1, size, size)

    sides = side[changed].tolist()
    rows = matrices(h, sides)
    cols = rows if h == w else matrices(w, [max(1, round(s * w / h)) for s in sides])
    idx = changed.to(faces.device)
    out = faces.clone()
    out[idx] = _to_uint8(rows @ faces[idx].float() @ cols.transpose(-1, -2))
    return out


def rotate(faces: torch.Tensor, degrees: Setting) -> torch.Tensor:
    """Each face rotated by ``degrees`` (positive: counterclockwise on screen) about its centre; bilinear, the
    border pixels repeated into the corners."""
    _check(faces)
    angle = _per_face(degrees, faces) * (math.pi / 180)
    b, c, h, w = faces.shape
    cos, sin = torch.cos(angle), torch.sin(angle)
    zero = torch.zeros_like(angle)
    # in normalised coordinates the axes are scaled by w/2 and h/2: correct so that non-square faces stay rigid
    theta = torch.stack([torch.stack([cos, -sin * (h / w), zero], 1), torch.stack([sin * (w / h), cos, zero], 1)], 1)
    grid = F.affine_grid(theta, [b, c, h, w], align_corners=False)
    return _to_uint8(F.grid_sample(faces.float(), grid, mode="bilinear", padding_mode="border", align_corners=False))


def _blur_at_48(sigma_at_48: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """A blur given for 48 px faces, scaled to the faces' size (the same optical blur relative to the face)."""
    return lambda faces: gaussian_blur(faces, sigma_at_48 * faces.shape[-2] / 48)


def _dim_webcam(faces: torch.Tensor) -> torch.Tensor:
    faces = brightness_contrast(faces, 0.6, 0.7)
    return jpeg(low_resolution(_blur_at_48(1.0)(faces), 24), 30)


# Fixed levels for the robustness table, each what a living-room webcam or a phone realistically gives:
# - dark / bright: a lamp-lit evening room at half the exposure, a window behind or beside the viewer at 1.5x
#   (auto-exposure lags and clips); low_contrast: flat or hazy light, a cheap sensor's lifted blacks.
# - blur 1.5 px at 48 px (3% of the face): slight defocus or a viewer moving on the sofa at 1/30 s.
# - JPEG: webcams stream MJPEG at quality ~50-80 and phone messengers recompress to ~30-50; applied here to the
#   48 px face, whose 8x8 blocks are a sixth of it, q30 / q20 are already harsher than on a full frame; q10 is
#   a stress test.
# - low_res N px: the face's real detail is N px across (the face of a viewer ~3-5 m from a 640x480 wide-angle
#   webcam is 15-25 px; a video call dropping to 320x180 and upscaled), then resized to the model's size.
# - rotate_15: a tilted head or a camera mounted askew (training rotates by up to +-10 degrees).
# - dim_webcam: the evening living room together: dark, low contrast, blur 1, 24 px detail, JPEG q30.
PERTURBATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "clean": lambda faces: faces.clone(),
    "dark": lambda faces: brightness_contrast(faces, 0.5, 1.0),
    "bright": lambda faces: brightness_contrast(faces, 1.5, 1.0),
    "low_contrast": lambda faces: brightness_contrast(faces, 1.0, 0.5),
    "blur": _blur_at_48(1.5),
    "jpeg_q30": lambda faces: jpeg(faces, 30),
    "jpeg_q20": lambda faces: jpeg(faces, 20),
    "jpeg_q10": lambda faces: jpeg(faces, 10),
    "low_res_24px": lambda faces: low_resolution(faces, 24),
    "low_res_16px": lambda faces: low_resolution(faces, 16),
    "low_res_12px": lambda faces: low_resolution(faces, 12),
    "rotate_15": lambda faces: rotate(faces, 15.0),
    "dim_webcam": _dim_webcam,
}
PERTURBATION_NOTES: dict[str, str] = {
    "clean": "unchanged", "dark": "brightness x0.5", "bright": "brightness x1.5", "low_contrast": "contrast x0.5",
    "blur": "Gaussian sigma 1.5 px at 48 px", "jpeg_q30": "JPEG quality 30", "jpeg_q20": "JPEG quality 20",
    "jpeg_q10": "JPEG quality 10", "low_res_24px": "24 px across, back up", "low_res_16px": "16 px across, back up",
    "low_res_12px": "12 px across, back up", "rotate_15": "rotated 15 degrees",
    "dim_webcam": "brightness x0.6, contrast x0.7, blur 1, 24 px, JPEG 30",
}


def _uniform(n: int, lo: float, hi: float, generator: torch.Generator | None) -> torch.Tensor:
    device = generator.device if generator is not None else "cpu"
    return torch.rand(n, generator=generator, device=device).cpu() * (hi - lo) + lo


def _integers(n: int, lo: int, hi: int, generator: torch.Generator | None) -> torch.Tensor:
    device = generator.device if generator is not None else "cpu"
    return torch.randint(lo, hi + 1, (n,), generator=generator, device=device).cpu()


@dataclass(frozen=True)
class CameraAugment:
    """Random camera effects for training faces, each applied to each face independently with probability ``p``
    (so a face escapes all five with probability (1 - p) ** 5), in the camera's order: light, optics, sensor
    resolution, compression. Magnitudes are uniform in the ranges; rotation stays in BatchAugment's warp."""

    p: float = 0.0                           # probability of each effect, per face
    brightness: float = 0.4                  # factor uniform in 1 +- brightness
    contrast: float = 0.4                    # factor uniform in 1 +- contrast
    blur_sigma: float = 1.5                  # px, uniform in [0, blur_sigma]
    jpeg_quality: tuple[int, int] = (20, 90)   # uniform integer in [lo, hi]
    low_res_side: tuple[int, int] = (12, 32)   # px across the face, uniform integer in [lo, hi]

    def __post_init__(self) -> None:
        object.__setattr__(self, "jpeg_quality", tuple(int(q) for q in self.jpeg_quality))
        object.__setattr__(self, "low_res_side", tuple(int(s) for s in self.low_res_side))
        if not 0 <= self.p <= 1 or not 0 <= self.brightness < 1 or not 0 <= self.contrast < 1:
            raise ValueError(f"CameraAugment: p in [0, 1], brightness and contrast in [0, 1): {self}")
        if self.blur_sigma < 0 or not 1 <= self.jpeg_quality[0] <= self.jpeg_quality[1] <= 100 \
                or not 1 <= self.low_res_side[0] <= self.low_res_side[1]:
            raise ValueError(f"CameraAugment: blur_sigma >= 0, 1 <= jpeg_quality lo <= hi <= 100, "
                             f"1 <= low_res_side lo <= hi: {self}")

    def __call__(self, faces: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """uint8 (B, C, S, S) -> uint8 (B, C, S, S); p = 0 returns the faces and draws no random number."""
        _check(faces)
        n = faces.shape[0]
        if self.p <= 0 or n == 0:
            return faces

        def chosen() -> torch.Tensor:
            return _uniform(n, 0, 1, generator) < self.p

        # every draw happens whichever effects are chosen: the stream of random numbers is fixed by n alone
        light = chosen(), _uniform(n, 1 - self.brightness, 1 + self.brightness, generator)
        spread = chosen(), _uniform(n, 1 - self.contrast, 1 + self.contrast, generator)
        blur = chosen(), _uniform(n, 0, self.blur_sigma, generator)
        resolution = chosen(), _integers(n, *self.low_res_side, generator)
        compression = chosen(), _integers(n, *self.jpeg_quality, generator)

        x = faces
        if bool(light[0].any() | spread[0].any()):
            x = brightness_contrast(x, torch.where(light[0], light[1], 1.0), torch.where(spread[0], spread[1], 1.0))
        if bool(blur[0].any()):
            x = gaussian_blur(x, torch.where(blur[0], blur[1], 0.0))
        for (pick, setting), effect in ((resolution, low_resolution), (compression, jpeg)):
            if bool(pick.any()):
                x = x.clone() if x is faces else x
                idx = pick.nonzero().flatten().to(x.device)
                x[idx] = effect(x[idx], setting[pick])
        return x
