"""Ratings growth: wall time and peak memory of the recommendation + evaluation pipelines, per engine, as ratings grow.

For each size (100K = the real ML-100K, unchanged; larger = SYNTHETIC ratings drawn to match ML-100K by
benchmarks/synthetic_ratings.py) and each engine (``recommendation.engine``: surprise | spark), runs what a user
runs, each ``kedro run`` in its own process, in a temporary copy of the project (the checkout's data/, mlflow.db and
mlruns/ are never touched) with ``HYBRID_DATASETS_DIR`` on a temporary datasets folder and MLflow on a temporary
sqlite file:

    kedro run --pipelines data_engineering --nodes download_movielens,read_movielens_tables     # "ingest"
    kedro run --pipelines clustering,recommendation --params recommendation.engine=ENGINE       # "pipelines"

(``recommendation`` includes the evaluation nodes that need no face model.) Ingest runs once per size; its time is
shown on each engine's row. Peak memory is the largest sum of RSS over the process tree (the kedro process and its
children, the Spark JVM included), sampled every 0.5 s. A run past ``--timeout-min`` is killed, tree and all, and
recorded as "did not finish"; a failed run (out of memory, ...) is recorded with its last log line.

    .venv/bin/python benchmarks/ratings_growth.py [--sizes 100k,1m,10m] [--engines surprise,spark] \\
        [--timeout-min 30] [--seed 0] [--output docs/results/ratings_growth.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")

import psutil  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
for _path in (PROJECT / "src", PROJECT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from benchmarks.synthetic_ratings import ML100K, load_template, make_dataset, parse_size, size_label  # noqa: E402
from hybrid_recommender.evaluation.markdown import markdown_rows  # noqa: E402
from tests.conftest import ProjectCopy  # noqa: E402

INGEST_NODES = "download_movielens,read_movielens_tables"   # data_engineering's MovieLens nodes (no face sets)
PIPELINES = "clustering,recommendation"
RATINGS_TABLE = Path("data") / "03_primary" / "movielens_ratings.parquet"
HEADER = ["ratings", "synthetic", "engine", "users", "items", "ingest s", "pipelines s", "total s",
          "ingest peak GB", "pipelines peak GB", "status"]
FAILURE = re.compile(r"(MemoryError|OutOfMemory|Java heap space|Killed|Error|Exception|error:)")


@dataclass
class Stage:
    """One measured ``kedro run``."""

    wall_s: float = float("nan")
    peak_bytes: int = 0
    status: str = "not run"
    tail: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _tree_rss(root: psutil.Process) -> int:
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGTERM to the run's process group and every descendant (the Spark JVM), SIGKILL what is left after 15 s."""
    try:
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.Error:
        tree = []
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        for p in tree:
            try:
                p.send_signal(sig)
            except psutil.Error:
                pass
        _, alive = psutil.wait_procs(tree, timeout=15)
        if not alive and proc.poll() is not None:
            return
    proc.wait()


def _last_lines(log: Path, n: int = 20) -> list[str]:
    try:
        with open(log, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 64_000))
            return f.read().decode("utf-8", "replace").splitlines()[-n:]
    except OSError:
        return []


def _failure(rc: int, tail: list[str]) -> str:
    if rc in (-signal.SIGKILL, 137):
        return "killed by SIGKILL (out of memory?)"
    hits = [ln for ln in tail if FAILURE.search(ln)]
    line = (hits or [ln for ln in tail if ln.strip()] or [""])[-1].strip()
    return f"failed (exit {rc}): {line[:160]}".replace("|", "/")


def run_stage(label: str, cmd: list[str], cwd: Path, env: dict, log: Path, timeout_s: float,
              interval_s: float = 0.5) -> Stage:
    """Run ``cmd`` to its end or to ``timeout_s``; wall time, peak RSS of its process tree, status."""
    print(f"  {label}: {shlex.join(cmd[1:])}  (log: {log})", flush=True)
    peak = {"bytes": 0, "now": 0}
    stop = threading.Event()
    start = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def sample() -> None:
        try:
            root = psutil.Process(proc.pid)
        except psutil.Error:
            return
        while not stop.is_set():
            peak["now"] = _tree_rss(root)
            peak["bytes"] = max(peak["bytes"], peak["now"])
            stop.wait(interval_s)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    timed_out, next_note = False, 60.0
    try:
        while proc.poll() is None:
            elapsed = time.perf_counter() - start
            if elapsed > timeout_s:
                timed_out = True
                _kill_tree(proc)
                break
            if elapsed >= next_note:
                node = next((ln for ln in reversed(_last_lines(log, 200)) if "Running node" in ln
                             or "Completed node" in ln), "")
                print(f"    {elapsed / 60:5.1f} min, {peak['now'] / 2**30:.2f} GB now, {peak['bytes'] / 2**30:.2f} GB "
                      f"peak; {node.split(': ', 1)[-1][:100]}", flush=True)
                next_note += 60.0
            time.sleep(0.5)
    except KeyboardInterrupt:
        _kill_tree(proc)
        raise
    finally:
        wall = time.perf_counter() - start
        stop.set()
        sampler.join()
    tail = _last_lines(log)
    if timed_out:
        status = f"did not finish in {timeout_s / 60:g} min"
    elif proc.returncode != 0:
        status = _failure(proc.returncode, tail)
    else:
        status = "ok"
    if status != "ok":
        print(f"    {status}; last log lines:\n      " + "\n      ".join(tail[-8:]), flush=True)
    print(f"    {wall:.0f} s, peak {peak['bytes'] / 2**30:.2f} GB: {status}", flush=True)
    return Stage(wall, peak["bytes"], status, tail)


