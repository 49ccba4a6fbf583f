"""The ``<emotion>/<file>`` folder layout that FER2013, AFEW and CK+ share, walked once for all three."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import PurePosixPath
from typing import NamedTuple

from hybrid_recommender.ingest.common import SkipLog
from hybrid_recommender.ingest.images import count_entries_that_are_not_files
from hybrid_recommender.ingest.sources import DataSource
from hybrid_recommender.labels import canonical_emotion


class EmotionFile(NamedTuple):
    name: str        # the member name, as in the source
    parent: str      # the folder above the emotion folder (a split folder), "" at the top
    emotion: str     # canonical
    file_name: str


def emotion_folder_files(source: DataSource, skips: SkipLog, suffixes: tuple[str, ...], kind: str,
                         expected_folders: str, parents: Collection[str] | None = None,
                         contempt: bool = False) -> Iterator[EmotionFile]:
    """Every ``[<parent>/]<emotion>/<file>`` of ``source`` with its canonical emotion, in sorted name order.

    With ``parents``, only files under one of those folders count. Hidden files and files outside the layout
    are passed over; entries that are not files, a ``kind`` file with another suffix, and an emotion folder
    that is unknown (or contempt, unless ``contempt``) are counted in ``skips``.
    """
    count_entries_that_are_not_files(source, skips, suffixes)
    for name in source.names():
        parts = PurePosixPath(name).parts
        if len(parts) < (2 if parents is None else 3) or parts[-1].startswith("."):
            continue
        parent = parts[-3] if len(parts) >= 3 else ""
        if parents is not None and parent not in parents:
            continue
        emotion_dir, file_name = parts[-2:]
        if not file_name.lower().endswith(suffixes):
            skips.add(name, f"not {kind} file")
            continue
        emotion = canonical_emotion(emotion_dir)
        if emotion is None or (emotion == "contempt" and not contempt):
            skips.add(name, f"unknown emotion folder {emotion_dir!r} (expected {expected_folders})")
            continue
        yield EmotionFile(name, parent, emotion, file_name)
