"""The MTCNN framing used at inference (box + margin, resized), applied to a data set's faces at training.

UTKFace's crops are looser than FER2013's; the predictor sees MTCNN-framed faces, so the models train on (and are
also evaluated on) the same framing. Faces MTCNN misses keep their source crop.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from hybrid_recommender.face_models.params import FramingParams
from hybrid_recommender.faces.detector import FaceCropper

log = logging.getLogger(__name__)


def _rgb(face: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(face[..., :3] if face.shape[-1] >= 3 else np.repeat(face, 3, -1))


def reframe_faces(pixels: np.ndarray, cropper: FaceCropper, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Each face re-cropped by ``cropper`` (its largest face), in the pixels' own channels; and which were found."""
    out = np.array(pixels, copy=True)
    found = np.zeros(len(out), bool)
    for i in tqdm(range(0, len(out), batch_size), desc="MTCNN framing", unit="batch"):
        for j, crop in enumerate(cropper.largest_faces([_rgb(f) for f in out[i:i + batch_size]])):
            if crop is not None:
                out[i + j] = crop if out.shape[-1] == 3 else crop.mean(-1, keepdims=True).astype(np.uint8)
                found[i + j] = True
    return out, found


def reframe_with_mtcnn(pixels: np.ndarray, framing: FramingParams,
                       cropper: FaceCropper | None = None) -> tuple[np.ndarray, pd.DataFrame]:
    """The faces in the inference framing (``framing.reframe`` false: unchanged) and a one-row report: how many
    MTCNN found, in how many seconds. ``cropper``: default, one built from ``framing`` at the pixels' size."""
    start = time.perf_counter()
    out, found = np.asarray(pixels), np.zeros(len(pixels), bool)
    if framing.reframe and len(pixels):
        cropper = cropper or FaceCropper(image_size=pixels.shape[1], margin=framing.margin,
                                         thresholds=framing.thresholds)
        out, found = reframe_faces(pixels, cropper, framing.batch_size)
    seconds = time.perf_counter() - start
    log.info("face_models: MTCNN framed %d of %d faces in %.1fs", found.sum(), len(out), seconds)
    return out, pd.DataFrame([{"faces": len(out), "mtcnn_found": int(found.sum()),
                               "found_fraction": float(found.mean()) if len(out) else float("nan"),
                               "seconds": seconds, "margin": framing.margin, "image_size": int(out.shape[1]),
                               "reframed": framing.reframe}])
