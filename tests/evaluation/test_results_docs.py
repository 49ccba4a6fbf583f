"""The docs' results are generated, never typed: each published run's tables (docs/results/<label>/, copies of a
run's data/08_reporting/evaluation) render to exactly the results.md beside them and to the block of
docs/evaluation.md between that label's markers."""

from __future__ import annotations

import importlib.util
import json
import shutil

import pandas as pd
import pytest

from hybrid_recommender.evaluation.results import (
    PROVENANCE,
    TABLES,
    read_tables,
    render_results,
)
from hybrid_recommender.paths import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "docs" / "results"
PUBLISHED = sorted(p for p in RESULTS.iterdir() if p.is_dir()) if RESULTS.is_dir() else []


def _publisher():
    spec = importlib.util.spec_from_file_location("publish_results", PROJECT_ROOT / "scripts" / "publish_results.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cpu_and_fast_runs_are_published():
    assert {"cpu", "fast"} <= {p.name for p in PUBLISHED}


@pytest.mark.parametrize("folder", PUBLISHED, ids=[p.name for p in PUBLISHED])
def test_published_results_equal_a_rendering_of_their_tables(folder):
    tables, provenance = read_tables(folder)
    text = render_results(tables, provenance, folder.name)
    assert text == (folder / "results.md").read_text()
    begin, end = _publisher().markers(folder.name)
    page = (PROJECT_ROOT / "docs" / "evaluation.md").read_text()
    assert page.split(begin, 1)[1].split(end, 1)[0].strip("\n") == text.strip("\n")
    # the numbers are the tables': the proposed system's overall F1 (video path, full ranking) appears as rendered
    prf = tables["prf"]
    row = prf[(prf["role"] == "proposed") & (prf["attributes"] == "video") & (prf["protocol"] == "full_ranking")
              & (prf["relevance"] == "liked") & (prf["rule"] == "zero") & (prf["age_group"] == "all")].iloc[0]
    assert f"{row['f1_of_means']:.3f} [{row['f1_of_means_low']:.3f}, {row['f1_of_means_high']:.3f}]" in page
    assert provenance["git_commit"] in text and provenance["parent_run_id"] in text


def test_publishing_copies_the_tables_and_fills_the_marked_block(tmp_path):
    """A run folder with a changed number publishes that number, and refuses when results.md disagrees."""
    source = PUBLISHED[0]
    run = tmp_path / "run"
    shutil.copytree(source, run)
    prf = pd.read_csv(run / TABLES["prf"])
    prf.loc[prf["role"] == "proposed", "precision"] = 0.123456
    prf.to_csv(run / TABLES["prf"], index=False)
    docs = tmp_path / "docs"
    docs.mkdir()
    begin, end = _publisher().markers("demo")
    (docs / "evaluation.md").write_text(f"# intro\n\n{begin}\nold numbers\n{end}\n\n## after\n")
    with pytest.raises(SystemExit, match="differs from a rendering"):
        _publisher().publish("demo", run, docs)
    tables, provenance = read_tables(run)
    (run / "results.md").write_text(render_results(tables, provenance, "demo"))
    _publisher().publish("demo", run, docs)
    page = (docs / "evaluation.md").read_text()
    assert "old numbers" not in page and "0.123 / " in page and page.endswith("## after\n")
    assert json.loads((docs / "results" / "demo" / PROVENANCE).read_text()) == provenance
