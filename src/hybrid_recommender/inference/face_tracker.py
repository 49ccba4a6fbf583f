"""A simple box-overlap (IoU) tracker: each viewer keeps one identity across frames, so the sequence branches
see each viewer's own crops.

Detections (every k-th frame) are matched to tracks by the Hungarian method on 1 - IoU; between detections a
track's box moves with its smoothed velocity (constant-velocity prediction), so crops follow a moving face.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torchvision.ops import box_iou


@dataclass
class Track:
    track_id: int
    box: np.ndarray                 # box at the last detection
    last_detected: int              # frame index of that detection
    first_frame: int
    score: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))
    hits: int = 1
    misses: int = 0                 # detection rounds in a row without a match
    crops: deque = field(default_factory=deque)
    frames: list[int] = field(default_factory=list)

    def box_at(self, frame_index: int) -> np.ndarray:
        return self.box + self.velocity * (frame_index - self.last_detected)


class IouTracker:
    """Greedy-free (Hungarian) IoU association; a track ends after ``max_missed`` unmatched detection rounds."""

    def __init__(self, iou_threshold: float, max_missed: int, window: int, velocity_smoothing: float = 0.5):
        self.iou_threshold, self.max_missed = float(iou_threshold), int(max_missed)
        self.window, self.alpha = int(window), float(velocity_smoothing)
        self.active: list[Track] = []
        self.finished: list[Track] = []
        self._next_id = 1

    def update(self, boxes: np.ndarray, scores: np.ndarray, frame_index: int) -> list[Track]:
        """Match this frame's detections to tracks; returns the tracks seen in this frame."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        matched_tracks, matched_dets = [], []
        if self.active and len(boxes):
            predicted = np.stack([t.box_at(frame_index) for t in self.active])
            iou = box_iou(torch.from_numpy(predicted), torch.from_numpy(boxes)).numpy()
            rows, cols = linear_sum_assignment(-iou)
            for r, c in zip(rows, cols):
                if iou[r, c] >= self.iou_threshold:
                    matched_tracks.append(r)
                    matched_dets.append(c)
        seen = []
        for r, c in zip(matched_tracks, matched_dets):
            t = self.active[r]
            dt = max(1, frame_index - t.last_detected)
            t.velocity = self.alpha * (boxes[c] - t.box) / dt + (1 - self.alpha) * t.velocity
            t.box, t.last_detected, t.score = boxes[c], frame_index, float(scores[c])
            t.hits += 1
            t.misses = 0
            seen.append(t)
        still = []
        for i, t in enumerate(self.active):
            if i in matched_tracks:
                still.append(t)
                continue
            t.misses += 1
            (self.finished if t.misses > self.max_missed else still).append(t)
        for c in range(len(boxes)):
            if c not in matched_dets:
                t = Track(self._next_id, boxes[c], frame_index, frame_index, float(scores[c]),
                          crops=deque(maxlen=self.window))
                self._next_id += 1
                still.append(t)
                seen.append(t)
        self.active = still
        return seen

    def visible(self) -> list[Track]:
        """Tracks matched at their last detection round (their box is followed until the next detection)."""
        return [t for t in self.active if t.misses == 0]

    def all_tracks(self) -> list[Track]:
        return sorted(self.finished + self.active, key=lambda t: t.track_id)
