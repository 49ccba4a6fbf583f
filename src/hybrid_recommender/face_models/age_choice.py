"""Which age group a viewer is given, from the calibrated age distribution: one documented rule for inference and
evaluation (docs/face_models.md "Choosing the group").

A wrong group changes the list more than any other attribute, and the two errors are not alike: children's films
for an adult, adult films for a child. The rule, in order:

1. **Child bar.** A child group (0-7, 8-14) is chosen only when the child groups together reach
   ``child_min_probability``; otherwise the most likely adult group is (rule ``child_bar``). This guards against
   children's films shown to an adult; lower the bar to guard the other way.
2. **Confident.** The most likely group when its probability reaches ``confident`` (rule ``most_likely``).
3. **Uncertain.** Otherwise the group of the expected age (rule ``expected_age``: the mean of the age
   distribution falls in the middle of where the mass is, so a face split between 15-24 and 25-37 goes to the
   side that holds more years of probability), still subject to the child bar; a predictor without an
   exact-age head keeps the most likely group (rule ``most_likely_uncertain``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hybrid_recommender.labels import age_group_of

CHILD_GROUPS = ("0-7", "8-14")


@dataclass(frozen=True)
class AgeChoiceRule:
    confident: float = 0.5               # a group this probable is taken as read
    child_min_probability: float = 0.7   # the child groups together must reach this for a child group
    child_groups: tuple[str, ...] = CHILD_GROUPS

    @classmethod
    def from_settings(cls, settings: Mapping | AgeChoiceRule | None) -> AgeChoiceRule:
        if isinstance(settings, AgeChoiceRule):
            return settings
        settings = dict(settings or {})
        if "child_groups" in settings:
            settings["child_groups"] = tuple(settings["child_groups"])
        return cls(**settings)


@dataclass(frozen=True)
class AgeChoice:
    group: str
    probability: float    # the chosen group's calibrated probability
    rule: str             # most_likely | child_bar | expected_age | most_likely_uncertain
    uncertain: bool       # no group reached ``confident``


def choose_age_group(group_probs: Sequence[float], labels: Sequence[str], expected_age: float | None = None,
                     edges: Sequence[int] | None = None, rule: Mapping | AgeChoiceRule | None = None) -> AgeChoice:
    """The group for one face or viewer (``group_probs`` in ``labels`` order, calibrated)."""
    r = AgeChoiceRule.from_settings(rule)
    p = np.asarray(group_probs, np.float64)
    labels = list(labels)
    child = np.array([g in r.child_groups for g in labels])
    children_allowed = p[child].sum() >= r.child_min_probability
    adult_best = int(np.argmax(np.where(child, -1.0, p))) if (~child).any() else int(np.argmax(p))
    top = int(np.argmax(p))
    uncertain = bool(p[top] < r.confident)

    def pick(i: int, name: str) -> AgeChoice:
        if child[i] and not children_allowed:
            return AgeChoice(labels[adult_best], float(p[adult_best]), "child_bar", uncertain)
        return AgeChoice(labels[i], float(p[i]), name, uncertain)

    if not uncertain:
        return pick(top, "most_likely")
    if expected_age is None or edges is None or not np.isfinite(expected_age):
        return pick(top, "most_likely_uncertain")
    group = age_group_of(float(expected_age), edges, labels)
    return pick(labels.index(group) if group in labels else top, "expected_age")


def choose_age_groups(group_probs: np.ndarray, labels: Sequence[str], expected_ages: np.ndarray | None = None,
                      rule: Mapping | AgeChoiceRule | None = None, edges: Sequence[int] | None = None
                      ) -> list[AgeChoice]:
    """:func:`choose_age_group` for every row of ``group_probs`` (N, groups)."""
    probs = np.asarray(group_probs)
    ages = [None] * len(probs) if expected_ages is None else list(np.asarray(expected_ages, np.float64))
    return [choose_age_group(p, labels, a, edges, rule) for p, a in zip(probs, ages)]
