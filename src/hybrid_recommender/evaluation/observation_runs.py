"""MLflow records of an evaluation: one parent run (comparable metrics, params, provenance, artifacts) and one run
per observation in an experiment of their own, ``{experiment}_observations``, so that the main experiment's
first page holds the runs people compare. Runs go through :mod:`hybrid_recommender.mlflow_runs`, logged in batches.

An observation run points to its parent by the tag ``evaluation.parent_run_id`` only: MLflow's UI fetches the
missing ``mlflow.parentRunId`` parent of a listed run by id into the list it shows, so the parent (from the other
experiment) would appear among the observations, and its "parent run" link assumes one experiment.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from urllib.parse import quote

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from hybrid_recommender.mlflow_runs import (
    EXPERIMENT,
    ChildRun,
    ensure_experiment,
    start_run,
)
from hybrid_recommender.recommender.ranking_metrics import UNDEFINED_RULES, with_metrics

OBS_PARAMS = ("user_id", "age_group", "gender", "emotion", "pred_age_group", "pred_gender", "pred_emotion",
              "age_face_id", "emotion_face_id", "emotion_track_id", "emotion_track_dataset", "video_emotion",
              "video_emotion_cnn_branch", "video_emotion_lstm_branch")
OBS_FLAGS = ("attributes_right", "attributes_right_video")   # 0/1 metrics: MLflow averages, sorts and charts them
OBSERVATIONS_SUFFIX = "_observations"
PARENT_RUN_TAG = "evaluation.parent_run_id"
# The parent's per-age-group keys: one relevance and one rule keep MLflow's UI usable (7 systems x 5 attribute
# sources x 3 protocols x 5 age groups x 9 is already ~4,700 keys); the rest is in the CSV artifacts.
LOGGED_RELEVANCE, LOGGED_RULE = "liked", "zero"
PRF_METRICS = {"precision": "precision", "recall": "recall", "f1": "f1_of_means"}   # key name -> prf column
DIFFERENCE_NAMES = {"f1_of_means": "f1"}


def _present(value) -> bool:
    return not (pd.api.types.is_scalar(value) and pd.isna(value))


def _flag(value) -> float | None:
    """1.0 / 0.0 from a bool (or its text), None when missing (an observation without a video)."""
    return float(str(value).strip().lower() in ("true", "1", "1.0")) if _present(value) else None


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


def child_flags(observations: pd.DataFrame) -> dict[int, dict[str, float]]:
    """Per observation: ``attributes_right`` (and ``attributes_right_video`` when it has one) as 0/1."""
    return {int(row["obs_id"]): {k: f for k in OBS_FLAGS if (f := _flag(row.get(k))) is not None}
            for row in observations.to_dict("records")}


def child_params(observations: pd.DataFrame, scores: pd.DataFrame, proposed: str) -> dict[int, dict[str, str]]:
    """Per observation: the viewer, true and predicted attributes, faces, and the group, fallback and favoured
    cluster the paper's hybrid used with each attribute source (oracle, still, video, ...)."""
    out = {}
    hybrid = scores[(scores["system"] == proposed) & (scores["relevance"] == "liked")
                    & (scores["protocol"] == "full_ranking")].set_index(["obs_id", "attributes"])
    for row in observations.to_dict("records"):
        obs = int(row["obs_id"])
        params = {k: str(row[k]) for k in OBS_PARAMS if k in row and _present(row[k])}
        for attributes in dict.fromkeys(scores["attributes"]):
            if (obs, attributes) in hybrid.index:
                h = hybrid.loc[(obs, attributes)]
                params[f"{attributes}.group_used"] = str(h["group_used"])
                params[f"{attributes}.fallback"] = str(h["fallback"])
                params[f"{attributes}.favoured_cluster"] = str(h["favoured_cluster"])
                params[f"{attributes}.top_items"] = str(h["top_items"])
        out[obs] = params
    return out


def metric_key(*parts) -> str:
    """Parts joined by "." into an MLflow key: MLflow allows alphanumerics, _ - . space and / (":" not on Windows),
    so "48+" becomes "48plus" and any other character "_"."""
    return re.sub(r"[^\w\-. /]", "_", ".".join(map(str, parts)).replace("+", "plus"))


