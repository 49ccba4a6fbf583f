"""What one inference returns: viewers with their attributes and confidences, the group, the list and why.

``InferenceResult.to_dict()`` is the documented JSON (docs/inference.md, "Output"); ``render_text`` is the
human-readable form the command prints.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 1


@dataclass
class ViewerResult:
    viewer_id: int
    frames: int                       # crops of this viewer that the models read
    first_frame: int
    last_frame: int
    box: list[float]                  # last box (x1, y1, x2, y2) in frame pixels
    age_group: str
    age_group_confidence: float       # the chosen group's calibrated probability
    age_rule: str                     # which rule chose the group (face_models/age_choice.py)
    age_uncertain: bool               # True: no group reached the confidence bar
    age_expected: float | None        # expected age in years (None: the predictor has no exact-age head)
    gender: str                       # "unknown" when below the gender confidence threshold
    gender_confidence: float
    emotion: str                      # the emotion used for recommending
    emotion_detected: str             # the model's most likely emotion over the window
    emotion_confidence: float
    emotion_low_confidence: bool      # True: below the threshold, so treated as neutral
    probabilities: dict[str, dict[str, float]] = field(default_factory=dict)
    emotion_branches: dict[str, dict[str, float]] = field(default_factory=dict)
    contribution: dict[str, Any] | None = None


@dataclass
class Film:
    rank: int
    item_id: int
    title: str
    score: float


@dataclass
class InferenceResult:
    input: str
    input_kind: str
    mode: str                         # single_viewer | group | cold_start
    frames: int
    seconds: float
    fps: float
    viewers: list[ViewerResult]
    recommendations: list[Film]
    explanation: dict[str, Any]
    faces: dict[str, int]             # detections, too_small, unclear, short_tracks, tracks
    fallback: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    model_card: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=_default))

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)


def _default(o):
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    return str(o)


def render_text(result: InferenceResult) -> str:
    """A short report for a terminal."""
    speed = (f"{result.seconds * 1000:.0f} ms" if result.frames == 1
             else f"{result.frames} frames, {result.fps:.1f} fps end to end")
    lines = [f"input: {result.input} ({result.input_kind}, {speed})"]
    faces = result.faces
    lines.append(f"faces: {len(result.viewers)} viewer(s) from {faces.get('detections', 0)} detection(s); "
                 f"excluded: {faces.get('too_small', 0)} too small, {faces.get('unclear', 0)} unclear, "
                 f"{faces.get('short_tracks', 0)} too briefly seen")
    for v in result.viewers:
        flag = " (low confidence: treated as neutral)" if v.emotion_low_confidence else ""
        age_note = (f", uncertain, by {v.age_rule}" if v.age_uncertain or v.age_rule == "child_bar" else "")
        years = f", ~{v.age_expected:.0f} y" if v.age_expected is not None else ""
        lines.append(f"  viewer {v.viewer_id}: age {v.age_group} ({v.age_group_confidence:.2f}{years}{age_note}), "
                     f"gender {v.gender} ({v.gender_confidence:.2f}), emotion {v.emotion_detected} "
                     f"({v.emotion_confidence:.2f}){flag}, {v.frames} frame(s)")
        if v.contribution:
            c = v.contribution
            lines.append(f"    contribution: mean utility {c['mean_utility']:.2f}, share {c['share_of_group_score']:.2f},"
                         f" {c['films_from_own_top_n']} film(s) from own top list")
    if result.mode == "cold_start":
        lines.append(f"fallback: {result.fallback['reason']} -> cold-start list ({result.fallback['list']})")
    elif result.mode == "group":
        ex = result.explanation
        room = f", room emotion {ex['room_emotion']}" if "room_emotion" in ex else ""
        lines.append(f"group: {len(result.viewers)} viewers, strategy {ex['strategy']}{room}")
    else:
        ex = result.explanation
        lines.append(f"single viewer: {ex.get('recommender', '')}, favoured cluster {ex.get('favoured_cluster', '-')}"
                     f" ({ex.get('favoured_cluster_top_genres', '')}), group fallback {ex.get('fallback', 'none')}")
    lines.append("recommendations:")
    lines += [f"  {f.rank:2d}. {f.title} (id {f.item_id}, score {f.score:.3f})" for f in result.recommendations]
    for note in result.notes:
        lines.append(f"note: {note}")
    card = result.model_card
    if card:
        lines.append("model card: " + json.dumps(card, default=str)[:400])
    else:
        lines.append("model card: none in this predictor (trained before model cards were added)")
    return "\n".join(lines)
