"""Simulated annotators with a known truth: seeded, pure, vectorised.

A hidden *truth* holds, per comparison, a true score per response and attribute (integers 0..4) and a true
preference strength (-3..+3, negative = response 1 better, HelpSteer2-Preference's scale). Simulated annotators
see that truth through their *profile*:

=================  ==============================================================================================
profile            behaviour
=================  ==============================================================================================
``careful``        small Gaussian noise on every rating and on the strength
``lenient``        like careful, +0.8 points on every rating before rounding
``harsh``          like careful, -0.8 points
``position_left``  rates like careful, but 85% of the time states a preference for the response shown on the left
``position_right`` the same for the response shown on the right
``random``         uniform random ratings and strengths, fast (a "random clicker")
=================  ==============================================================================================

Ratings are ``clip(round_half_away(truth + bias + noise), 0, 4)``; strengths ``clip(round_half_away(true strength
+ noise), -3, 3)``. Output rows follow the long annotation format of :mod:`annotator.stats.aggregation`, plus
``profile``, ``shown_swapped`` (response 2 shown on the left), ``time_on_task_s`` and ``skipped``.

Examples
--------
>>> truth = make_truth(4, seed=1)
>>> pool = [SimulatedAnnotator("careful", seed=i, annotator_id=f"a{i}") for i in range(3)]
>>> frame = simulate_annotations(truth, pool, per_comparison_k=3, seed=2)
>>> len(frame), sorted(frame["annotator_id"].unique())
(12, ['a0', 'a1', 'a2'])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from annotator.domain import HELPSTEER2_ATTRIBUTES, LIKERT_MAX, PREFERENCE_STRENGTH_MAX, PREFERENCE_STRENGTH_MIN

__all__ = [
    "HELPSTEER2_ATTRIBUTES",
    "PROFILES",
    "AnnotatorProfile",
    "ComparisonTruth",
    "SimulatedAnnotator",
    "Truth",
    "make_truth",
    "simulate_annotations",
]

FloatArray = npt.NDArray[np.float64]
SCALE_MAX = float(LIKERT_MAX)
STRENGTH_MAX = float(PREFERENCE_STRENGTH_MAX)


@dataclass(frozen=True)
class AnnotatorProfile:
    """How a simulated annotator turns the truth into an annotation.

    Attributes
    ----------
    name : str
    rating_noise : float
        SD of the Gaussian noise added to each true rating, in scale points.
    rating_bias : float
        Added to every rating before rounding (+ lenient, - harsh).
    strength_noise : float
        SD of the Gaussian noise on the true strength.
    position_bias : float
        Probability that the stated preference favours ``position_side`` whatever the responses are.
    position_side : {"left", "right"}
    random_clicker : bool
        Uniform ratings and strengths, independent of the truth.
    median_time_s : float
        Median time on task (log-normal, sigma 0.4).
    skip_rate : float
        Probability of skipping the comparison (no ratings, no strength).
    """

    name: str
    rating_noise: float = 0.45
    rating_bias: float = 0.0
    strength_noise: float = 0.6
    position_bias: float = 0.0
    position_side: Literal["left", "right"] = "left"
    random_clicker: bool = False
    median_time_s: float = 240.0
    skip_rate: float = 0.02


PROFILES: dict[str, AnnotatorProfile] = {
    "careful": AnnotatorProfile("careful"),
    "lenient": AnnotatorProfile("lenient", rating_bias=0.8),
    "harsh": AnnotatorProfile("harsh", rating_bias=-0.8),
    "position_left": AnnotatorProfile("position_left", position_bias=0.85, position_side="left"),
    "position_right": AnnotatorProfile("position_right", position_bias=0.85, position_side="right"),
    "random": AnnotatorProfile("random", random_clicker=True, median_time_s=35.0, skip_rate=0.0),
}


@dataclass(frozen=True)
class ComparisonTruth:
    """The hidden truth of one comparison.

    Attributes
    ----------
    comparison_id : int
    attributes : tuple of str
    scores : ndarray, shape (2, A)
        True ratings of response 1 (row 0) and response 2 (row 1), integers 0..4.
    strength : float
        True preference strength, -3..+3.
    """

    comparison_id: int
    attributes: tuple[str, ...]
    scores: FloatArray
    strength: float


@dataclass(frozen=True)
class Truth:
    """The hidden truth of many comparisons.

    Attributes
    ----------
    attributes : tuple of str
    comparison_ids : ndarray of int64, shape (C,)
    scores : ndarray, shape (C, 2, A)
        True ratings, integers 0..4; ``scores[c, 0]`` is response 1.
    strength : ndarray, shape (C,)
        True preference strength, integers -3..+3 (negative = response 1 better).
    """

    attributes: tuple[str, ...]
    comparison_ids: npt.NDArray[np.int64]
    scores: FloatArray
    strength: FloatArray

    def __len__(self) -> int:
        return int(self.comparison_ids.shape[0])

    def comparison(self, index: int) -> ComparisonTruth:
        """The truth of the ``index``-th comparison."""
        return ComparisonTruth(
            comparison_id=int(self.comparison_ids[index]),
            attributes=self.attributes,
            scores=self.scores[index],
            strength=float(self.strength[index]),
        )

    def as_frame(self) -> pd.DataFrame:
        """One row per comparison: ``comparison_id``, ``r1_<attribute>``, ``r2_<attribute>``, ``strength``."""
        data: dict[str, npt.ArrayLike] = {"comparison_id": self.comparison_ids}
        for side in (0, 1):
            for a, attribute in enumerate(self.attributes):
                data[f"r{side + 1}_{attribute}"] = self.scores[:, side, a]
        data["strength"] = self.strength
        return pd.DataFrame(data)


def _round_half_away(x: FloatArray) -> FloatArray:
    return np.sign(x) * np.floor(np.abs(x) + 0.5) + 0.0  # + 0.0 turns -0.0 into 0.0


def make_truth(n_comparisons: int, attributes: Sequence[str] = HELPSTEER2_ATTRIBUTES, *, seed: int = 0) -> Truth:
    """Draw a hidden truth resembling HelpSteer2's released marginals (HS2 Table 2).

    A latent quality per response drives helpfulness and correctness (strongly correlated, as in HS2), weakly
    coherence; complexity and verbosity are nearly independent. The true strength is
    ``round(1.2 * (quality_2 - quality_1))`` clipped to -3..3, so it follows the helpfulness difference but can be
    non-zero when both helpfulness scores are equal (HS2-Preference poster).

    Parameters
    ----------
    n_comparisons : int
    attributes : sequence of str
        Attributes other than the five HelpSteer2 ones behave like correctness.
    seed : int

    Returns
    -------
    Truth
    """
    rng = np.random.default_rng(seed)
    quality = rng.normal(2.6, 1.1, size=(n_comparisons, 2))
    columns: list[FloatArray] = []
    for attribute in attributes:
        if attribute == "helpfulness":
            latent = quality
        elif attribute == "coherence":
            latent = 3.5 + 0.3 * (quality - 2.6) + rng.normal(0.0, 0.5, quality.shape)
        elif attribute == "complexity":
            latent = rng.normal(1.7, 0.7, quality.shape)
        elif attribute == "verbosity":
            latent = rng.normal(2.0, 0.75, quality.shape)
        else:
            latent = quality + rng.normal(0.0, 0.5, quality.shape)
        columns.append(np.clip(_round_half_away(latent), 0.0, SCALE_MAX))
    scores = np.stack(columns, axis=-1) if columns else np.zeros((n_comparisons, 2, 0))
    strength = np.clip(_round_half_away(1.2 * (quality[:, 1] - quality[:, 0])), -STRENGTH_MAX, STRENGTH_MAX)
    return Truth(tuple(attributes), np.arange(n_comparisons, dtype=np.int64), scores, strength)


_REASONS = (
    "it follows the instruction more closely",
    "it is more accurate",
    "it is clearer and better organised",
    "it covers the key points more completely",
    "it is more concise",
)
_LEVEL_WORDS = {1: "slightly better than", 2: "better than", 3: "much better than"}


def _justification_table() -> npt.NDArray[np.str_]:
    """All justification texts, shape (7, len(_REASONS)), row = strength - PREFERENCE_STRENGTH_MIN."""
    table: list[list[str]] = []
    for s in range(PREFERENCE_STRENGTH_MIN, PREFERENCE_STRENGTH_MAX + 1):
        row: list[str] = []
        for reason in _REASONS:
            if s == 0:
                row.append("@Response 1 is about the same as @Response 2 because both are equally useful.")
            else:
                better, worse = (2, 1) if s > 0 else (1, 2)
                row.append(f"@Response {better} is {_LEVEL_WORDS[abs(s)]} @Response {worse} because {reason}.")
        table.append(row)
    return np.array(table)


_JUSTIFICATIONS = _justification_table()


def _profile_arrays(profiles: Sequence[AnnotatorProfile]) -> dict[str, FloatArray]:
    return {
        "rating_noise": np.array([p.rating_noise for p in profiles]),
        "rating_bias": np.array([p.rating_bias for p in profiles]),
        "strength_noise": np.array([p.strength_noise for p in profiles]),
        "position_bias": np.array([p.position_bias for p in profiles]),
        "left_side": np.array([p.position_side == "left" for p in profiles], dtype=np.float64),
        "random_clicker": np.array([p.random_clicker for p in profiles], dtype=np.float64),
        "median_time_s": np.array([p.median_time_s for p in profiles]),
        "skip_rate": np.array([p.skip_rate for p in profiles]),
    }


def _annotate_rows(
    scores: FloatArray,
    strength: FloatArray,
    shown_swapped: npt.NDArray[np.bool_],
    params: dict[str, FloatArray],
    rng: np.random.Generator,
) -> dict[str, npt.NDArray[np.generic]]:
    """Vectorised core: one annotation per row.

    Parameters
    ----------
    scores : ndarray, shape (R, 2, A)
    strength : ndarray, shape (R,)
    shown_swapped : ndarray of bool, shape (R,)
    params : dict of ndarray, each shape (R,)
        Profile parameters per row (see :func:`_profile_arrays`).
    rng : numpy Generator
    """
    n, _, n_attr = scores.shape
    is_random = params["random_clicker"].astype(bool)
    noise = rng.normal(0.0, 1.0, scores.shape) * params["rating_noise"][:, None, None]
    ratings = np.clip(_round_half_away(scores + params["rating_bias"][:, None, None] + noise), 0.0, SCALE_MAX)
    ratings[is_random] = rng.integers(0, int(SCALE_MAX) + 1, size=(int(is_random.sum()), 2, n_attr))

    stated = strength + rng.normal(0.0, 1.0, n) * params["strength_noise"]
    stated = np.clip(_round_half_away(stated), -STRENGTH_MAX, STRENGTH_MAX)
    # Position bias: favour the side shown on the left (response 1 unless swapped) or on the right.
    biased = rng.random(n) < params["position_bias"]
    left_is_2 = shown_swapped.astype(bool)
    favours_2 = np.where(params["left_side"].astype(bool), left_is_2, ~left_is_2)
    magnitude = rng.integers(1, int(STRENGTH_MAX) + 1, size=n).astype(np.float64)
    stated = np.where(biased, np.where(favours_2, magnitude, -magnitude), stated)
    stated = np.where(
        is_random, rng.integers(PREFERENCE_STRENGTH_MIN, PREFERENCE_STRENGTH_MAX + 1, size=n).astype(np.float64), stated
    )

    reason = rng.integers(0, len(_REASONS), size=n)
    justification = _JUSTIFICATIONS[(stated - PREFERENCE_STRENGTH_MIN).astype(np.int64), reason].astype(object)
    time_s = params["median_time_s"] * np.exp(rng.normal(0.0, 0.4, n))
    skipped = rng.random(n) < params["skip_rate"]
    ratings[skipped] = np.nan
    stated = np.where(skipped, np.nan, stated)
    justification[skipped] = ""
    return {
        "ratings": ratings,
        "strength": stated,
        "justification": justification,
        "time_on_task_s": time_s,
        "skipped": skipped,
    }


class SimulatedAnnotator:
    """One simulated annotator with its own seeded random stream.

    Parameters
    ----------
    profile : str or AnnotatorProfile
        A key of :data:`PROFILES` or a custom profile.
    seed : int
        Seed of this annotator's stream (used by :meth:`annotate`).
    annotator_id : str, optional
        Default ``"<profile>-<seed>"``.
    """

    def __init__(self, profile: str | AnnotatorProfile, seed: int = 0, annotator_id: str | None = None) -> None:
        self.profile = PROFILES[profile] if isinstance(profile, str) else profile
        self.seed = seed
        self.annotator_id = annotator_id if annotator_id is not None else f"{self.profile.name}-{seed}"
        self._rng = np.random.default_rng(seed)

    def __repr__(self) -> str:
        return f"SimulatedAnnotator({self.profile.name!r}, seed={self.seed}, annotator_id={self.annotator_id!r})"

    def annotate(self, truth: ComparisonTruth, shown_swapped: bool) -> dict[str, object]:
        """Annotate one comparison.

        Parameters
        ----------
        truth : ComparisonTruth
        shown_swapped : bool
            Response 2 shown on the left.

        Returns
        -------
        dict
            ``annotator_id``, ``profile``, ``comparison_id``, ``r1_<attribute>``, ``r2_<attribute>`` (float,
            ``NaN`` if skipped), ``strength``, ``justification``, ``shown_swapped``, ``time_on_task_s``,
            ``skipped``.
        """
        params = _profile_arrays([self.profile])
        rows = _annotate_rows(
            truth.scores[None].astype(np.float64),
            np.array([truth.strength]),
            np.array([shown_swapped]),
            params,
            self._rng,
        )
        result: dict[str, object] = {
            "annotator_id": self.annotator_id,
            "profile": self.profile.name,
            "comparison_id": truth.comparison_id,
        }
        ratings = rows["ratings"][0]
        for side in (0, 1):
            for a, attribute in enumerate(truth.attributes):
                result[f"r{side + 1}_{attribute}"] = float(ratings[side, a])
        result["strength"] = float(rows["strength"][0])
        result["justification"] = str(rows["justification"][0])
        result["shown_swapped"] = bool(shown_swapped)
        result["time_on_task_s"] = float(rows["time_on_task_s"][0])
        result["skipped"] = bool(rows["skipped"][0])
        return result


def simulate_annotations(
    truth: Truth,
    annotators: Sequence[SimulatedAnnotator],
    per_comparison_k: int | tuple[int, int] = 3,
    *,
    seed: int = 0,
    start: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Simulate a whole collection in the long annotation format, vectorised (100k comparisons in ~1 s).

    Each comparison gets ``k`` distinct annotators drawn uniformly from ``annotators`` (``k`` fixed, or uniform
    on ``[low, high]`` for a tuple), and is shown swapped with probability 0.5 per annotation. The run uses one
    stream seeded by ``seed`` (the annotators' own seeds only drive :meth:`SimulatedAnnotator.annotate`).

    Parameters
    ----------
    truth : Truth
    annotators : sequence of SimulatedAnnotator
        The pool; ``k`` may not exceed its size.
    per_comparison_k : int or (int, int)
    seed : int
    start : Timestamp, optional
        Time of the first submission (default 2025-01-01 UTC); ``submitted_at`` increases with the row order.

    Returns
    -------
    DataFrame, one row per annotation
        ``comparison_id``, ``annotation_id`` (0..), ``annotator_id``, ``profile``, ``submitted_at`` (aware
        UTC timestamps), ``review_status`` ("unreviewed"), ``strength``, ``justification``, ``shown_swapped``,
        ``time_on_task_s``, ``skipped``, ``r1_<attribute>``, ``r2_<attribute>``.
    """
    n_pool = len(annotators)
    low, high = (per_comparison_k, per_comparison_k) if isinstance(per_comparison_k, int) else per_comparison_k
    if not 1 <= low <= high <= n_pool:
        raise ValueError(f"per_comparison_k must lie in 1..{n_pool} (the pool size).")
    rng = np.random.default_rng(seed)
    n = len(truth)
    k = rng.integers(low, high + 1, size=n)
    # k distinct annotators per comparison: the first k of a random permutation (argsort of uniform keys),
    # chunked so a large pool does not allocate n x pool at once.
    chosen = np.empty((n, high), dtype=np.int64)
    chunk = max(1, 2_000_000 // max(n_pool, 1))
    for begin in range(0, n, chunk):
        keys = rng.random((min(chunk, n - begin), n_pool))
        smallest = np.argpartition(keys, high - 1, axis=1)[:, :high] if high < n_pool else np.arange(n_pool)[None]
        smallest = np.broadcast_to(smallest, (keys.shape[0], high))
        # Order the selected by key so that "the first k" is a uniform subset for every k <= high.
        order = np.argsort(np.take_along_axis(keys, smallest, axis=1), axis=1)
        chosen[begin : begin + chunk] = np.take_along_axis(smallest, order, axis=1)
    take = np.arange(high)[None, :] < k[:, None]
    comp_index = np.broadcast_to(np.arange(n)[:, None], (n, high))[take]
    pool_index = chosen[take]

    profiles = [a.profile for a in annotators]
    pool_params = _profile_arrays(profiles)
    params = {name: values[pool_index] for name, values in pool_params.items()}
    swapped = rng.random(comp_index.size) < 0.5
    rows = _annotate_rows(truth.scores[comp_index], truth.strength[comp_index], swapped, params, rng)

    ids = np.array([a.annotator_id for a in annotators], dtype=object)
    names = np.array([p.name for p in profiles], dtype=object)
    begin_time = start if start is not None else pd.Timestamp("2025-01-01", tz="UTC")
    # Submissions follow the row order, one every ~0.5 s of wall time across the whole team.
    offsets = np.cumsum(rng.exponential(0.5, comp_index.size))
    data: dict[str, object] = {
        "comparison_id": truth.comparison_ids[comp_index],
        "annotation_id": np.arange(comp_index.size, dtype=np.int64),
        "annotator_id": ids[pool_index],
        "profile": names[pool_index],
        "submitted_at": begin_time + pd.to_timedelta(offsets, unit="s"),
        "review_status": np.full(comp_index.size, "unreviewed", dtype=object),
        "strength": rows["strength"],
        "justification": rows["justification"],
        "shown_swapped": swapped,
        "time_on_task_s": rows["time_on_task_s"],
        "skipped": rows["skipped"],
    }
    ratings = rows["ratings"]
    for side in (0, 1):
        for a, attribute in enumerate(truth.attributes):
            data[f"r{side + 1}_{attribute}"] = ratings[:, side, a]
    return pd.DataFrame(data)