def ingested_counts(copy: Path) -> tuple[str, str]:
    """(users, items) in the ratings table the ingest wrote, as the pipelines read them."""
    try:
        import pandas as pd

        ratings = pd.read_parquet(copy / RATINGS_TABLE, columns=["user_id", "item_id"])
        return str(ratings["user_id"].nunique()), str(ratings["item_id"].nunique())
    except Exception:  # noqa: BLE001 - a missing or renamed table leaves the counts unknown, not the benchmark
        return "?", "?"


def machine() -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor() or platform.machine())
    ram = psutil.virtual_memory().total / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {ram:.0f} GB RAM, Python {platform.python_version()}"


def _gb(stage: Stage) -> str:
    return f"{stage.peak_bytes / 2**30:.2f}" if stage.peak_bytes else "-"


def _s(stage: Stage) -> str:
    return "-" if math.isnan(stage.wall_s) else f"{stage.wall_s:.0f}"


def write_output(path: Path | None, intro: list[str], rows: list[list[str]]) -> str:
    text = "\n".join([*intro, "", markdown_rows(HEADER, rows), ""])
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--sizes", default="100k,1m,10m", help="numbers of ratings; 100k is the real ML-100K")
    parser.add_argument("--engines", default="surprise,spark", help="recommendation.engine values")
    parser.add_argument("--timeout-min", type=float, default=30.0, help="limit per kedro run, then killed")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic ratings")
    parser.add_argument("--env", default=None, help="Kedro environment (default: the project's)")
    parser.add_argument("--output", type=Path, default=PROJECT / "docs" / "results" / "ratings_growth.md",
                        help="markdown file the table is written to (rewritten after every row)")
    parser.add_argument("--datasets-dir", type=Path, default=ML100K.parent,
                        help="where the real ml-100k.zip is (the 100K row and the synthetic data's template)")
    parser.add_argument("--synthetic-100k", action="store_true",
                        help="100K synthetic too, instead of the real ML-100K")
    parser.add_argument("--work-dir", type=Path, default=None, help="parent of the temporary folders (default: TMPDIR)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders (data, project copy, logs)")
    parser.add_argument("--ingest-nodes", default=INGEST_NODES)
    parser.add_argument("--pipelines", default=PIPELINES)
    args = parser.parse_args()
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    real = args.datasets_dir.resolve() / ML100K.name
    env_args = ["--env", args.env] if args.env else []
    timeout_s = args.timeout_min * 60
    python = sys.executable

    command = "benchmarks/ratings_growth.py " + shlex.join(sys.argv[1:])
    intro = [f"Ratings growth, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC: `{command}`",
             "",
             f"Machine: {machine()}. Kedro environment: {args.env or 'the default'}; limit {args.timeout_min:g} min "
             f"per kedro run. Beyond the real ML-100K the ratings are SYNTHETIC (benchmarks/synthetic_ratings.py, "
             f"seed {args.seed}). Ingest runs once per size (shown on each engine's row); peak GB = largest sum of "
             f"RSS over the kedro process tree (the Spark JVM included)."]
    print(intro[0] + "\n" + intro[2], flush=True)
    template = None
    rows: list[list[str]] = []
    for n in sizes:
        synthetic = n != 100_000 or args.synthetic_100k
        work = Path(tempfile.mkdtemp(prefix=f"ratings_growth_{size_label(n)}_", dir=args.work_dir))
        print(f"\n== {size_label(n)} ratings ({'synthetic' if synthetic else 'real ML-100K'}) in {work}", flush=True)
        try:
            datasets = work / "datasets"
            datasets.mkdir()
            users = items = "?"
            if synthetic:
                template = template or load_template(real)
                made = make_dataset(n, datasets, args.seed, template)
                users, items = str(made["users"]), str(made["items"])
                del made["data"]
                print(f"  generated {made['ratings']} ratings, {users} users, {items} items in "
                      f"{made['generate_s'] + made['write_s']:.0f} s", flush=True)
            else:
                if not real.is_file():
                    raise SystemExit(f"Error: {real} not found: --datasets-dir must hold the real ml-100k.zip")
                (datasets / real.name).symlink_to(real)
            project = ProjectCopy.create(work / "project")
            copy = project.root
            env = {**project.env, "HYBRID_DATASETS_DIR": str(datasets),
                   "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}", "COLUMNS": "200"}
            ingest = run_stage("ingest", [python, "-m", "kedro", "run", *env_args, "--pipelines", "data_engineering",
                                          "--nodes", args.ingest_nodes], copy, env, work / "ingest.log", timeout_s)
            if ingest.ok:
                users, items = (users, items) if synthetic else ingested_counts(copy)
            for engine in engines:
                params = ["--params", f"recommendation.engine={engine}"]
                if not ingest.ok:
                    stage = Stage(status=f"ingest {ingest.status}")
                else:
                    stage = run_stage(f"pipelines [{engine}]", [python, "-m", "kedro", "run", *env_args,
                                                                "--pipelines", args.pipelines, *params],
                                      copy, env, work / f"pipelines_{engine}.log", timeout_s)
                total = f"{ingest.wall_s + stage.wall_s:.0f}" if ingest.ok and stage.ok else "-"
                rows.append([size_label(n), "yes" if synthetic else "no (ML-100K)", engine, users, items, _s(ingest),
                             _s(stage), total, _gb(ingest), _gb(stage), stage.status])
                write_output(args.output, intro, rows)
        finally:
            if args.keep:
                print(f"  kept {work}", flush=True)
            else:
                shutil.rmtree(work, ignore_errors=True)
    print("\n" + write_output(args.output, intro, rows))
    if args.output:
        print(f"written to {args.output}")


if __name__ == "__main__":
    main()
