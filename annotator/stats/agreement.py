"""Agreement statistics over annotations: Krippendorff's alpha, weighted Cohen's kappa and per-annotator reports.

Conventions
-----------
* A *unit* is one thing that several annotators rate: a response of a comparison for a Likert attribute
  (unit = (comparison, response side)), or a comparison for the preference strength.
* ``reliability_data`` is a raters x units float array, shape (M, N), ``NaN`` = the rater did not rate the unit
  (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability", section A).
* ``value_counts`` is a units x values array, shape (N, V): how many raters gave value ``value_domain[v]`` to unit
  ``n``. Alpha only depends on these counts, so large projects (many annotators, few per unit) never build the
  dense raters x units matrix: :func:`value_counts_from_long` goes straight from the long annotation table.
* Preference strength follows HelpSteer2-Preference: -3 (response 1 much better) ... 0 (about the same) ...
  +3 (response 2 much better). Its *direction* is the nominal sign: -1 / 0 / +1.

Degenerate cases (never raise, return ``NaN``)
----------------------------------------------
``NaN`` from an agreement function means "agreement is not measurable on these data", and callers should show it
as "n/a", never as 0:

* no pairable values -- no unit was rated by two or more raters (one rater, or everything missing);
* no variation -- every pairable value is the same, so the expected disagreement is zero and alpha (kappa) is
  0/0. Krippendorff (2011, section E) calls alpha undefined here: the data cannot tell reliable annotators from
  annotators who always give the same answer.

Pooled pairwise kappa
---------------------
HelpSteer2 (Wang et al. 2024, arXiv 2406.08673, section 2.1, Table 1) reports quadratic-weighted Cohen's kappa
(scikit-learn) although ~1,000 annotators rarely shared the same samples; how pairs were formed is not stated.
:func:`pooled_pairwise_kappa` forms, on every unit, every pair of raters who both rated it (first = the lower
rater index), pools all those pairs into one (first, second) label list and computes a single kappa on it. With
two raters it is exactly Cohen's kappa. It weights units by their number of rater pairs (k * (k - 1) / 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import krippendorff
import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import cohen_kappa_score

from annotator.domain import LIKERT_MAX, LIKERT_MIN, PREFERENCE_STRENGTH_MAX, PREFERENCE_STRENGTH_MIN

__all__ = [
    "LIKERT_DOMAIN",
    "STRENGTH_DOMAIN",
    "AgreementAccumulator",
    "AlphaInterval",
    "KappaWeights",
    "Level",
    "ReliabilityMatrix",
    "agreement_overview",
    "alpha_bootstrap_ci",
    "alpha_from_value_counts",
    "annotator_summary",
    "cohen_kappa",
    "comparison_spread",
    "krippendorff_alpha",
    "leave_one_out_agreement",
    "pooled_pairwise_kappa",
    "pooled_pairwise_kappa_long",
    "position_preference_rate",
    "preference_direction",
    "rating_pair_index",
    "rating_pairs",
    "reliability_matrix",
    "robust_z_scores",
    "unit_codes",
    "value_counts_from_long",
    "value_counts_from_matrix",
]

Level = Literal["nominal", "ordinal", "interval"]
KappaWeights = Literal["quadratic", "linear"] | None

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

LIKERT_DOMAIN: FloatArray = np.arange(LIKERT_MIN, LIKERT_MAX + 1, dtype=np.float64)
"""HelpSteer2 Likert scale 0..4."""
STRENGTH_DOMAIN: FloatArray = np.arange(PREFERENCE_STRENGTH_MIN, PREFERENCE_STRENGTH_MAX + 1, dtype=np.float64)
"""HelpSteer2-Preference strength scale -3..+3."""
DIRECTION_DOMAIN: FloatArray = np.array([-1.0, 0.0, 1.0])


# ---------------------------------------------------------------------------------------------------------------
# Long format -> matrices
# ---------------------------------------------------------------------------------------------------------------


def unit_codes(*keys: npt.ArrayLike) -> tuple[IntArray, int]:
    """Factorise one or more key columns jointly into dense unit codes.

    Parameters
    ----------
    *keys : array_like, each shape (R,)
        E.g. ``(comparison_id, side)`` for rating units or ``(comparison_id,)`` for preference units.

    Returns
    -------
    codes : ndarray of int64, shape (R,)
        ``0 .. n_units - 1`` in order of first appearance.
    n_units : int

    Examples
    --------
    >>> unit_codes(["a", "a", "b"], [1, 2, 1])
    (array([0, 1, 2]), 3)
    """
    if not keys:
        raise ValueError("unit_codes needs at least one key column.")
    parts = [pd.factorize(np.asarray(k), use_na_sentinel=False)[0].astype(np.int64) for k in keys]
    if len(parts) == 1:
        return parts[0], int(parts[0].max(initial=-1) + 1)
    dims = tuple(int(p.max(initial=-1) + 1) for p in parts)
    flat = np.ravel_multi_index(tuple(parts), dims)
    codes, uniques = pd.factorize(flat)
    return codes.astype(np.int64), len(uniques)


@dataclass(frozen=True)
class ReliabilityMatrix:
    """Raters x units matrix built from long annotations.

    Attributes
    ----------
    values : ndarray, shape (M, N)
        ``values[m, n]`` = rating of rater ``raters[m]`` on unit ``n``; ``NaN`` = not rated.
    raters : ndarray, shape (M,)
        Rater labels (annotator ids), sorted.
    """

    values: FloatArray
    raters: npt.NDArray[np.generic]


def reliability_matrix(
    raters: npt.ArrayLike, units: npt.ArrayLike, values: npt.ArrayLike, *, n_units: int | None = None
) -> ReliabilityMatrix:
    """Build the raters x units matrix from long annotations, vectorised (no Python loop per row).

    Parameters
    ----------
    raters : array_like, shape (R,)
        Annotator id of each rating.
    units : array_like of int, shape (R,)
        Dense unit code of each rating (see :func:`unit_codes`), ``0 <= units < n_units``.
    values : array_like of float, shape (R,)
        The rating; ``NaN`` ratings are kept as missing.
    n_units : int, optional
        Number of units (columns); default ``units.max() + 1``.

    Returns
    -------
    ReliabilityMatrix

    Raises
    ------
    ValueError
        When a rater rated the same unit twice (the caller must decide which annotation counts).
    """
    unit_arr = np.asarray(units, dtype=np.int64)
    val_arr = np.asarray(values, dtype=np.float64)
    rater_codes, rater_labels = pd.factorize(np.asarray(raters), sort=True)
    n_cols = int(unit_arr.max(initial=-1) + 1) if n_units is None else n_units
    flat = rater_codes.astype(np.int64) * n_cols + unit_arr
    # bincount over the M x N cells: the same memory as the matrix itself, and O(R) instead of a sort.
    if flat.size and np.bincount(flat, minlength=len(rater_labels) * n_cols).max() > 1:
        raise ValueError("A rater rated the same unit more than once.")
    matrix = np.full((len(rater_labels), n_cols), np.nan)
    matrix[rater_codes, unit_arr] = val_arr
    return ReliabilityMatrix(values=matrix, raters=np.asarray(rater_labels))


def _domain_index(values: FloatArray, value_domain: FloatArray) -> IntArray:
    """Index of each (non-NaN) value in the sorted domain; raises on out-of-domain values."""
    idx = np.searchsorted(value_domain, values)
    idx_clipped = np.minimum(idx, len(value_domain) - 1)
    if not np.array_equal(value_domain[idx_clipped], values):
        raise ValueError("The ratings contain values outside value_domain.")
    return idx_clipped.astype(np.int64)


def value_counts_from_long(
    units: npt.ArrayLike, values: npt.ArrayLike, value_domain: npt.ArrayLike, *, n_units: int | None = None
) -> FloatArray:
    """Count, per unit, how many raters gave each value (``np.bincount``; O(R)).

    Parameters
    ----------
    units : array_like of int, shape (R,)
        Dense unit codes.
    values : array_like of float, shape (R,)
        Ratings; ``NaN`` rows are ignored.
    value_domain : array_like, shape (V,)
        Sorted possible values (e.g. :data:`LIKERT_DOMAIN`).
    n_units : int, optional
        Number of units; default ``units.max() + 1``.

    Returns
    -------
    value_counts : ndarray of float64, shape (N, V)
    """
    unit_arr = np.asarray(units, dtype=np.int64)
    val_arr = np.asarray(values, dtype=np.float64)
    domain = np.asarray(value_domain, dtype=np.float64)
    n = int(unit_arr.max(initial=-1) + 1) if n_units is None else n_units
    present = ~np.isnan(val_arr)
    v_idx = _domain_index(val_arr[present], domain)
    flat = unit_arr[present] * len(domain) + v_idx
    counts = np.bincount(flat, minlength=n * len(domain))
    return counts.reshape(n, len(domain)).astype(np.float64)


def value_counts_from_matrix(reliability_data: npt.ArrayLike, value_domain: npt.ArrayLike) -> FloatArray:
    """Value counts, shape (N, V), of a raters x units matrix, shape (M, N), ``NaN`` = missing."""
    data = np.asarray(reliability_data, dtype=np.float64)
    m, n = data.shape
    units = np.broadcast_to(np.arange(n), (m, n)).ravel()
    return value_counts_from_long(units, data.ravel(), value_domain, n_units=n)


# ---------------------------------------------------------------------------------------------------------------
# Krippendorff's alpha
# ---------------------------------------------------------------------------------------------------------------


def _unique_rows(value_counts: FloatArray, weights: IntArray | None = None) -> tuple[FloatArray, IntArray]:
    """Distinct rows of a count matrix and their frequencies (the summed ``weights`` of equal rows, default 1
    each); rows are encoded as integers when they fit, and come out in the same order whatever rows are merged."""
    w = np.ones(value_counts.shape[0], dtype=np.int64) if weights is None else np.asarray(weights, dtype=np.int64)
    base = int(value_counts.max(initial=0)) + 1
    if value_counts.shape[1] * np.log2(max(base, 2)) < 62:
        codes = value_counts.astype(np.int64) @ (base ** np.arange(value_counts.shape[1], dtype=np.int64))
        _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
        return value_counts[first], np.bincount(inverse.ravel(), weights=w, minlength=len(first)).astype(np.int64)
    patterns, inverse = np.unique(value_counts, axis=0, return_inverse=True)
    return patterns, np.bincount(inverse.ravel(), weights=w, minlength=len(patterns)).astype(np.int64)


def _pairable(value_counts: FloatArray) -> FloatArray:
    pairable: FloatArray = value_counts[value_counts.sum(axis=1) >= 2]
    return pairable


def _unit_coincidences(value_counts: FloatArray) -> FloatArray:
    """Per-unit contribution to the coincidence matrix, shape (N, V * V) (Krippendorff 2011, section C).

    ``o_ck = sum_u (n_uc * n_uk - [c == k] * n_uc) / (m_u - 1)`` for pairable units (``m_u >= 2``).
    """
    m_u = value_counts.sum(axis=1)
    n, v = value_counts.shape
    outer = value_counts[:, :, None] * value_counts[:, None, :]
    diag = np.arange(v)
    outer[:, diag, diag] -= value_counts
    per_unit: FloatArray = (outer / (m_u - 1)[:, None, None]).reshape(n, v * v)
    return per_unit


def _distance_matrices(n_v: FloatArray, value_domain: FloatArray, level: Level) -> FloatArray:
    """Squared distance matrices ``delta^2_ck``, shape (..., V, V), for marginals ``n_v`` of shape (..., V).

    Ordinal: ``(sum_{g=c..k} n_g - (n_c + n_k) / 2)^2`` (Krippendorff 2011, section E), which depends on the
    marginals, hence on each bootstrap resample.
    """
    v = value_domain.shape[0]
    if level == "nominal":
        return np.broadcast_to(1.0 - np.eye(v), (*n_v.shape[:-1], v, v))
    if level == "interval":
        d = (value_domain[:, None] - value_domain[None, :]) ** 2
        return np.broadcast_to(d, (*n_v.shape[:-1], v, v))
    if level == "ordinal":
        cum = np.cumsum(n_v, axis=-1)
        lo = np.minimum.outer(np.arange(v), np.arange(v))
        hi = np.maximum.outer(np.arange(v), np.arange(v))
        between = cum[..., hi] - cum[..., lo] + n_v[..., lo]
        return (between - (n_v[..., :, None] + n_v[..., None, :]) / 2.0) ** 2
    raise ValueError(f"Unknown level of measurement {level!r}.")


def _alpha_from_coincidences(o: FloatArray, value_domain: FloatArray, level: Level) -> FloatArray:
    """Alpha from coincidence matrices, shape (..., V, V) -> (...,); NaN where undefined."""
    n_v = o.sum(axis=-2)
    n = n_v.sum(axis=-1)
    pairs = n_v[..., :, None] * n_v[..., None, :] - n_v[..., None, :] * np.eye(n_v.shape[-1])
    e = pairs / np.maximum(n - 1.0, 1.0)[..., None, None]
    d = _distance_matrices(n_v, value_domain, level)
    observed = (o * d).sum(axis=(-2, -1))
    expected = (e * d).sum(axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        result = 1.0 - observed / expected
    # Expected disagreement 0 <=> one value only (or nothing pairable): alpha is 0/0, see module docstring.
    return np.where(expected > 1e-12 * np.maximum(n, 1.0) ** 2, result, np.nan)


def alpha_from_value_counts(
    value_counts: npt.ArrayLike, *, level: Level = "ordinal", value_domain: npt.ArrayLike | None = None
) -> float:
    """Krippendorff's alpha from value counts, vectorised numpy (the fast path; O(N * V^2)).

    Matches ``krippendorff.alpha(value_counts=..., value_domain=...)`` to 1e-9 and is what
    :func:`agreement_overview` uses for large projects.

    Parameters
    ----------
    value_counts : array_like, shape (N, V)
        Raters per unit and value (see :func:`value_counts_from_long`).
    level : {"nominal", "ordinal", "interval"}
        Level of measurement. Likert attributes and preference strength are ordinal; the preference direction
        is nominal.
    value_domain : array_like, shape (V,), optional
        Sorted values of the columns; default ``0 .. V-1``. Only ``interval`` uses the numbers themselves.

    Returns
    -------
    float
        ``1 - D_o / D_e``; ``NaN`` when no unit has two values or all pairable values are equal.
    """
    vc = np.asarray(value_counts, dtype=np.float64)
    domain = np.arange(vc.shape[1], dtype=np.float64) if value_domain is None else np.asarray(value_domain, float)
    if domain.shape[0] != vc.shape[1]:
        raise ValueError("value_domain must have one entry per column of value_counts.")
    pairable = _pairable(vc)
    if pairable.shape[0] == 0:
        return float("nan")
    # sum_u n_u n_u^T / (m_u - 1) as one matrix product, minus the diagonal term (Krippendorff 2011, section C).
    weighted = pairable / (pairable.sum(axis=1) - 1.0)[:, None]
    o = weighted.T @ pairable
    o[np.diag_indices_from(o)] -= weighted.sum(axis=0)
    return float(_alpha_from_coincidences(o, domain, level))


def krippendorff_alpha(
    reliability_data: npt.ArrayLike, *, level: Level = "ordinal", value_domain: npt.ArrayLike | None = None
) -> float:
    """Krippendorff's alpha of a raters x units matrix, computed by the reference ``krippendorff`` package.

    Parameters
    ----------
    reliability_data : array_like, shape (M, N)
        Ratings, ``NaN`` = missing (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability").
    level : {"nominal", "ordinal", "interval"}
    value_domain : array_like, shape (V,), optional
        Sorted possible values; default the values that occur.

    Returns
    -------
    float
        Alpha, or ``NaN`` for the degenerate cases of the module docstring (where the package would raise or
        divide by zero).

    Examples
    --------
    Wikipedia's / Krippendorff's 3 coders x 15 units example:

    >>> nan = float("nan")
    >>> data = [[nan, nan, nan, nan, nan, 3, 4, 1, 2, 1, 1, 3, 3, nan, 3],
    ...         [1, nan, 2, 1, 3, 3, 4, 3, nan, nan, nan, nan, nan, nan, nan],
    ...         [nan, nan, 2, 1, 3, 4, 4, nan, 2, 1, 1, 3, 3, nan, 4]]
    >>> round(krippendorff_alpha(data, level="nominal"), 3), round(krippendorff_alpha(data, level="interval"), 3)
    (0.691, 0.811)
    """
    data = np.asarray(reliability_data, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError("reliability_data must be 2-D (raters x units).")
    present = ~np.isnan(data)
    pairable_units = present.sum(axis=0) >= 2
    values = data[:, pairable_units][present[:, pairable_units]]
    if values.size == 0 or np.unique(values).size < 2:
        return float("nan")
    domain = None if value_domain is None else np.asarray(value_domain, dtype=np.float64)
    return float(krippendorff.alpha(reliability_data=data, value_domain=domain, level_of_measurement=level))


@dataclass(frozen=True)
class AlphaInterval:
    """Alpha with a percentile bootstrap confidence interval.

    Attributes
    ----------
    alpha : float
        Point estimate on all units.
    low, high : float
        Percentile bounds (``NaN`` if the point estimate is ``NaN``).
    confidence : float
        E.g. 0.95.
    n_resamples : int
    n_units : int
        Pairable units (rated by >= 2 raters), the units that were resampled.
    n_values : int
        Pairable values (ratings on those units).
    """

    alpha: float
    low: float
    high: float
    confidence: float
    n_resamples: int
    n_units: int
    n_values: int


def alpha_bootstrap_ci(
    value_counts: npt.ArrayLike,
    *,
    level: Level = "ordinal",
    value_domain: npt.ArrayLike | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> AlphaInterval:
    """Krippendorff's alpha with a percentile bootstrap CI over units (seeded, vectorised).

    Units are the resampling unit (annotations of one unit stay together). Only pairable units carry
    information, so the pairable units are resampled with replacement. Units with identical value-count rows are
    interchangeable, so resampling N units uniformly equals drawing a multinomial over the distinct rows with
    their frequencies: every resample costs O(P * V^2) for P distinct rows (P <= a few hundred on a 0-4 scale),
    independent of N. This is the plain percentile bootstrap (Efron & Tibshirani 1993, ch. 13), not
    Krippendorff's (2004) bootstrap of the coincidence matrix.

    Parameters
    ----------
    value_counts : array_like, shape (N, V)
    level : {"nominal", "ordinal", "interval"}
    value_domain : array_like, shape (V,), optional
    n_resamples : int
        Number of bootstrap resamples (>= 1).
    confidence : float
        Two-sided level in (0, 1).
    seed : int
        Seed of ``numpy.random.default_rng``; same seed, same interval.

    Returns
    -------
    AlphaInterval
        Resamples whose alpha is undefined (no variation) are ignored by the percentiles.
    """
    if n_resamples < 1:
        raise ValueError("n_resamples must be >= 1.")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must lie in (0, 1).")
    vc = np.asarray(value_counts, dtype=np.float64)
    domain = np.arange(vc.shape[1], dtype=np.float64) if value_domain is None else np.asarray(value_domain, float)
    patterns, frequency = _unique_rows(_pairable(vc))
    return _alpha_interval(patterns, frequency, domain, level, n_resamples, confidence, seed)


def _alpha_interval(
    patterns: FloatArray,
    frequency: IntArray,
    domain: FloatArray,
    level: Level,
    n_resamples: int,
    confidence: float,
    seed: int,
) -> AlphaInterval:
    """Alpha and its bootstrap interval (none when ``n_resamples`` is 0) from the distinct pairable value-count
    rows and how many units have each (see :func:`alpha_bootstrap_ci`)."""
    n_units = int(frequency.sum())
    n_values = int(patterns.sum(axis=1) @ frequency) if n_units else 0
    if n_units == 0:
        return AlphaInterval(float("nan"), float("nan"), float("nan"), confidence, n_resamples, 0, 0)
    v = patterns.shape[1]
    per_pattern = _unit_coincidences(patterns)  # (P, V*V)
    point = float(_alpha_from_coincidences((frequency @ per_pattern).reshape(v, v), domain, level))
    if n_resamples == 0 or np.isnan(point):
        return AlphaInterval(point, float("nan"), float("nan"), confidence, n_resamples, n_units, n_values)
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n_units, frequency / n_units, size=n_resamples).astype(np.float64)  # (R, P)
    o = (weights @ per_pattern).reshape(n_resamples, v, v)
    alphas = _alpha_from_coincidences(o, domain, level)
    tail = (1.0 - confidence) / 2.0 * 100.0
    if np.all(np.isnan(alphas)):
        low = high = float("nan")
    else:
        low, high = (float(x) for x in np.nanpercentile(alphas, [tail, 100.0 - tail]))
    return AlphaInterval(point, low, high, confidence, n_resamples, n_units, n_values)


# ---------------------------------------------------------------------------------------------------------------
# Cohen's kappa
# ---------------------------------------------------------------------------------------------------------------


def cohen_kappa(
    ratings_a: npt.ArrayLike,
    ratings_b: npt.ArrayLike,
    *,
    weights: KappaWeights = "quadratic",
    labels: npt.ArrayLike | None = None,
) -> float:
    """(Weighted) Cohen's kappa of two raters on the units both rated (scikit-learn ``cohen_kappa_score``).

    Quadratic weights are what HelpSteer2 reports (Wang et al. 2024, Table 1); Cohen (1968) for weighted kappa.

    Parameters
    ----------
    ratings_a, ratings_b : array_like of float, shape (N,)
        The two raters' ratings of the same N units; a unit with ``NaN`` in either is ignored.
    weights : {"quadratic", "linear", None}
        ``None`` = unweighted (use it for the nominal preference direction).
    labels : array_like, optional
        The scale (e.g. :data:`LIKERT_DOMAIN`); default the values that occur. Quadratic weights are computed on
        label *positions*, so pass the full, evenly spaced scale for comparable numbers.

    Returns
    -------
    float
        Kappa; ``NaN`` when no unit is shared or only one label occurs (see module docstring).
    """
    a = np.asarray(ratings_a, dtype=np.float64)
    b = np.asarray(ratings_b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError("ratings_a and ratings_b must have the same shape.")
    both = ~(np.isnan(a) | np.isnan(b))
    a, b = a[both], b[both]
    if a.size == 0 or np.unique(np.concatenate([a, b])).size < 2:
        return float("nan")
    label_arr = None if labels is None else np.asarray(labels, dtype=np.float64)
    # Collapse identical (a, b) pairs into one weighted pair: the same confusion matrix, hence the same kappa,
    # but scikit-learn then handles V^2 rows instead of millions.
    both_values = np.concatenate([a, b])
    if label_arr is not None and np.all(np.diff(label_arr) > 0):
        # Known sorted scale: codes by binary search (cheaper than hashing millions of floats).
        codes, uniques = _domain_index(both_values, label_arr), label_arr
    else:
        codes, uniques = pd.factorize(both_values)
    n_labels = len(uniques)
    counts = np.bincount(codes[: a.size] * n_labels + codes[a.size :], minlength=n_labels * n_labels)
    return _kappa_from_pair_counts(counts, np.asarray(uniques, dtype=np.float64), weights, label_arr)


def _pair_counts(first: FloatArray, second: FloatArray, domain: FloatArray) -> IntArray:
    """Confusion counts, flat (V * V,), of (first, second) rating pairs on a sorted scale; NaN pairs ignored."""
    both = ~(np.isnan(first) | np.isnan(second))
    v = len(domain)
    flat = _domain_index(first[both], domain) * v + _domain_index(second[both], domain)
    return np.bincount(flat, minlength=v * v).astype(np.int64)


def _kappa_from_pair_counts(
    counts: IntArray, uniques: FloatArray, weights: KappaWeights, labels: FloatArray | None
) -> float:
    """Kappa of the pairs a flat (U * U,) confusion count over the values ``uniques`` describes (scikit-learn's
    ``cohen_kappa_score`` on one weighted row per occurring pair); NaN without pairs or with one value only."""
    n = len(uniques)
    present = np.flatnonzero(counts)
    occurring = np.union1d(present // n, present % n)
    if occurring.size < 2:
        return float("nan")
    first = uniques[present // n]
    second = uniques[present % n]
    return float(
        cohen_kappa_score(first, second, weights=weights, labels=labels, sample_weight=counts[present].astype(float))
    )


def rating_pair_index(units: npt.ArrayLike, raters: npt.ArrayLike) -> tuple[IntArray, IntArray]:
    """Row indices of every pair of two different rows on the same unit, vectorised.

    Parameters
    ----------
    units : array_like of int, shape (R,)
        Unit code of each row.
    raters : array_like, shape (R,)
        Rater id of each row (sortable).

    Returns
    -------
    first, second : ndarray of int64, shape (P,)
        Row indices; ``first`` is the row of the rater that sorts lower. A unit with k rows gives k * (k - 1) / 2
        pairs. The index does not depend on the values, so one index serves every attribute of a project.
    """
    unit_arr = np.asarray(units, dtype=np.int64)
    rater_codes = pd.factorize(np.asarray(raters), sort=True)[0].astype(np.int64)
    order = np.lexsort((rater_codes, unit_arr)).astype(np.int64)
    unit_sorted = unit_arr[order]
    firsts: list[IntArray] = []
    seconds: list[IntArray] = []
    # Loop over the offset within a unit (at most max rows per unit - 1 iterations), not over rows.
    for offset in range(1, unit_sorted.size):
        same = unit_sorted[:-offset] == unit_sorted[offset:]
        if not same.any():
            break
        firsts.append(order[:-offset][same])
        seconds.append(order[offset:][same])
    if not firsts:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(firsts), np.concatenate(seconds)


def rating_pairs(
    units: npt.ArrayLike,
    raters: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    pair_index: tuple[IntArray, IntArray] | None = None,
) -> tuple[FloatArray, FloatArray]:
    """All (first, second) rating pairs of two different raters on the same unit, vectorised.

    Parameters
    ----------
    units : array_like of int, shape (R,)
        Unit code of each rating.
    raters : array_like, shape (R,)
        Rater id of each rating (sortable).
    values : array_like of float, shape (R,)
        Ratings; pairs with a ``NaN`` on either side are dropped.
    pair_index : (ndarray, ndarray), optional
        A precomputed :func:`rating_pair_index` of ``(units, raters)``.

    Returns
    -------
    first, second : ndarray, shape (P,)
        ``first`` is the rating of the rater that sorts lower.
    """
    first_rows, second_rows = rating_pair_index(units, raters) if pair_index is None else pair_index
    val_arr = np.asarray(values, dtype=np.float64)
    first, second = val_arr[first_rows], val_arr[second_rows]
    both = ~(np.isnan(first) | np.isnan(second))
    return first[both], second[both]


def pooled_pairwise_kappa_long(
    units: npt.ArrayLike,
    raters: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    weights: KappaWeights = "quadratic",
    labels: npt.ArrayLike | None = None,
    pair_index: tuple[IntArray, IntArray] | None = None,
) -> float:
    """Pooled pairwise (weighted) Cohen's kappa from long ratings; see the module docstring for the pooling.

    Parameters
    ----------
    units, raters, values : array_like, shape (R,)
        As in :func:`rating_pairs`.
    weights, labels
        As in :func:`cohen_kappa`.
    pair_index : optional
        As in :func:`rating_pairs`.

    Returns
    -------
    float
        Kappa over all pooled pairs; ``NaN`` if there is no pair or a single label.
    """
    first, second = rating_pairs(units, raters, values, pair_index=pair_index)
    return cohen_kappa(first, second, weights=weights, labels=labels)


def pooled_pairwise_kappa(
    reliability_data: npt.ArrayLike, *, weights: KappaWeights = "quadratic", labels: npt.ArrayLike | None = None
) -> float:
    """Pooled pairwise kappa of a raters x units matrix, shape (M, N), ``NaN`` = missing.

    With M == 2 this equals :func:`cohen_kappa` of the two rows.
    """
    data = np.asarray(reliability_data, dtype=np.float64)
    m, n = data.shape
    raters = np.repeat(np.arange(m), n)
    units = np.tile(np.arange(n), m)
    return pooled_pairwise_kappa_long(units, raters, data.ravel(), weights=weights, labels=labels)


def preference_direction(strength: npt.ArrayLike) -> FloatArray:
    """Nominal preference direction of strengths: -1 (response 1 better), 0 (about the same), +1; NaN kept.

    >>> preference_direction([-3.0, 0.0, 2.0, float("nan")])
    array([-1.,  0.,  1., nan])
    """
    return np.sign(np.asarray(strength, dtype=np.float64))


# ---------------------------------------------------------------------------------------------------------------
# Per annotator
# ---------------------------------------------------------------------------------------------------------------


def leave_one_out_agreement(units: npt.ArrayLike, raters: npt.ArrayLike, values: npt.ArrayLike) -> pd.DataFrame:
    """Each rater against the mean of the *other* raters of the same units (leave-one-out), vectorised.

    For every rating ``x`` on a unit with at least one other rating, ``others = (S_u - x) / (c_u - 1)`` where
    ``S_u`` and ``c_u`` are the unit's sum and count.

    Parameters
    ----------
    units : array_like of int, shape (R,)
    raters : array_like, shape (R,)
    values : array_like of float, shape (R,)
        ``NaN`` ratings are ignored.

    Returns
    -------
    DataFrame, index = rater id (sorted)
        ``n_shared``: ratings on units with another rating; ``loo_correlation``: Pearson r between the rater's
        ratings and the others' means (``NaN`` if fewer than 3 shared ratings or no variation on either side);
        ``loo_bias``: mean of (rating - others' mean), in scale points (positive = lenient).
    """
    unit_arr = np.asarray(units, dtype=np.int64)
    val_arr = np.asarray(values, dtype=np.float64)
    rater_arr = np.asarray(raters)
    keep = ~np.isnan(val_arr)
    unit_arr, val_arr, rater_arr = unit_arr[keep], val_arr[keep], rater_arr[keep]
    rater_codes, rater_labels = pd.factorize(rater_arr, sort=True)
    n_units = int(unit_arr.max(initial=-1) + 1)
    total = np.bincount(unit_arr, weights=val_arr, minlength=n_units)
    count = np.bincount(unit_arr, minlength=n_units).astype(np.float64)
    c = count[unit_arr]
    shared = c >= 2
    x = val_arr[shared]
    y = (total[unit_arr][shared] - x) / (c[shared] - 1.0)
    r = rater_codes[shared]
    k = len(rater_labels)

    def per_rater(w: FloatArray) -> FloatArray:
        return np.bincount(r, weights=w, minlength=k).astype(np.float64)

    n = per_rater(np.ones_like(x))
    sx, sy = per_rater(x), per_rater(y)
    sxx, syy, sxy = per_rater(x * x), per_rater(y * y), per_rater(x * y)
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = sxy - sx * sy / n
        var_x = sxx - sx * sx / n
        var_y = syy - sy * sy / n
        denom = np.sqrt(var_x * var_y)
        corr = np.where((n >= 3) & (denom > 1e-12 * np.maximum(n, 1.0)), cov / denom, np.nan)
        bias = np.where(n > 0, (sx - sy) / n, np.nan)
    return pd.DataFrame(
        {"n_shared": n.astype(np.int64), "loo_correlation": corr, "loo_bias": bias},
        index=pd.Index(rater_labels, name="annotator_id"),
    )


def position_preference_rate(
    raters: npt.ArrayLike, strength: npt.ArrayLike, shown_swapped: npt.ArrayLike
) -> pd.DataFrame:
    """How often each rater prefers the response shown on the left.

    Parameters
    ----------
    raters : array_like, shape (R,)
    strength : array_like of float, shape (R,)
        Preference strength in the stored orientation (-3 = response 1 much better); ``NaN`` = none.
    shown_swapped : array_like of bool, shape (R,)
        True when response 2 was shown on the left.

    Returns
    -------
    DataFrame, index = rater id (sorted)
        ``n_decisive``: non-zero strengths; ``left_rate``: share of those that favour the left response
        (0.5 = no position preference; 1.0 = always left; 0.0 = always right; ``NaN`` if no decisive strength).
    """
    s = np.asarray(strength, dtype=np.float64)
    swapped = np.asarray(shown_swapped, dtype=bool)
    rater_codes, rater_labels = pd.factorize(np.asarray(raters), sort=True)
    decisive = ~np.isnan(s) & (s != 0)
    # Response 1 is on the left unless swapped; a negative strength favours response 1.
    favours_left = np.where(swapped, s > 0, s < 0)
    k = len(rater_labels)
    n = np.bincount(rater_codes[decisive], minlength=k)
    left = np.bincount(rater_codes[decisive], weights=favours_left[decisive].astype(np.float64), minlength=k)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n > 0, left / n, np.nan)
    return pd.DataFrame(
        {"n_decisive": n.astype(np.int64), "left_rate": rate}, index=pd.Index(rater_labels, name="annotator_id")
    )


def robust_z_scores(x: npt.ArrayLike, *, mad_floor: float = 0.0) -> FloatArray:
    """Robust z-scores ``0.6745 * (x - median) / MAD`` (Iglewicz & Hoaglin 1993); ``NaN`` inputs stay ``NaN``.

    Parameters
    ----------
    x : array_like of float, shape (K,)
    mad_floor : float
        Lower bound on the MAD, so that a tight group does not turn tiny differences into large z-scores.

    Returns
    -------
    ndarray, shape (K,)
        All ``NaN`` when fewer than 3 finite values or MAD (after the floor) is 0.
    """
    arr = np.asarray(x, dtype=np.float64)
    finite = arr[np.isfinite(arr)]
    if finite.size < 3:
        return np.full(arr.shape, np.nan)
    median = float(np.median(finite))
    mad = max(float(np.median(np.abs(finite - median))), mad_floor)
    if mad == 0.0:
        return np.full(arr.shape, np.nan)
    return 0.6745 * (arr - median) / mad


def _rating_long(annotations: pd.DataFrame, attribute: str) -> tuple[IntArray, npt.NDArray[np.generic], FloatArray]:
    """Stack ``r1_<attribute>`` and ``r2_<attribute>`` into long (unit, annotator, value); unit = (comparison, side)."""
    comp_codes = pd.factorize(annotations["comparison_id"].to_numpy())[0].astype(np.int64)
    units = np.concatenate([comp_codes * 2, comp_codes * 2 + 1])
    raters = np.concatenate([annotations["annotator_id"].to_numpy()] * 2)
    values = np.concatenate(
        [
            annotations[f"r1_{attribute}"].to_numpy(dtype=np.float64),
            annotations[f"r2_{attribute}"].to_numpy(dtype=np.float64),
        ]
    )
    return units, raters, values


def annotator_summary(
    annotations: pd.DataFrame,
    attributes: Sequence[str],
    *,
    z_threshold: float = -2.5,
    agreement_floor: float = 0.2,
    min_shared: int = 10,
    mad_floor: float = 0.05,
) -> pd.DataFrame:
    """Per-annotator report: agreement with the others, bias, position preference, time, skips, outlier flag.

    Parameters
    ----------
    annotations : DataFrame
        Long format of :mod:`annotator.stats.aggregation` (``comparison_id``, ``annotator_id``,
        ``r1_<attribute>``, ``r2_<attribute>``, ``strength``), plus optional ``shown_swapped`` (bool),
        ``time_on_task_s`` (float seconds) and ``skipped`` (bool).
    attributes : sequence of str
        Likert attributes to use.
    z_threshold : float
        Outlier when the robust z-score of ``loo_agreement`` is below this (default -2.5).
    agreement_floor : float
        Outlier when ``loo_agreement`` is below this correlation, whatever the others do (default 0.2).
    min_shared : int
        Annotators with fewer shared ratings than this are never flagged (too little evidence).
    mad_floor : float
        Floor on the MAD of ``loo_agreement`` (correlation units), see :func:`robust_z_scores`.

    Returns
    -------
    DataFrame, index = annotator_id, columns
        ``n_annotations``, ``n_shared`` (shared ratings over all attributes), ``loo_<attribute>`` (leave-one-out
        Pearson r per attribute), ``bias_<attribute>`` (mean rating minus others' mean), ``loo_strength``,
        ``bias_strength`` (if strengths exist), ``loo_agreement`` (mean of the ``loo_*`` columns that are
        defined), ``robust_z``, ``left_rate``, ``median_time_on_task_s``, ``skip_rate``, ``outlier`` (bool) and
        ``outlier_reason`` ("" / "low_agreement" (z-score) / "below_floor").

    Notes
    -----
    Outlier rule: with at least ``min_shared`` shared ratings, an annotator is an outlier when
    ``robust_z(loo_agreement) < z_threshold`` or ``loo_agreement < agreement_floor``. The z-score compares
    annotators of the same project, the floor catches a project where many annotators are bad at once.
    Lenient/harsh annotators keep a high correlation (their bias shows in ``bias_*``), position-biased ones
    show in ``left_rate`` far from 0.5 and a low ``loo_strength``.
    """
    annotator_ids = annotations["annotator_id"].to_numpy()
    index = pd.Index(pd.unique(annotator_ids), name="annotator_id").sort_values()
    out = pd.DataFrame(index=index)
    out["n_annotations"] = annotations.groupby("annotator_id").size().reindex(index).fillna(0).astype(np.int64)
    loo_cols: list[str] = []
    shared_total = pd.Series(0, index=index, dtype=np.int64)
    for attribute in attributes:
        units, raters, values = _rating_long(annotations, attribute)
        loo = leave_one_out_agreement(units, raters, values).reindex(index)
        out[f"loo_{attribute}"] = loo["loo_correlation"]
        out[f"bias_{attribute}"] = loo["loo_bias"]
        shared_total += loo["n_shared"].fillna(0).astype(np.int64)
        loo_cols.append(f"loo_{attribute}")
    if "strength" in annotations and annotations["strength"].notna().any():
        comp_codes = pd.factorize(annotations["comparison_id"].to_numpy())[0]
        loo = leave_one_out_agreement(comp_codes, annotator_ids, annotations["strength"].to_numpy(np.float64))
        loo = loo.reindex(index)
        out["loo_strength"] = loo["loo_correlation"]
        out["bias_strength"] = loo["loo_bias"]
        shared_total += loo["n_shared"].fillna(0).astype(np.int64)
        loo_cols.append("loo_strength")
    out["n_shared"] = shared_total
    out["loo_agreement"] = out[loo_cols].mean(axis=1, skipna=True) if loo_cols else np.nan
    eligible = out["n_shared"] >= min_shared
    z = np.full(len(out), np.nan)
    z[eligible.to_numpy()] = robust_z_scores(out.loc[eligible, "loo_agreement"].to_numpy(), mad_floor=mad_floor)
    out["robust_z"] = z
    if "shown_swapped" in annotations and "strength" in annotations:
        pos = position_preference_rate(annotator_ids, annotations["strength"], annotations["shown_swapped"])
        out["left_rate"] = pos["left_rate"].reindex(index)
    else:
        out["left_rate"] = np.nan
    if "time_on_task_s" in annotations:
        out["median_time_on_task_s"] = annotations.groupby("annotator_id")["time_on_task_s"].median().reindex(index)
    else:
        out["median_time_on_task_s"] = np.nan
    if "skipped" in annotations:
        out["skip_rate"] = annotations["skipped"].astype(np.float64).groupby(annotator_ids).mean().reindex(index)
    else:
        out["skip_rate"] = np.nan
    low_z = eligible & (out["robust_z"] < z_threshold)
    below_floor = eligible & (out["loo_agreement"] < agreement_floor)
    out["outlier"] = low_z | below_floor
    out["outlier_reason"] = np.where(low_z, "low_agreement", np.where(below_floor, "below_floor", ""))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Per comparison and overview
# ---------------------------------------------------------------------------------------------------------------


def comparison_spread(annotations: pd.DataFrame, attributes: Sequence[str]) -> pd.DataFrame:
    """Per comparison, the spread (max - min over annotations) of every rating column and of the strength.

    Parameters
    ----------
    annotations : DataFrame
        Long format (``comparison_id``, ``r1_<attribute>``, ``r2_<attribute>``, ``strength``).
    attributes : sequence of str

    Returns
    -------
    DataFrame, index = comparison_id
        ``n_annotations``, ``r1_<attribute>``, ``r2_<attribute>``, ``strength`` (spreads in scale points,
        ``NaN`` when no value) and ``max_rating_spread`` (largest rating spread), for "where do annotators
        disagree most" lists.
    """
    columns = [f"r{side}_{a}" for a in attributes for side in (1, 2)]
    if "strength" in annotations:
        columns.append("strength")
    grouped = annotations.groupby("comparison_id", sort=False)[columns]
    spread = grouped.max() - grouped.min()
    spread.insert(0, "n_annotations", annotations.groupby("comparison_id", sort=False).size())
    rating_cols = [c for c in columns if c != "strength"]
    spread["max_rating_spread"] = spread[rating_cols].max(axis=1) if rating_cols else np.nan
    return spread


@dataclass
class _MeasureTally:
    """What one measure's agreement needs, summed over blocks: the distinct pairable value-count rows with how many
    units have each (alpha and its bootstrap), and the confusion counts of rater pairs (pooled kappa)."""

    domain: FloatArray
    level: Level
    weights: KappaWeights
    patterns: FloatArray
    frequency: IntArray
    pair_counts: IntArray

    @classmethod
    def empty(cls, domain: FloatArray, level: Level, weights: KappaWeights) -> _MeasureTally:
        v = len(domain)
        return cls(domain, level, weights, np.empty((0, v)), np.empty(0, np.int64), np.zeros(v * v, np.int64))

    def add(
        self, units: IntArray, values: FloatArray, n_units: int, pair_index: tuple[IntArray, IntArray] | None
    ) -> None:
        pairable = _pairable(value_counts_from_long(units, values, self.domain, n_units=n_units))
        self.patterns, self.frequency = _unique_rows(
            np.concatenate([self.patterns, pairable]),
            np.concatenate([self.frequency, np.ones(pairable.shape[0], dtype=np.int64)]),
        )
        if pair_index is not None:
            first, second = rating_pairs(units, units, values, pair_index=pair_index)
            self.pair_counts += _pair_counts(first, second, self.domain)

    def row(self, n_resamples: int, confidence: float, seed: int, with_kappa: bool) -> dict[str, object]:
        interval = _alpha_interval(
            self.patterns, self.frequency, self.domain, self.level, n_resamples, confidence, seed
        )
        kappa = (
            _kappa_from_pair_counts(self.pair_counts, self.domain, self.weights, self.domain)
            if with_kappa
            else float("nan")
        )
        return {
            "level": self.level,
            "alpha": interval.alpha,
            "ci_low": interval.low,
            "ci_high": interval.high,
            "kappa": kappa,
            "n_units": interval.n_units,
            "n_values": interval.n_values,
        }


class AgreementAccumulator:
    """:func:`agreement_overview` fed block by block, in memory that does not grow with the project.

    Each block is a slice of the long annotation table holding *whole* comparisons (every annotation of a
    comparison in the same block; e.g. consecutive comparison ids). Per measure it keeps only the distinct pairable
    value-count rows with their unit counts (a few hundred rows on a 0-4 scale) and a V x V confusion count of rater
    pairs, so :meth:`overview` gives exactly what :func:`agreement_overview` gives on the concatenated blocks.

    >>> acc = AgreementAccumulator(["helpfulness"])
    >>> for block in blocks:  # doctest: +SKIP
    ...     acc.add(block)
    >>> acc.overview(n_resamples=200, seed=0)  # doctest: +SKIP
    """

    def __init__(
        self, attributes: Sequence[str], *, with_kappa: bool = True, likert_domain: npt.ArrayLike = LIKERT_DOMAIN
    ) -> None:
        likert = np.asarray(likert_domain, dtype=np.float64)
        self.attributes = tuple(attributes)
        self.with_kappa = with_kappa
        self._tallies = {a: _MeasureTally.empty(likert, "ordinal", "quadratic") for a in self.attributes}
        self._preference: dict[str, _MeasureTally] = {}
        self.n_annotations = 0

    def add(self, annotations: pd.DataFrame) -> None:
        """Count one block of whole comparisons (long format of :mod:`annotator.stats.aggregation`)."""
        if "strength" in annotations and not self._preference:
            self._preference = {
                "preference_strength": _MeasureTally.empty(STRENGTH_DOMAIN, "ordinal", "quadratic"),
                "preference_direction": _MeasureTally.empty(DIRECTION_DOMAIN, "nominal", None),
            }
        if annotations.empty:
            return
        self.n_annotations += len(annotations)
        comp_codes = pd.factorize(annotations["comparison_id"].to_numpy())[0].astype(np.int64)
        n_comp = int(comp_codes.max(initial=-1) + 1)
        rater_codes = pd.factorize(annotations["annotator_id"].to_numpy(), sort=True)[0].astype(np.int64)
        both_units = np.concatenate([comp_codes * 2, comp_codes * 2 + 1])
        # The pairs of rows on the same unit do not depend on the attribute: build each index once.
        rating_index = (
            rating_pair_index(both_units, np.concatenate([rater_codes, rater_codes])) if self.with_kappa else None
        )
        for attribute in self.attributes:
            values = np.concatenate(
                [
                    annotations[f"r1_{attribute}"].to_numpy(dtype=np.float64),
                    annotations[f"r2_{attribute}"].to_numpy(dtype=np.float64),
                ]
            )
            self._tallies[attribute].add(both_units, values, 2 * n_comp, rating_index)
        if "strength" in annotations:
            comparison_index = rating_pair_index(comp_codes, rater_codes) if self.with_kappa else None
            strength = annotations["strength"].to_numpy(dtype=np.float64)
            self._preference["preference_strength"].add(comp_codes, strength, n_comp, comparison_index)
            self._preference["preference_direction"].add(
                comp_codes, preference_direction(strength), n_comp, comparison_index
            )

    def overview(self, *, n_resamples: int = 0, confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
        """The agreement table of :func:`agreement_overview` for everything added so far."""
        if n_resamples < 0:
            raise ValueError("n_resamples must be >= 0.")
        if not 0.0 < confidence < 1.0:
            raise ValueError("confidence must lie in (0, 1).")
        tallies = {**self._tallies, **self._preference}
        rows = {m: t.row(n_resamples, confidence, seed, self.with_kappa) for m, t in tallies.items()}
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("measure")


def agreement_overview(
    annotations: pd.DataFrame,
    attributes: Sequence[str],
    *,
    n_resamples: int = 0,
    confidence: float = 0.95,
    seed: int = 0,
    with_kappa: bool = True,
    likert_domain: npt.ArrayLike = LIKERT_DOMAIN,
) -> pd.DataFrame:
    """Every agreement figure of the project overview, from the long annotation table.

    One row per measure: each Likert attribute (ordinal alpha over units = (comparison, response side), quadratic
    pooled pairwise kappa), ``preference_strength`` (ordinal alpha over comparisons, quadratic kappa) and
    ``preference_direction`` (nominal alpha, unweighted kappa). For tables too large to hold at once, feed
    blocks of whole comparisons to an :class:`AgreementAccumulator`: the result is the same.

    Parameters
    ----------
    annotations : DataFrame
        Long format of :mod:`annotator.stats.aggregation`; filter it (e.g. drop rejected reviews) beforehand.
    attributes : sequence of str
    n_resamples : int
        Bootstrap resamples for the CI; 0 = no CI (``ci_low``/``ci_high`` are ``NaN``).
    confidence, seed
        As in :func:`alpha_bootstrap_ci`.
    with_kappa : bool
        Also compute the pooled pairwise kappa (a few hundred ms on 100k comparisons).
    likert_domain : array_like, shape (V,)
        The attributes' scale, default 0..4 (HelpSteer2).

    Returns
    -------
    DataFrame, index = measure
        ``level``, ``alpha``, ``ci_low``, ``ci_high``, ``kappa``, ``n_units`` (pairable), ``n_values``.
    """
    accumulator = AgreementAccumulator(attributes, with_kappa=with_kappa, likert_domain=likert_domain)
    accumulator.add(annotations)
    return accumulator.overview(n_resamples=n_resamples, confidence=confidence, seed=seed)
