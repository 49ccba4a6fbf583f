"""Benchmark (not a test): run the face_models pipeline of one or more environments through a Kedro session and
print accuracy against wall time, the headline accuracies against the targets, the training time and peak memory.

    .venv/bin/python benchmarks/face_models.py --envs fast cpu            # one command per environment also works
    .venv/bin/python benchmarks/face_models.py --envs cpu --params face_models.frame_cnn.max_epochs=10

Each environment is a normal `kedro run --env ENV --pipelines data_engineering,face_models` in this process (so the
peak memory is this process's), logged to the project's MLflow like any run. The accuracy curve is read back from
the frame CNN's nested MLflow run (validation emotion accuracy after each epoch: FER2013 val (carved from Training) plus the few CK+
validation frames). Results go to data/08_reporting/face_models/benchmark_<env>.md as well as the screen.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import time

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_SKIP_PIP_REQUIREMENTS_CHECK", "true")

import pandas as pd  # noqa: E402
from kedro.framework.session import KedroSession  # noqa: E402
from kedro.framework.startup import bootstrap_project  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from hybrid_recommender.paths import PROJECT_ROOT  # noqa: E402

# issue targets per environment (the CPU model's; `fast` only has the FER2013 one)
TARGETS = {
    "cpu": {"fer2013/test/emotion_accuracy_centre": 0.68, "utkface/test/gender_accuracy_mtcnn_centre": 0.90,
            "utkface/test/age_group_accuracy_mtcnn_centre": 0.65, "ckplus/test/sequences_fused_accuracy": 0.95},
    "fast": {"fer2013/test/emotion_accuracy_centre": 0.55},
}


def parse_params(text: str | None) -> dict:
    """``a.b=1,c=x`` -> {"a.b": 1, "c": "x"} (numbers parsed), as `kedro run --params` reads them."""
    out = {}
    for item in filter(None, (text or "").split(",")):
        key, value = item.split("=", 1)
        for cast in (int, float):
            try:
                value = cast(value)
                break
            except ValueError:
                continue
        out[key] = value
    return out


def run_environment(env: str, extra: dict) -> dict:
    bootstrap_project(PROJECT_ROOT)
    with KedroSession.create(project_path=PROJECT_ROOT, env=env) as session:
        session.run(pipeline_names=["data_engineering"])
    start = time.perf_counter()
    with KedroSession.create(project_path=PROJECT_ROOT, env=env, runtime_params=extra) as session:
        session.run(pipeline_names=["face_models"])
    wall = time.perf_counter() - start
    summary = pd.read_csv(PROJECT_ROOT / "data/08_reporting/face_models/summary.csv")
    metrics = pd.read_csv(PROJECT_ROOT / "data/08_reporting/face_models/frame_cnn_metrics.csv")
    card = json.loads((PROJECT_ROOT / "data/06_models/face_attribute_predictor/config.json").read_text())["model_card"]
    return {"env": env, "wall_min": wall / 60, "summary": summary, "curve": accuracy_curve(f"sqlite:///{(PROJECT_ROOT / 'mlflow.db').as_posix()}"),
            "networks": card["networks"], "gender_by_age": gender_by_age(metrics), "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}


def accuracy_curve(tracking_uri: str) -> pd.DataFrame:
    """Validation emotion accuracy after each epoch of the newest frame CNN run with an emotion head, against
    minutes since its start."""
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("hybrid_recommender")
    run = client.search_runs([experiment.experiment_id], "tags.`face_models.heads` LIKE '%emotion%'",
                             order_by=["attributes.start_time DESC"], max_results=1)[0]
    history = client.get_metric_history(run.info.run_id, "val/emotion_acc")
    start = run.info.start_time
    return pd.DataFrame([{"minutes": (m.timestamp - start) / 60000, "step": m.step, "val_emotion_acc": m.value}
                         for m in sorted(history, key=lambda m: m.timestamp)])


def gender_by_age(metrics: pd.DataFrame) -> pd.DataFrame:
    """UTKFace test gender accuracy (MTCNN framing, centre crop) within each age group."""
    rows = metrics[(metrics["dataset"] == "utkface") & (metrics["split"] == "test") & (metrics["attribute"] == "gender")
                   & (metrics["variant"] == "mtcnn/centre_crop")]
    return rows[[c for c in rows if c.startswith("accuracy_age_")]].rename(columns=lambda c: c[len("accuracy_age_"):])


def report(result: dict) -> str:
    env, summary, curve = result["env"], result["summary"], result["curve"]
    targets = TARGETS.get(env, {})
    lines = [f"### `{env}` environment ({dt.date.today().isoformat()}): face_models pipeline "
             f"{result['wall_min']:.1f} min wall, peak memory {result['peak_rss_gb']:.1f} GB", "",
             "| metric | accuracy | target | met |", "|---|---|---|---|"]
    for _, row in summary.iterrows():
        target = targets.get(row["metric"])
        met = "" if target is None or pd.isna(row["accuracy"]) else (
            "yes" if row["accuracy"] >= target else f"no ({100 * (row['accuracy'] - target):+.1f} points)")
        acc = "-" if pd.isna(row["accuracy"]) else f"{100 * row['accuracy']:.1f}%"
        lines.append(f"| {row['metric']} | {acc} | {'' if target is None else f'{100 * target:.0f}%'} | {met} |")
    lines += ["", "| network | heads | epochs | minutes of training | training faces |", "|---|---|---|---|---|"]
    lines += [f"| {name} | {', '.join(n['heads'])} | {n['epochs']} | {n['fit_minutes']} | {n['train_faces']} |"
              for name, n in result["networks"].items()]
    by_age = result["gender_by_age"]
    if len(by_age):
        lines += ["", "| UTKFace test gender (MTCNN, centre) | " + " | ".join(by_age.columns) + " |",
                  "|---" * (len(by_age.columns) + 1) + "|",
                  "| accuracy | " + " | ".join(f"{100 * v:.1f}%" for v in by_age.iloc[0]) + " |"]
    lines += ["", "| minutes of training | step | validation emotion accuracy |", "|---|---|---|"]
    lines += [f"| {r.minutes:.1f} | {r.step} | {100 * r.val_emotion_acc:.1f}% |" for r in curve.itertuples()]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--envs", nargs="+", default=["fast"])
    ap.add_argument("--params", help="extra runtime parameters, as kedro run --params")
    args = ap.parse_args()
    for env in args.envs:
        text = report(run_environment(env, parse_params(args.params)))
        out = PROJECT_ROOT / f"data/08_reporting/face_models/benchmark_{env}.md"
        out.write_text(text + "\n")
        print(text, flush=True)


if __name__ == "__main__":
    main()
