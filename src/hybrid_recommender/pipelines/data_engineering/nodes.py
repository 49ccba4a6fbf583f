"""Nodes of data_engineering: small functions named after what they return."""

from __future__ import annotations

import logging
import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pandera.pandas as pa  # noqa: E402

from hybrid_recommender.config_resolvers import DATASETS_DIR_ENV  # noqa: E402
from hybrid_recommender.errors import InputDataError  # noqa: E402
from hybrid_recommender.ingest import afew, ckplus, fer2013, movielens, movielens_1m, rafdb, utkface  # noqa: E402
from hybrid_recommender.ingest.common import FaceTable, SkipLog, empty_skips  # noqa: E402
from hybrid_recommender.ingest.faces import face_index  # noqa: E402
from hybrid_recommender.ingest.sources import DataSource  # noqa: E402
from hybrid_recommender.labels import age_groups  # noqa: E402
from hybrid_recommender.schemas import (  # noqa: E402
    FACE_SCHEMA,
    MOVIES_SCHEMA,
    RATINGS_SCHEMA,
    USERS_SCHEMA,
)

# MovieLens 1M's users also keep the official age code (their age is the code's representative age).
USERS_1M_SCHEMA = USERS_SCHEMA.add_columns(
    {"age_code": pa.Column("int64", pa.Check.isin(sorted(movielens_1m.AGE_CODE_RANGES)))})

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


MOVIELENS_LAYOUT = ("MovieLens (required; data_engineering.movielens.version picks which): 100k: ml-100k.zip or "
                    "ml-100k/ with u.data, u.user, u.item, u.genre; 1m: ml-1m.zip or ml-1m/ with ratings.dat, "
                    "users.dat, movies.dat")
# Each MovieLens version: its label in messages, where to get it, the archive the download writes and its URL.
MOVIELENS_VERSIONS = {
    "100k": {"label": movielens.LABEL, "how_to_get": movielens.HOW_TO_GET, "archive": movielens.ARCHIVE_NAME,
             "url": movielens.DOWNLOAD_URL},
    "1m": {"label": movielens_1m.LABEL, "how_to_get": movielens_1m.HOW_TO_GET, "archive": movielens_1m.ARCHIVE_NAME,
           "url": movielens_1m.DOWNLOAD_URL},
}


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
    folder is missing or no readable set gives a needed kind of label (hooks.WritableOutputsHook has already
    checked that every output folder can be written)."""
    datasets_folder(params)
    sources = {"fer2013": fer2013_source, "utkface": utkface_source, "ckplus": ckplus_source,
               "rafdb": rafdb_source, "afew": afew_source}
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


def _movielens_version(params: dict) -> tuple[str, dict]:
    version = str(params["movielens"]["version"])
    if version not in MOVIELENS_VERSIONS:
        raise InputDataError(f"data_engineering.movielens.version={version!r}: expected one of "
                             f"{', '.join(MOVIELENS_VERSIONS)}.")
    return version, MOVIELENS_VERSIONS[version]


def _not_found(spec: dict, version: str, folder: Path) -> InputDataError:
    return InputDataError(f"{spec['label']} not found under {folder} (data_engineering.movielens.version: "
                          f"{version}): {spec['how_to_get']}.")


def downloaded_movielens(ml_100k: DataSource | None, ml_1m: DataSource | None,
                         params: dict) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(100K files, 1M files): ``{"ml-100k.zip" or "ml-1m.zip": bytes}`` from GroupLens (MD5-checked) for the
    version ``data_engineering.movielens.version`` picks, when it is missing and ``movielens.download`` allows it;
    ``{}`` when it is there, and always for the other version (never fetched). The catalog writes each into the
    datasets folder, which must exist (it is the user's: never created here)."""
    version, spec = _movielens_version(params)
    source = {"100k": ml_100k, "1m": ml_1m}[version]
    files: dict[str, bytes] = {}
    if source is None:
        folder = datasets_folder(params)
        if not params["movielens"]["download"]:
            raise _not_found(spec, version, folder)
        files = {spec["archive"]: movielens.download_movielens(folder, url=spec["url"], label=spec["label"],
                                                               how_to_get=spec["how_to_get"])}
    return (files, {}) if version == "100k" else ({}, files)


