"""Camera perturbations (face_models.camera) and their place in BatchAugment, on real UTKFace faces."""

from __future__ import annotations

import tarfile
import warnings

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hybrid_recommender.face_models.augment import BatchAugment
from hybrid_recommender.face_models.camera import (
    PERTURBATION_NOTES,
    PERTURBATIONS,
    CameraAugment,
    brightness_contrast,
    gaussian_blur,
    jpeg,
    low_resolution,
    rotate,
)
from hybrid_recommender.face_models.preprocessing import Preprocessing
from tests.conftest import require_shared

pytestmark = pytest.mark.real_data
ARCHIVE = "utkface_crop_part1.tar.gz"


def _read_faces(n: int = 16, size: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
    """The first n UTKFace part-1 crops: gray (n, 1, size, size) and RGB (n, 3, size, size), uint8."""
    gray, rgb = [], []
    with tarfile.open(require_shared(ARCHIVE) / ARCHIVE) as tf:
        for member in tf:
            name = member.name
            if not (member.isfile() and name.startswith("crop_part1/") and name.endswith(".jpg.chip.jpg")):
                continue
            bgr = cv2.imdecode(np.frombuffer(tf.extractfile(member).read(), np.uint8), cv2.IMREAD_COLOR)
            small = cv2.resize(bgr, (size, size), interpolation=cv2.INTER_AREA)
            gray.append(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)[None])
            rgb.append(cv2.cvtColor(small, cv2.COLOR_BGR2RGB).transpose(2, 0, 1))
            if len(gray) == n:
                break
    return torch.from_numpy(np.stack(gray)), torch.from_numpy(np.stack(rgb))


@pytest.fixture(scope="module")
def faces() -> torch.Tensor:
    return _read_faces()[0]


@pytest.fixture(scope="module")
def rgb_faces() -> torch.Tensor:
    return _read_faces()[1]


def _error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().mean())


def _laplacian_energy(faces: torch.Tensor) -> torch.Tensor:
    """Mean absolute Laplacian per face: its high-frequency detail."""
    kernel = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]).view(1, 1, 3, 3)
    return F.conv2d(faces.float(), kernel).abs().mean((1, 2, 3))


def test_every_perturbation_keeps_dtype_shape_and_is_deterministic(faces, rgb_faces):
    assert set(PERTURBATIONS) == set(PERTURBATION_NOTES) and "clean" in PERTURBATIONS
    for name, perturb in PERTURBATIONS.items():
        for batch in (faces, rgb_faces):
            out = perturb(batch)
            assert out.dtype == torch.uint8 and out.shape == batch.shape, name
            assert torch.equal(out, perturb(batch)), name
    assert torch.equal(PERTURBATIONS["clean"](faces), faces)
    for name in set(PERTURBATIONS) - {"clean"}:
        assert not torch.equal(PERTURBATIONS[name](faces), faces), name


def test_brightness_scales_the_mean_and_contrast_the_spread(faces):
    mean, std = faces.float().mean((1, 2, 3)), faces.float().std((1, 2, 3))
    assert torch.equal(brightness_contrast(faces, 1.0, 1.0), faces)
    dark = brightness_contrast(faces, 0.5, 1.0).float()
    torch.testing.assert_close(dark.mean((1, 2, 3)), mean * 0.5, atol=0.5, rtol=0.0)
    flat = brightness_contrast(faces, 1.0, 0.5).float()
    torch.testing.assert_close(flat.mean((1, 2, 3)), mean, atol=0.5, rtol=0.0)
    torch.testing.assert_close(flat.std((1, 2, 3)), std * 0.5, atol=0.5, rtol=0.0)
    bright = brightness_contrast(faces, 1.5, 1.0)
    assert int(bright.max()) == 255 and bool((bright.float().mean((1, 2, 3)) > mean).all())   # clipped, brighter
    per_face = brightness_contrast(faces[:2], torch.tensor([0.5, 1.0]), torch.tensor([1.0, 1.0]))
    assert torch.equal(per_face[0], brightness_contrast(faces[:1], 0.5, 1.0)[0]) and torch.equal(per_face[1], faces[1])


def test_blur_removes_detail_and_sigma_zero_is_identity(faces):
    assert torch.equal(gaussian_blur(faces, 0.0), faces)
    sharp, mild, strong = (_laplacian_energy(gaussian_blur(faces, s)) for s in (0.0, 0.75, 1.5))
    assert bool((mild < 0.8 * sharp).all()) and bool((strong < 0.8 * mild).all())
    assert abs(float(gaussian_blur(faces, 1.5).float().mean() - faces.float().mean())) < 1.0   # light kept
    sigma = torch.tensor([0.0, 1.5] * 8)
    batched = gaussian_blur(faces, sigma)
    assert torch.equal(batched[0::2], faces[0::2]) and torch.equal(batched[1::2], gaussian_blur(faces[1::2], 1.5))


