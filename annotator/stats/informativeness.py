"""How informative another human label on a comparison would be: the signals of active collection.

Each signal maps per-comparison numbers to a priority in [0, 1] (1 = most informative, claimed first); they are
pure, vectorised and take numpy arrays of shape (n_comparisons,).

* :func:`reward_uncertainty` — the reward model is least certain where its two rewards are closest: under the
  Bradley–Terry model the probability that response 1 wins is σ(r1 − r2), and the priority is
  ``1 − |2σ(r1 − r2) − 1| = 1 − |tanh((r1 − r2) / 2)|`` (uncertainty sampling, Lewis & Gale 1994).
* :func:`human_disagreement` — annotators' preference strengths spread most: their standard deviation over the
  largest possible one (half the scale's width), 0 with fewer than two annotations.
* :func:`judge_disagreement` — the judge and the reward model prefer different responses, weighted by how sure
  each is.

Examples
--------
>>> reward_uncertainty(np.array([0.0, 5.0]), np.array([0.0, 0.0])).round(3).tolist()
[1.0, 0.013]
>>> human_disagreement([[-3, 3], [2, 2, 2], [1]]).tolist()
[1.0, 0.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from annotator.domain import PREFERENCE_STRENGTH_MAX, PREFERENCE_STRENGTH_MIN

FloatArray = npt.NDArray[np.float64]
Signal = Literal["reward_uncertainty", "human_disagreement", "judge_disagreement"]
SIGNALS: tuple[Signal, ...] = ("reward_uncertainty", "human_disagreement", "judge_disagreement")
"""The signals a priority scoring can use, in the words of the pages."""

# The largest standard deviation of values on [min, max]: half at each end.
_MAX_STRENGTH_STD = (PREFERENCE_STRENGTH_MAX - PREFERENCE_STRENGTH_MIN) / 2


def reward_uncertainty(rewards_1: npt.ArrayLike, rewards_2: npt.ArrayLike) -> FloatArray:
    """``1 − |tanh((r1 − r2) / 2)|`` per comparison: 1 when the rewards tie, towards 0 as they part.

    Parameters
    ----------
    rewards_1, rewards_2 : array of shape (n,)
        The reward model's reward of response 1 and response 2.
    """
    margin = np.asarray(rewards_1, dtype=np.float64) - np.asarray(rewards_2, dtype=np.float64)
    return 1.0 - np.abs(np.tanh(margin / 2.0))


def human_disagreement(strengths: Sequence[Sequence[float]]) -> FloatArray:
    """Per comparison, the population standard deviation of its annotators' preference strengths over the largest
    possible one (half the scale's width, 3 on −3…+3), in [0, 1]; 0 with fewer than two strengths.

    Parameters
    ----------
    strengths : sequence of n sequences
        The current human preference strengths of each comparison (any number, possibly none).
    """
    out = np.zeros(len(strengths), dtype=np.float64)
    for index, values in enumerate(strengths):
        if len(values) >= 2:
            out[index] = float(np.std(np.asarray(values, dtype=np.float64))) / _MAX_STRENGTH_STD
    return np.clip(out, 0.0, 1.0)


def judge_disagreement(
    judge_strengths: npt.ArrayLike, rewards_1: npt.ArrayLike, rewards_2: npt.ArrayLike
) -> FloatArray:
    """How strongly the judge and the reward model disagree, in [0, 1]: 0 when they prefer the same response (or
    either is undecided), else the judge's confidence (|strength| / 3) times the model's (|tanh((r1 − r2) / 2)|).

    Parameters
    ----------
    judge_strengths : array of shape (n,)
        The judge's preference strength, −3…+3, negative = response 1 better; NaN where the judge gave none (0).
    rewards_1, rewards_2 : array of shape (n,)
        The reward model's rewards.
    """
    strength = np.nan_to_num(np.asarray(judge_strengths, dtype=np.float64), nan=0.0)
    margin = np.asarray(rewards_1, dtype=np.float64) - np.asarray(rewards_2, dtype=np.float64)
    # Negative strength means response 1 is better, as a positive margin does: they agree when the signs differ.
    disagree = np.sign(strength) * np.sign(margin) > 0
    judge_sure = np.abs(strength) / PREFERENCE_STRENGTH_MAX
    model_sure = np.abs(np.tanh(margin / 2.0))
    return np.where(disagree, judge_sure * model_sure, 0.0)
