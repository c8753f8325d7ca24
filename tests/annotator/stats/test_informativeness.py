from __future__ import annotations

import math

import numpy as np
import pytest

from annotator.stats.informativeness import human_disagreement, judge_disagreement, reward_uncertainty


def test_reward_uncertainty_is_one_at_a_tie_and_falls_with_the_margin() -> None:
    values = reward_uncertainty([0.0, 0.5, 2.0, -2.0], [0.0, 0.0, 0.0, 0.0])
    assert values[0] == 1.0
    assert values[1] > values[2] > 0.0
    assert values[2] == pytest.approx(values[3])  # symmetric in which response wins


def test_reward_uncertainty_matches_the_bradley_terry_probability() -> None:
    r1, r2 = 1.3, -0.4
    p = 1.0 / (1.0 + math.exp(-(r1 - r2)))
    assert reward_uncertainty([r1], [r2])[0] == pytest.approx(1.0 - abs(2 * p - 1))


def test_human_disagreement_is_the_strength_spread_over_its_largest() -> None:
    values = human_disagreement([[-3, 3], [3, 3, 3], [0], [], [-1, 1]])
    assert values.tolist() == pytest.approx([1.0, 0.0, 0.0, 0.0, 1 / 3])


def test_judge_disagreement_only_when_they_prefer_different_responses() -> None:
    # strength −3: the judge is sure response 1 is better; reward margin +4: the model also prefers response 1.
    agree = judge_disagreement([-3], [4.0], [0.0])
    disagree = judge_disagreement([3], [4.0], [0.0])
    undecided = judge_disagreement([0, np.nan], [4.0, 4.0], [0.0, 0.0])
    assert agree.tolist() == [0.0]
    assert disagree[0] == pytest.approx(math.tanh(2.0))
    assert undecided.tolist() == [0.0, 0.0]
