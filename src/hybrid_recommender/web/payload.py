"""What the page shows beside the command's JSON: each listed film's year and genres (the movies table)."""

from __future__ import annotations

from collections.abc import Mapping


def with_movie_details(doc: dict, details: Mapping[int, dict]) -> dict:
    """``doc`` (``InferenceResult.to_dict()``) with ``year`` and ``genres`` added to every recommendation."""
    for film in doc["recommendations"]:
        known = details.get(int(film["item_id"]), {})
        film["year"], film["genres"] = known.get("year"), list(known.get("genres", []))
    return doc
