"""MTCNN face detection and cropping (facenet-pytorch), with the weights that ship inside the package."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from facenet_pytorch import MTCNN


class FaceCropper:
    """Finds faces in RGB frames and returns square crops (box plus ``margin`` pixels), resized to ``image_size``;
    it crops, it does not align (no landmark warp).

    Size and margin have no defaults: each caller passes its configuration's (the predictor's ``framing``, which
    training also uses to re-frame UTKFace; AFEW ingestion's own ``mtcnn_margin``). The two differ (base: 24 px
    at AFEW ingestion, 8 at inference), so AFEW's stored crops are framed wider than a face at inference.
    """

    def __init__(self, image_size: int, margin: int, thresholds: Sequence[float] = (0.6, 0.7, 0.7),
                 min_face_size: int = 20, device: str = "cpu"):
        self.image_size = image_size
        common = dict(image_size=image_size, margin=margin, thresholds=list(thresholds), min_face_size=min_face_size,
                      post_process=False, device=device)
        self._largest = MTCNN(select_largest=True, keep_all=False, **common)
        self._every = MTCNN(keep_all=True, **common)

    @staticmethod
    def _to_uint8(face: torch.Tensor) -> np.ndarray:
        return face.permute(1, 2, 0).clamp(0, 255).round().to(torch.uint8).numpy()

    @torch.inference_mode()
    def largest_faces(self, frames: Sequence[np.ndarray]) -> list[np.ndarray | None]:
        """The main (largest) face of each frame as uint8 (S, S, 3), or None where no face was found.

        Frames must share one size (a video's frames do); they are detected in one batch. The largest box is
        picked here rather than by MTCNN.forward, whose box selection fails on a batch where some frames
        have no face (facenet-pytorch 2.5.3 with numpy 2).
        """
        if len(frames) == 0:
            return []
        frames = [np.ascontiguousarray(f) for f in frames]
        batch_boxes, _ = self._largest.detect(np.stack(frames))
        crops: list[np.ndarray | None] = []
        for frame, boxes in zip(frames, batch_boxes):
            if boxes is None or len(boxes) == 0:
                crops.append(None)
                continue
            areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
            largest = boxes[int(np.argmax(areas))][None]
            crops.append(self._to_uint8(self._largest.extract(frame, largest, None)))
        return crops

    @torch.inference_mode()
    def every_face(self, frame: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Every face in one frame: crops and their boxes (x1, y1, x2, y2), for several viewers at once."""
        boxes, _ = self._every.detect(frame)
        if boxes is None:
            return [], np.zeros((0, 4), np.float32)
        crops = self._every.extract(frame, boxes, None)
        return [self._to_uint8(c) for c in crops], boxes.astype(np.float32)
