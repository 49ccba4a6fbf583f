"""The trained models as one :class:`FaceAttributePredictor`: which networks it keeps and how it weighs them."""

from __future__ import annotations

from collections.abc import Mapping

from hybrid_recommender.face_models.params import FaceModelsParams
from hybrid_recommender.face_models.predictor import FaceAttributePredictor
from hybrid_recommender.face_models.preprocessing import Preprocessing
from hybrid_recommender.face_models.summary import model_card


def head_weights_by_model(models: Mapping[str, Mapping], static: list[str]) -> dict[str, dict[str, float]]:
    """Each head's frame-model weights, proportional to that head's validation accuracy (paper: fusion weights
    from validation accuracy); a network that does not have a head gives it nothing."""
    weights = {m: {} for m in models}
    for head in dict.fromkeys(h for m in static for h in models[m]["heads"]):
        having = [m for m in static if head in models[m]["heads"]]
        acc = {m: models[m]["val_accuracy"].get(head, 1.0) for m in having}
        total = sum(acc.values())
        for m in having:
            weights[m][head] = acc[m] / total if total else 1.0 / len(having)
    return weights


def assemble_predictor(frame_cnns: Mapping, cnn_branch: Mapping, lstm_branch: Mapping, fusion: Mapping,
                       settings: FaceModelsParams) -> FaceAttributePredictor:
    """The fused model as one predictor object, its model card included."""
    models = frame_cnns["models"]
    static = [m for m in models if models[m]["backbone"] in settings.frame_cnn.backbones]
    used = {s["frame_model"] for s in [*cnn_branch.values(), *lstm_branch.values()]} | set(static)
    weights = head_weights_by_model(models, static)
    lstm_cfg, framing = settings.video.lstm, settings.framing
    return FaceAttributePredictor(
        Preprocessing(**frame_cnns["preprocessing"]), frame_cnns["heads"],
        {m: models[m]["net"] for m in models if m in used},
        {m: weights[m] for m in models if m in used},
        svms={k: {kk: v[kk] for kk in ("frame_model", "normalisation", "C", "coef", "intercept", "classes")}
              for k, v in cnn_branch.items()},
        lstms={k: {kk: v[kk] for kk in ("frame_model", "hidden", "in_fusion", "net")} for k, v in lstm_branch.items()},
        fusion=fusion,
        clips={"length": lstm_cfg.clip_length, "stride": lstm_cfg.clip_stride, "pad": lstm_cfg.pad},
        framing={"image_size": framing.image_size, "margin": framing.margin, "thresholds": list(framing.thresholds)},
        metadata={"frame_model_val_accuracy": {m: models[m]["val_accuracy"] for m in models},
                  "frame_cnn_runs": {m: models[m]["run_id"] for m in models}},
        model_card=model_card(frame_cnns, static, fusion, settings.environment),
    )
