"""Table III's factors, product cells and joint table on hand-built predictions whose every number is known."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from hybrid_recommender.evaluation import paper
from hybrid_recommender.evaluation.table_iii import (
    PRODUCT_KIND,
    RAFDB_AGE_BOUNDS,
    factors_markdown,
    group_within,
    joint_markdown,
    products_markdown,
    table_iii_factors,
    table_iii_joint,
    table_iii_products,
)
from hybrid_recommender.labels import (
    DEFAULT_AGE_BIN_EDGES,
    DEFAULT_AGE_GROUPS,
    EMOTIONS,
)

GROUPS = ["8-14", "15-24", "25-37", "38-47"]


def wilson_by_hand(right: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval from its formula, in percent."""
    z = norm.ppf(1 - (1 - level) / 2)
    p = right / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return 100 * (centre - half), 100 * (centre + half)


def face(role, age_group, gender, emotion, pred_age_group, pred_gender, pred_emotion):
    return {"role": role, "age_group": age_group, "gender": gender, "emotion": emotion,
            "pred_age_group": pred_age_group, "pred_gender": pred_gender, "pred_emotion": pred_emotion}


@pytest.fixture
def predictions():
    """Male 8-14: 8 of 10 age faces right (one wrong age, one wrong gender); female 25-37: 5 of 5; a 48+ face
    outside the groups. Happy: 8 of 10 emotion faces right; sad: 1 of 4."""
    rows = [face("age", "8-14", "male", None, "8-14", "male", "happy") for _ in range(8)]
    rows += [face("age", "8-14", "male", None, "15-24", "male", "happy"),
             face("age", "8-14", "male", None, "8-14", "female", "happy")]
    rows += [face("age", "25-37", "female", None, "25-37", "female", "sad") for _ in range(5)]
    rows += [face("age", "48+", "male", None, "48+", "male", "sad")]
    rows += [face("emotion", None, None, "happy", "0-7", "male", "happy") for _ in range(8)]
    rows += [face("emotion", None, None, "happy", "0-7", "male", "sad") for _ in range(2)]
    rows += [face("emotion", None, None, "sad", "0-7", "male", "sad")]
    rows += [face("emotion", None, None, "sad", "0-7", "male", "angry") for _ in range(3)]
    return pd.DataFrame(rows)


def test_factors_count_each_margin_with_its_wilson_interval(predictions):
    factors = table_iii_factors(predictions, GROUPS)
    assert list(factors.columns) == ["factor", "gender", "age_group", "emotion", "right", "n", "rate", "low", "high"]
    assert len(factors) == 2 * 4 + 7
    boy = factors[(factors["gender"] == "male") & (factors["age_group"] == "8-14")].iloc[0]
    assert (boy["factor"], boy["right"], boy["n"], boy["rate"]) == ("age_and_gender", 8, 10, 80.0)
    assert (boy["low"], boy["high"]) == pytest.approx(wilson_by_hand(8, 10))
    assert (boy["low"], boy["high"]) == pytest.approx((49.0, 94.3), abs=0.05)
    woman = factors[(factors["gender"] == "female") & (factors["age_group"] == "25-37")].iloc[0]
    assert (woman["right"], woman["n"], woman["rate"]) == (5, 5, 100.0)
    sad = factors[factors["emotion"] == "sad"].iloc[0]
    assert (sad["factor"], sad["right"], sad["n"], sad["rate"]) == ("emotion", 1, 4, 25.0)
    assert (sad["low"], sad["high"]) == pytest.approx(wilson_by_hand(1, 4))
    empty = factors[factors["emotion"] == "fear"].iloc[0]
    assert empty["n"] == 0 and np.isnan(empty["rate"]) and np.isnan(empty["low"])
    assert factors["n"].sum() == 15 + 14   # the 48+ face is no row's


