"""face_models pipeline: frame CNNs (age group, gender, emotion), CNN+SVM and LSTM video branches, fusion."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
