"""Inference: recommend films to whoever is in front of a camera (image, video, folder of frames, camera index).

>>> from hybrid_recommender.inference import recommend_for_input, load_resources      # doctest: +SKIP
>>> result = recommend_for_input("clip.mp4", load_resources(paths))                   # doctest: +SKIP
>>> result.to_json()                                                                   # doctest: +SKIP

See docs/inference.md for the output fields, the settings and the measured speed.
"""

from hybrid_recommender.inference.core import (
    DEFAULTS,
    Resources,
    recommend_for_input,
    settings_from,
)
from hybrid_recommender.inference.result import InferenceResult, render_text

__all__ = ["DEFAULTS", "InferenceResult", "Resources", "recommend_for_input", "render_text", "settings_from",
           "load_resources"]


def load_resources(*args, **kwargs):
    from hybrid_recommender.inference.resources import load_resources as _load

    return _load(*args, **kwargs)
