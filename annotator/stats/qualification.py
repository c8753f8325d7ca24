"""Scoring a qualification answer against its gold answer, and an attempt against its pass mark. Pure.

A gold answer is ``{"1": {attribute: int}, "2": {attribute: int}, "strength": int}``, each part optional (as
``Comparison.gold_ratings``); an answer is ratings in the same shape and a preference strength (-3..3, negative:
response 1 better). Only what the gold answer gives is checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

RESPONSE_KEYS = ("1", "2")


@dataclass(frozen=True, slots=True)
class AnswerCheck:
    """Whether an answer is right, and the parts that were not (``"1.helpfulness"``, ``"strength"``...)."""

    correct: bool
    misses: tuple[str, ...] = ()


def answer_check(
    *,
    gold: Mapping[str, object],
    ratings: Mapping[str, Mapping[str, int | None]],
    strength: int | None,
    rating_tolerance: int,
    strength_tolerance: int,
) -> AnswerCheck:
    """Right when every expected rating is given and within ``± rating_tolerance``, and the expected strength (if
    any) is given and within ``± strength_tolerance``.

    >>> gold = {"1": {"helpfulness": 4}, "strength": -2}
    >>> answer_check(gold=gold, ratings={"1": {"helpfulness": 3}}, strength=-1, rating_tolerance=1, strength_tolerance=1)
    AnswerCheck(correct=True, misses=())
    >>> answer_check(gold=gold, ratings={"1": {"helpfulness": 2}}, strength=1, rating_tolerance=1, strength_tolerance=1)
    AnswerCheck(correct=False, misses=('1.helpfulness', 'strength'))
    """
    misses: list[str] = []
    for key in RESPONSE_KEYS:
        expected = gold.get(key)
        if not isinstance(expected, Mapping):
            continue
        given = ratings.get(key) or {}
        for attribute, value in expected.items():
            answer = given.get(attribute)
            if answer is None or abs(int(answer) - int(value)) > rating_tolerance:
                misses.append(f"{key}.{attribute}")
    expected_strength = gold.get("strength")
    if isinstance(expected_strength, int) and (
        strength is None or abs(strength - expected_strength) > strength_tolerance
    ):
        misses.append("strength")
    return AnswerCheck(correct=not misses, misses=tuple(misses))


def attempt_passes(*, right: int, total: int, pass_mark: float) -> tuple[float, bool]:
    """The attempt's score (share of items right; 0 for an empty set) and whether it reaches ``pass_mark``.

    >>> attempt_passes(right=4, total=5, pass_mark=0.8)
    (0.8, True)
    >>> attempt_passes(right=1, total=2, pass_mark=0.8)
    (0.5, False)
    """
    score = right / total if total else 0.0
    # A float share compared with a mark typed as a decimal: 4/5 must reach 0.8.
    return score, score + 1e-9 >= pass_mark
