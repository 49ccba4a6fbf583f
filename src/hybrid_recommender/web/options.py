"""The web page's own limits and live settings. What inference does is still ``InferenceSettings`` (the same
values as the ``recommend`` command); these only bound what a browser or an app may send, and how often the live
camera's viewers are read. ``hybrid-recommender serve`` options set them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, PositiveInt

from hybrid_recommender.param_types import Section

Positive = Annotated[float, Field(gt=0)]


class WebOptions(Section):
    max_upload_mb: Positive = 50             # one photo or short video (bytes, checked before decoding)
    max_megapixels: Positive = 16            # a larger photo is refused from its header, before decoding
    max_video_frames: PositiveInt = 300      # frames read from an uploaded video (about 10 s at 30 fps)
    max_frame_kb: PositiveInt = 2048         # one live camera frame (a 640x480 JPEG is about 50 KB)
    max_frame_megapixels: Positive = 2.1     # one live camera frame (1920x1080)
    max_live_sessions: PositiveInt = 8       # cameras served at once; more are asked to try again later
    live_window: PositiveInt = 16            # crops per live viewer that a reading uses (one LSTM clip)
    frame_rate: PositiveInt = 12             # frames per second the page sends (never more than one in flight)
    save_frames_dir: str | None = None       # live frames are written here only when asked (--save-frames)
