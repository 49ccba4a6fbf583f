"""MLflow: one parent run per evaluation, one child run per observation, logged in batches.

The parent is created with an explicit `mlflow.parentRunId` tag (the kedro-mlflow run when one is active), and
every child with the parent's id, through MlflowClient: nothing depends on which run is active, and a re-run
makes a new parent instead of adding children to an old one.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from hybrid_recommender.recommender.ranking_metrics import UNDEFINED_RULES, with_metrics

PARENT_TAG = "mlflow.parentRunId"
OBS_PARAMS = ("user_id", "age_group", "gender", "emotion", "pred_age_group", "pred_gender", "pred_emotion",
              "age_face_id", "emotion_face_id", "attributes_right")
MAX_BATCH = 1000   # MLflow's log_batch limit on metrics per call


def _experiment_id(client: MlflowClient, name: str) -> str:
    active = mlflow.active_run()
    if active is not None:
        return active.info.experiment_id
    found = client.get_experiment_by_name(name)
    return found.experiment_id if found else client.create_experiment(name)


def child_metrics(scores: pd.DataFrame) -> dict[int, dict[str, float]]:
    """Per observation: `{system}.{attributes}.{relevance}.{protocol}.{precision|recall|f1}_{rule}` and `.hits`."""
    out: dict[int, dict[str, float]] = {}
    for rule in UNDEFINED_RULES:
        table = with_metrics(scores, rule)
        prefix = (table["system"] + "." + table["attributes"] + "." + table["relevance"] + "." + table["protocol"])
        for obs, p, pr, r, f, h in zip(table["obs_id"], prefix, table["precision"], table["recall"], table["f1"],
                                       table["hits"]):
            m = out.setdefault(int(obs), {})
            m[f"{p}.precision_{rule}"], m[f"{p}.recall_{rule}"], m[f"{p}.f1_{rule}"] = float(pr), float(r), float(f)
            m[f"{p}.hits"] = float(h)
    return out


def child_params(observations: pd.DataFrame, scores: pd.DataFrame, proposed: str) -> dict[int, dict[str, str]]:
    """Per observation: the viewer, true and predicted attributes, faces, and the group, fallback and favoured
    cluster the paper's hybrid used with the predicted and the true attributes."""
    out = {}
    hybrid = scores[(scores["system"] == proposed) & (scores["relevance"] == "liked")
                    & (scores["protocol"] == "full_ranking")].set_index(["obs_id", "attributes"])
    for row in observations.to_dict("records"):
        obs = int(row["obs_id"])
        params = {k: str(row[k]) for k in OBS_PARAMS if k in row}
        for attributes in ("predicted", "oracle"):
            if (obs, attributes) in hybrid.index:
                h = hybrid.loc[(obs, attributes)]
                params[f"{attributes}.group_used"] = str(h["group_used"])
                params[f"{attributes}.fallback"] = str(h["fallback"])
                params[f"{attributes}.favoured_cluster"] = str(h["favoured_cluster"])
                params[f"{attributes}.top_items"] = str(h["top_items"])
        out[obs] = params
    return out


def log_evaluation(observations: pd.DataFrame, scores: pd.DataFrame, summary_metrics: Mapping[str, float],
                   params: Mapping[str, object], artifacts: Mapping[str, object], proposed: str,
                   experiment_name: str = "hybrid_recommender", run_name: str = "evaluation") -> dict:
    """Create the parent run, its artifacts and one child per observation; return their ids and the seconds."""
    from tqdm.auto import tqdm

    start = time.perf_counter()
    client = MlflowClient()
    exp = _experiment_id(client, experiment_name)
    active = mlflow.active_run()
    tags = {"evaluation.kind": "parent",
            "evaluation.observations": str(len(observations))}
    if active is not None:
        tags[PARENT_TAG] = active.info.run_id
    parent = client.create_run(exp, tags=tags, run_name=run_name).info.run_id
    now = int(time.time() * 1000)
    client.log_batch(parent, params=[Param(k, str(v)[:6000]) for k, v in params.items()],
                     metrics=[Metric(k, float(v), now, 0) for k, v in summary_metrics.items() if np.isfinite(v)])
    with tempfile.TemporaryDirectory() as tmp:
        for name, obj in artifacts.items():
            path = Path(tmp) / name
            if isinstance(obj, pd.DataFrame):
                obj.to_csv(path, index=False)
            elif isinstance(obj, str):
                path.write_text(obj)
            else:                                   # a matplotlib figure
                obj.savefig(path, dpi=110, bbox_inches="tight")
        client.log_artifacts(parent, tmp)
    metrics, obs_params = child_metrics(scores), child_params(observations, scores, proposed)
    children = []
    for obs in tqdm(sorted(obs_params), desc="MLflow observation runs", leave=False):
        child = client.create_run(exp, tags={PARENT_TAG: parent, "evaluation.kind": "observation"},
                                  run_name=f"observation_{obs:04d}").info.run_id
        ms = [Metric(k, v, now, 0) for k, v in metrics.get(obs, {}).items()]
        ps = [Param(k, v[:6000]) for k, v in obs_params[obs].items()]
        for i in range(0, max(len(ms), 1), MAX_BATCH):
            client.log_batch(child, metrics=ms[i:i + MAX_BATCH], params=ps if i == 0 else [],
                             tags=[RunTag("evaluation.obs_id", str(obs))] if i == 0 else [])
        client.set_terminated(child)
        children.append(child)
    client.set_terminated(parent)
    return {"parent_run_id": parent, "experiment_id": exp, "child_runs": len(children),
            "seconds": round(time.perf_counter() - start, 2)}
