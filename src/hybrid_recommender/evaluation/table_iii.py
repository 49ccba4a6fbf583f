"""Table III (accuracy of all three face attributes right, by gender x age group x emotion) two ways.

* Product of margins: no data set labels age, gender and emotion on one face that we have, so a cell is the
  age-and-gender rate of held-out UTKFace faces of that gender and age group times the emotion rate of held-out
  emotion faces of that emotion. The 56 cells then hold only 8 + 7 numbers and cannot show an interaction
  (e.g. an emotion read worse on children's faces).
* Joint: where one face carries all three labels (a user's own labelled faces, ``ingest/labelled_faces.py``), the
  share of faces with all three right in each cell, and beside it the product of the same faces' margins, so an
  interaction shows as their difference.

RAF-DB is no source for the joint table in the paper's groups. Its manual annotation bins age as 0-3, 4-19,
20-39, 40-69, 70+ (``labels.RAFDB_AGE_GROUPS``); a RAF face could be placed in a paper group only if its RAF group
lay inside one, but 4-19 spans the project's 0-7, 8-14 and 15-24, 20-39 spans 15-24, 25-37 and 38-47, 40-69 spans
38-47 and 48+, and 0-3 / 70+ lie outside the paper's four groups (``group_within`` checks this). A joint table
could be made in RAF's own bins only, which the paper's numbers cannot be set beside.

All rates and bounds are percent, as in the paper. Intervals are 95% Wilson score intervals (scipy).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from hybrid_recommender.evaluation import paper
from hybrid_recommender.evaluation.markdown import markdown_table as _md
from hybrid_recommender.labels import BINARY_GENDERS, EMOTIONS

log = logging.getLogger(__name__)

LEVEL = 0.95
FACTOR_COLUMNS = ["factor", "gender", "age_group", "emotion", "right", "n", "rate", "low", "high"]
PRODUCT_KIND = "product of margins"
# RAF-DB basic's manual age groups as [low, high) in years (70+ open-ended).
RAFDB_AGE_BOUNDS = {"0-3": (0, 4), "4-19": (4, 20), "20-39": (20, 40), "40-69": (40, 70), "70+": (70, 200)}


def wilson(right: int, n: int, level: float = LEVEL) -> tuple[float, float, float]:
    """(rate, low, high) in percent; NaN for no faces."""
    if n == 0:
        return np.nan, np.nan, np.nan
    ci = binomtest(int(right), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return 100 * right / n, 100 * ci.low, 100 * ci.high


def group_within(bounds: tuple[int, int], edges: Sequence[int], labels: Sequence[str]) -> str | None:
    """The group of ``labels`` (bins [edges[i], edges[i+1])) that holds all of [low, high), or None if it straddles."""
    i = int(np.searchsorted(edges, bounds[0], side="right")) - 1
    return labels[i] if 0 <= i < len(labels) and bounds[1] <= edges[i + 1] else None


# ----------------------------------------------------------------------------------------------- factors
def table_iii_factors(predictions: pd.DataFrame, age_groups: Sequence[str], level: float = LEVEL) -> pd.DataFrame:
    """The two kinds of margin behind the product cells, from predict_faces' frame with a ``role`` column.

    One row per (gender, age group) of ``age_groups`` (factor "age_and_gender": age group and gender both right on
    the role "age" faces) and one per emotion (factor "emotion": emotion right on the role "emotion" faces), with
    right, n, rate and its Wilson interval low/high, all in percent. A group without faces has n 0 and NaN rates.
    """
    ages = predictions[predictions["role"] == "age"]
    emos = predictions[predictions["role"] == "emotion"]
    ag_right = (ages["pred_age_group"].astype(str) == ages["age_group"].astype(str)) \
        & (ages["pred_gender"].astype(str) == ages["gender"].astype(str))
    em_right = emos["pred_emotion"].astype(str) == emos["emotion"].astype(str)
    rows = []
    for gender in BINARY_GENDERS:
        for group in age_groups:
            sel = (ages["gender"].astype(str) == gender) & (ages["age_group"].astype(str) == group)
            rows.append(("age_and_gender", gender, group, None, int(ag_right[sel].sum()), int(sel.sum())))
    for emotion in EMOTIONS:
        sel = emos["emotion"].astype(str) == emotion
        rows.append(("emotion", None, None, emotion, int(em_right[sel].sum()), int(sel.sum())))
    out = pd.DataFrame(rows, columns=FACTOR_COLUMNS[:6])
    out[["rate", "low", "high"]] = [wilson(r, n, level) for r, n in zip(out["right"], out["n"])]
    return out


# ----------------------------------------------------------------------------------------------- products
def table_iii_products(factors: pd.DataFrame, age_groups: Sequence[str], level: float = LEVEL) -> pd.DataFrame:
    """The 56 cells as (age-and-gender rate) x (emotion rate), in percent, beside the paper, then the paper's row,
    column and overall averages (means of the cells). Columns (the former product table's: gender,
    age_group, emotion, ours, paper, difference, age_faces, emotion_faces, faces) plus kind, low and high.

    Cell interval: each factor's Wilson interval at level sqrt(``level``) (Sidak), bounds multiplied. The two
    factors come from disjoint face sets, so both intervals hold at once with probability ``level``, and when
    they do the product lies between the products of the bounds (rates are non-negative): a conservative
    ``level`` interval, valid also at rates of 0 or 100 where the log-scale delta method fails. Averages have none.
    """
    each = np.sqrt(level)
    ag = factors[factors["factor"] == "age_and_gender"].set_index(["gender", "age_group"])
    em = factors[factors["factor"] == "emotion"].set_index("emotion")
    rows = []
    for gender in BINARY_GENDERS:
        for group in age_groups:
            a = ag.loc[(gender, group)] if (gender, group) in ag.index else None
            a_n, a_right = (int(a["n"]), int(a["right"])) if a is not None else (0, 0)
            a_rate, a_low, a_high = wilson(a_right, a_n, each)
            for emotion in EMOTIONS:
                e_n, e_right = (int(em.loc[emotion, "n"]), int(em.loc[emotion, "right"])) if emotion in em.index \
                    else (0, 0)
                e_rate, e_low, e_high = wilson(e_right, e_n, each)
                rows.append({"gender": gender, "age_group": group, "emotion": emotion,
                             "ours": a_rate * e_rate / 100, "low": a_low * e_low / 100, "high": a_high * e_high / 100,
                             "age_faces": a_n, "emotion_faces": e_n})
    table = _with_paper(pd.DataFrame(rows), "ours").astype({"age_faces": "Int64", "emotion_faces": "Int64"})
    table["faces"] = "composite (UTKFace age+gender face, emotion data set face), every pairing"
    table["kind"] = PRODUCT_KIND
    return table


def _with_paper(cells: pd.DataFrame, value: str) -> pd.DataFrame:
    """Cells, their row / column / overall means (as the paper averages), the paper's values and the difference."""
    ref = paper.paper_table_iii().set_index(["gender", "age_group", "emotion"])["paper"]
    cells["paper"] = [ref.get(k, np.nan) for k in zip(cells["gender"], cells["age_group"], cells["emotion"])]
    rows = cells.groupby(["gender", "age_group"], sort=False)[value].mean().reset_index().assign(emotion="average")
    rows["paper"] = [paper.TABLE_III_ROW_AVERAGE.get(k, np.nan) for k in zip(rows["gender"], rows["age_group"])]
    cols = cells.groupby("emotion", sort=False)[value].mean().reset_index().assign(gender="average",
                                                                                  age_group="average")
    cols["paper"] = cols["emotion"].map(paper.TABLE_III_COLUMN_AVERAGE)
    overall = pd.DataFrame([{"gender": "average", "age_group": "average", "emotion": "average",
                             value: cells[value].mean(), "paper": paper.TABLE_III_OVERALL}])
    table = pd.concat([cells, rows, cols, overall], ignore_index=True)
    table["difference"] = table[value] - table["paper"]
    return table


