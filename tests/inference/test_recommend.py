"""recommend_for_input on real faces (UTKFace crops pasted on a background): one viewer, several viewers,
tracking across a clip, low-confidence emotion, fallbacks, and determinism."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.inference import recommend_for_input
from hybrid_recommender.inference.core import track_faces
from hybrid_recommender.inference.detection import MtcnnDetector
from hybrid_recommender.inference.settings import settings_from
from hybrid_recommender.labels import (
    DEFAULT_AGE_BIN_EDGES,
    DEFAULT_AGE_GROUPS,
    EMOTIONS,
    age_group_of,
)
from tests.inference.clips import background, paste, scene, write_image, write_video
from tests.inference.conftest import FRAMING

pytestmark = pytest.mark.real_data


def _iou(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_tracker_keeps_each_viewers_identity_across_a_moving_clip(faces):
    frames, truth = scene(faces[:2], 12, step=8)            # two faces, each moving 8 px per frame
    settings = settings_from({"detect_every": 4})
    tracked = track_faces(iter(frames), len(frames), MtcnnDetector(320, 48, FRAMING["thresholds"]), FRAMING,
                          settings)
    assert len(tracked.tracks) == 2 and tracked.frames == 12
    for track in tracked.tracks:
        assert len(track.crops) == 12 and track.frames == list(range(12))
        # the track follows one and the same face: its last box overlaps that face's true box
        overlaps = [_iou(track.box, truth[track.last_detected][k]) for k in range(2)]
        assert max(overlaps) > 0.4
    owners = {int(np.argmax([_iou(t.box, truth[t.last_detected][k]) for k in range(2)])) for t in tracked.tracks}
    assert owners == {0, 1}
    assert all(c.shape == (64, 64, 3) and c.dtype == np.uint8 for c in tracked.tracks[0].crops)


def test_one_real_face_gives_one_viewer_and_a_list_with_its_explanation(resources, faces, tmp_path):
    frame = background()
    paste(frame, faces[0], 250, 150, 160)
    result = recommend_for_input(write_image(tmp_path / "one.png", frame), resources)
    assert result.mode == "single_viewer" and result.input_kind == "image" and len(result.viewers) == 1
    v = result.viewers[0]
    assert v.age_group in DEFAULT_AGE_GROUPS and v.gender in ("male", "female") and v.emotion_detected in EMOTIONS
    assert 0 < v.emotion_confidence <= 1 and abs(sum(v.probabilities["emotion"].values()) - 1) < 1e-3
    assert _iou(v.box, (250, 150, 410, 310)) > 0.4
    assert len(result.recommendations) == 10 and all(f.title for f in result.recommendations)
    ex = result.explanation
    assert ex["viewer_group"]["age_group"] == v.age_group and ex["viewer_group"]["emotion"] == v.emotion
    assert "favoured_cluster" in ex and [f.item_id for f in result.recommendations] == list(ex["scores"])


@pytest.mark.parametrize("strategy", ["average", "least_misery", "majority_emotion"])
def test_several_faces_give_one_viewer_each_and_one_combined_list(resources, faces, tmp_path, strategy):
    frame = background()
    spots = [(20, 40), (230, 40), (440, 40), (130, 280)]
    for face, (x, y) in zip(faces[:4], spots):
        paste(frame, face, x, y, 150)
    result = recommend_for_input(write_image(tmp_path / "four.png", frame), resources,
                                 {"group_strategy": strategy, "emotion_confidence_threshold": 0.0})
    assert result.mode == "group" and len(result.viewers) == 4
    assert len({f.item_id for f in result.recommendations}) == 10
    assert result.explanation["strategy"] == strategy
    utilities = np.array([[v["contribution"]["utility_per_film"][str(f.item_id)] for f in result.recommendations]
                          for v in result.to_dict()["viewers"]])
    scores = np.array([f.score for f in result.recommendations])
    if strategy == "least_misery":
        np.testing.assert_allclose(scores, utilities.min(0), atol=1e-4)
    else:
        np.testing.assert_allclose(scores, utilities.mean(0), atol=1e-4)
    assert np.all(np.diff(scores) <= 1e-9)                 # ranked by the group score
    if strategy == "majority_emotion":
        room = result.explanation["room_emotion"]
        detected = [v.emotion for v in result.viewers]
        assert detected.count(room) == max(detected.count(e) for e in detected)
        assert result.explanation["viewer_emotions_used"] == [room] * 4
    shares = [v.contribution["share_of_group_score"] for v in result.viewers]
    assert sum(shares) == pytest.approx(1.0, abs=1e-3)


def test_a_video_reads_each_viewer_over_its_window_and_is_deterministic(resources, faces, tmp_path):
    frames, _ = scene(faces[:1], 15, step=6)
    clip = write_video(tmp_path / "clip.mp4", frames)
    first = recommend_for_input(clip, resources, {"detect_every": 5})
    again = recommend_for_input(clip, resources, {"detect_every": 5})
    assert first.input_kind == "video" and first.frames == 15 and len(first.viewers) == 1
    assert first.viewers[0].frames == 15 and first.faces["detections"] == 3
    a, b = first.to_dict(), again.to_dict()
    for d in (a, b):
        d.pop("seconds"), d.pop("fps")
    assert a == b


def test_low_confidence_emotion_is_treated_as_neutral_and_said(resources, faces, tmp_path):
    frame = background()
    paste(frame, faces[1], 250, 150, 160)
    path = write_image(tmp_path / "one.png", frame)
    sure = recommend_for_input(path, resources, {"emotion_confidence_threshold": 0.0})
    unsure = recommend_for_input(path, resources, {"emotion_confidence_threshold": 1.01})
    assert not sure.viewers[0].emotion_low_confidence and sure.viewers[0].emotion == sure.viewers[0].emotion_detected
    assert unsure.viewers[0].emotion_low_confidence and unsure.viewers[0].emotion == "neutral"
    assert any("treated as neutral" in n for n in unsure.notes)
    assert unsure.explanation["viewer_group"]["emotion"] == "neutral"


def test_the_age_group_comes_from_the_age_choice_rule_and_says_which(resources, faces, tmp_path):
    """The same face under three settings of inference.age_choice: each viewer says the rule and the expected age,
    and the group follows the rule (checked against the viewer's own calibrated probabilities)."""
    frame = background()
    paste(frame, faces[1], 250, 150, 160)
    path = write_image(tmp_path / "one.png", frame)
    plain = recommend_for_input(path, resources, {"age_choice": {"confident": 0.0, "child_min_probability": 0.0}})
    v = plain.viewers[0]
    probs = v.probabilities["age_group"]
    assert v.age_rule == "most_likely" and v.age_group == max(probs, key=probs.get) and not v.age_uncertain
    assert v.age_expected is not None and 0 <= v.age_expected <= 100
    assert v.age_group_confidence == pytest.approx(probs[v.age_group], abs=1e-4)
    # nothing is ever confident enough: the expected age's group, said to be uncertain, with a note
    unsure = recommend_for_input(path, resources, {"age_choice": {"confident": 1.0, "child_min_probability": 0.0}})
    u = unsure.viewers[0]
    assert u.age_uncertain and u.age_rule == "expected_age"
    assert u.age_group == age_group_of(u.age_expected, DEFAULT_AGE_BIN_EDGES, DEFAULT_AGE_GROUPS)
    assert any("age uncertain" in n for n in unsure.notes)
    # a child group is never allowed: whatever the face, an adult group
    guarded = recommend_for_input(path, resources, {"age_choice": {"child_min_probability": 1.0}})
    assert guarded.viewers[0].age_group not in ("0-7", "8-14")


def test_no_face_and_too_small_faces_fall_back_to_the_cold_start_list(resources, faces, tmp_path):
    empty = recommend_for_input(write_image(tmp_path / "empty.png", background()), resources)
    assert empty.mode == "cold_start" and empty.viewers == [] and empty.fallback["reason"] == "no face found"
    assert [f.item_id for f in empty.recommendations] == resources.cold_start_lists["everyone"][:10]
    assert any("no attribute was guessed" in n for n in empty.notes)
    frame = background()
    paste(frame, faces[0], 300, 200, 120)
    small = recommend_for_input(write_image(tmp_path / "small.png", frame), resources,
                                {"min_face_size": 200, "cold_start": {"age_group": "25-37", "gender": "female"}})
    assert small.fallback["reason"] == "faces too small" and small.faces["too_small"] == 1
    assert [f.item_id for f in small.recommendations] == resources.cold_start_lists["by_group"]["25-37|female"][:10]


def test_bad_inputs_raise_errors_that_name_the_file(resources, tmp_path):
    cases = {tmp_path / "missing.png": "no such file", tmp_path / "notes.txt": "unsupported file type",
             tmp_path / "broken.jpg": "not a readable image", tmp_path / "broken.mp4": "video",
             tmp_path / "frames": "no image frames"}
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg" * 10)
    (tmp_path / "broken.mp4").write_bytes(b"\x00\x00\x00 not a video" * 50)
    (tmp_path / "frames").mkdir()
    for path, message in cases.items():
        with pytest.raises(InputDataError, match=message) as err:
            recommend_for_input(path, resources)
        assert str(path) in str(err.value)
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + b"\x00" * (2 * 2**20))
    with pytest.raises(InputDataError, match="over the 1 MB input limit"):
        recommend_for_input(big, resources, {"max_file_mb": 1})
