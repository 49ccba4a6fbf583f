"""face_models nodes: wiring only, each one call into :mod:`hybrid_recommender.face_models`.

Each node validates the ``face_models`` parameters once (:class:`FaceModelsParams`: a misspelt key or a value out
of range fails naming it) and hands the parts down; environments (conf/fast, conf/cpu, conf/paper, conf/smoke)
override single keys. Torch's thread count is set once by :class:`hybrid_recommender.hooks.TorchThreadsHook`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from hybrid_recommender.face_models import assembly, branches, framing, summary
from hybrid_recommender.face_models import frame_cnns as frame_cnn_training
from hybrid_recommender.face_models.data import Sequences
from hybrid_recommender.face_models.params import FaceModelsParams
from hybrid_recommender.face_models.predictor import FaceAttributePredictor


def reframe_with_mtcnn(faces: pd.DataFrame, pixels: np.ndarray, params: Mapping) -> tuple[np.ndarray, pd.DataFrame]:
    """The faces re-framed with the MTCNN step used at inference, and a report of how many it found."""
    return framing.reframe_with_mtcnn(pixels, FaceModelsParams.model_validate(params).framing)


def train_frame_cnns(fer2013_faces, fer2013_pixels, utkface_faces, utkface_pixels, utkface_mtcnn_pixels,
                     ckplus_faces, ckplus_pixels, rafdb_faces, rafdb_pixels, params: Mapping, age_groups: Mapping,
                     exclude_blank: bool, callbacks=()):
    """Every frame CNN the configuration names, trained and evaluated (each a nested MLflow run): the models,
    their metrics and confusion matrices. ``callbacks``: extra Lightning callbacks (Kedro passes none)."""
    sources = {"fer2013": (fer2013_faces, fer2013_pixels), "utkface": (utkface_faces, utkface_pixels),
               "ckplus": (ckplus_faces, ckplus_pixels), "rafdb": (rafdb_faces, rafdb_pixels)}
    return frame_cnn_training.train_frame_cnns(sources, utkface_mtcnn_pixels, FaceModelsParams.model_validate(params),
                                               age_groups, exclude_blank, callbacks)


def build_emotion_sequences(ckplus_faces, ckplus_pixels, afew_faces, afew_pixels, params: Mapping) -> Sequences:
    """CK+ and AFEW emotion sequences (the configured ones)."""
    return branches.emotion_sequences({"ckplus": (ckplus_faces, ckplus_pixels), "afew": (afew_faces, afew_pixels)},
                                      FaceModelsParams.model_validate(params))


def extract_sequence_features(frame_cnns: Mapping, sequences: Sequences, params: Mapping) -> dict:
    """Penultimate features of every sequence frame from each emotion frame CNN."""
    return branches.sequence_features_by_model(frame_cnns, sequences, FaceModelsParams.model_validate(params))


def train_cnn_branch(features: Mapping, sequences: Sequences, params: Mapping) -> dict:
    """The CNN+SVM branch's members (nested runs)."""
    return branches.cnn_branch(features, sequences, FaceModelsParams.model_validate(params))


def train_lstm_branch(features: Mapping, sequences: Sequences, params: Mapping) -> dict:
    """The LSTM branch's members (nested runs)."""
    return branches.lstm_branch(features, sequences, FaceModelsParams.model_validate(params))


def fuse_branches(cnn_branch: Mapping, lstm_branch: Mapping, sequences: Sequences, params: Mapping):
    """The fusion weights, every member's/branch's metrics and confusion matrices (a nested run)."""
    return branches.fused_branches(cnn_branch, lstm_branch, sequences, FaceModelsParams.model_validate(params).tracking)


def assemble_predictor(frame_cnns: Mapping, cnn_branch: Mapping, lstm_branch: Mapping, fusion: Mapping,
                       params: Mapping) -> FaceAttributePredictor:
    """The fused model as one predictor object (saved as safetensors + JSON through the catalog)."""
    return assembly.assemble_predictor(frame_cnns, cnn_branch, lstm_branch, fusion,
                                       FaceModelsParams.model_validate(params))


def summarise_face_models(frame_cnn_metrics: pd.DataFrame, video_metrics: pd.DataFrame) -> pd.DataFrame:
    """Headline accuracies, each named by data set, split and protocol, beside the paper's nearest figure."""
    return summary.summarise_face_models(frame_cnn_metrics, video_metrics)


def face_models_metrics(face_models_summary: pd.DataFrame) -> dict:
    """The summary's accuracies as metrics of the kedro run (through the catalog, like the other pipelines)."""
    return summary.summary_metrics(face_models_summary)