def movielens_tables(ml_100k: DataSource | None, ml_1m: DataSource | None, params: dict):
    """Ratings, users (with age group) and movies of the MovieLens that ``data_engineering.movielens.version``
    picks (100K or 1M), and the skipped lines. MovieLens 1M's users keep their ``age_code`` too."""
    version, spec = _movielens_version(params)
    source = {"100k": ml_100k, "1m": ml_1m}[version]
    if source is None:
        raise _not_found(spec, version, datasets_folder(params))
    if version == "1m":
        ratings, users, movies, skips = movielens_1m.read_movielens_1m(source, params["movielens"]["ml_1m_age_codes"])
    else:
        ratings, users, movies, skips = movielens.read_movielens(source)
    users["age_group"] = age_groups(users["age"], *_age_bins(params))
    users_schema = USERS_1M_SCHEMA if version == "1m" else USERS_SCHEMA
    log.info("%s read: %d ratings, %d users, %d movies, %d lines skipped", spec["label"], len(ratings), len(users),
             len(movies), len(skips))
    return (RATINGS_SCHEMA.validate(ratings), users_schema.validate(users), MOVIES_SCHEMA.validate(movies), skips)


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
    cfg = params["fer2013"]
    return _faces("fer2013", source, inventory, params,
                  lambda: fer2013.read_fer2013(source, *_age_bins(params), cfg["protocol"], cfg["validation_fraction"],
                                               cfg["split_seed"]), fer2013.SIZE, 1)


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


def afew_faces(source: DataSource | None, inventory: pd.DataFrame, params: dict, afew_face_cache):
    """AFEW per-frame crops of each clip's main face (MTCNN, kept per clip in ``afew_face_cache``), their pixels,
    and skipped clips/frames."""
    cfg = params["afew"]
    return _faces("afew", source, inventory, params,
                  lambda: afew.read_afew(source, cfg, *_age_bins(params), afew_face_cache),
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


SPLITS = ("train", "val", "test")
SPLIT_ROLES = {"train": "fits the weights",
               "val": "chooses: checkpoints, early stopping, fusion weights, every setting",
               "test": "scored only: never chosen on"}


def _split_rules(params: dict) -> dict[str, str]:
    fer, utk, ck = params["fer2013"], params["utkface"], params["ckplus"]
    carved = (f"protocol carved: val = {fer['validation_fraction']:g} of Training, stratified by emotion, seed "
              f"{fer['split_seed']}; test = PublicTest; PrivateTest left out")
    return {"fer2013": carved if fer["protocol"] == "carved" else
            "protocol official: Training trains, PublicTest validates, PrivateTest tests",
            "utkface": f"a hash of the file name, fractions {dict(utk['split_fractions'])}",
            "ckplus": f"a hash of the subject id (subject-independent), fractions {dict(ck['split_fractions'])}",
            "rafdb": "the official train_/test_ names", "afew": "Train_AFEW, Val_AFEW, Test_AFEW",
            "labelled_faces": "all test (a user's own labelled faces)"}


def face_split_table(params: dict, *face_tables: pd.DataFrame) -> pd.DataFrame:
    """The split table: per data set and split, its faces (and subjects), the official source files they come from,
    the rule that assigned them, and what the split may be used for."""
    rules, rows = _split_rules(params), []
    for faces in face_tables:
        if faces.empty:
            continue
        dataset = faces["dataset"].iloc[0]
        for split, part in faces.groupby("split", observed=True, sort=False):
            sources = (", ".join(f"{k} {v}" for k, v in fer2013.official_usage(part).value_counts().items())
                       if dataset == "fer2013" else "-")     # the others' rule names their sources
            rows.append({"dataset": dataset, "split": split, "faces": len(part),
                         "subjects": int(part["subject"].nunique()), "sources": sources,
                         "rule": rules.get(dataset, ""), "use": SPLIT_ROLES[split]})
    order = {s: i for i, s in enumerate(SPLITS)}
    table = pd.DataFrame(rows, columns=["dataset", "split", "faces", "subjects", "sources", "rule", "use"])
    return table.sort_values(["dataset", "split"], key=lambda c: c.map(order) if c.name == "split" else c,
                             ignore_index=True)
MAX_SKIP_ROWS = 12   # the table lists the most frequent reasons; the full list is ingestion_skip_summary.csv


def ingestion_counts_plot(counts: pd.DataFrame, skip_summary: pd.DataFrame,
                          movielens_version: str = "100k") -> plt.Figure:
    """One report page: faces per data set and split, emotion labels per data set (bars with their counts),
    and the skipped records by data set and reason as a table (reasons wrapped, never cut off). The title names
    the MovieLens read (``data_engineering.movielens.version``) and its counts."""
    table_lines = 2 + sum(r.count("\n") + 1 for r in _skip_rows(skip_summary)[1])
    fig = plt.figure(figsize=(10, 5 + 0.22 * table_lines), layout="constrained")
    grid = fig.add_gridspec(2, 2, height_ratios=[4.5, 0.5 + 0.22 * table_lines])
    faces_ax, emotions_ax, table_ax = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1]), fig.add_subplot(grid[1, :])
    totals = counts[(counts["dataset"] == "movielens") & (counts["attribute"].isin(["ratings", "users", "movies"]))]
    movielens = ", ".join(f"{int(c):,} {a}" for a, c in zip(totals["attribute"], totals["count"]))
    label = MOVIELENS_VERSIONS.get(str(movielens_version), {"label": f"MovieLens {movielens_version}"})["label"]
    fig.suptitle("Ingestion report" + (f"  ({label}: {movielens})" if movielens else ""), fontsize=13)

    faces = counts[counts["attribute"] == "faces"].pivot_table(index="dataset", columns="split", values="count",
                                                               aggfunc="sum", fill_value=0)
    faces = faces[[s for s in SPLITS if s in faces.columns] + [s for s in faces.columns if s not in SPLITS]]
    _bars(faces_ax, faces, "Faces per data set and split", "faces", "data set", "no face data set read")
    emotions = counts[counts["attribute"] == "emotion"].pivot_table(index="label", columns="dataset", values="count",
                                                                    aggfunc="sum", fill_value=0)
    _bars(emotions_ax, emotions, "Emotion labels per data set (all splits)", "faces", "emotion", "no emotion labels")
    _skip_table(table_ax, skip_summary)
    return fig


