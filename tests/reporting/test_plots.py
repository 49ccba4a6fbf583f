"""Every report plot, drawn by its node from small real data and saved through its catalog entry, is a PNG that
fits a report page and is not blank."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from kedro.io import DataCatalog
from matplotlib.text import Text
from PIL import Image

from hybrid_recommender.face_models.metrics import (
    classification_metrics,
    confusion_figure,
)
from hybrid_recommender.ingest.ckplus import read_ckplus
from hybrid_recommender.ingest.common import empty_skips
from hybrid_recommender.ingest.sources import DataSource
from hybrid_recommender.labels import DEFAULT_AGE_BIN_EDGES, DEFAULT_AGE_GROUPS
from hybrid_recommender.paths import PROJECT_ROOT
from hybrid_recommender.pipelines.clustering import nodes as clustering
from hybrid_recommender.pipelines.data_engineering import nodes as data_engineering
from tests.conftest import require_shared

PAGE_INCHES = (10.5, 13.0)    # the most a plot may take at its saved dpi: a report page's text block, portrait
EMOTIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def save_through_catalog(name: str, catalog_file: str, data, folder) -> tuple[list, int]:
    """Save ``data`` with the project's catalog entry ``name``, written under ``folder``; (PNG paths, dpi)."""
    entry = yaml.safe_load((PROJECT_ROOT / "conf" / "base" / catalog_file).read_text())[name]
    inner = entry.get("dataset", entry)
    config = {"type": inner["type"], "save_args": inner["save_args"], "filepath": str(folder / name)}
    if not isinstance(data, dict):
        config["filepath"] += ".png"
    DataCatalog.from_config({name: config}).save(name, data)
    paths = sorted(folder.glob(f"{name}*")) if not isinstance(data, dict) else sorted((folder / name).glob("*.png"))
    return paths, int(inner["save_args"]["dpi"])


def assert_readable_png(path, dpi: int) -> None:
    with Image.open(path) as image:
        assert image.format == "PNG", path
        width, height = image.size
        grey = np.asarray(image.convert("L"), dtype=np.float64)
    assert width <= PAGE_INCHES[0] * dpi and height <= PAGE_INCHES[1] * dpi, f"{path.name}: {width}x{height} px"
    assert width >= 3.5 * dpi and height >= 2.5 * dpi, f"{path.name}: {width}x{height} px, too small to read"
    ink = (grey < 200).mean()
    assert grey.std() > 20 and 0.02 < ink < 0.6, f"{path.name}: looks blank (ink {ink:.3f}, std {grey.std():.1f})"


@pytest.fixture(scope="module")
def real_counts(movielens):
    """The ingestion report's counts for MovieLens 100K and CK+48, as data_engineering computes them."""
    ckplus = read_ckplus(DataSource(require_shared("ckplus48.zip") / "ckplus48.zip"), 10,
                         {"train": 0.7, "val": 0.15, "test": 0.15}, DEFAULT_AGE_BIN_EDGES, DEFAULT_AGE_GROUPS)
    return data_engineering.ingestion_counts(*movielens, ckplus.index), ckplus.index


@pytest.mark.real_data
def test_ingestion_report_plot_is_one_readable_page_with_long_skip_reasons(tmp_path, real_counts):
    counts, _ = real_counts
    long = "file name does not follow [age]_[gender]_[race]_[datetime].jpg (UTKFace naming): 61_1_2017.jpg.chip"
    skips = empty_skips().reindex(range(40))
    skips["dataset"] = ["utkface"] * 3 + ["fer2013"] * 37
    skips["reason"] = [long] * 3 + [f"unknown emotion label {i % 20}" for i in range(37)]
    summary = data_engineering.ingestion_skip_summary(skips)
    for case, table in (("skips", summary), ("no_skips", summary.iloc[:0])):
        figure = data_engineering.ingestion_counts_plot(counts, table)
        texts = [t.get_text() for t in figure.findobj(Text)]
        texts += [c.get_text().get_text() for a in figure.axes for t in a.tables for c in t.get_celld().values()]
        if case == "skips":   # the long reason whole (wrapped), the rest of the 20 reasons counted in one row
            assert any(long.replace(" ", "") == t.replace("\n", "").replace(" ", "") for t in texts)
            assert any("more reasons" in t for t in texts)
        paths, dpi = save_through_catalog("ingestion_counts_plot", "catalog_data_engineering.yml", figure,
                                          tmp_path / case)
        assert len(paths) == 1
        assert_readable_png(paths[0], dpi)


@pytest.mark.real_data
def test_elbow_plot_is_readable(tmp_path, movielens):
    params = {"k_min": 2, "k_max": 8, "seed": 0, "n_init": 2, "elbow_sensitivity": 1.0, "force_k": None}
    curve = clustering.kmeans_wcss_curve(movielens[2], params)
    figure = clustering.elbow_plot(curve, clustering.elbow_k(curve, params), params)
    assert figure.axes[0].get_title() and figure.axes[0].get_xlabel() and figure.axes[0].get_ylabel()
    paths, dpi = save_through_catalog("elbow_plot", "catalog_clustering.yml", figure, tmp_path)
    assert_readable_png(paths[0], dpi)


@pytest.mark.real_data
def test_confusion_matrices_show_counts_and_row_shares_on_a_labelled_scale(tmp_path, real_counts):
    _, faces = real_counts
    truth = faces["emotion"].map({e: i for i, e in enumerate(EMOTIONS)}).dropna().to_numpy(int)
    guess = np.where(np.arange(len(truth)) % 3 == 0, (truth + 1) % 7, truth)    # two in three right
    figures = {}
    for classes, y, p in ((EMOTIONS, truth, guess), (["female", "male"], truth % 2, guess % 2)):
        m = classification_metrics(np.eye(len(classes))[p], y, classes)
        figures[f"ckplus_{len(classes)}.png"] = figure = confusion_figure(m["confusion"], classes, "CK+48 test")
        ax, bar = figure.axes
        assert ax.get_title().startswith("CK+48 test") and ax.get_xlabel() and ax.get_ylabel()
        assert "share" in bar.get_ylabel()
        cells = [t.get_text() for t in ax.texts]
        i = classes.index(classes[y[0]])
        count = int(m["confusion"][i, i])
        assert f"{count:,}\n{count / m['confusion'][i].sum():.0%}" in cells
    paths, dpi = save_through_catalog("video_confusion_matrices", "catalog_face_models.yml", figures, tmp_path)
    assert len(paths) == 2
    for path in paths:
        assert_readable_png(path, dpi)
