"""evaluation pipeline: the paper's Section V from simulated observations (face -> attributes -> list -> score)."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
