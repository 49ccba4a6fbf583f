"""``recommend_for_input``: the one function behind the command, the Kedro pipeline and any later front end.

input -> frames (OpenCV) -> faces (detector every ``detect_every`` frames on a downscaled frame, IoU tracker in
between) -> each viewer's crops -> attributes over the viewer's window (FaceAttributePredictor.predict_sequence:
all frames of a viewer in one batch, emotion from the fused CNN+SVM / LSTM branches) -> one list (single viewer,
group strategy, or the cold-start list when no usable face is seen).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from hybrid_recommender.face_models.age_choice import choose_age_group
from hybrid_recommender.inference.coldstart import cold_start
from hybrid_recommender.inference.detection import crop_faces, make_detector
from hybrid_recommender.inference.face_tracker import IouTracker, Track
from hybrid_recommender.inference.group import combine
from hybrid_recommender.inference.inputs import InputKind, open_source
from hybrid_recommender.inference.result import Film, InferenceResult, ViewerResult
from hybrid_recommender.inference.settings import InferenceSettings, settings_from
from hybrid_recommender.recommender.base import Recommender, Viewer


@dataclass
class Resources:
    """What inference needs loaded once: the predictor, the recommender, cold-start lists and movie titles (and,
    for front ends that show them, each movie's year and genres: ``movie_details``, item id -> {year, genres})."""

    predictor: Any
    recommender: Recommender
    cold_start_lists: Mapping
    titles: Mapping[int, str]
    model_card: dict = field(default_factory=dict)
    movie_details: Mapping[int, dict] = field(default_factory=dict)
    _detectors: dict = field(default_factory=dict, repr=False)

    def detector(self, settings: InferenceSettings, full_resolution: bool = False):
        key = (settings.detector, full_resolution, settings.detect_max_side, settings.min_face_size,
               settings.blazeface.model_dump_json())
        if key not in self._detectors:
            self._detectors[key] = make_detector(settings, self.predictor.framing, full_resolution)
        return self._detectors[key]


@dataclass
class TrackedFaces:
    tracks: list[Track]
    frames: int
    faces: dict[str, int]


class FaceFollower:
    """Faces followed one frame at a time: detect every ``detect_every`` frames, follow faces with the IoU tracker
    in between, and keep each visible track's framed crops (its most recent ``tracker.window``).

    ``track_faces`` runs it over a file's frames; a live camera (hybrid_recommender.web) feeds it frame by frame.
    """

    def __init__(self, detector, framing: Mapping, settings: InferenceSettings):
        t = settings.tracker
        self.tracker = IouTracker(t.iou_threshold, t.max_missed, t.window)
        self.detector, self.framing = detector, framing
        self.every, self.min_size, self.max_faces = settings.detect_every, settings.min_face_size, settings.max_faces
        self.min_score = getattr(settings.min_detection_score, detector.name)
        self.faces = {"detections": 0, "too_small": 0, "unclear": 0}        # over all detection rounds
        self.last_round = dict(self.faces)                                   # the latest detection round alone
        self.frames = 0

    def step(self, frame: np.ndarray) -> list[Track]:
        """Follow the faces into ``frame`` (RGB uint8); returns the tracks visible in it, their crops appended."""
        i = self.frames
        self.frames += 1
        if i % self.every == 0:
            boxes, scores = self.detector.detect(frame)
            side = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
            small, unclear = side < self.min_size, (side >= self.min_size) & (scores < self.min_score)
            keep = np.flatnonzero(~small & ~unclear)
            keep = keep[np.argsort(-side[keep], kind="stable")][:self.max_faces]     # the largest faces first
            self.last_round = {"detections": len(keep), "too_small": int(small.sum()),
                               "unclear": int(unclear.sum())}
            for k, v in self.last_round.items():
                self.faces[k] += v
            self.tracker.update(boxes[keep], scores[keep], i)
        visible = self.tracker.visible()
        if visible:
            boxes = np.stack([tr.box_at(i) for tr in visible])
            for tr, crop in zip(visible, crop_faces(frame, boxes, self.framing)):
                tr.crops.append(crop)
                tr.frames.append(i)
        return visible


def track_faces(frames, n_frames: int | None, detector, framing: Mapping, settings: InferenceSettings,
                progress: bool = False) -> TrackedFaces:
    """Detect every ``detect_every`` frames, follow faces with the IoU tracker, and
    keep each track's framed crops (its most recent ``tracker.window``)."""
    follower = FaceFollower(detector, framing, settings)
    for frame in tqdm(frames, total=n_frames, desc="frames", unit="frame", disable=not progress, leave=False):
        follower.step(frame)
    return TrackedFaces(follower.tracker.all_tracks(), follower.frames, follower.faces)


def _probs(labels, p) -> dict[str, float]:
    return {label: round(float(x), 4) for label, x in zip(labels, p)}


def read_viewers(tracks: list[Track], predictor, settings: InferenceSettings) -> list[ViewerResult]:
    """Attributes of each track over its window: age and gender averaged over its frames, emotion fused over
    the sequence; the age group chosen by the age-choice rule (calibrated probabilities, a bar for child groups),
    a low-confidence emotion becomes neutral, a low-confidence gender unknown."""
    labels = predictor.labels              # head -> class names, in the predictor's output order
    viewers = []
    for vid, tr in enumerate(tracks, start=1):
        out = predictor.predict_sequence(np.stack(list(tr.crops)))
        top = {h: int(np.argmax(out[h])) for h in labels}
        conf = {h: float(out[h][top[h]]) for h in labels}
        emotion = labels["emotion"][top["emotion"]]
        low = conf["emotion"] < settings.emotion_confidence_threshold
        gender = labels["gender"][top["gender"]]
        if conf["gender"] < settings.gender_confidence_threshold:
            gender = "unknown"
        expected = float(out["age_expected"]) if "age_expected" in out else None
        age = choose_age_group(out["age_group"], labels["age_group"], expected, predictor.age_edges,
                               settings.age_choice.model_dump())
        viewers.append(ViewerResult(
            viewer_id=vid, frames=len(tr.crops), first_frame=tr.frames[0], last_frame=tr.frames[-1],
            box=[round(float(x), 1) for x in tr.box], age_group=age.group,
            age_group_confidence=round(age.probability, 4), age_rule=age.rule, age_uncertain=age.uncertain,
            age_expected=None if expected is None else round(expected, 1), gender=gender,
            gender_confidence=round(conf["gender"], 4), emotion="neutral" if low else emotion,
            emotion_detected=emotion, emotion_confidence=round(conf["emotion"], 4), emotion_low_confidence=low,
            probabilities={h: _probs(labels[h], out[h]) for h in labels},
            emotion_branches={k: _probs(labels["emotion"], v) for k, v in out.get("branches", {}).items()}))
    return viewers


def _films(item_ids, scores, titles) -> list[Film]:
    return [Film(r, int(i), str(titles.get(int(i), "")), round(float(s), 4))
            for r, (i, s) in enumerate(zip(item_ids, scores), start=1)]


def _recommend(rec: Recommender, stance: str | None):
    def call(viewer: Viewer, n: int):
        return rec.recommend(viewer, n, stance=stance) if stance else rec.recommend(viewer, n)
    return call


def recommend_for_input(spec: str | int | Path, resources: Resources,
                        params: InferenceSettings | Mapping | None = None, progress: bool = False) -> InferenceResult:
    """Recommendations for whoever is in ``spec`` (an image, video, folder of frames or camera index), with the
    settings ``params`` (an :class:`InferenceSettings`, or a mapping of the keys that differ from its defaults).

    Raises InputDataError for a missing, unsupported, oversized, corrupt or unreadable input.
    """
    settings = settings_from(params)
    started = time.perf_counter()
    max_frames = settings.camera_frames if str(spec).strip().isdigit() else settings.max_frames
    source = open_source(spec, settings.max_file_mb, max_frames, settings.frame_step)
    return recommend_for_frames(source.frames(), source.n_frames, source.name, source.kind, resources, settings,
                                progress and source.kind != InputKind.IMAGE, started)


def recommend_for_frames(frames, n_frames: int | None, name: str, kind: str, resources: Resources,
                         params: InferenceSettings | Mapping | None = None, progress: bool = False,
                         started: float | None = None) -> InferenceResult:
    """``recommend_for_input`` for frames already in memory (RGB uint8; e.g. a decoded upload): ``name`` and
    ``kind`` (InputKind) describe them in the result; ``started`` (perf_counter) is when the call began."""
    settings = settings_from(params)
    started = time.perf_counter() if started is None else started
    detector = resources.detector(settings)
    tracked = track_faces(frames, n_frames, detector, resources.predictor.framing, settings, progress)
    min_frames = min(settings.min_track_frames, tracked.frames)
    usable = [t for t in tracked.tracks if len(t.crops) >= max(1, min_frames)]
    faces = {**tracked.faces, "tracks": len(tracked.tracks), "short_tracks": len(tracked.tracks) - len(usable)}
    viewers = read_viewers(usable, resources.predictor, settings)
    return result_for_viewers(viewers, faces, tracked.frames, name, kind, resources, settings, started)


def cold_start_reason(faces: Mapping[str, int]) -> str:
    """Why no face was usable, from the detection counts (``detections`` = faces read)."""
    return ("no face found" if faces["detections"] + faces["too_small"] + faces["unclear"] == 0 else
            "faces too small" if faces["too_small"] and not faces["detections"] else
            "faces unclear (covered or blurred?)" if faces["unclear"] and not faces["detections"] else
            "faces seen too briefly")


def result_for_viewers(viewers: list[ViewerResult], faces: Mapping[str, int], frames: int, name: str, kind: str,
                       resources: Resources, settings: InferenceSettings, started: float) -> InferenceResult:
    """The list for viewers already read: one viewer's, the group's (``settings.group_strategy``; each viewer's
    contribution is set on it), or the cold-start list when there is none; with the notes that say why."""
    notes = [f"viewer {v.viewer_id}: emotion {v.emotion_detected} at confidence {v.emotion_confidence:.2f} is below "
             f"{settings.emotion_confidence_threshold}: treated as neutral" for v in viewers if v.emotion_low_confidence]
    notes += [f"viewer {v.viewer_id}: age uncertain (no group reached {settings.age_choice.confident}); "
              f"{v.age_group} chosen by the {v.age_rule} rule" for v in viewers if v.age_uncertain]
    notes += [f"viewer {v.viewer_id}: a child group was likelier but below the child bar "
              f"{settings.age_choice.child_min_probability}: {v.age_group} chosen" for v in viewers
              if v.age_rule == "child_bar" and not v.age_uncertain]
    n, stance = settings.top_n, settings.stance
    fallback = None
    if not viewers:
        cs = settings.cold_start
        reason = cold_start_reason(faces)
        items, which = cold_start(resources.cold_start_lists, cs.age_group, cs.gender)
        items = items[:n]
        films = _films(items, [1.0 - r / max(1, len(items)) for r in range(len(items))], resources.titles)
        fallback = {"reason": reason, "list": which}
        explanation = {"cold_start": which, "rule": resources.cold_start_lists.get("rule", "")}
        notes.append(f"{reason}: showing the cold-start list ({which}); no attribute was guessed")
        mode = "cold_start"
    elif len(viewers) == 1:
        v = viewers[0]
        rec = _recommend(resources.recommender, stance)(
            Viewer(age_group=v.age_group, gender=None if v.gender == "unknown" else v.gender, emotion=v.emotion), n)
        films, explanation, mode = _films(rec.item_ids, rec.scores, resources.titles), rec.explanation, "single_viewer"
    else:
        group_viewers = [Viewer(age_group=v.age_group, gender=None if v.gender == "unknown" else v.gender,
                                emotion=v.emotion) for v in viewers]
        combined = combine(group_viewers, _recommend(resources.recommender, stance), settings.group_strategy, n,
                           settings.group_pool, [v.emotion_confidence for v in viewers])
        for v, c in zip(viewers, combined["contributions"]):
            v.contribution = c
        films, explanation, mode = (_films(combined["item_ids"], combined["scores"], resources.titles),
                                    combined["explanation"], "group")
    seconds = time.perf_counter() - started
    return InferenceResult(
        input=name, input_kind=kind, mode=mode, frames=frames, seconds=round(seconds, 4),
        fps=round(frames / seconds, 2) if seconds > 0 else 0.0, viewers=viewers, recommendations=films,
        explanation=explanation, faces=dict(faces), fallback=fallback, notes=notes,
        model_card=dict(resources.model_card),
        settings=settings.model_dump(include={"detector", "detect_every", "detect_max_side", "min_face_size",
                                              "group_strategy", "emotion_confidence_threshold", "top_n"}))
