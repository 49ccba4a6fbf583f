"""One browser's live camera: its own face tracker, its viewers' readings and its list, kept apart from every
other browser's (one :class:`LiveSession` per connection, named by a random session id).

Per frame: decode the JPEG in memory -> follow the faces (``FaceFollower``: detect every ``detect_every``
frames, IoU tracker between) -> boxes with each viewer's latest reading. Every ``detect_every`` frames, offset
from the detection frames so the two costs never land on one frame, the visible viewers are read again over
their last ``live_window`` crops (``read_viewers``: the command's reading, fused emotion included). The list is
made again (``result_for_viewers``) only when the audience or its mood changes: who is there, an age group, a
gender or an emotion, the strategy or the list length; not every frame.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.inference.core import (
    FaceFollower,
    Resources,
    cold_start_reason,
    read_viewers,
    result_for_viewers,
)
from hybrid_recommender.inference.inputs import InputKind, decode_image
from hybrid_recommender.inference.result import ViewerResult
from hybrid_recommender.inference.settings import InferenceSettings
from hybrid_recommender.web.options import WebOptions
from hybrid_recommender.web.payload import with_movie_details
from hybrid_recommender.web.uploads import settings_with

# What each box carries every frame (the full reading comes with the list).
BOX_FIELDS = ("viewer_id", "age_group", "age_group_confidence", "gender", "gender_confidence", "emotion",
              "emotion_detected", "emotion_confidence", "emotion_low_confidence")


class LiveSession:
    """Frames of one camera in, boxes with attributes (and, when the audience changes, a new list) out."""

    def __init__(self, session_id: str, resources: Resources, settings: InferenceSettings, options: WebOptions):
        self.id, self.resources, self.options = session_id, resources, options
        tracker = settings.tracker.model_copy(update={"window": options.live_window})
        self.settings = settings.model_copy(update={"tracker": tracker})
        self.follower = FaceFollower(resources.detector(self.settings), resources.predictor.framing, self.settings)
        self.readings: dict[int, ViewerResult] = {}           # track id -> its latest reading
        self.audience: tuple | None = None                     # what the current list was made for
        self.list_version = 0
        self.received = 0                                      # frames received, readable or not
        self.readings_done = 0
        self.started = time.perf_counter()
        self.save_dir = Path(options.save_frames_dir) / session_id if options.save_frames_dir else None

    def choose(self, group_strategy: str | None = None, top_n: int | str | None = None) -> dict:
        """The viewer's choices on the page; the list follows at the next frame."""
        self.settings = settings_with(self.settings, group_strategy, top_n)
        self.audience = None
        return {"type": "settings", "session": self.id, "group_strategy": self.settings.group_strategy,
                "top_n": self.settings.top_n}

    def process(self, jpeg: bytes) -> dict:
        """One camera frame (JPEG bytes) -> the faces in it, and the list when it changed."""
        started = time.perf_counter()
        self.received += 1
        frame = self._decoded(jpeg)
        index = self.follower.frames
        visible = self.follower.step(frame)
        self.follower.tracker.finished.clear()     # a live session never reports past tracks: free their crops
        every = self.settings.detect_every
        reading_due = index % every == every // 2
        if reading_due:
            self._read(visible)
        changed_choice = self.audience is None and self.readings_done > 0
        result = self._list_if_changed(visible) if reading_due or changed_choice else None
        if self.save_dir is not None:             # only when the server was started with --save-frames
            self.save_dir.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(self.save_dir / f"{index:06d}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        faces = []
        for track in visible:
            reading = self.readings.get(track.track_id)
            faces.append({"track_id": track.track_id,
                          "box": [round(float(x), 1) for x in track.box_at(index)],
                          "viewer": {k: getattr(reading, k) for k in BOX_FIELDS} if reading else None})
        return {"type": "frame", "session": self.id, "frame": self.received, "width": frame.shape[1],
                "height": frame.shape[0], "faces": faces, "list_version": self.list_version, "list": result,
                "ms": round((time.perf_counter() - started) * 1000, 1)}

    def _decoded(self, jpeg: bytes):
        kb = len(jpeg) / 1024
        if kb > self.options.max_frame_kb:
            raise InputDataError(f"camera frame: {kb:.0f} KB is over the {self.options.max_frame_kb} KB frame limit")
        frame = decode_image(jpeg, "camera frame")
        megapixels = frame.shape[0] * frame.shape[1] / 1e6
        if megapixels > self.options.max_frame_megapixels:
            raise InputDataError(f"camera frame: {frame.shape[1]}x{frame.shape[0]} is over the "
                                 f"{self.options.max_frame_megapixels:g} MP frame limit (send 640x480)")
        return frame

    def _read(self, visible) -> None:
        """Read again every visible track seen long enough to be a viewer; a viewer's id is its track's."""
        usable = [t for t in visible if len(t.crops) >= self.settings.min_track_frames]
        viewers = read_viewers(usable, self.resources.predictor, self.settings)
        for viewer, track in zip(viewers, usable):
            viewer.viewer_id = track.track_id
        self.readings = {v.viewer_id: v for v in viewers}
        self.readings_done += 1

    def _list_if_changed(self, visible) -> dict | None:
        viewers = [self.readings[t.track_id] for t in visible if t.track_id in self.readings]
        faces = {**self.follower.last_round, "tracks": len(visible), "short_tracks": len(visible) - len(viewers)}
        s = self.settings
        audience = (s.group_strategy, s.top_n, tuple((v.viewer_id, v.age_group, v.gender, v.emotion) for v in viewers),
                    None if viewers else cold_start_reason(faces))
        if audience == self.audience:
            return None
        self.audience = audience
        for v in viewers:
            v.contribution = None                 # set again below when they are a group
        result = result_for_viewers(viewers, faces, self.follower.frames, f"live camera (session {self.id})",
                                    InputKind.CAMERA, self.resources, s, self.started)
        self.list_version += 1
        return with_movie_details(result.to_dict(), self.resources.movie_details)
