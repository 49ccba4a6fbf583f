"""Inference: recommend films to whoever is in front of a camera (image, video, folder of frames, camera index).

>>> from hybrid_recommender.inference import recommend_for_input, load_resources      # doctest: +SKIP
>>> result = recommend_for_input("clip.mp4", load_resources(paths))                   # doctest: +SKIP
>>> result.to_json()                                                                   # doctest: +SKIP

See docs/inference.md for the output fields, the settings and the measured speed.
"""

from hybrid_recommender.inference.core import (
    Resources,
    recommend_for_frames,
    recommend_for_input,
)
from hybrid_recommender.inference.resources import load_resources
from hybrid_recommender.inference.result import InferenceResult, render_text
from hybrid_recommender.inference.settings import InferenceSettings, settings_from

__all__ = ["InferenceResult", "InferenceSettings", "Resources", "load_resources", "recommend_for_frames",
           "recommend_for_input", "render_text", "settings_from"]
