"""How well a model judge matches the aggregated human labels: the calibration report. Pure, seeded.

Per attribute, the judge's rating of each response against the humans' aggregated rating (units = comparison ×
response; the aggregate rounded half away from zero onto the scale): ordinal Krippendorff's alpha with a percentile
bootstrap interval (:func:`annotator.stats.agreement.alpha_bootstrap_ci`, two "raters": judge and humans) and
quadratic-weighted Cohen's kappa (:func:`annotator.stats.agreement.cohen_kappa`, HelpSteer2's measure) with a
percentile bootstrap interval over the same units, and the confusion matrix (rows: humans, columns: judge). For
the preference: the same on the −3…+3 strength, the preference accuracy (the judge prefers the response the
humans prefer, over comparisons the humans did not tie) with a bootstrap interval, the 3 × 3 direction confusion
matrix, and, when the judge gave confidences, the expected calibration error (Guo et al. 2017, "On Calibration of
Modern Neural Networks", eq. 3: equal-width bins, |accuracy − confidence| weighted by the bin's share) with the
reliability diagram's bins.

Examples
--------
>>> report = preference_calibration([-2, 1, 3, -1], [-3, 2, 2, 1], confidences=[0.9, 0.8, 0.7, 0.6], n_resamples=0)
>>> report.accuracy, report.n
(0.75, 4)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from annotator.domain import PREFERENCE_STRENGTH_MAX, PREFERENCE_STRENGTH_MIN
from annotator.stats.aggregation import round_half_away_from_zero
from annotator.stats.agreement import alpha_bootstrap_ci, cohen_kappa, value_counts_from_matrix

FloatArray = npt.NDArray[np.float64]
DIRECTIONS = ("response_1", "tie", "response_2")
"""The rows and columns of the direction confusion matrix (negative strength = response 1 better)."""
ECE_BINS = 10


@dataclass(frozen=True)
class Interval:
    """A point estimate with a percentile bootstrap interval (NaN bounds without resamples or data)."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class OrdinalCalibration:
    """Judge against humans on one ordinal scale.

    ``confusion[i][j]``: units the humans put at ``labels[i]`` and the judge at ``labels[j]``.
    """

    name: str
    n: int
    alpha: Interval
    kappa: Interval
    exact_agreement: float
    labels: list[int]
    confusion: list[list[int]]


@dataclass(frozen=True)
class ReliabilityBin:
    """One bin of the reliability diagram: confidences in [low, high), their mean, the accuracy in the bin."""

    low: float
    high: float
    count: int
    mean_confidence: float
    accuracy: float


@dataclass(frozen=True)
class PreferenceCalibration:
    """Judge against humans on the preference. ``accuracy`` over the ``n_decided`` comparisons the humans did not
    tie; ``ece`` and ``bins`` only when confidences were given (else NaN and [])."""

    n: int
    n_decided: int
    accuracy: float
    accuracy_interval: Interval
    strength: OrdinalCalibration
    direction_labels: tuple[str, ...]
    direction_confusion: list[list[int]]
    ece: float
    bins: list[ReliabilityBin] = field(default_factory=list)


