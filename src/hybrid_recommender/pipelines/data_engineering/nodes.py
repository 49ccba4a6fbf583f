"""Nodes of data_engineering: small functions named after what they return."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from hybrid_recommender.config_resolvers import DATASETS_DIR_ENV  # noqa: E402
from hybrid_recommender.errors import InputDataError  # noqa: E402
from hybrid_recommender.ingest import afew, ckplus, fer2013, movielens, rafdb, utkface  # noqa: E402
from hybrid_recommender.ingest.common import FaceTable, SkipLog, empty_skips  # noqa: E402
from hybrid_recommender.ingest.faces import face_index  # noqa: E402
from hybrid_recommender.io.sources import DataSource, find_source  # noqa: E402
from hybrid_recommender.labels import age_groups  # noqa: E402
from hybrid_recommender.schemas import FACE_SCHEMA, MOVIES_SCHEMA, RATINGS_SCHEMA, USERS_SCHEMA  # noqa: E402

log = logging.getLogger(__name__)

# What each face data set provides, where to get it, and whether the project can run without it.
FACE_SETS = {
    "fer2013": {"labels": {"emotion"}, "layout": fer2013.LAYOUT,
                "obtain": "Kaggle 'FER-2013' (image folders) or the ICML 2013 challenge fer2013.csv"},
    "utkface": {"labels": {"age", "gender"}, "layout": "crop_part1/ or UTKFace/ with [age]_[gender]_[race]_[datetime].jpg",
                "obtain": "https://susanqq.github.io/UTKFace/ (in-the-wild cropped faces)"},
    "ckplus": {"labels": {"emotion"}, "layout": "CK+48/<emotion>/S<subject>_<seq>_<frame>.png",
               "obtain": "the CK+48 crop of the Extended Cohn-Kanade data set"},
    "rafdb": {"labels": {"emotion", "age", "gender"}, "layout": rafdb.LAYOUT,
              "obtain": "RAF-DB basic, on request from its authors (whdeng.cn/RAF)"},
    "afew": {"labels": {"emotion"}, "layout": afew.LAYOUT, "obtain": "AFEW (EmotiW), on request from its authors"},
}


MOVIELENS_LAYOUT = "MovieLens 100K (required): ml-100k.zip or ml-100k/ with u.data, u.user, u.item, u.genre"


def _age_bins(params: dict) -> tuple[list[int], list[str]]:
    return params["age_groups"]["edges"], params["age_groups"]["labels"]


def _what_goes_there() -> str:
    faces = "; ".join(f"{n}: {spec['layout']} ({spec['obtain']})" for n, spec in FACE_SETS.items())
    return (f"{MOVIELENS_LAYOUT}; at least one emotion set and one age/gender set of: {faces}. Each as downloaded "
            "(archive) or extracted (folder)")


def datasets_folder(params: dict) -> Path:
    """The folder holding the data sets. It must exist: it is the user's, so it is never created here."""
    folder = Path(params["datasets_dir"])
    if folder.is_dir():
        return folder
    origin = f" (from ${DATASETS_DIR_ENV})" if os.environ.get(DATASETS_DIR_ENV) else ""
    state = ("is a broken link" if folder.is_symlink() and not folder.exists() else
             "is a file, not a folder" if folder.exists() else "does not exist")
    raise InputDataError(f"The datasets folder {folder}{origin} {state}. Point $HYBRID_DATASETS_DIR at the folder "
                         f"that holds the data sets; expected there: {_what_goes_there()}.")


