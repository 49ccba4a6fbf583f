"""A folder of face crops per video clip, kept between runs so a second run does not detect faces again."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np


class ClipFaceCache:
    """Face crops of each video clip kept between runs, one ``.npz`` per clip, keyed by the clip's bytes and the
    detector settings (a changed clip or setting is a new key), so a second run does not detect again."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    @staticmethod
    def key(data: bytes, settings: dict) -> str:
        return hashlib.sha1(data + json.dumps(settings, sort_keys=True).encode()).hexdigest()[:20]

    def get(self, key: str) -> dict[str, np.ndarray] | None:
        path = self.folder / f"{key}.npz"
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as cached:
            return {k: cached[k] for k in cached.files}

    def put(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{key}.tmp.npz"
        try:
            np.savez(tmp, **arrays)
            tmp.replace(self.folder / f"{key}.npz")
        finally:
            tmp.unlink(missing_ok=True)