def _quadratic_kappa(counts: FloatArray) -> FloatArray:
    """Quadratic-weighted kappa of confusion counts, shape (..., V, V) (Cohen 1968; scikit-learn's formula):
    ``1 − Σ w·O / Σ w·E`` with ``w = (i − j)²`` and ``E`` the product of the marginals; NaN where ``Σ w·E = 0``."""
    v = counts.shape[-1]
    weights = (np.arange(v)[:, None] - np.arange(v)[None, :]) ** 2.0
    total = counts.sum(axis=(-2, -1), keepdims=True)
    expected = counts.sum(axis=-1, keepdims=True) * counts.sum(axis=-2, keepdims=True) / np.maximum(total, 1)
    observed_cost = (weights * counts).sum(axis=(-2, -1))
    expected_cost = (weights * expected).sum(axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(expected_cost > 0, 1.0 - observed_cost / expected_cost, np.nan)


def _kappa_interval(judge: FloatArray, human: FloatArray, labels: FloatArray, n_resamples: int, seed: int) -> Interval:
    """The kappa and its percentile bootstrap interval over units: a resample of units is a multinomial draw of
    the confusion matrix's cells, so all resamples are computed at once."""
    value = cohen_kappa(human, judge, weights="quadratic", labels=labels) if len(judge) else float("nan")
    if n_resamples <= 0 or len(judge) < 2 or np.isnan(value):
        return Interval(value, float("nan"), float("nan"))
    v = len(labels)
    cells = np.searchsorted(labels, human) * v + np.searchsorted(labels, judge)
    share = np.bincount(cells, minlength=v * v) / len(judge)
    draws = np.random.default_rng(seed).multinomial(len(judge), share, size=n_resamples).astype(np.float64)
    kappas = _quadratic_kappa(draws.reshape(n_resamples, v, v))
    finite = kappas[~np.isnan(kappas)]
    if not len(finite):
        return Interval(value, float("nan"), float("nan"))
    return Interval(value, float(np.percentile(finite, 2.5)), float(np.percentile(finite, 97.5)))


def ordinal_calibration(
    name: str,
    judge: npt.ArrayLike,
    human: npt.ArrayLike,
    *,
    low: int,
    high: int,
    n_resamples: int = 1000,
    seed: int = 0,
) -> OrdinalCalibration:
    """Judge against humans on the scale ``low..high``.

    Parameters
    ----------
    judge, human : array_like, shape (n,)
        The judge's value and the humans' aggregate (any real, rounded half away from zero and clipped onto the
        scale) per unit; NaN = missing, and a unit missing either is left out.
    n_resamples : int
        Bootstrap resamples for both intervals (0: none).
    """
    j = np.asarray(judge, dtype=np.float64)
    h = np.clip(round_half_away_from_zero(np.asarray(human, dtype=np.float64)), low, high)
    both = ~(np.isnan(j) | np.isnan(h))
    j, h = j[both], h[both]
    domain = np.arange(low, high + 1, dtype=np.float64)
    if len(j):
        counts = value_counts_from_matrix(np.vstack([h, j]), domain)
        found = alpha_bootstrap_ci(counts, level="ordinal", value_domain=domain, n_resamples=max(1, n_resamples),
                                   seed=seed)  # fmt: skip
        alpha = (
            Interval(found.alpha, found.low, found.high) if n_resamples > 0 else Interval(found.alpha, np.nan, np.nan)
        )
    else:
        alpha = Interval(float("nan"), float("nan"), float("nan"))
    kappa = _kappa_interval(j, h, domain, n_resamples, seed)
    index = {int(v): i for i, v in enumerate(domain)}
    confusion = np.zeros((len(domain), len(domain)), dtype=np.int64)
    for hv, jv in zip(h, j, strict=True):
        confusion[index[int(hv)], index[int(jv)]] += 1
    exact = float(np.mean(h == j)) if len(j) else float("nan")
    return OrdinalCalibration(name, len(j), alpha, kappa, exact, [int(v) for v in domain], confusion.tolist())


def expected_calibration_error(
    confidences: npt.ArrayLike, correct: npt.ArrayLike, *, n_bins: int = ECE_BINS
) -> tuple[float, list[ReliabilityBin]]:
    """ECE (Guo et al. 2017, eq. 3) and the non-empty equal-width bins on [0, 1] (the last bin includes 1).

    >>> round(expected_calibration_error([0.9, 0.9, 0.6, 0.6], [1, 1, 1, 0])[0], 3)
    0.1
    """
    conf = np.asarray(confidences, dtype=np.float64)
    hit = np.asarray(correct, dtype=np.float64)
    if not len(conf):
        return float("nan"), []
    which = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    ece, bins = 0.0, []
    for b in range(n_bins):
        mask = which == b
        if not mask.any():
            continue
        mean_conf, accuracy = float(conf[mask].mean()), float(hit[mask].mean())
        ece += mask.mean() * abs(accuracy - mean_conf)
        bins.append(ReliabilityBin(b / n_bins, (b + 1) / n_bins, int(mask.sum()), mean_conf, accuracy))
    return float(ece), bins


def _direction(strength: FloatArray) -> npt.NDArray[np.int64]:
    """0 response 1 better, 1 tie, 2 response 2 better."""
    return (np.sign(strength) + 1).astype(np.int64)


def preference_calibration(
    judge_strength: npt.ArrayLike,
    human_strength: npt.ArrayLike,
    *,
    confidences: Sequence[float | None] | npt.ArrayLike | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
) -> PreferenceCalibration:
    """Judge against humans on the preference of ``n`` comparisons.

    Parameters
    ----------
    judge_strength : array_like, shape (n,)
        −3…+3, negative = response 1 better.
    human_strength : array_like, shape (n,)
        The humans' aggregated strength (any real; its sign is the humans' preference, 0 a tie).
    confidences : array_like, shape (n,), optional
        The judge's confidence that its preferred response is better; None/NaN where not given. ECE counts the
        comparisons with a confidence, a preference of the judge and no human tie.
    """
    j = np.asarray(judge_strength, dtype=np.float64)
    h = np.asarray(human_strength, dtype=np.float64)
    both = ~(np.isnan(j) | np.isnan(h))
    conf = (
        np.asarray([np.nan if c is None else c for c in confidences], dtype=np.float64)  # type: ignore[union-attr]
        if confidences is not None
        else np.full(len(j), np.nan)
    )
    j, h, conf = j[both], h[both], conf[both]
    decided = np.sign(h) != 0
    correct = (np.sign(j) == np.sign(h))[decided].astype(np.float64)
    accuracy = float(correct.mean()) if len(correct) else float("nan")
    if n_resamples > 0 and len(correct) > 1:
        rng = np.random.default_rng(seed)
        means = correct[rng.integers(0, len(correct), (n_resamples, len(correct)))].mean(axis=1)
        accuracy_interval = Interval(accuracy, float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5)))
    else:
        accuracy_interval = Interval(accuracy, float("nan"), float("nan"))
    strength = ordinal_calibration(
        "preference_strength", j, h, low=PREFERENCE_STRENGTH_MIN, high=PREFERENCE_STRENGTH_MAX,
        n_resamples=n_resamples, seed=seed,
    )  # fmt: skip
    confusion = np.zeros((3, 3), dtype=np.int64)
    np.add.at(confusion, (_direction(h), _direction(j)), 1)
    usable = decided & ~np.isnan(conf) & (np.sign(j) != 0)
    ece, bins = expected_calibration_error(conf[usable], (np.sign(j) == np.sign(h))[usable])
    return PreferenceCalibration(
        n=len(j),
        n_decided=int(decided.sum()),
        accuracy=accuracy,
        accuracy_interval=accuracy_interval,
        strength=strength,
        direction_labels=DIRECTIONS,
        direction_confusion=confusion.tolist(),
        ece=ece,
        bins=bins,
    )
