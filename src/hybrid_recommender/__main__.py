"""``python -m hybrid_recommender``: the ``hybrid-recommender`` command (``run``, ...)."""

from hybrid_recommender.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    main()
