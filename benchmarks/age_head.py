"""Benchmark (not a test): the gender/age network alone on UTKFace (MTCNN framing), one row per age-head variant.

    .venv/bin/python benchmarks/age_head.py [--env fast] [--variants baseline groups l1_0 ...] [--out FILE.md]

Each variant trains the environment's gender/age network (its ``group_overrides``, from random weights rather
than from the emotion network, so a row costs only its own minutes) with some settings changed, fits the
temperatures on UTKFace val, and scores UTKFace val and test: gender and age-group accuracy (the paper's four
groups, 8-47, the group chosen among all six), MAE in years on ages 8-47, adults (25+) read into 0-7 or 8-14, and
the age head's ECE. Schedules are fixed epochs (30 or 60), so the rows do not depend on the machine's load;
their minutes do.
Needs data_engineering's UTKFace tables and ``utkface_mtcnn_pixels``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")

import pandas as pd  # noqa: E402
from kedro.framework.session import KedroSession  # noqa: E402
from kedro.framework.startup import bootstrap_project  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "src"))

from hybrid_recommender.evaluation.markdown import markdown_table  # noqa: E402
from hybrid_recommender.face_models import make_heads  # noqa: E402
from hybrid_recommender.face_models.data import face_set  # noqa: E402
from hybrid_recommender.face_models.params import FaceModelsParams  # noqa: E402
from hybrid_recommender.face_models.preprocessing import Preprocessing  # noqa: E402
from hybrid_recommender.face_models.training import evaluate_frame_cnn, train_frame_cnn  # noqa: E402
from hybrid_recommender.mlflow_runs import ChildRun  # noqa: E402

# fixed epochs, not a time budget: every variant gets the same schedule whatever else the machine is doing
LONGER = {"budget_minutes": None, "max_epochs": 60, "max_time": None}
SHORTER = {"budget_minutes": None, "max_epochs": 30, "max_time": None}
VARIANTS = {   # name -> (training keys, age_head keys)
    "groups_30ep": (SHORTER, {"target": "groups"}),
    "years_l1_1.0_30ep": (SHORTER, {"l1_weight": 1.0}),
    "years_l1_0.1_30ep": (SHORTER, {"l1_weight": 0.1}),
    "years_l1_0_30ep": (SHORTER, {"l1_weight": 0.0}),
    "years_l1_0.1_sigma3_30ep": (SHORTER, {"l1_weight": 0.1, "sigma": 3.0}),
    "years_l1_0.1_60ep": (LONGER, {"l1_weight": 0.1}),
}
COLUMNS = {"accuracy_viewer_ages": "four groups", "mae_years_viewer_ages": "MAE 8-47", "adults_as_children":
           "adults as children", "ece": "age ECE"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="fast")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    bootstrap_project(PROJECT)
    with KedroSession.create(project_path=PROJECT, env=args.env) as session:
        context = session.load_context()
        index, pixels = context.catalog.load("utkface_faces"), context.catalog.load("utkface_mtcnn_pixels")
        params = context.params
    settings = FaceModelsParams.model_validate(params["face_models"])
    bins = params["data_engineering"]["age_groups"]
    prep = Preprocessing(**settings.preprocessing.model_dump())
    heads = {h: make_heads(bins["labels"])[h] for h in ("gender", "age_group")}
    sets = {split: face_set("utkface", index, pixels, prep, heads, [split]) for split in ("train", "val", "test")}
    base = settings.frame_cnn_for("gender_age_group").model_copy(update={"init_from": None, "progress_bar": False})
    rows = []
    for name in args.variants:
        training, age_head = VARIANTS[name]
        cfg = base.model_copy(update={**training, "age_head": base.age_head.model_copy(update=age_head)})
        started = time.perf_counter()
        net, info = train_frame_cnn(settings.frame_cnn.backbones[0], heads, [sets["train"]], [sets["val"]], prep, cfg,
                                    ChildRun(None), PROJECT / "data/06_models/benchmark_age_head", settings.seed,
                                    age_edges=bins["edges"])
        seconds = time.perf_counter() - started
        evaluated = [("utkface", split, "mtcnn", sets[split]) for split in ("val", "test")]
        metrics, _ = evaluate_frame_cnn(name, net, evaluated, prep, [False], bins["labels"], bins["viewers"])
        row = {"variant": name, "epochs": info["epochs"], "minutes": round(seconds / 60, 1)}
        for m in metrics:
            if m["attribute"] == "gender":
                row[f"{m['split']} gender 8-47"] = m.get("accuracy_viewer_ages")
            else:
                row.update({f"{m['split']} {label}": m.get(key) for key, label in COLUMNS.items()})
        rows.append(row)
        print(pd.DataFrame([row]).round(4).to_string(index=False), flush=True)
    table = markdown_table(pd.DataFrame(rows).round(4))
    print(table)
    if args.out:
        args.out.write_text(f"`{' '.join(['.venv/bin/python', *sys.argv])}`\n\n{table}\n")


if __name__ == "__main__":
    main()