def writable_folder(folder: str | Path) -> Path:
    """``folder``, created if needed, after checking that a file can be written there (a read-only folder or
    disk otherwise fails only when the first table is saved, with Kedro's traceback)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise InputDataError(f"{folder}: cannot write there ({exc.strerror or exc}); data_engineering writes its "
                             "tables and report there. Make the folder writable (or free the disk) and run again.") \
            from exc
    return folder


def _readability(source: DataSource | None) -> str:
    """'' when the source can be listed, else why not (a broken link, a truncated archive)."""
    if source is None:
        return ""
    try:
        source.names()
    except InputDataError as exc:
        return str(exc)
    return ""


def data_set_inventory(params: dict, fer2013_source, utkface_source, ckplus_source, rafdb_source,
                       afew_source) -> pd.DataFrame:
    """Which face data sets were found, where, and whether they can be read; stops early when the datasets
    folder is missing, an output folder cannot be written, or no readable set gives a needed kind of label."""
    datasets_folder(params)
    for folder in params["output_folders"]:
        writable_folder(folder)
    sources = {"fer2013": fer2013_source, "utkface": utkface_source, "ckplus": ckplus_source,
               "rafdb": rafdb_source, "afew": afew_source}
    if afew_source is not None:
        writable_folder(params["afew"]["cache_dir"])
    rows = [{"dataset": name, "present": src is not None, "path": str(src.path) if src else "",
             "labels": ",".join(sorted(FACE_SETS[name]["labels"])), "problem": _readability(src)}
            for name, src in sources.items()]
    inventory = pd.DataFrame(rows)
    inventory["readable"] = inventory["present"] & (inventory["problem"] == "")
    readable = inventory[inventory["readable"]]
    for needed in (("emotion",), ("age", "gender")):
        if not any(set(needed) <= FACE_SETS[name]["labels"] for name in readable["dataset"]):
            candidates = [n for n, spec in FACE_SETS.items() if set(needed) <= spec["labels"]]
            details = "; ".join(f"{n}: {FACE_SETS[n]['layout']} ({FACE_SETS[n]['obtain']})" for n in candidates)
            refused = " ".join(inventory.loc[inventory["dataset"].isin(candidates), "problem"]).strip()
            raise InputDataError(
                f"No data set with {' and '.join(needed)} labels under {params['datasets_dir']}"
                f"{' that can be read (' + refused + ')' if refused else ''}. "
                f"Put at least one of these there (archive or extracted folder): {details}."
            )
    for name in inventory.loc[~inventory["present"], "dataset"]:
        log.warning("%s not found under %s: skipped (optional; expected %s; %s).", name, params["datasets_dir"],
                    FACE_SETS[name]["layout"], FACE_SETS[name]["obtain"])
    return inventory


def movielens_tables(source: DataSource | None, inventory: pd.DataFrame, params: dict):
    """Ratings, users (with age group) and movies of MovieLens 100K, downloading it when allowed and missing.

    Takes the inventory so that the folder checks run before anything is read or written.
    """
    if source is None:
        folder = datasets_folder(params)
        if not params.get("download_movielens", False):
            raise InputDataError(f"MovieLens 100K not found under {folder}: {movielens.HOW_TO_GET}.")
        movielens.download_movielens(folder)
        source = find_source(params["datasets_dir"], ["ml-100k.zip"])
    ratings, users, movies, skips = movielens.read_movielens(source)
    users["age_group"] = age_groups(users["age"], *_age_bins(params))
    return (RATINGS_SCHEMA.validate(ratings), USERS_SCHEMA.validate(users), MOVIES_SCHEMA.validate(movies), skips)


def _empty_faces(dataset: str, size: int, channels: int, params: dict) -> FaceTable:
    return FaceTable(face_index([], dataset, *_age_bins(params)), np.zeros((0, size, size, channels), np.uint8),
                     empty_skips())


def _outputs(table: FaceTable):
    return FACE_SCHEMA.validate(table.index), table.pixels, table.skips


def _faces(dataset: str, source: DataSource | None, inventory: pd.DataFrame, params: dict,
           read: Callable[[], FaceTable], size: int, channels: int):
    """Read one face data set. One that is present but cannot be read (a truncated archive, a broken link, not
    its layout) is refused on its own: logged, counted in the skips, empty tables, so every other data set still
    ingests; unless no other readable set gives its kind of labels."""
    if source is None:
        return _outputs(_empty_faces(dataset, size, channels, params))
    problem = inventory.set_index("dataset").loc[dataset, "problem"]
    if not problem:
        try:
            return _outputs(read())
        except InputDataError as exc:
            problem = str(exc)
    others = inventory[inventory["readable"] & (inventory["dataset"] != dataset)]["dataset"]
    for needed in (("emotion",), ("age", "gender")):
        if set(needed) <= FACE_SETS[dataset]["labels"] and not any(set(needed) <= FACE_SETS[o]["labels"]
                                                                   for o in others):
            raise InputDataError(problem)
    log.error("%s refused, the other data sets are still read: %s", dataset, problem)
    table = _empty_faces(dataset, size, channels, params)
    skips = SkipLog(dataset)
    skips.add(str(source.path), f"data set refused: {problem}")
    return FACE_SCHEMA.validate(table.index), table.pixels, skips.frame()


def fer2013_faces(source: DataSource | None, inventory: pd.DataFrame, params: dict):
    """FER2013 faces (48x48 grayscale, emotion), their pixels, and skipped files."""
    return _faces("fer2013", source, inventory, params, lambda: fer2013.read_fer2013(source, *_age_bins(params)),
                  fer2013.SIZE, 1)


def utkface_faces(source: DataSource | None, inventory: pd.DataFrame, params: dict):
    """UTKFace faces (RGB, resized; age, gender, age group), their pixels, and skipped files."""
    cfg = params["utkface"]
    return _faces("utkface", source, inventory, params,
                  lambda: utkface.read_utkface(source, cfg["image_size"], cfg["split_fractions"], *_age_bins(params)),
                  cfg["image_size"], 3)


def ckplus_faces(source: DataSource | None, inventory: pd.DataFrame, params: dict):
    """CK+48 frames (48x48 grayscale, emotion, subject, sequence, fold), their pixels, and skipped files."""
    cfg = params["ckplus"]
    return _faces("ckplus", source, inventory, params,
                  lambda: ckplus.read_ckplus(source, cfg["folds"], cfg["split_fractions"], *_age_bins(params)),
                  ckplus.SIZE, 1)


def rafdb_faces(source: DataSource | None, inventory: pd.DataFrame, params: dict):
    """RAF-DB basic aligned faces (RGB; emotion, gender, RAF age group), their pixels, and skipped files."""
    cfg = params["rafdb"]
    return _faces("rafdb", source, inventory, params,
                  lambda: rafdb.read_rafdb(source, cfg["image_size"], *_age_bins(params)), cfg["image_size"], 3)


def afew_faces(source: DataSource | None, inventory: pd.DataFrame, params: dict):
    """AFEW per-frame crops of each clip's main face (MTCNN, cached), their pixels, and skipped clips/frames."""
    cfg = params["afew"]
    return _faces("afew", source, inventory, params, lambda: afew.read_afew(source, cfg, *_age_bins(params)),
                  cfg["image_size"], 3)