def test_jpeg_degrades_with_lower_quality_and_keeps_the_light(faces):
    q10, q50, q90 = (jpeg(faces, q) for q in (10, 50, 90))
    assert _error(q10, faces) > _error(q50, faces) > _error(q90, faces) > 0
    assert float((q10.float().mean((1, 2, 3)) - faces.float().mean((1, 2, 3))).abs().max()) < 3.0
    quality = torch.tensor([10, 90] * 8)
    mixed = jpeg(faces, quality)
    assert torch.equal(mixed[0::2], q10[0::2]) and torch.equal(mixed[1::2], q90[1::2])
    with pytest.raises(ValueError, match="1-100"):
        jpeg(faces, 0)


def test_jpeg_is_what_torchvision_encodes(faces, rgb_faces):
    from torchvision.io import decode_jpeg, encode_jpeg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)     # torchvision 0.29 deprecates its codec
        for batch in (faces[:4], rgb_faces[:4]):
            expected = torch.stack(decode_jpeg(encode_jpeg(list(batch), quality=30)))
            assert torch.equal(jpeg(batch, 30), expected)


def test_low_resolution_loses_more_detail_the_fewer_pixels(faces):
    assert torch.equal(low_resolution(faces, 48), faces)
    errors = [_error(low_resolution(faces, side), faces) for side in (32, 24, 16, 12)]
    assert errors == sorted(errors) and errors[0] > 0
    assert bool((_laplacian_energy(low_resolution(faces, 12)) < 0.6 * _laplacian_energy(faces)).all())
    mixed = low_resolution(faces, torch.tensor([48, 12] * 8))
    assert torch.equal(mixed[0::2], faces[0::2]) and torch.equal(mixed[1::2], low_resolution(faces[1::2], 12))


def test_rotation_is_rigid(faces, rgb_faces):
    assert torch.equal(rotate(faces, 0.0), faces) and torch.equal(rotate(rgb_faces, 0.0), rgb_faces)
    quarter = rotate(faces, 90.0)
    assert int((quarter.int() - torch.rot90(faces, 1, (-2, -1)).int()).abs().max()) <= 1   # counterclockwise
    tilted = rotate(faces, 15.0)
    back = rotate(tilted, -15.0)
    centre = (..., slice(12, 36), slice(12, 36))        # the corners were filled from the border
    assert _error(back[centre], faces[centre]) < 0.5 * _error(tilted[centre], faces[centre])


def test_camera_augment_is_seeded_identity_at_p0_and_changes_every_face_at_p1(faces):
    repeated = faces.repeat(4, 1, 1, 1)
    assert CameraAugment(p=0.0)(repeated) is repeated
    always = CameraAugment(p=1.0)
    out = always(repeated, torch.Generator().manual_seed(3))
    assert out.dtype == torch.uint8 and out.shape == repeated.shape
    assert torch.equal(out, always(repeated, torch.Generator().manual_seed(3)))
    assert not torch.equal(out, always(repeated, torch.Generator().manual_seed(4)))
    assert bool((out != repeated).flatten(1).any(1).all())
    sometimes = CameraAugment(p=0.3)(repeated, torch.Generator().manual_seed(0))
    unchanged = int((sometimes == repeated).flatten(1).all(1).sum())
    assert 0 < unchanged < len(repeated)               # each face escapes all five effects with 0.7 ** 5
    assert torch.equal(repeated, faces.repeat(4, 1, 1, 1))   # the input is never written to
    with pytest.raises(ValueError):
        CameraAugment(p=0.5, jpeg_quality=(90, 20))


def test_batch_augment_without_camera_is_unchanged_and_with_camera_differs(faces):
    prep = Preprocessing()
    warp = dict(rotation=10.0, scale=0.1, shift=0.08, flip=True, erase_p=0.5, erase_area=(0.02, 0.15))

    def run(**camera) -> torch.Tensor:
        torch.manual_seed(11)
        return BatchAugment(**warp, **camera)(faces, prep)

    plain = run()
    assert plain.shape == (16, 1, prep.crop_size, prep.crop_size)
    assert torch.equal(plain, run(camera=None))
    assert torch.equal(plain, run(camera=CameraAugment(p=0.0)))     # p = 0 draws nothing: same warp and erasing
    assert not torch.equal(plain, run(camera=CameraAugment(p=1.0)))
    from_params = BatchAugment(**warp, camera={"p": 0.5, "jpeg_quality": [30, 60], "low_res_side": [16, 24]})
    assert from_params.camera == CameraAugment(p=0.5, jpeg_quality=(30, 60), low_res_side=(16, 24))
