"""The age-group choice rule on hand-built distributions, and the exact-age loss it rests on."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hybrid_recommender.face_models.age_choice import (
    AgeChoiceRule,
    choose_age_group,
    choose_age_groups,
)
from hybrid_recommender.face_models.model import (
    age_distribution_loss,
    age_distribution_targets,
)
from hybrid_recommender.face_models.networks import AgeYears
from hybrid_recommender.labels import DEFAULT_AGE_BIN_EDGES as EDGES
from hybrid_recommender.labels import DEFAULT_AGE_GROUPS as GROUPS

RULE = AgeChoiceRule(confident=0.5, child_min_probability=0.7)


def test_a_confident_group_is_taken_as_read():
    p = [0.0, 0.05, 0.8, 0.1, 0.05, 0.0]
    c = choose_age_group(p, GROUPS, 19.0, EDGES, RULE)
    assert (c.group, c.rule, c.uncertain) == ("15-24", "most_likely", False) and c.probability == pytest.approx(0.8)


def test_a_likely_child_group_below_the_child_bar_gives_the_best_adult_group():
    # 8-14 is the most likely single group (0.55, "confident"), but the child groups hold only 0.6 < 0.7
    p = [0.05, 0.55, 0.1, 0.25, 0.05, 0.0]
    c = choose_age_group(p, GROUPS, 20.0, EDGES, RULE)
    assert (c.group, c.rule) == ("25-37", "child_bar")
    # the same face with the bar lowered (guarding the other way) is read as a child
    assert choose_age_group(p, GROUPS, 20.0, EDGES, AgeChoiceRule(0.5, 0.5)).group == "8-14"


def test_a_clear_child_is_still_a_child():
    c = choose_age_group([0.1, 0.75, 0.1, 0.05, 0.0, 0.0], GROUPS, 11.0, EDGES, RULE)
    assert (c.group, c.rule) == ("8-14", "most_likely")


def test_an_uncertain_face_goes_to_the_group_of_its_expected_age():
    # no group reaches 0.5; 25-37 is the argmax, but the mass lies lower: expected age 23 -> 15-24
    p = [0.0, 0.05, 0.3, 0.35, 0.3, 0.0]
    c = choose_age_group(p, GROUPS, 23.0, EDGES, RULE)
    assert (c.group, c.rule, c.uncertain) == ("15-24", "expected_age", True)
    # without an exact-age head (no expected age) the argmax stays, said to be uncertain
    c = choose_age_group(p, GROUPS, None, None, RULE)
    assert (c.group, c.rule, c.uncertain) == ("25-37", "most_likely_uncertain", True)


def test_an_uncertain_expected_age_in_a_child_group_is_held_by_the_child_bar():
    p = [0.2, 0.3, 0.25, 0.15, 0.1, 0.0]     # child groups 0.5 < 0.7; expected age 12
    c = choose_age_group(p, GROUPS, 12.0, EDGES, RULE)
    assert (c.group, c.rule) == ("15-24", "child_bar")


def test_many_faces_at_once_match_one_at_a_time():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(6), size=50)
    ages = rng.uniform(0, 80, size=50)
    many = choose_age_groups(p, GROUPS, ages, {"confident": 0.4, "child_min_probability": 0.6}, EDGES)
    one = [choose_age_group(pi, GROUPS, a, EDGES, AgeChoiceRule(0.4, 0.6)) for pi, a in zip(p, ages)]
    assert many == one


def test_age_label_distribution_is_a_gaussian_around_the_age():
    t = age_distribution_targets(torch.tensor([30.0, 0.0]), 101, 2.0)
    assert torch.allclose(t.sum(1), torch.ones(2))
    assert int(t[0].argmax()) == 30 and float(t[0, 28]) == pytest.approx(float(t[0, 32]))
    assert float(t[0, 32] / t[0, 30]) == pytest.approx(np.exp(-0.5), rel=1e-4)


def test_age_loss_prefers_the_right_age_and_ignores_unknown_ages():
    ages = torch.tensor([30.0, -1.0])
    right = torch.full((2, 101), -10.0)
    right[:, 30] = 10.0
    wrong = torch.full((2, 101), -10.0)
    wrong[:, 60] = 10.0
    assert age_distribution_loss(right, ages, 2.0, 1.0) < age_distribution_loss(wrong, ages, 2.0, 1.0)
    # the L1 part: the expectation 60 is 30 years off
    gap = age_distribution_loss(wrong, ages, 2.0, 1.0) - age_distribution_loss(wrong, ages, 2.0, 0.0)
    assert float(gap) == pytest.approx(30.0, abs=0.01)
    assert age_distribution_loss(right, torch.tensor([-1.0, -1.0]), 2.0, 1.0) is None


def test_group_membership_follows_the_edges():
    m = AgeYears(100, tuple(EDGES)).membership(tuple(GROUPS))
    assert m.shape == (101, 6) and torch.equal(m.sum(1), torch.ones(101))
    assert int(m[14].argmax()) == GROUPS.index("8-14") and int(m[15].argmax()) == GROUPS.index("15-24")
    assert int(m[100].argmax()) == GROUPS.index("48+")