# ----------------------------------------------------------------------------------------------- joint
def table_iii_joint(faces_predictions: pd.DataFrame, age_groups: Sequence[str],
                    level: float = LEVEL) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table III on faces that carry all three labels (predict_faces' frame of one face set).

    Returns (table, left_out). table: one row per (gender, age group, emotion) with n, all_three_right, rate and
    its Wilson interval low/high (percent), margins_product (the same faces' age-and-gender rate of the row times
    emotion rate of the column: rate minus it is the interaction), paper, difference, kind "joint"; then the
    averages as the paper takes them (means of the cells). left_out: reason, faces: faces whose true labels
    fall outside the table (age group not in ``age_groups``, gender not male/female, emotion not one of the 7).
    """
    f = faces_predictions
    truth = {c: f[c].astype("string") for c in ("age_group", "gender", "emotion")}
    reasons = [(~truth["age_group"].isin(list(age_groups)).fillna(False), f"age group not in {list(age_groups)}"),
               (~truth["gender"].isin(list(BINARY_GENDERS)).fillna(False), "gender not male or female"),
               (~truth["emotion"].isin(list(EMOTIONS)).fillna(False), "emotion not one of the 7")]
    out_mask = np.zeros(len(f), dtype=bool)
    left = []
    for mask, reason in reasons:
        new = mask.to_numpy() & ~out_mask   # each face counted once, under its first reason
        left.append({"reason": reason, "faces": int(new.sum())})
        out_mask |= new
    kept = f[~out_mask]
    t = {c: truth[c][~out_mask].astype(str) for c in truth}
    ag_right = (kept["pred_age_group"].astype(str) == t["age_group"]) & (kept["pred_gender"].astype(str) == t["gender"])
    em_right = kept["pred_emotion"].astype(str) == t["emotion"]
    all_right = ag_right & em_right
    rows = []
    for gender in BINARY_GENDERS:
        for group in age_groups:
            person = (t["gender"] == gender) & (t["age_group"] == group)
            for emotion in EMOTIONS:
                mood = t["emotion"] == emotion
                cell = person & mood
                n, right = int(cell.sum()), int(all_right[cell].sum())
                rate, low, high = wilson(right, n, level)
                margins = 100 * ag_right[person].mean() * em_right[mood].mean() if person.any() and mood.any() \
                    else np.nan
                rows.append({"gender": gender, "age_group": group, "emotion": emotion, "n": n,
                             "all_three_right": right, "rate": rate, "low": low, "high": high,
                             "margins_product": margins})
    table = _with_paper(pd.DataFrame(rows), "rate").astype({"n": "Int64", "all_three_right": "Int64"})
    table["kind"] = "joint"
    left_out = pd.DataFrame(left)
    if out_mask.any():
        log.info("Table III joint: left out %d of %d faces (%s)", int(out_mask.sum()), len(f),
                 "; ".join(f"{r['faces']} {r['reason']}" for r in left if r["faces"]))
    return table, left_out


# ----------------------------------------------------------------------------------------------- markdown
def _fmt(v, digits: int = 1) -> str:
    return "-" if v is None or pd.isna(v) else f"{v:.{digits}f}"


def _grid(table: pd.DataFrame, value: str, cell) -> str:
    """Gender / age group rows x emotion columns (+ average): a cell rendered by ``cell(row)``, an average as
    ours / paper."""
    emotions = [*EMOTIONS, "average"]
    out = []
    for (gender, group), part in table.groupby(["gender", "age_group"], sort=False):
        by = part.set_index("emotion")
        out.append({"gender": gender, "age group": group, **{
            e: "" if e not in by.index else f"{_fmt(by.loc[e, value])} / {_fmt(by.loc[e, 'paper'], 2)}"
            if "average" in (gender, e) else cell(by.loc[e]) for e in emotions}})
    return _md(pd.DataFrame(out))


def _interval(r, value: str) -> str:
    return f"{_fmt(r[value])} [{_fmt(r['low'])}, {_fmt(r['high'])}]"


def factors_markdown(factors: pd.DataFrame) -> str:
    """The margins: rate (%) [95% Wilson interval], right / n."""
    groups = [e if f == "emotion" else f"{g} {a}" for f, g, a, e in
              zip(factors["factor"], factors["gender"], factors["age_group"], factors["emotion"])]
    return _md(pd.DataFrame({"factor": factors["factor"], "group": groups,
                             "rate % [95% Wilson]": [_interval(r, "rate") for _, r in factors.iterrows()],
                             "right / n": [f"{r} / {n}" for r, n in zip(factors["right"], factors["n"])]}))


def products_markdown(products: pd.DataFrame) -> str:
    """The product grid: ours [interval] / paper per cell."""
    head = ("Each cell is the product of its row's age-and-gender rate and its column's emotion rate (composite "
            "faces; no face of ours carries all three labels), so the 56 cells hold 15 numbers and show no "
            "interaction between the attributes. Cell: ours % [conservative 95% interval: Sidak-adjusted Wilson "
            "bounds of the two factors multiplied] / paper %. Averages are means of the cells, as in the paper.")
    return head + "\n\n" + _grid(products, "ours", lambda r: f"{_interval(r, 'ours')} / {_fmt(r['paper'], 2)}")


def joint_markdown(joint: pd.DataFrame, left_out: pd.DataFrame | None = None) -> str:
    """The joint grid: rate [Wilson] (n) vs product of the same faces' margins / paper per cell."""
    head = ("Each cell is the share of faces of that gender, age group and emotion with all three attributes "
            "right (the same face carries all three labels). Cell: ours % [95% Wilson] (n); x: the product of the "
            "same faces' margins (differs from ours where the attributes interact); / paper %. Averages are means "
            "of the cells, as in the paper.")
    def cell(r) -> str:
        ours = f"{_interval(r, 'rate')} (n {r['n']}); x {_fmt(r['margins_product'])}" if r["n"] else "no faces"
        return f"{ours} / {_fmt(r['paper'], 2)}"

    text = head + "\n\n" + _grid(joint, "rate", cell)
    if left_out is not None and left_out["faces"].sum():
        text += "\n\nLeft out: " + "; ".join(f"{n} faces: {r}" for r, n in zip(left_out["reason"], left_out["faces"])
                                            if n)
    return text
