"""FaceAttributePredictor: the fused face attribute model as one object, saved as safetensors + JSON.

Usage (outside Kedro)::

    from hybrid_recommender.face_models.predictor import FaceAttributePredictor
    predictor = FaceAttributePredictor.load("data/06_models/face_attribute_predictor")
    probs = predictor.predict(faces)               # uint8 (N, H, W, C) crops, or one (H, W[, C]) crop
    probs["emotion"], probs["gender"], probs["age_group"]   # (N, 7), (N, 2), (N, 6): calibrated
    probs["age_expected"], probs["age"]            # (N,) years, (N, 101) over years 0..100 (exact-age head)
    seq = predictor.predict_sequence(frames)       # one face track: fused CNN+SVM / LSTM emotion, mean age/gender
    probs, boxes = predictor.predict_frame(rgb_frame)   # MTCNN framing (as at training) + predict, every face
    print(predictor.describe())                    # the model card: data, environment, validation accuracy

Faces must be framed as at training: an MTCNN box plus margin (``predictor.framing``), which is what
:class:`hybrid_recommender.faces.detector.FaceCropper` gives with those settings.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from hybrid_recommender.face_models import Heads
from hybrid_recommender.face_models.networks import AgeYears, FrameCNN, SequenceLSTM
from hybrid_recommender.face_models.preprocessing import (
    Preprocessing,
    as_batch,
    to_gray_uint8,
)
from hybrid_recommender.face_models.video import (
    aggregate,
    fuse,
    lstm_sequence_probs,
    svm_probabilities,
)
from hybrid_recommender.face_models.video import normalise as normalise_video
from hybrid_recommender.faces.detector import FaceCropper

log = logging.getLogger(__name__)
# 2: heads from the configured age groups, a model card, face_vgg backbones, no random_crop_min
# 3: one network per head group (each with its own heads), frame-model weights per head
# 4: an exact-age head (years, groups summed from it) and a temperature per head
FORMAT_VERSION = 4
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"


class FaceAttributePredictor:
    """Frame CNN heads for age group, gender and emotion of faces; fused CNN+SVM and LSTM branches for sequences.

    ``frame_model_weights``: network -> head -> weight. A head's probabilities are the weighted sum over the
    networks that have it (weights from validation accuracy); a network with no weights is kept only for the LSTM
    branch's features (paper: VGG-16).
    """

    def __init__(self, preprocessing: Preprocessing, heads: Heads, frame_models: Mapping[str, FrameCNN],
                 frame_model_weights: Mapping[str, Mapping[str, float]], svms: Mapping[str, dict] | None = None,
                 lstms: Mapping[str, dict] | None = None, fusion: Mapping | None = None,
                 clips: Mapping | None = None, framing: Mapping | None = None, metadata: Mapping | None = None,
                 model_card: Mapping | None = None, batch_size: int = 256):
        self.prep = preprocessing
        self.heads = {h: tuple(c) for h, c in heads.items()}
        self.frame_models = {k: m.eval() for k, m in frame_models.items()}
        self.frame_model_weights = {k: dict(w) for k, w in frame_model_weights.items()}
        self.svms = dict(svms or {})
        self.lstms = {k: {**v, "net": v["net"].eval()} for k, v in (lstms or {}).items()}
        self.fusion = dict(fusion or {})
        self.clips = {"length": 16, "stride": 8, "pad": "loop", **dict(clips or {})}
        self.framing = dict(framing or {})
        self.metadata = dict(metadata or {})
        self.model_card = dict(model_card or {})
        self.batch_size = batch_size
        self.labels = {h: list(c) for h, c in self.heads.items()}
        self._cropper = None

    # ------------------------------------------------------------------------------------ inference
    def _prepare(self, faces) -> torch.Tensor:
        if isinstance(faces, torch.Tensor) and faces.dtype == torch.uint8 and faces.ndim == 4 and faces.shape[1] == 1:
            return faces
        return to_gray_uint8(as_batch(np.asarray(faces)), self.prep.image_size)

    @torch.inference_mode()
    def _run(self, images: torch.Tensor, ten_crop: bool, want_features: bool = False):
        probs = {h: np.zeros((len(images), len(c)), np.float64) for h, c in self.heads.items()}
        feats = {k: [] for k in self.frame_models}
        for name, net in self.frame_models.items():
            w = self.frame_model_weights.get(name, {})
            if not any(w.values()) and not want_features:
                continue  # a frame model kept only for the LSTM branch's features (paper: VGG-16)
            for i in range(0, len(images), self.batch_size):
                x = images[i:i + self.batch_size]
                out, f = net.probabilities(x, self.prep, ten_crop)
                for h, wh in w.items():
                    probs[h][i:i + len(x)] += wh * out[h].double().numpy()
                if net.age is not None and w.get("age_group"):   # the years behind the groups, weighted alike
                    for h in ("age", "age_expected"):
                        part = w["age_group"] * out[h].double().numpy()
                        probs.setdefault(h, np.zeros((len(images), *part.shape[1:])))[i:i + len(x)] += part
                if want_features:
                    feats[name].append(f.float().numpy())
        feats = {k: (np.concatenate(v) if v else np.zeros((0, 0), np.float32)) for k, v in feats.items()}
        return probs, feats

    @property
    def age_edges(self) -> list[int] | None:
        """The age groups' edges in years when an age head learns exact ages (else None)."""
        ages = [m.age for m in self.frame_models.values() if m.age is not None]
        return list(ages[0].edges) if ages else None

    def predict(self, faces, ten_crop: bool = False) -> dict[str, np.ndarray]:
        """Calibrated probabilities per attribute for face crops: uint8 (N, H, W, C) / (H, W, C) / (H, W); RGB or
        gray. With an exact-age head also ``age`` (N, years 0..max) and ``age_expected`` (N,), in years."""
        probs, _ = self._run(self._prepare(faces), ten_crop)
        return probs

    def predict_sequence(self, frames, ten_crop: bool = False) -> dict:
        """One face track (T >= 1 frames of one person; a still is a one-frame sequence).

        ``emotion`` is the fusion of the CNN branch (SVMs on aggregated frame features) and the LSTM branch
        (16-frame clips, looped when shorter), weighted by validation accuracy; ``gender`` and ``age_group`` are
        the frame heads averaged over the frames. ``branches`` holds each branch's emotion probabilities.
        """
        images = self._prepare(frames)
        if len(images) == 0:
            raise ValueError("predict_sequence needs at least one frame")
        probs, feats = self._run(images, ten_crop, want_features=True)
        result = {h: p.mean(0) for h, p in probs.items()}
        members = {}
        for name, s in self.svms.items():
            v = normalise_video(aggregate(feats[s["frame_model"]]), s["normalisation"])[None]
            d = np.full((1, len(self.heads["emotion"])), -1e3)
            d[:, s["classes"]] = v @ s["coef"].T + s["intercept"]
            members[name] = svm_probabilities(d)[0]
        for name, m in self.lstms.items():
            members[name] = lstm_sequence_probs(m["net"], [feats[m["frame_model"]]], self.clips["length"],
                                                self.clips["stride"], self.clips["pad"])[0]
        branches = {}
        svm_w = {k: w for k, w in self.fusion.get("svm_weights", {}).items() if k in members}
        lstm_w = {k: w for k, w in self.fusion.get("lstm_weights", {}).items() if k in members}
        if svm_w:
            branches["cnn_branch"] = fuse({k: members[k] for k in svm_w}, svm_w)
        if lstm_w:
            branches["lstm_branch"] = fuse({k: members[k] for k in lstm_w}, lstm_w)
        branches["frame_cnn"] = result["emotion"]
        bw = {k: w for k, w in self.fusion.get("branch_weights", {}).items() if k in branches}
        if bw:
            result["emotion"] = fuse({k: branches[k] for k in bw}, bw)
        result["branches"] = branches
        result["members"] = members
        return result

    def predict_frame(self, frame: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Every face of an RGB frame, framed by MTCNN as the training faces were: (probabilities, boxes)."""
        if self._cropper is None:
            self._cropper = FaceCropper(image_size=self.framing["image_size"], margin=self.framing["margin"],
                                        thresholds=self.framing["thresholds"])
        crops, boxes = self._cropper.every_face(frame)
        if not crops:
            return {h: np.zeros((0, len(c))) for h, c in self.heads.items()}, boxes
        return self.predict(np.stack(crops)), boxes

    def top(self, probs: Mapping[str, np.ndarray]) -> list[dict[str, str]]:
        """Most likely label per attribute, per face."""
        n = len(next(iter(probs.values())))
        return [{h: self.labels[h][int(np.argmax(probs[h][i]))] for h in self.heads} for i in range(n)]

    def describe(self) -> str:
        """The model card as text: what the model learned from, where, for how long, and how accurate it was."""
        card = self.model_card
        if not card:
            return "face attribute predictor: no model card (saved before format 2)"
        lines = [f"face attribute predictor ({card.get('environment')} environment, trained {card.get('trained_at')}, "
                 f"{card.get('fit_minutes')} min on {card.get('device')})"]
        for name, net in card.get("networks", {}).items():
            lines.append(f"  {name}: {net.get('backbone')} for {', '.join(net.get('heads', []))}, "
                         f"{net.get('epochs')} epochs, data {net.get('train_faces')}")
        for name, acc in card.get("validation_accuracy", {}).items():
            lines.append(f"  validation accuracy {name}: {acc}")
        for name, by_split in card.get("age", {}).items():
            for split, m in by_split.items():
                lines.append(f"  {name} age on {split}: groups {m.get('accuracy')}, viewers' four groups "
                             f"{m.get('accuracy_viewer_ages')}, MAE {m.get('mae_years')} y (8-47: "
                             f"{m.get('mae_years_viewer_ages')}), adults read as children "
                             f"{m.get('adults_as_children')}, ECE {m.get('ece')}")
        for name, rows in card.get("calibration", {}).items():
            for r in rows:
                if r["split"] == "test":
                    lines.append(f"  {name} {r['attribute']} {r['dataset']}/test: temperature {r['temperature']:.3f}, "
                                 f"ECE {r['ece_uncalibrated']:.3f} -> {r['ece']:.3f}")
        return "\n".join(lines)

    # ------------------------------------------------------------------------------------- save / load
    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {}
        for name, net in self.frame_models.items():
            tensors.update({f"frame.{name}.{k}": v.detach().contiguous() for k, v in net.state_dict().items()})
        for name, s in self.svms.items():
            tensors[f"svm.{name}.coef"] = torch.as_tensor(np.ascontiguousarray(s["coef"], np.float32)).contiguous()
            tensors[f"svm.{name}.intercept"] = torch.as_tensor(np.ascontiguousarray(s["intercept"], np.float32)).contiguous()
            tensors[f"svm.{name}.classes"] = torch.as_tensor(np.ascontiguousarray(s["classes"], np.int64)).contiguous()
        for name, m in self.lstms.items():
            tensors.update({f"lstm.{name}.{k}": v.detach().contiguous() for k, v in m["net"].state_dict().items()})
        config = {
            "format_version": FORMAT_VERSION,
            "preprocessing": self.prep.to_dict(),
            "labels": self.labels,
            "model_card": self.model_card,
            "frame_models": {k: {"backbone": m.backbone_name, "in_chans": 1, "heads": list(m.classes),
                                 "age": m.age.to_dict() if m.age is not None else None,
                                 "weights": self.frame_model_weights.get(k, {})}
                             for k, m in self.frame_models.items()},
            "svms": {k: {"frame_model": s["frame_model"], "normalisation": s["normalisation"], "C": s.get("C")}
                     for k, s in self.svms.items()},
            "lstms": {k: {"frame_model": m["frame_model"], "hidden": m["hidden"], "in_fusion": m.get("in_fusion", True),
                          "feature_dim": m["net"].lstm.input_size} for k, m in self.lstms.items()},
            "fusion": self.fusion, "clips": self.clips, "framing": self.framing, "metadata": self.metadata,
        }
        tmp = folder / (WEIGHTS_FILE + ".tmp")
        save_file(tensors, str(tmp))
        tmp.replace(folder / WEIGHTS_FILE)
        (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2, default=_json_default))
        return folder

    @classmethod
    def load(cls, folder: str | Path, batch_size: int = 256) -> "FaceAttributePredictor":
        folder = Path(folder)
        config = json.loads((folder / CONFIG_FILE).read_text())
        if config.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{folder}: predictor format {config.get('format_version')}, this code reads format "
                             f"{FORMAT_VERSION}; train it again with `kedro run --pipelines face_models`")
        tensors = load_file(str(folder / WEIGHTS_FILE))

        def part(prefix):
            return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}

        heads = {h: tuple(c) for h, c in config["labels"].items()}
        frame_models, weights = {}, {}
        for name, spec in config["frame_models"].items():
            age = AgeYears(spec["age"]["max_age"], tuple(spec["age"]["edges"])) if spec.get("age") else None
            net = FrameCNN(spec["backbone"], {h: heads[h] for h in spec["heads"]}, spec["in_chans"], pretrained=False,
                           age=age)
            net.load_state_dict(part(f"frame.{name}."))
            frame_models[name] = net
            weights[name] = spec["weights"]
        svms = {name: {**spec, "coef": part(f"svm.{name}.")["coef"].numpy().astype(np.float64),
                       "intercept": part(f"svm.{name}.")["intercept"].numpy().astype(np.float64),
                       "classes": part(f"svm.{name}.")["classes"].numpy()}
                for name, spec in config["svms"].items()}
        lstms = {}
        for name, spec in config["lstms"].items():
            net = SequenceLSTM(spec["feature_dim"], spec["hidden"], len(heads["emotion"]))
            net.load_state_dict(part(f"lstm.{name}."))
            lstms[name] = {**spec, "net": net}
        predictor = cls(Preprocessing(**config["preprocessing"]), heads, frame_models, weights, svms, lstms,
                        config["fusion"], config["clips"], config["framing"], config["metadata"], config["model_card"],
                        batch_size)
        log.debug("%s", predictor.describe())   # `describe()` and `model_card` give it to callers
        return predictor


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