def test_a_product_cell_is_its_factors_product_with_a_sidak_interval(predictions):
    factors = table_iii_factors(predictions, GROUPS)
    table = table_iii_products(factors, GROUPS)
    assert {"gender", "age_group", "emotion", "ours", "paper", "difference", "age_faces", "emotion_faces",
            "kind", "low", "high"} <= set(table.columns)
    assert len(table) == 56 + 8 + 7 + 1 and (table["kind"] == PRODUCT_KIND).all()
    cell = table.set_index(["gender", "age_group", "emotion"]).loc[("male", "8-14", "happy")]
    assert cell["ours"] == pytest.approx(80.0 * 80.0 / 100)
    assert (cell["age_faces"], cell["emotion_faces"]) == (10, 10)
    assert cell["paper"] == 56.34 and cell["difference"] == pytest.approx(64.0 - 56.34)
    # Each factor's Wilson interval at sqrt(0.95), bounds multiplied: wider than the product of the 95% bounds.
    a, e = wilson_by_hand(8, 10, math.sqrt(0.95)), wilson_by_hand(8, 10, math.sqrt(0.95))
    assert (cell["low"], cell["high"]) == pytest.approx((a[0] * e[0] / 100, a[1] * e[1] / 100))
    naive = wilson_by_hand(8, 10)
    assert cell["low"] < naive[0] ** 2 / 100 and cell["high"] > naive[1] ** 2 / 100
    assert cell["low"] <= cell["ours"] <= cell["high"]
    # A cell whose emotion has no faces is missing, not zero; the averages skip it.
    assert np.isnan(table.set_index(["gender", "age_group", "emotion"]).loc[("male", "8-14", "fear"), "ours"])
    row = table[(table["gender"] == "male") & (table["age_group"] == "8-14") & (table["emotion"] == "average")]
    assert row["ours"].item() == pytest.approx((64.0 + 20.0) / 2)
    assert row["paper"].item() == paper.TABLE_III_ROW_AVERAGE[("male", "8-14")]
    overall = table[(table["gender"] == "average") & (table["emotion"] == "average")]
    assert overall["ours"].item() == pytest.approx(np.mean([64.0, 20.0, 80.0, 25.0]))
    text = products_markdown(table)
    assert "each cell is the product of its row's age-and-gender rate and its column's emotion rate" in text.lower()
    assert "64.0 [" in text and "/ 56.34" in text
    assert "| factor | group |" in factors_markdown(factors)


def joint_faces() -> pd.DataFrame:
    """Boys 8-14: four happy, all three right; four sad, age wrong, emotion right. Two women 25-37, happy, all
    right, one sad with the emotion wrong. Then faces outside the table: 48+, no age group (RAF-DB's), unknown
    gender, contempt, and one 48+ of unknown gender showing contempt (counted once, under its age group)."""
    rows = [face(None, "8-14", "male", "happy", "8-14", "male", "happy") for _ in range(4)]
    rows += [face(None, "8-14", "male", "sad", "15-24", "male", "sad") for _ in range(4)]
    rows += [face(None, "25-37", "female", "happy", "25-37", "female", "happy") for _ in range(2)]
    rows += [face(None, "25-37", "female", "sad", "25-37", "female", "angry")]
    rows += [face(None, "48+", "male", "happy", "48+", "male", "happy"),
             face(None, "48+", "unknown", "contempt", "48+", "male", "happy"),
             face(None, None, "male", "happy", "8-14", "male", "happy"),
             face(None, "8-14", "unknown", "happy", "8-14", "male", "happy"),
             face(None, "8-14", "male", "contempt", "8-14", "male", "happy")]
    return pd.DataFrame(rows).drop(columns="role")


def test_joint_table_shows_the_interaction_the_product_hides():
    table, left_out = table_iii_joint(joint_faces(), GROUPS)
    assert left_out["faces"].tolist() == [3, 1, 1]
    assert left_out["reason"].str.contains("age group").iloc[0]
    cells = table[table["gender"] != "average"].set_index(["gender", "age_group", "emotion"])
    assert len(table) == 56 + 8 + 7 + 1 and (table["kind"] == "joint").all()
    happy_boys = cells.loc[("male", "8-14", "happy")]
    assert (happy_boys["n"], happy_boys["all_three_right"], happy_boys["rate"]) == (4, 4, 100.0)
    assert (happy_boys["low"], happy_boys["high"]) == pytest.approx(wilson_by_hand(4, 4))
    # Age-and-gender right on 4 of 8 boys, happy right on 6 of 6: the margins' product is 50%, the joint 100%.
    assert happy_boys["margins_product"] == pytest.approx(50.0)
    # Sad right on 4 of 5 faces: the margins give the sad boys 50% x 80%, the joint 0%.
    sad_boys = cells.loc[("male", "8-14", "sad")]
    assert (sad_boys["rate"], sad_boys["margins_product"]) == (0.0, pytest.approx(40.0))
    assert sad_boys["difference"] == pytest.approx(0.0 - paper.TABLE_III[("male", "8-14")][EMOTIONS.index("sad")])
    assert cells["n"].sum() == 11 and cells.loc[("female", "38-47", "fear"), "n"] == 0
    text = joint_markdown(table, left_out)
    assert "100.0 [" in text and "(n 4); x 50.0" in text and "3 faces: age group not in" in text


def test_rafdb_age_groups_do_not_nest_in_the_papers_groups():
    paper_groups = set(GROUPS)
    placed = {raf: group_within(bounds, DEFAULT_AGE_BIN_EDGES, DEFAULT_AGE_GROUPS)
              for raf, bounds in RAFDB_AGE_BOUNDS.items()}
    assert placed == {"0-3": "0-7", "4-19": None, "20-39": None, "40-69": None, "70+": "48+"}
    assert not paper_groups & set(placed.values())
    assert group_within((8, 15), DEFAULT_AGE_BIN_EDGES, DEFAULT_AGE_GROUPS) == "8-14"   # a nested range is found
