"""Ingestion benchmark: wall time and peak memory of data_engineering on the shared real data sets.

Each data set is read in a fresh process (so its peak RSS is its own), then the whole pipeline is run once
through Kedro. Target: <= 3 min and <= 4 GB on 2 cores.

    .venv/bin/python benchmarks/ingestion.py [--datasets-dir ../shared/datasets]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import resource
import time
from pathlib import Path

from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from rich.console import Console
from rich.table import Table

from hybrid_recommender.ingest import ckplus, fer2013, movielens, utkface
from hybrid_recommender.ingest.sources import find_source
from hybrid_recommender.paths import PROJECT_ROOT

E, G = [0, 8, 15, 25, 38, 48, 200], ["0-7", "8-14", "15-24", "25-37", "38-47", "48+"]


def _read(name: str, root: str):
    if name == "movielens":
        ratings, users, movies, skips = movielens.read_movielens(find_source(root, ["ml-100k.zip", "ml-100k"]))
        return len(ratings), len(skips)
    if name == "fer2013":
        table = fer2013.read_fer2013(find_source(root, ["fer2013.zip", "fer2013"]), E, G)
    elif name == "utkface":
        table = utkface.read_utkface(find_source(root, ["utkface_crop_part1.tar.gz", "crop_part1"]), 64,
                                     {"train": 0.8, "val": 0.1, "test": 0.1}, E, G)
    else:
        table = ckplus.read_ckplus(find_source(root, ["ckplus48.zip", "CK+48"]), 10,
                                   {"train": 0.7, "val": 0.15, "test": 0.15}, E, G)
    return len(table.index), len(table.skips)


def _pipeline(name: str, root: str):
    os.environ["HYBRID_DATASETS_DIR"] = root
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
    bootstrap_project(PROJECT_ROOT)
    with KedroSession.create(project_path=PROJECT_ROOT, env="fast") as session:
        session.run(pipeline_names=["data_engineering"])
    return "-", "-"


def _measure(target, name: str, root: str, queue) -> None:
    start = time.perf_counter()
    records, skips = target(name, root)
    wall = time.perf_counter() - start
    queue.put((records, skips, wall, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def run(name: str, root: str, target) -> tuple:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(target, name, root, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets-dir", default=str(PROJECT_ROOT.parent / "shared" / "datasets"))
    root = str(Path(parser.parse_args().datasets_dir).resolve())
    table = Table(title=f"Ingestion on {os.cpu_count()} cores, {platform.python_version()}, data in {root}")
    for column in ("step", "records", "skipped", "wall s", "peak RSS MB"):
        table.add_column(column, justify="right" if column != "step" else "left")
    for name in ("movielens", "fer2013", "utkface", "ckplus"):
        records, skips, wall, rss = run(name, root, _read)
        table.add_row(f"read {name}", str(records), str(skips), f"{wall:.1f}", f"{rss:.0f}")
    _, _, wall, rss = run("data_engineering", root, _pipeline)
    table.add_row("kedro run --env fast --pipelines data_engineering (all sets, report, MLflow)", "-", "-",
                  f"{wall:.1f}", f"{rss:.0f}")
    Console(width=140).print(table)
    print(f"target: <= 180 s and <= 4096 MB; pipeline {'meets' if wall <= 180 and rss <= 4096 else 'misses'} it")


if __name__ == "__main__":
    main()
