"""MLflow records of an evaluation: one parent run, one child run per observation (through
:mod:`hybrid_recommender.mlflow_runs`, logged in batches)."""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from hybrid_recommender.mlflow_runs import EXPERIMENT, start_run
from hybrid_recommender.recommender.ranking_metrics import UNDEFINED_RULES, with_metrics

OBS_PARAMS = ("user_id", "age_group", "gender", "emotion", "pred_age_group", "pred_gender", "pred_emotion",
              "age_face_id", "emotion_face_id", "attributes_right")


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


def headline_metrics(prf: pd.DataFrame, table_iii: pd.DataFrame, observations: pd.DataFrame) -> dict[str, float]:
    """The parent run's metrics: every system's overall P/R/F1 (liked items) and the all-three face accuracy."""
    overall = prf[(prf["age_group"] == "all") & (prf["relevance"] == "liked")]
    out = {f"{r.system}.{r.attributes}.{r.protocol}.{m}_{r.rule}": getattr(r, m)
           for r in overall.itertuples() for m in ("precision", "recall", "f1_of_means", "mean_f1")}
    out["face.all_three_accuracy_table_iii"] = float(table_iii["ours"].iloc[-1])
    out["face.all_three_accuracy_observations"] = 100 * float(observations["attributes_right"].mean())
    return out


def run_params(params: Mapping, roles: Mapping[str, str], weights: Mapping, n_observations: int) -> dict:
    """The parent run's params: the evaluation's settings, which system plays which role, the improved weights."""
    return {"n_observations": n_observations, "seed": params["seed"], "top_n": params["top_n"],
            "relevant_min_rating": params["relevant_min_rating"], "estimate_threshold": params["estimate_threshold"],
            "age_groups": ",".join(params["age_groups"]), "emotion_distribution": dict(params["emotion_distribution"]),
            "faces": dict(params["faces"]), "context_stance": params["context_stance"],
            **{f"role.{k}": v for k, v in roles.items()}, **{f"improved_hybrid.{k}": v for k, v in weights.items()}}


def log_evaluation(observations: pd.DataFrame, scores: pd.DataFrame, summary_metrics: Mapping[str, float],
                   params: Mapping[str, object], artifacts: Mapping[str, object], proposed: str,
                   experiment_name: str = EXPERIMENT, run_name: str = "evaluation") -> dict:
    """Create the parent run (params, finite headline metrics, artifacts: tables, texts, figures) and one child per
    observation; return their ids and the seconds."""
    start = time.perf_counter()
    parent = start_run(run_name, {"evaluation.kind": "parent", "evaluation.observations": str(len(observations))},
                       experiment=experiment_name)
    parent.log_batch({k: v for k, v in summary_metrics.items() if np.isfinite(v)}, params)
    parent.log_objects(artifacts)
    metrics, obs_params = child_metrics(scores), child_params(observations, scores, proposed)
    for obs in tqdm(sorted(obs_params), desc="MLflow observation runs", leave=False):
        child = start_run(f"observation_{obs:04d}", {"evaluation.kind": "observation", "evaluation.obs_id": str(obs)},
                          parent=parent)
        child.log_batch(metrics.get(obs, {}), obs_params[obs])
        child.finish()
    parent.finish()
    return {"parent_run_id": parent.run_id, "experiment_id": parent.experiment_id, "child_runs": len(obs_params),
            "seconds": round(time.perf_counter() - start, 2)}
