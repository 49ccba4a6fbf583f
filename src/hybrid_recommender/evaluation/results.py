"""The results section of the docs, rendered from one run's report tables only (never typed by hand).

`render_results` is called by the evaluation's last node (``data/08_reporting/evaluation/results.md``) and by
``scripts/publish_results.py``, which copies a run's tables into ``docs/results/<label>/`` and the rendering into
docs/evaluation.md; a test renders the committed tables again and holds the docs equal to them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from hybrid_recommender.evaluation import paper
from hybrid_recommender.evaluation.markdown import markdown_rows as _md

# the tables a rendering reads, by their file names in data/08_reporting/evaluation and docs/results/<label>
TABLES = {"per_attribute": "face_attribute_accuracy_per_attribute.csv", "prf": "prf_by_age_group.csv",
          "differences": "prf_differences.csv", "factors": "table_iii_factors.csv"}
PROVENANCE = "provenance.json"
PAIR_NAMES = {"demographic_svd": "proposed − benchmark", "group_popularity": "proposed − popularity"}
PROTOCOL_NAMES = {"full_ranking": "full ranking", "rated_candidates": "rated candidates",
                  "rated_candidates_threshold": "rated candidates, estimate ≥ threshold"}


def _pct(row: Mapping, col: str = "ours") -> str:
    return "-" if pd.isna(row[col]) else f"{row[col]:.1f} [{row['low']:.1f}, {row['high']:.1f}]"


def _ci(value: float, low: float, high: float, signed: bool = False) -> str:
    if pd.isna(value):
        return "-"
    f = "{:+.3f}" if signed else "{:.3f}"
    return f"{f.format(value)} [{f.format(low)}, {f.format(high)}]"


def _groups(table: pd.DataFrame) -> list[str]:
    groups = [g for g in dict.fromkeys(table["age_group"]) if g != "all"]
    return groups + ["all"]


def face_paths_section(per_attribute: pd.DataFrame) -> str:
    obs = per_attribute[per_attribute["faces"] == "observations"]
    rows = []
    for path in dict.fromkeys(obs["path"]):
        part = obs[obs["path"] == path].set_index("attribute")
        emotion, both = part.loc["emotion"], part.loc["all_three"]
        seq = per_attribute[(per_attribute["path"] == path) & (per_attribute["faces"] == "test sequences")]
        rows.append([path, _pct(emotion), f"{emotion['paper']:.2f}",
                     _pct(seq.iloc[0]) + f" (n={int(seq.iloc[0]['n'])})" if len(seq) else "-",
                     _pct(both), f"{paper.TABLE_III_OVERALL:.2f}"])
    n = int(obs["n"].iloc[0])
    return (f"Emotion and all three attributes right (%, Wilson 95% interval) on the {n} observations; the video "
            "path on every test sequence too. Paper: emotion 85.0 (still, per attribute), AFEW fused 60.2, CNN "
            "branch 55.3, LSTM branch 59.1; all three 60.07.\n\n"
            + _md(["path", "emotion, observations", "paper", "emotion, test sequences", "all three, observations",
                   "paper"], rows))


def prf_section(prf: pd.DataFrame, attributes: str, systems: Mapping[str, str]) -> str:
    sub = prf[(prf["attributes"] == attributes) & (prf["relevance"] == "liked") & (prf["rule"] == "zero")]
    groups = _groups(sub)
    rows = []
    for protocol in dict.fromkeys(sub["protocol"]):
        for system, role in systems.items():
            part = sub[(sub["protocol"] == protocol) & (sub["system"] == system)].set_index("age_group")
            if part.empty:
                continue
            cells = []
            for g in groups:
                r = part.loc[g] if g in part.index else None
                f1 = None if r is None else _ci(r["f1_of_means"], r["f1_of_means_low"], r["f1_of_means_high"])
                cells.append("-" if r is None else f"{r['precision']:.3f} / {r['recall']:.3f} / {f1}")
            n = part.loc["all"] if "all" in part.index else None
            rows.append([PROTOCOL_NAMES.get(protocol, protocol), f"{system} ({role})" if role else system,
                         "-" if n is None else f"{int(n['observations'])} ({int(n['viewers'])})", *cells])
    return ("Precision / recall / F1 of the means [95% interval, resampling viewers within age groups], relevant = "
            "held-out rating ≥ 4, undefined → 0. n: observations (distinct viewers). The paper gives only "
            "proposed 15-24 precision 0.862, benchmark 15-24 precision 0.903 and proposed 25-37 0.873 / 0.894 / "
            "0.88.\n\n" + _md(["protocol", "system", "n", *groups], rows))


def differences_section(differences: pd.DataFrame, attributes: str) -> str:
    sub = differences[(differences["attributes"] == attributes) & (differences["relevance"] == "liked")
                      & (differences["rule"] == "zero") & differences["metric"].isin(["precision", "f1_of_means"])]
    groups = _groups(sub)
    rows = []
    for (rival, protocol, metric), part in sub.groupby(["rival", "protocol", "metric"], sort=False):
        part = part.set_index("age_group")
        cells = [_ci(part.loc[g, "difference"], part.loc[g, "low"], part.loc[g, "high"], signed=True)
                 + {"better": " **+**", "worse": " **−**"}.get(part.loc[g, "verdict"], "")
                 if g in part.index else "-" for g in groups]
        rows.append([PAIR_NAMES.get(rival, f"proposed − {rival}"), PROTOCOL_NAMES.get(protocol, protocol),
                     metric.replace("f1_of_means", "F1"), *cells])
    return ("Paired differences on the same viewer resamples; **+** / **−**: the 95% interval excludes 0. The paper "
            "says the proposed system is superior across scenarios and that the benchmark has the higher precision "
            "at 8-14 and 15-24 (0.903 vs 0.862 at 15-24).\n\n"
            + _md(["difference", "protocol", "metric", *groups], rows))


def subset_section(prf: pd.DataFrame, attributes: str) -> str:
    sub = prf[(prf["attributes"] == attributes) & (prf["relevance"] == "liked") & (prf["rule"] == "zero")
              & (prf["protocol"] == "rated_candidates")]
    if sub.empty:
        return ""
    one = sub[sub["system"] == sub["system"].iloc[0]].set_index("age_group")
    kept, left_out = one["observations"].astype(int), one["excluded_observations"].astype(int)
    cells = [f"{kept[g]} of {kept[g] + left_out[g]}" for g in _groups(sub) if g in one.index]
    return (f"Rated-candidates rows count only observations with {one['subset'].iloc[0]} (with fewer, every system "
            "returns all of them whatever its order); one rule for every system: the top N of the held-out movies "
            "by the system's own order. The Surprise-FAQ variant (estimate ≥ threshold) applies only to systems "
            "that estimate ratings and is its own protocol row. Observations kept per age group ("
            + ", ".join(_groups(sub)) + "): " + ", ".join(cells) + ".")


def factors_section(factors: pd.DataFrame) -> str:
    rows = []
    for r in factors.to_dict("records"):
        who = (f"{r['gender']} {r['age_group']}" if r["factor"] == "age_and_gender" else str(r["emotion"]))
        rows.append([r["factor"], who, f"{int(r['right'])}/{int(r['n'])}",
                     f"{r['rate']:.1f} [{r['low']:.1f}, {r['high']:.1f}]"])
    return ("Table III's cells are products of these margins (age group and gender both right on the UTKFace test "
            "faces × emotion right on the emotion test faces), so they cannot show interactions; %, Wilson 95% "
            "intervals.\n\n" + _md(["factor", "group", "right/n", "rate"], rows))


def provenance_line(provenance: Mapping[str, str]) -> str:
    keys = [k for k in ("environment", "protocol", "predictor_trained_at", "predictor.config_sha256",
                        "git_commit", "git_dirty", "parent_run_id") if k in provenance]
    return ("Produced by: " + ", ".join(f"{k} `{provenance[k]}`" for k in keys)
            + " (every seed and data set fingerprint: provenance.json beside the tables).")


def render_results(tables: Mapping[str, pd.DataFrame], provenance: Mapping[str, str], label: str) -> str:
    """The results section for one run (``label``: e.g. cpu, fast) from its report tables and provenance."""
    prf = tables["prf"]
    roles = prf.dropna(subset=["role"]).drop_duplicates("role").set_index("role")["system"]
    attributes = "video" if (prf["attributes"] == "video").any() else "still"
    systems = {roles["proposed"]: "proposed", roles["benchmark"]: "benchmark", "group_popularity": "",
               "improved_hybrid": ""}
    still = prf_section(prf, "still", {roles["proposed"]: "proposed"}) if attributes != "still" else ""
    parts = [
        f"### `{label}` predictor",
        "",
        provenance_line(provenance),
        "",
        "#### Face attributes: still faces and the video path",
        "",
        face_paths_section(tables["per_attribute"]),
        "",
        f"#### P/R/F1 by age group ({attributes} attributes)",
        "",
        prf_section(prf, attributes, systems),
        "",
        subset_section(prf, attributes),
        "",
    ]
    if still:
        parts += ["The proposed system with the still-face attributes instead:", "", still, ""]
    parts += [
        f"#### Paired differences ({attributes} attributes)",
        "",
        differences_section(tables["differences"], attributes),
        "",
        "#### Table III's margins",
        "",
        factors_section(tables["factors"]),
        "",
    ]
    return "\n".join(parts)


def read_tables(folder: Path) -> tuple[dict[str, pd.DataFrame], dict]:
    """A run's report tables and provenance as saved in ``folder`` (the run's or the docs' copy)."""
    tables = {k: pd.read_csv(Path(folder) / name) for k, name in TABLES.items()}
    return tables, json.loads((Path(folder) / PROVENANCE).read_text())