def _bars(ax: plt.Axes, table: pd.DataFrame, title: str, xlabel: str, ylabel: str, empty: str) -> None:
    """Horizontal grouped bars, one group per row of ``table``, each bar labelled with its count."""
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if table.empty:
        ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
        return
    table.plot.barh(ax=ax, width=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.invert_yaxis()
    for bars in ax.containers:
        ax.bar_label(bars, labels=[f"{int(v):,}" if v else "" for v in bars.datavalues], fontsize=7, padding=2)
    ax.set_xlim(0, table.to_numpy().max() * 1.3)
    ax.legend(title=table.columns.name, fontsize=8, title_fontsize=8, loc="best")


def _skip_rows(skip_summary: pd.DataFrame) -> tuple[list[list[str]], list[str]]:
    """Table rows (data set, wrapped reason, count) of the most frequent reasons, and a last row for the rest."""
    if skip_summary.empty:
        return [], []
    shown = skip_summary.sort_values("count", ascending=False).head(MAX_SKIP_ROWS)
    rows = [[d, textwrap.fill(str(r), 95), f"{int(c):,}"]
            for d, r, c in shown[["dataset", "reason", "count"]].itertuples(index=False)]
    if len(skip_summary) > len(shown):
        rest = skip_summary["count"].sum() - shown["count"].sum()
        rows.append(["...", f"{len(skip_summary) - len(shown)} more reasons (ingestion_skip_summary.csv)", f"{int(rest):,}"])
    return rows, [r[1] for r in rows]


def _skip_table(ax: plt.Axes, skip_summary: pd.DataFrame) -> None:
    ax.axis("off")
    total = int(skip_summary["count"].sum()) if len(skip_summary) else 0
    ax.set_title(f"Skipped records by data set and reason ({total:,} in all)", fontsize=11)
    if skip_summary.empty:
        ax.text(0.5, 0.6, "no records skipped", ha="center", va="center", transform=ax.transAxes, fontsize=11)
        return
    rows, reasons = _skip_rows(skip_summary)
    table = ax.table(cellText=rows, colLabels=["data set", "reason", "records"], colWidths=[0.12, 0.76, 0.12],
                     cellLoc="left", colLoc="left", loc="upper center")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    for cell in table.get_celld().values():
        cell.PAD = 0.02
    lines = [max(str(v).count("\n") + 1 for v in row) for row in rows]
    line = 0.98 / (sum(lines) + 1)                      # the panel is sized to the rows, wrapped reasons included
    for (row, _), cell in table.get_celld().items():
        cell.set_height(line * (lines[row - 1] if row else 1))
        if row == 0:
            cell.set_text_props(weight="bold")