def _logged(table: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    sub = table[(table["relevance"] == LOGGED_RELEVANCE) & (table["rule"] == LOGGED_RULE)]
    if sub.duplicated(key).any():   # two rows would write one key: a silent overwrite would compare wrong numbers
        raise ValueError(f"more than one {LOGGED_RELEVANCE}/{LOGGED_RULE} row per {key}")
    return sub


def prf_metrics(prf: pd.DataFrame) -> dict[str, float]:
    """``{system}.{attributes}.{protocol}.{age_group}.{precision|recall|f1}`` (f1: F1 of the means, the tables'
    F1) and ``_low``/``_high`` (interval bounds), liked relevance and the zero rule only."""
    out = {}
    for r in _logged(prf, ["system", "attributes", "protocol", "age_group"]).to_dict("records"):
        base = metric_key(r["system"], r["attributes"], r["protocol"], r["age_group"])
        for name, column in PRF_METRICS.items():
            for suffix in ("", "_low", "_high"):
                out[f"{base}.{name}{suffix}"] = r[column + suffix]
    return out


def difference_metrics(differences: pd.DataFrame) -> dict[str, float]:
    """``diff.{system}-{rival}.{attributes}.{protocol}.{age_group}.{metric}`` and ``_low``/``_high``, liked relevance
    and the zero rule only (f1_of_means is named f1, as in :func:`prf_metrics`)."""
    out = {}
    key = ["system", "rival", "attributes", "protocol", "age_group", "metric"]
    for r in _logged(differences, key).to_dict("records"):
        base = metric_key("diff", f"{r['system']}-{r['rival']}", r["attributes"], r["protocol"], r["age_group"],
                          DIFFERENCE_NAMES.get(r["metric"], r["metric"]))
        out[base], out[f"{base}_low"], out[f"{base}_high"] = r["difference"], r["low"], r["high"]
    return out


def face_metrics(table_iii: pd.DataFrame | None, observations: pd.DataFrame) -> dict[str, float]:
    """All-three-right accuracy (%): Table III's overall cell, and on the observations from the still faces and,
    where the observations have a video emotion, with it."""
    out = {}
    if table_iii is not None and "ours" in table_iii:
        out["face.all_three_accuracy_table_iii"] = float(table_iii["ours"].iloc[-1])
    for column, name in (("attributes_right", "still"), ("attributes_right_video", "video")):
        flags = [f for f in map(_flag, observations.get(column, [])) if f is not None]
        if flags:
            out[f"face.all_three_accuracy_{name}"] = 100 * float(np.mean(flags))
    return out


def parent_metrics(prf: pd.DataFrame, table_iii: pd.DataFrame | None, observations: pd.DataFrame,
                   differences: pd.DataFrame | None = None) -> dict[str, float]:
    """The parent run's metrics, the finite ones: :func:`prf_metrics`, :func:`difference_metrics` and
    :func:`face_metrics`, so that parents of different face models compare key by key in MLflow."""
    out = {**prf_metrics(prf), **(difference_metrics(differences) if differences is not None else {}),
           **face_metrics(table_iii, observations)}
    return {k: float(v) for k, v in out.items() if v is not None and np.isfinite(v)}


headline_metrics = parent_metrics   # the former name, until every caller passes the differences


def run_params(params: Mapping, roles: Mapping[str, str], weights: Mapping, n_observations: int) -> dict:
    """The parent run's params: the evaluation's settings, which system plays which role, the improved weights."""
    return {"n_observations": n_observations, "seed": params["seed"], "top_n": params["top_n"],
            "relevant_min_rating": params["relevant_min_rating"], "estimate_threshold": params["estimate_threshold"],
            "age_groups": ",".join(params["age_groups"]), "emotion_distribution": dict(params["emotion_distribution"]),
            "faces": dict(params["faces"]), "context_stance": params["context_stance"],
            **{f"role.{k}": v for k, v in roles.items()}, **{f"improved_hybrid.{k}": v for k, v in weights.items()}}


def observations_filter(parent_run_id: str) -> str:
    """The MLflow search filter (UI search box, ``search_runs``) listing the observation runs of one parent."""
    return f"tags.`{PARENT_RUN_TAG}` = '{parent_run_id}'"


def observations_url(parent_run_id: str, observations_experiment_id: str, ui: str = "http://127.0.0.1:5000") -> str:
    """The MLflow UI page of the observations experiment, filtered to the observation runs of one parent."""
    return f"{ui}/#/experiments/{observations_experiment_id}?searchFilter={quote(observations_filter(parent_run_id))}"


def observations_experiment(parent: ChildRun) -> str:
    """``{parent's experiment}_observations``, created beside the parent's experiment (same artifact location)."""
    main = parent.client.get_experiment(parent.experiment_id)
    return ensure_experiment(parent.client, main.name + OBSERVATIONS_SUFFIX, main.artifact_location)


def log_evaluation(observations: pd.DataFrame, scores: pd.DataFrame, summary_metrics: Mapping[str, float],
                   params: Mapping[str, object], artifacts: Mapping[str, object], proposed: str,
                   experiment_name: str = EXPERIMENT, run_name: str = "evaluation", *,
                   provenance: Mapping[str, str] | None = None) -> dict:
    """Create the parent run (params, finite metrics, artifacts: tables, texts, figures; ``provenance`` as params
    and tags ``provenance.*`` and as ``provenance.json``) and one run per observation in the observations
    experiment, tagged with the parent's id; return their ids and the seconds."""
    start = time.perf_counter()
    parent = start_run(run_name, {"evaluation.kind": "parent", "evaluation.observations": str(len(observations))},
                       experiment=experiment_name)
    obs_experiment = observations_experiment(parent)
    prov = {f"provenance.{k}": v for k, v in (provenance or {}).items()}
    parent.log_batch({k: v for k, v in summary_metrics.items() if np.isfinite(v)}, {**params, **prov},
                     {**prov, "evaluation.observations_experiment_id": obs_experiment,
                      "evaluation.observations_filter": observations_filter(parent.run_id)})
    parent.log_objects({**artifacts, **({"provenance.json": json.dumps(dict(provenance), indent=2, sort_keys=True)}
                                        if provenance else {})})
    metrics, flags = child_metrics(scores), child_flags(observations)
    obs_params = child_params(observations, scores, proposed)
    link = {PARENT_RUN_TAG: parent.run_id, "evaluation.parent_experiment_id": parent.experiment_id}
    for obs in tqdm(sorted(obs_params), desc="MLflow observation runs", leave=False):
        child = start_run(f"observation_{obs:04d}", {"evaluation.kind": "observation", "evaluation.obs_id": str(obs),
                                                     **link}, in_experiment_id=obs_experiment, nested=False)
        child.log_batch({**metrics.get(obs, {}), **flags.get(obs, {})}, obs_params[obs])
        child.finish()
    parent.finish()
    return {"parent_run_id": parent.run_id, "experiment_id": parent.experiment_id,
            "observations_experiment_id": obs_experiment, "child_runs": len(obs_params),
            "seconds": round(time.perf_counter() - start, 2)}
