"""data_engineering: six public data sets, as downloaded, into typed and validated tables."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
