"""Hybrid movie recommender driven by face attributes (Balfaqih, IJACSA 2024), as a Kedro project."""

__version__ = "0.1.0"