def ingestion_skips(*skip_tables: pd.DataFrame) -> pd.DataFrame:
    """Every skipped record of the run: data set, file (or file:line) and reason."""
    tables = [t for t in skip_tables if len(t)]
    return pd.concat(tables, ignore_index=True) if tables else empty_skips()


def ingestion_skip_summary(skips: pd.DataFrame) -> pd.DataFrame:
    """Skipped records counted by data set and reason."""
    return (skips.groupby(["dataset", "reason"]).size().rename("count").reset_index()
            .sort_values(["dataset", "count"], ascending=[True, False], ignore_index=True))


def ingestion_counts(ratings: pd.DataFrame, users: pd.DataFrame, movies: pd.DataFrame,
                     *face_tables: pd.DataFrame) -> pd.DataFrame:
    """Counts per data set, split, attribute and label (label 'all' counts every record of the split)."""
    rows = [("movielens", "all", "ratings", "all", len(ratings)), ("movielens", "all", "users", "all", len(users)),
            ("movielens", "all", "movies", "all", len(movies))]
    rows += [("movielens", "all", "user_age_group", str(k), int(v))
             for k, v in users["age_group"].value_counts(sort=False).items()]
    rows += [("movielens", "all", "user_gender", str(k), int(v)) for k, v in users["gender"].value_counts().items()]
    for faces in face_tables:
        if faces.empty:
            continue
        dataset = faces["dataset"].iloc[0]
        for split, part in faces.groupby("split", observed=True):
            rows.append((dataset, split, "faces", "all", len(part)))
            rows.append((dataset, split, "blank", "zero variance", int(part["is_blank"].sum())))
            for attribute in ("emotion", "gender", "age_group", "source_age_group"):
                for label, count in part[attribute].value_counts(sort=False).items():
                    if count:
                        rows.append((dataset, split, attribute, str(label), int(count)))
    return pd.DataFrame(rows, columns=["dataset", "split", "attribute", "label", "count"])


def ingestion_counts_plot(counts: pd.DataFrame, skip_summary: pd.DataFrame) -> plt.Figure:
    """Bar charts: faces per data set and split, emotions per data set, and skipped records by reason."""
    fig, axes = plt.subplots(1, 3, figsize=(18, 5))
    faces = counts[(counts["attribute"] == "faces")].pivot_table(index="dataset", columns="split", values="count",
                                                                 aggfunc="sum", fill_value=0)
    if not faces.empty:
        faces.plot.bar(ax=axes[0], rot=0)
    axes[0].set_title("Faces per data set and split")
    emotions = counts[counts["attribute"] == "emotion"].pivot_table(index="label", columns="dataset",
                                                                    values="count", aggfunc="sum", fill_value=0)
    if not emotions.empty:
        emotions.plot.bar(ax=axes[1], rot=30)
    axes[1].set_title("Emotion labels (all splits)")
    if not skip_summary.empty:
        labels = (skip_summary["dataset"] + ": " + skip_summary["reason"].str.slice(0, 45)).tolist()
        axes[2].barh(labels, skip_summary["count"])
        axes[2].invert_yaxis()
    else:
        axes[2].text(0.5, 0.5, "no records skipped", ha="center", va="center")
    axes[2].set_title("Skipped records by reason")
    fig.tight_layout()
    return fig
