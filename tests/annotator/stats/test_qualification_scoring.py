from __future__ import annotations

import pytest

from annotator.stats.qualification import answer_check, attempt_passes

GOLD = {"1": {"helpfulness": 4, "correctness": 3}, "2": {"helpfulness": 1}, "strength": -2}


def _check(ratings: dict, strength: int | None, tolerance: int = 1, strength_tolerance: int = 1):
    return answer_check(
        gold=GOLD, ratings=ratings, strength=strength, rating_tolerance=tolerance, strength_tolerance=strength_tolerance
    )


def test_an_answer_within_every_tolerance_is_right() -> None:
    check = _check({"1": {"helpfulness": 3, "correctness": 4}, "2": {"helpfulness": 2}}, -3)
    assert check.correct and check.misses == ()


def test_each_part_outside_its_tolerance_or_missing_is_named() -> None:
    check = _check({"1": {"helpfulness": 2}, "2": {"helpfulness": 1}}, 0)
    assert not check.correct
    assert check.misses == ("1.helpfulness", "1.correctness", "strength")


def test_tolerance_zero_asks_for_the_exact_answer() -> None:
    exact = {"1": {"helpfulness": 4, "correctness": 3}, "2": {"helpfulness": 1}}
    assert _check(exact, -2, tolerance=0, strength_tolerance=0).correct
    assert _check(exact, -1, tolerance=0, strength_tolerance=0).misses == ("strength",)


def test_only_what_the_gold_gives_is_checked() -> None:
    check = answer_check(gold={"strength": 3}, ratings={}, strength=2, rating_tolerance=0, strength_tolerance=1)
    assert check.correct


@pytest.mark.parametrize(
    ("right", "total", "mark", "expected"),
    [(4, 5, 0.8, (0.8, True)), (3, 5, 0.8, (0.6, False)), (2, 2, 1.0, (1.0, True)), (0, 0, 0.5, (0.0, False))],
)
def test_the_pass_mark_is_reached_at_equality(right: int, total: int, mark: float, expected: tuple) -> None:
    assert attempt_passes(right=right, total=total, pass_mark=mark) == expected
