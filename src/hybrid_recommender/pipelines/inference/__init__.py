"""inference pipeline: recommendations for a batch of images, videos and folders of frames, logged to MLflow."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
