"""Nodes of inference: the same ``recommend_for_input`` as the command, over the files listed in parameters."""

from __future__ import annotations

import glob
import logging
from pathlib import Path

import pandas as pd
import torch

from hybrid_recommender.errors import InputDataError
from hybrid_recommender.inference.coldstart import cold_start_lists
from hybrid_recommender.inference.core import Resources, recommend_for_input
from hybrid_recommender.inference.inputs import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from hybrid_recommender.inference.settings import settings_from

log = logging.getLogger(__name__)


def popularity_cold_start_lists(ratings: pd.DataFrame, users: pd.DataFrame, movies: pd.DataFrame, params: dict,
                                groups: dict) -> dict:
    """The cold-start lists (most-rated training movies, over everyone and per age group / gender)."""
    return cold_start_lists(ratings, users, movies, int(params["top_n"]), groups["min_users"], groups["min_ratings"])


def _expand(patterns: list[str]) -> list[str]:
    """Files and folders named by ``patterns`` (globs allowed); a pattern that matches nothing is kept, so it is
    reported as missing rather than dropped."""
    out = []
    for p in patterns:
        hits = sorted(glob.glob(str(p), recursive=True)) if any(c in str(p) for c in "*?[") else [str(p)]
        hits = [h for h in hits if Path(h).is_dir() or Path(h).suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES] \
            if len(hits) > 1 else hits
        out += hits or [str(p)]
    return out


def batch_recommendations(predictor, recommender, cold_start: dict, movies: pd.DataFrame, params: dict) -> list[dict]:
    """One result (the command's JSON) per listed input; an unreadable input is a counted entry with its error."""
    resources = Resources(predictor, recommender, cold_start,
                          dict(zip(movies["item_id"].astype(int), movies["title"].astype(str))),
                          dict(getattr(predictor, "model_card", None) or {}))
    settings = settings_from(params)
    inputs = _expand(list(settings.batch_inputs))
    threads = torch.get_num_threads()
    torch.set_num_threads(int(settings.num_threads or threads))
    results = []
    try:
        for i, spec in enumerate(inputs, start=1):
            log.info("inference %d/%d: %s", i, len(inputs), spec)
            try:
                results.append(recommend_for_input(spec, resources, settings, progress=True).to_dict())
            except InputDataError as exc:
                log.warning("skipped: %s", exc)
                results.append({"input": spec, "error": str(exc)})
    finally:
        torch.set_num_threads(threads)
    if not inputs:
        log.info("no inference.batch_inputs listed: nothing to recommend for")
    return results


def recommendation_table(results: list[dict]) -> pd.DataFrame:
    """One row per listed film per input (inputs that failed: one row with the error)."""
    rows = []
    for r in results:
        if "error" in r:
            rows.append({"input": r["input"], "error": r["error"]})
            continue
        common = {"input": r["input"], "input_kind": r["input_kind"], "mode": r["mode"], "viewers": len(r["viewers"]),
                  "strategy": r["explanation"].get("strategy", ""), "fallback": (r["fallback"] or {}).get("reason", ""),
                  "frames": r["frames"], "fps": r["fps"], "error": ""}
        rows += [{**common, **f} for f in r["recommendations"]]
    cols = ["input", "input_kind", "mode", "viewers", "strategy", "fallback", "frames", "fps", "rank", "item_id",
            "title", "score", "error"]
    return pd.DataFrame(rows, columns=cols)


def batch_metrics(results: list[dict]) -> dict:
    """Counts and speed of the batch, as MLflow metrics."""
    ok = [r for r in results if "error" not in r]
    values = {
        "inference.inputs": len(results), "inference.errors": len(results) - len(ok),
        "inference.cold_start": sum(r["mode"] == "cold_start" for r in ok),
        "inference.groups": sum(r["mode"] == "group" for r in ok),
        "inference.viewers": sum(len(r["viewers"]) for r in ok),
        "inference.low_confidence_emotions": sum(v["emotion_low_confidence"] for r in ok for v in r["viewers"]),
        "inference.frames": sum(r["frames"] for r in ok),
        "inference.seconds": round(sum(r["seconds"] for r in ok), 3),
    }
    if values["inference.seconds"] > 0:
        values["inference.fps"] = round(values["inference.frames"] / values["inference.seconds"], 2)
    return {k: {"value": float(v), "step": 0} for k, v in values.items()}
