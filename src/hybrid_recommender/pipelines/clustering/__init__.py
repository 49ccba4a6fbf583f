"""clustering pipeline: k-means over the MovieLens genre flags with the elbow chosen by kneedle."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
