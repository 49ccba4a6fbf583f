"""The one markdown-table writer of the evaluation's reports (report, Table III, the docs' results)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd


def markdown_rows(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub markdown table from a header and rows (cells written with ``str``)."""
    return "\n".join(["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header),
                      *("| " + " | ".join(map(str, r)) + " |" for r in rows)])


def markdown_table(df: pd.DataFrame) -> str:
    """A GitHub markdown table of a frame's columns and rows (no index)."""
    return markdown_rows(list(df.columns), df.itertuples(index=False))
