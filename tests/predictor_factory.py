"""The one factory of small face predictors for the tests and the benchmarks (benchmarks/inference_fps.py).

Random weights unless trained networks are handed in: wiring, saving and speed do not depend on the weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from hybrid_recommender.face_models import make_heads
from hybrid_recommender.face_models.networks import AgeYears, FrameCNN, SequenceLSTM
from hybrid_recommender.face_models.predictor import FaceAttributePredictor
from hybrid_recommender.face_models.preprocessing import Preprocessing
from hybrid_recommender.labels import DEFAULT_AGE_BIN_EDGES, DEFAULT_AGE_GROUPS

# conf/base/parameters_face_models.yml's framing
FRAMING = {"image_size": 64, "margin": 8, "thresholds": [0.6, 0.7, 0.7]}


def tiny_predictor(age_groups: Sequence[str] = DEFAULT_AGE_GROUPS, emotion_backbone: str = "regnetx_002",
                   face_backbone: str = "face_vgg_xs", lstm_hidden: Sequence[int] = (128,),
                   svm_classes: Sequence[int] = (0, 1, 2, 3, 5, 6), networks: Mapping[str, FrameCNN] | None = None,
                   preprocessing: Preprocessing | None = None, model_card: Mapping | None = None,
                   seed: int = 0, age_edges: Sequence[int] | None = DEFAULT_AGE_BIN_EDGES) -> FaceAttributePredictor:
    """A fused predictor as the CPU recipe builds it: an emotion network with two SVMs (l2, minmax; by default one
    emotion absent from their training) and LSTMs on its features, and a gender/age-group network.

    ``networks`` (name -> FrameCNN, e.g. trained for a few steps) replaces both: each then serves all its heads,
    without the video branches. ``age_edges`` (one more than the age groups): the age head learns exact years
    (the configured model); None, or edges that do not fit the groups: a group classifier.
    """
    torch.manual_seed(seed)
    heads = make_heads(age_groups)
    prep = preprocessing or Preprocessing()
    card = {"environment": "test", "validation_accuracy": {}, **dict(model_card or {})}
    if networks is not None:
        weights = {name: dict.fromkeys(net.classes, 1.0) for name, net in networks.items()}
        return FaceAttributePredictor(prep, heads, networks, weights, framing=FRAMING, model_card=card)
    emotion_name, face_name = f"{emotion_backbone}_emotion", f"{face_backbone}_ga"
    emotion = FrameCNN(emotion_backbone, {"emotion": heads["emotion"]}, 1, pretrained=False)
    years = (AgeYears(100, tuple(age_edges)) if age_edges is not None and len(age_edges) == len(age_groups) + 1
             else None)
    face = FrameCNN(face_backbone, {h: heads[h] for h in ("gender", "age_group")}, 1, pretrained=False, age=years)
    d, rng, classes = emotion.num_features, np.random.default_rng(seed), list(svm_classes)
    svms = {f"svm_{emotion_backbone}_{n}": {"frame_model": emotion_name, "normalisation": n, "C": 1.0,
                                            "coef": rng.normal(size=(len(classes), 3 * d)),
                                            "intercept": rng.normal(size=len(classes)), "classes": np.array(classes)}
            for n in ("l2", "minmax")}
    lstms = {f"lstm{h}_{emotion_backbone}": {"frame_model": emotion_name, "hidden": h, "in_fusion": True,
                                             "net": SequenceLSTM(d, h)} for h in lstm_hidden}
    fusion = {"svm_weights": dict.fromkeys(svms, 1 / len(svms)),
              "lstm_weights": dict.fromkeys(lstms, 1 / max(len(lstms), 1)),
              "branch_weights": {"cnn_branch": 0.55, "lstm_branch": 0.45}}
    return FaceAttributePredictor(prep, heads, {emotion_name: emotion, face_name: face},
                                  {emotion_name: {"emotion": 1.0}, face_name: {"gender": 1.0, "age_group": 1.0}},
                                  svms, lstms, fusion, framing=FRAMING, model_card=card)
