"""Decoding face images from bytes, with every failure turned into a named reason."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

import cv2
import numpy as np
from tqdm.auto import tqdm

from hybrid_recommender.ingest.common import SkipLog
from hybrid_recommender.ingest.sources import DataSource

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def decode_image(data: bytes, channels: int, size: int | None = None) -> tuple[np.ndarray | None, str | None]:
    """Decode to uint8 (H, W, channels) RGB or grayscale, optionally resized to ``size`` x ``size``.

    Returns (image, None) or (None, reason) for a corrupt or truncated file.
    """
    if not data:
        return None, "empty file"
    if data[:2] == b"\xff\xd8" and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        return None, "truncated JPEG (no end-of-image marker)"
    flag = cv2.IMREAD_GRAYSCALE if channels == 1 else cv2.IMREAD_COLOR
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    if image is None:
        return None, "corrupt image (cannot be decoded)"
    if channels == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if size is not None and image.shape[:2] != (size, size):
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return image.reshape(image.shape[0], image.shape[1], channels), None


def decoded_images(source: DataSource, wanted: Mapping[str, Any], channels: int, size: int | None,
                   skips: SkipLog, desc: str) -> Iterator[tuple[str, Any, np.ndarray]]:
    """(member name, its entry in ``wanted``, image) for every wanted member that decodes; the others are
    recorded in ``skips`` with the reason. Shows progress."""
    for name, data in tqdm(source.iter_files(wanted, on_error=skips.add), total=len(wanted), desc=desc, unit="img"):
        image, reason = decode_image(data, channels=channels, size=size)
        if image is None:
            skips.add(name, reason)
            continue
        yield name, wanted[name], image


def count_entries_that_are_not_files(source: DataSource, skips: SkipLog,
                                     suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> None:
    """Count entries named like an image (or video) that are a folder, a broken link or a special file."""
    for name, what in source.not_files(suffixes).items():
        skips.add(name, f"{what}, not a file")


def stack_faces(images: list[np.ndarray], size: int, channels: int) -> np.ndarray:
    """(N, size, size, channels) uint8, also for N == 0."""
    if not images:
        return np.zeros((0, size, size, channels), np.uint8)
    return np.stack(images).astype(np.uint8, copy=False)


def is_blank(image: np.ndarray) -> bool:
    """Zero variance: an all-black (or all-one-colour) image, not a face."""
    return bool(image.min() == image.max())


def stable_split(key: str, fractions: dict[str, float]) -> str:
    """A split chosen by a hash of ``key``: the same on every machine and run, independent of file order.

    Salted SHA-256, so the rule is independent of any other hash-based selection of the same files (the
    shared UTKFace copy withholds a fifth of part 1 by such a rule).
    """
    total = sum(fractions.values())
    digest = hashlib.sha256(f"hybrid-recommender-split:{key}".encode()).hexdigest()
    point = int(digest[:12], 16) / float(16**12) * total
    upper = 0.0
    for name, fraction in fractions.items():
        upper += fraction
        if point <= upper:
            return name
    return list(fractions)[-1]
