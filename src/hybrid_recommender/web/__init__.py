"""The paper's web platform: a page that reads the viewer's own camera, shows what it read and recommends, and
a JSON API a mobile app can call (``hybrid-recommender serve``; docs/web.md). Needs the ``ui`` extra."""

from hybrid_recommender.web.app import create_app
from hybrid_recommender.web.options import WebOptions

__all__ = ["WebOptions", "create_app"]
