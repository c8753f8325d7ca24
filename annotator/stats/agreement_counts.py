"""Agreement kept as counts: what each comparison adds to a project's agreement figures, and the figures from the sums.

Krippendorff's alpha depends on the data only through each unit's *value counts* (how many raters gave each value;
Krippendorff 2011, section C), and the pooled pairwise kappa (module :mod:`annotator.stats.agreement`) only through
the confusion counts of its (lower rater, higher rater) pairs. Both are sums over comparisons, so a project can keep

* per comparison and measure: the value counts of its units (two for an attribute: response 1 and 2; one for the
  preference strength and direction) and the confusion counts of its rater pairs, flat ``first * V + second``;
* per project and measure: how many pairable units (two or more values) have each value-count *pattern*, and the
  summed confusion counts,

and update the project's sums by taking a comparison's old contribution out and putting its new one in. The figures
from those sums are exactly what :func:`~annotator.stats.agreement.agreement_overview` computes from the annotation
table (the same pattern rows in the same order, the same integer confusion counts), for a few hundred numbers read.

JSON shapes (what the database keeps): a comparison's ``{measure: {"units": [[count per value] per unit],
"pairs": [[flat index, count], ...]}}``; a project's ``{measure: {"patterns": {"c0,c1,...": units}, "pairs":
[count per flat index]}}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from annotator.stats.agreement import (
    DIRECTION_DOMAIN,
    LIKERT_DOMAIN,
    STRENGTH_DOMAIN,
    FloatArray,
    IntArray,
    KappaWeights,
    Level,
    _domain_index,
    _MeasureTally,
    _unique_rows,
    preference_direction,
    rating_pair_index,
    value_counts_from_long,
)

__all__ = [
    "ComparisonCounts",
    "CountedAnnotation",
    "MeasureSpec",
    "comparison_contribution",
    "comparison_counts",
    "measure_specs",
    "overview_from_tallies",
    "tallies_add",
    "tallies_from_comparisons",
]

ComparisonJson = dict[str, dict[str, list[list[int]]]]
"""A comparison's contribution: ``{measure: {"units": [[count per value] per unit], "pairs": [[flat, n], ...]}}``."""
TalliesJson = dict[str, dict[str, Any]]
"""A project's sums: ``{measure: {"patterns": {"c0,c1,...": units}, "pairs": [count per flat index]}}``."""


@dataclass(frozen=True)
class MeasureSpec:
    """One agreement measure of the overview: its scale, level of measurement, kappa weights and units per
    comparison (2 for an attribute: the two responses; 1 for the preference)."""

    name: str
    level: Level
    weights: KappaWeights
    domain: FloatArray
    sides: int


def measure_specs(attributes: Sequence[str], likert_domain: npt.ArrayLike = LIKERT_DOMAIN) -> list[MeasureSpec]:
    """The overview's measures in its row order: each attribute, then the preference strength and direction."""
    likert = np.asarray(likert_domain, dtype=np.float64)
    specs = [MeasureSpec(a, "ordinal", "quadratic", likert, 2) for a in attributes]
    specs.append(MeasureSpec("preference_strength", "ordinal", "quadratic", STRENGTH_DOMAIN, 1))
    specs.append(MeasureSpec("preference_direction", "nominal", None, DIRECTION_DOMAIN, 1))
    return specs


@dataclass(frozen=True)
class ComparisonCounts:
    """Every comparison's contribution, as arrays.

    ``comparison_ids``: shape (C,). ``units[measure]``: value counts, shape (C, sides, V). ``pairs[measure]``:
    confusion counts of rater pairs, shape (C, V * V), flat ``first * V + second`` (first = the lower rater).
    """

    comparison_ids: IntArray
    units: dict[str, IntArray]
    pairs: dict[str, IntArray]

    def to_json(self, row: int) -> ComparisonJson:
        """The contribution of the ``row``-th comparison, in the JSON shape the database keeps."""
        out: ComparisonJson = {}
        for measure, units in self.units.items():
            pairs = self.pairs[measure][row]
            nonzero = np.flatnonzero(pairs)
            out[measure] = {
                "units": units[row].tolist(),
                "pairs": [[int(i), int(pairs[i])] for i in nonzero],
            }
        return out


