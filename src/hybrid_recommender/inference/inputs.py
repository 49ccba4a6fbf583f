"""Validated inputs and their frames: a still image, a video file, a folder of frames or a camera index.

Every source yields RGB uint8 frames and knows (when it can) how many, so files get a progress bar. Bad input
raises :class:`InputDataError` naming the path and what was expected; no traceback reaches a user.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from hybrid_recommender.errors import InputDataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


class InputKind:
    IMAGE, VIDEO, FOLDER, CAMERA = "image", "video", "folder", "camera"


@dataclass
class FrameSource:
    """Where frames come from: ``kind``, a description for the output, ``n_frames`` (None for a camera) and fps."""

    kind: str
    name: str
    n_frames: int | None
    fps: float
    _path: Path | None = None
    _camera: int | None = None
    _files: tuple[Path, ...] = ()
    max_frames: int | None = None
    frame_step: int = 1

    def frames(self) -> Iterator[np.ndarray]:
        """RGB uint8 frames (every ``frame_step``-th, at most ``max_frames``)."""
        if self.kind == InputKind.IMAGE:
            yield read_image(self._path)
        elif self.kind == InputKind.FOLDER:
            for f in self._files[::self.frame_step][:self.max_frames]:
                yield read_image(f)
        else:
            yield from self._capture()

    def _capture(self) -> Iterator[np.ndarray]:
        target = str(self._path) if self._path is not None else self._camera
        cap = cv2.VideoCapture(target)
        if not cap.isOpened():
            what = f"camera {self._camera}" if self._path is None else str(self._path)
            raise InputDataError(f"{what}: could not be opened (expected a readable "
                                 f"{'camera index' if self._path is None else 'video file: ' + ', '.join(VIDEO_SUFFIXES)})")
        kept = read = 0
        try:
            while self.max_frames is None or kept < self.max_frames:
                ok, bgr = cap.read()
                if not ok:
                    break
                read += 1
                if (read - 1) % self.frame_step:
                    continue
                kept += 1
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            cap.release()
        if read == 0:
            what = f"camera {self._camera}" if self._path is None else str(self._path)
            raise InputDataError(f"{what}: no frame could be decoded (corrupt or empty "
                                 f"{'stream' if self._path is None else 'video file'})")


def read_image(path: Path) -> np.ndarray:
    """An image file as RGB uint8, or InputDataError naming it."""
    return decode_image(np.fromfile(str(path), dtype=np.uint8), path)


def decode_image(data: bytes | np.ndarray, name: str | Path) -> np.ndarray:
    """Encoded image bytes (in memory: an upload, a camera frame) as RGB uint8, or InputDataError naming ``name``."""
    data = np.frombuffer(data, np.uint8) if isinstance(data, (bytes, bytearray, memoryview)) else data
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if len(data) else None
    if bgr is None:
        raise InputDataError(f"{name}: not a readable image (corrupt or not one of {', '.join(IMAGE_SUFFIXES)})")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def open_source(spec: str | int | Path, max_file_mb: float = 500.0, max_frames: int | None = None,
                frame_step: int = 1) -> FrameSource:
    """The frame source for ``spec``: a path (image, video, folder of images) or a camera index (e.g. ``0``)."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        index = int(spec)
        return FrameSource(InputKind.CAMERA, f"camera {index}", None, 0.0, _camera=index, max_frames=max_frames,
                           frame_step=frame_step)
    path = Path(spec)
    if not path.exists():
        raise InputDataError(f"{path}: no such file or folder (expected an image, a video file, a folder of "
                             f"frames or a camera index)")
    if path.is_dir():
        files = tuple(sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        if not files:
            raise InputDataError(f"{path}: folder has no image frames (expected files ending in "
                                 f"{', '.join(IMAGE_SUFFIXES)})")
        _check_size(files, max_file_mb)
        n = len(files[::frame_step][:max_frames])
        return FrameSource(InputKind.FOLDER, str(path), n, 0.0, _path=path, _files=files, max_frames=max_frames,
                           frame_step=frame_step)
    suffix = path.suffix.lower()
    _check_size((path,), max_file_mb)
    if suffix in IMAGE_SUFFIXES:
        return FrameSource(InputKind.IMAGE, str(path), 1, 0.0, _path=path)
    if suffix in VIDEO_SUFFIXES:
        cap = cv2.VideoCapture(str(path))
        try:
            if not cap.isOpened():
                raise InputDataError(f"{path}: could not be opened as a video (corrupt, or a codec OpenCV lacks)")
            count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        finally:
            cap.release()
        n = -(-count // frame_step) if count > 0 else None
        if n is not None and max_frames is not None:
            n = min(n, max_frames)
        return FrameSource(InputKind.VIDEO, str(path), n, fps, _path=path, max_frames=max_frames,
                           frame_step=frame_step)
    raise InputDataError(f"{path}: unsupported file type {suffix or '(none)'!r}; expected an image "
                         f"({', '.join(IMAGE_SUFFIXES)}) or a video ({', '.join(VIDEO_SUFFIXES)})")


def _check_size(files, max_file_mb: float) -> None:
    for f in files:
        mb = f.stat().st_size / 2**20
        if mb > max_file_mb:
            raise InputDataError(f"{f}: {mb:.0f} MB is over the {max_file_mb:.0f} MB input limit "
                                 f"(parameter inference.max_file_mb)")
        if mb == 0:
            raise InputDataError(f"{f}: empty file (expected an image or a video)")
