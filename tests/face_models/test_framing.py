"""Re-framing a data set's faces with the inference MTCNN step, here with a stand-in cropper: found faces are
replaced in the pixels' own channels, missed ones keep their source crop, and the report counts both."""

from __future__ import annotations

import numpy as np

from hybrid_recommender.face_models.framing import reframe_with_mtcnn
from hybrid_recommender.face_models.params import FaceModelsParams
from tests.face_models.conftest import face_model_params


class EveryOtherFace:
    """Finds a face (a uniform crop of 200) in every other frame; records the frames it was shown."""

    def __init__(self):
        self.shown = []

    def largest_faces(self, frames):
        self.shown += [f.shape for f in frames]
        return [np.full_like(f, 200) if i % 2 == 0 else None for i, f in enumerate(frames)]


def test_found_faces_are_replaced_and_missed_ones_kept():
    framing = FaceModelsParams.model_validate(face_model_params("local")).framing.model_copy(update={"batch_size": 2})
    gray = np.arange(5 * 8 * 8, dtype=np.uint8).reshape(5, 8, 8, 1)
    cropper = EveryOtherFace()
    out, report = reframe_with_mtcnn(gray, framing, cropper)
    assert cropper.shown == [(8, 8, 3)] * 5                  # MTCNN is shown RGB frames, two at a time
    assert out.shape == gray.shape and (out[[0, 2, 4]] == 200).all()
    np.testing.assert_array_equal(out[[1, 3]], gray[[1, 3]])
    row = report.iloc[0]
    assert (row["faces"], row["mtcnn_found"], row["found_fraction"], row["margin"]) == (5, 3, 0.6, framing.margin)
    assert row["reframed"] and row["image_size"] == 8


def test_reframing_off_leaves_the_faces_as_they_are():
    framing = FaceModelsParams.model_validate(face_model_params("smoke")).framing
    pixels = np.zeros((3, 8, 8, 3), np.uint8)
    out, report = reframe_with_mtcnn(pixels, framing, EveryOtherFace())
    assert not framing.reframe and out is pixels
    assert report.iloc[0]["mtcnn_found"] == 0 and not report.iloc[0]["reframed"]