def _measure_values(annotations: pd.DataFrame, spec: MeasureSpec) -> FloatArray:
    """The values of one measure, stacked as the units are (response 1 rows, then response 2 rows)."""
    strength: FloatArray = annotations["strength"].to_numpy(dtype=np.float64)
    if spec.name == "preference_strength":
        return strength
    if spec.name == "preference_direction":
        return preference_direction(strength)
    return np.concatenate(
        [
            annotations[f"r1_{spec.name}"].to_numpy(dtype=np.float64),
            annotations[f"r2_{spec.name}"].to_numpy(dtype=np.float64),
        ]
    )


def comparison_counts(annotations: pd.DataFrame, specs: Sequence[MeasureSpec]) -> ComparisonCounts:
    """Per comparison of the long annotation table (the counted rows only: filter rejected reviews beforehand),
    its units' value counts and its rater pairs' confusion counts, built as :class:`AgreementAccumulator` builds
    them (same unit codes, same pair order), so the sums give its figures exactly.

    Comparisons come out in ascending id order; a comparison without rows has no entry.
    """
    comp_ids, comp_codes_raw = np.unique(annotations["comparison_id"].to_numpy(np.int64), return_inverse=True)
    comp_codes = comp_codes_raw.astype(np.int64).ravel()
    n_comp = len(comp_ids)
    rater_codes = pd.factorize(annotations["annotator_id"].to_numpy(), sort=True)[0].astype(np.int64)
    units_out: dict[str, IntArray] = {}
    pairs_out: dict[str, IntArray] = {}
    index_cache: dict[int, tuple[IntArray, IntArray, IntArray]] = {}
    for spec in specs:
        v = len(spec.domain)
        if spec.sides == 2:
            units = np.concatenate([comp_codes * 2, comp_codes * 2 + 1])
            raters = np.concatenate([rater_codes, rater_codes])
        else:
            units, raters = comp_codes, rater_codes
        values = _measure_values(annotations, spec)
        counts = value_counts_from_long(units, values, spec.domain, n_units=spec.sides * n_comp)
        units_out[spec.name] = counts.astype(np.int64).reshape(n_comp, spec.sides, v)
        if spec.sides not in index_cache:
            first, second = rating_pair_index(units, raters)
            index_cache[spec.sides] = (first, second, units[first] // spec.sides)
        first, second, pair_comp = index_cache[spec.sides]
        a, b = values[first], values[second]
        both = ~(np.isnan(a) | np.isnan(b))
        flat = pair_comp[both] * (v * v) + _domain_index(a[both], spec.domain) * v + _domain_index(b[both], spec.domain)
        pairs_out[spec.name] = np.bincount(flat, minlength=n_comp * v * v).astype(np.int64).reshape(n_comp, v * v)
    return ComparisonCounts(comp_ids.astype(np.int64), units_out, pairs_out)


@dataclass(frozen=True)
class CountedAnnotation:
    """One counted annotation of a comparison, for :func:`comparison_contribution`: ``ratings`` maps
    ``r1_<attribute>`` / ``r2_<attribute>`` to a value (NaN or absent: missing); ``strength`` NaN when not given."""

    annotator_id: int
    annotation_id: int
    strength: float
    ratings: Mapping[str, float]


def comparison_contribution(annotations: Sequence[CountedAnnotation], specs: Sequence[MeasureSpec]) -> ComparisonJson:
    """One comparison's contribution in plain Python (a submit's few annotations): the same JSON as
    :meth:`ComparisonCounts.to_json` of :func:`comparison_counts`, without a DataFrame.

    Pairs are formed as :func:`~annotator.stats.agreement.rating_pair_index` forms them: rows ordered by annotator,
    then by annotation id; each earlier row with each later one; pairs with a missing value on either side dropped.
    """
    ordered = sorted(annotations, key=lambda a: (a.annotator_id, a.annotation_id))
    out: ComparisonJson = {}
    for spec in specs:
        v = len(spec.domain)
        index = {float(x): i for i, x in enumerate(spec.domain)}
        if spec.name == "preference_strength":
            sides = [[a.strength for a in ordered]]
        elif spec.name == "preference_direction":
            sides = [[_sign(a.strength) for a in ordered]]
        else:
            sides = [[a.ratings.get(f"r{side}_{spec.name}", math.nan) for a in ordered] for side in (1, 2)]
        units: list[list[int]] = []
        pairs: dict[int, int] = {}
        for values in sides:
            codes = []
            for value in values:
                if value is None or math.isnan(value):
                    continue
                if float(value) not in index:
                    raise ValueError("The ratings contain values outside value_domain.")
                codes.append(index[float(value)])
            counts = [0] * v
            for code in codes:
                counts[code] += 1
            units.append(counts)
            for i, first in enumerate(codes):
                for second in codes[i + 1 :]:
                    flat = first * v + second
                    pairs[flat] = pairs.get(flat, 0) + 1
        out[spec.name] = {"units": units, "pairs": [[flat, n] for flat, n in sorted(pairs.items())]}
    return out


def _sign(x: float) -> float:
    """``np.sign`` of one value (NaN kept): the preference direction."""
    return x if math.isnan(x) else float((x > 0) - (x < 0))


def _pattern_key(counts: Sequence[int]) -> str:
    return ",".join(str(int(c)) for c in counts)


def tallies_empty(specs: Sequence[MeasureSpec]) -> TalliesJson:
    """A project's sums with nothing counted."""
    return {s.name: {"patterns": {}, "pairs": [0] * (len(s.domain) ** 2)} for s in specs}


def tallies_from_comparisons(counts: ComparisonCounts, specs: Sequence[MeasureSpec]) -> TalliesJson:
    """A project's sums over every comparison of ``counts`` (vectorised: the rebuild from the annotations)."""
    out = tallies_empty(specs)
    for spec in specs:
        rows = counts.units[spec.name].reshape(-1, len(spec.domain))
        pairable = rows[rows.sum(axis=1) >= 2]
        if pairable.shape[0]:
            patterns, frequency = _unique_rows(pairable.astype(np.float64))
            out[spec.name]["patterns"] = {
                _pattern_key(p): int(f) for p, f in zip(patterns.astype(np.int64), frequency, strict=True)
            }
        out[spec.name]["pairs"] = counts.pairs[spec.name].sum(axis=0).astype(np.int64).tolist()
    return out


def tallies_add(tallies: TalliesJson, contribution: Mapping[str, Mapping[str, Any]], sign: int) -> None:
    """Add (``sign`` = 1) or take out (-1) one comparison's contribution, in place. Patterns that no unit has any
    more are dropped, so equal data give equal sums whatever their history."""
    for measure, part in contribution.items():
        tally = tallies[measure]
        patterns: dict[str, int] = tally["patterns"]
        for unit in part["units"]:
            if sum(unit) < 2:  # not pairable: no part in alpha
                continue
            key = _pattern_key(unit)
            left = patterns.get(key, 0) + sign
            if left:
                patterns[key] = left
            else:
                patterns.pop(key, None)
        pairs: list[int] = tally["pairs"]
        for flat, n in part["pairs"]:
            pairs[flat] += sign * n


def tallies_equal(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two projects' sums describe the same counts (JSON round trips keep them as plain dicts and lists)."""
    return bool(a == b)


def overview_from_tallies(
    tallies: Mapping[str, Mapping[str, Any]], specs: Sequence[MeasureSpec], *, with_kappa: bool = True
) -> pd.DataFrame:
    """The agreement table of :func:`~annotator.stats.agreement.agreement_overview` from a project's sums.

    Returns
    -------
    DataFrame, index = measure
        ``level``, ``alpha``, ``ci_low``, ``ci_high`` (NaN: no bootstrap here), ``kappa``, ``n_units``,
        ``n_values``; the same numbers, bit for bit, as the computation from the annotations.
    """
    rows: dict[str, dict[str, object]] = {}
    for spec in specs:
        v = len(spec.domain)
        tally = tallies[spec.name]
        items = list(tally["patterns"].items())
        if items:
            raw = np.array([[float(c) for c in key.split(",")] for key, _ in items], dtype=np.float64)
            weights = np.array([n for _, n in items], dtype=np.int64)
            # The accumulator's order (np.unique of the pattern codes), so every float sum runs in the same order.
            patterns, frequency = _unique_rows(raw, weights)
        else:
            patterns, frequency = np.empty((0, v)), np.empty(0, np.int64)
        measure = _MeasureTally(
            spec.domain, spec.level, spec.weights, patterns, frequency, np.asarray(tally["pairs"], dtype=np.int64)
        )
        rows[spec.name] = measure.row(0, 0.95, 0, with_kappa)
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("measure")
