"""recommendation pipeline: the paper's group recommender (Fig. 4) and the recommenders it is compared with."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
