"""Aggregation rules: from several annotations per comparison to one rating per response and one preference.

Input contract (the long annotation table; the Django selector builds it)
------------------------------------------------------------------------
A pandas DataFrame with one row per annotation:

=====================  ==========================================================================================
column                 meaning
=====================  ==========================================================================================
``comparison_id``      the comparison (prompt + response 1 + response 2); any hashable
``annotation_id``      unique id of the annotation; any hashable
``annotator_id``       who annotated
``submitted_at``       anything sortable (aware datetime, int order); earlier = submitted first
``review_status``      optional; ``"accepted"`` / ``"rejected"`` / ``"unreviewed"`` (missing column = unreviewed)
``strength``           preference strength -3..+3 (negative = response 1 better), float, ``NaN`` = none
``justification``      optional; the annotator's text for the preference
``r1_<attribute>``     rating of response 1 on ``<attribute>`` (float, ``NaN`` = missing), e.g. ``r1_helpfulness``
``r2_<attribute>``     the same for response 2
=====================  ==========================================================================================

Rejected annotations are never used. With ``accepted_reviews_only=True`` unreviewed ones are excluded too.
A skipped annotation simply has ``NaN`` ratings and strength. Every comparison present in the input appears in the
output, kept or dropped with a reason.

Parts
-----
Each comparison is aggregated in three independent *parts*: ``r1`` (the ratings of response 1; an annotation
takes part when its ``r1_<helpfulness>`` is present), ``r2`` (response 2) and ``preference`` (strength present).

The HelpSteer2 rule (:class:`HelpSteer2Rule`)
--------------------------------------------
Wang et al. 2024, "HelpSteer2" (arXiv 2406.08673) section 2.1, and the HelpSteer2-Preference card
(arXiv 2410.01257). The papers leave the selection criterion and the rounding open; this implementation, version 1:

1. Per rating part, if more than ``keep`` (3) annotations are present, keep the ``keep``-subset that minimises the
   helpfulness range (max - min); ties go to the smaller summed absolute pairwise distance over *all* attributes of
   that response (``NaN`` distances count 0); remaining ties go to the earliest submissions: the subset whose
   submission positions are lexicographically smallest (``{1st, 2nd, 4th}`` before ``{1st, 3rd, 4th}``).
2. Aggregate = mean of the kept ratings, rounded to the nearest integer with .5 rounded half away from zero
   (2.5 -> 3, -1.5 -> -2). Not Python's ``round`` (half to even).
3. Drop the comparison when either response's kept helpfulness range exceeds ``max_helpfulness_spread`` (2).
4. Preference part: the same selection on the strength alone (for 3-subsets of one number the summed distance is
   twice the range, so the tie-break falls through to the earliest submissions), rounded mean; the justifications
   of the kept preference annotations are kept, in submission order. Optional drop on the kept strength range
   (``max_strength_spread``; the HS2-Preference threshold is not published, so ``None`` by default).

Drop reasons, first that applies: ``no_annotations`` (nothing left after review filtering),
``too_few_annotations`` (a collected part -- the ratings when attributes are given, the preference when the input
has any strength -- has fewer than ``min_annotations``), ``helpfulness_spread``, ``strength_spread``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import ClassVar, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from annotator.domain import HELPFULNESS
from annotator.stats.agreement import agreement_overview

__all__ = [
    "DROP_REASONS",
    "RULE_CLASSES",
    "AggregationPreview",
    "AggregationResult",
    "AggregationRule",
    "HelpSteer2Rule",
    "MeanRule",
    "MedianRule",
    "aggregate",
    "aggregation_preview",
    "describe_parameter",
    "retained_annotations",
    "round_half_away_from_zero",
    "rule_for_kind",
    "rule_from_dict",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Part = Literal["r1", "r2", "preference"]
DROP_REASONS: tuple[str, ...] = ("no_annotations", "too_few_annotations", "helpfulness_spread", "strength_spread")


def round_half_away_from_zero(x: npt.ArrayLike) -> FloatArray:
    """Round to the nearest integer, .5 away from zero; ``NaN`` stays ``NaN``.

    A 1e-9 guard absorbs floating error in means such as (1 + 2) / 2.

    >>> round_half_away_from_zero([2.5, -1.5, 1.4999, 3.3333, float("nan")])
    array([ 3., -2.,  1.,  3., nan])
    """
    arr = np.asarray(x, dtype=np.float64)
    return np.sign(arr) * np.floor(np.abs(arr) + 0.5 + 1e-9) + 0.0


# ---------------------------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RuleBase:
    name: ClassVar[str]
    version: ClassVar[int]
    statistic: ClassVar[Literal["mean", "median"]] = "mean"
    """How the kept annotations of a part are combined."""

    @property
    def most_agreeing(self) -> int | None:
        """Annotations kept per part, chosen by agreement; ``None`` keeps every usable one."""
        return None

    @property
    def rounds(self) -> bool:
        """Whether aggregates are rounded half away from zero onto the scale."""
        return True

    def as_dict(self) -> dict[str, object]:
        """``{"name", "version", "params"}`` to store beside a snapshot; :func:`rule_from_dict` reverses it."""
        return {"name": self.name, "version": self.version, "params": asdict(self)}


@dataclass(frozen=True)
class HelpSteer2Rule(_RuleBase):
    """HelpSteer2: keep the ``keep`` most-agreeing annotations per part, rounded mean, drop wide comparisons.

    Attributes
    ----------
    keep : int
        Annotations retained per part (3 in HelpSteer2).
    max_helpfulness_spread : float or None
        Drop when either response's kept helpfulness range is larger (2 in HelpSteer2); ``None`` = never.
    max_strength_spread : float or None
        Drop when the kept strength range is larger; ``None`` = never (threshold unpublished).
    helpfulness_attribute : str
        The attribute whose range drives selection and dropping.
    min_annotations : int
        Fewer annotations in a collected part -> ``too_few_annotations`` (HelpSteer2 kept samples with 2).
    accepted_reviews_only : bool
        Exclude unreviewed annotations as well as rejected ones.
    """

    name: ClassVar[str] = "helpsteer2"
    version: ClassVar[int] = 1
    keep: int = 3
    max_helpfulness_spread: float | None = 2.0
    max_strength_spread: float | None = None
    helpfulness_attribute: str = HELPFULNESS
    min_annotations: int = 2
    accepted_reviews_only: bool = False

    @property
    def most_agreeing(self) -> int | None:
        return self.keep


@dataclass(frozen=True)
class MeanRule(_RuleBase):
    """Mean of all usable annotations per part.

    Attributes
    ----------
    round_to_integer : bool
        Round half away from zero (as the HelpSteer2 rule does) so results stay on the scale.
    max_helpfulness_spread, max_strength_spread, helpfulness_attribute, min_annotations, accepted_reviews_only
        As in :class:`HelpSteer2Rule`, but no spread filter by default.
    """

    name: ClassVar[str] = "mean"
    version: ClassVar[int] = 1
    round_to_integer: bool = True
    max_helpfulness_spread: float | None = None
    max_strength_spread: float | None = None
    helpfulness_attribute: str = HELPFULNESS
    min_annotations: int = 1
    accepted_reviews_only: bool = False

    @property
    def rounds(self) -> bool:
        return self.round_to_integer


@dataclass(frozen=True)
class MedianRule(MeanRule):
    """Median of all usable annotations per part (an even count gives the mean of the middle two).

    Attributes
    ----------
    round_to_integer, max_helpfulness_spread, max_strength_spread, helpfulness_attribute, min_annotations,
    accepted_reviews_only
        As in :class:`MeanRule` (the same parameters and defaults; only the statistic differs).
    """

    name: ClassVar[str] = "median"
    version: ClassVar[int] = 1
    statistic: ClassVar[Literal["mean", "median"]] = "median"


AggregationRule = HelpSteer2Rule | MeanRule | MedianRule


def describe_parameter(name: str, value: object) -> str:
    """What a rule parameter's value does, in one sentence, for the rule page and the dataset card ("" if unknown).

    >>> describe_parameter("max_strength_spread", 2)
    'a comparison is dropped when its kept preference strengths span more than 2 points (e.g. [-3, 0, 3] spans 6)'
    """
    if name == "keep":
        return f"the {value} annotations that agree most are kept for each response's ratings and for the preference"
    if name == "max_helpfulness_spread":
        if value is None:
            return "no comparison is dropped for disagreement on helpfulness"
        return f"a comparison is dropped when either response's kept helpfulness ratings span more than {value} points"
    if name == "max_strength_spread":
        if value is None:
            return (
                "no comparison is dropped for disagreement on the preference: kept strengths [-3, 0, 3] aggregate to "
                "0 (HelpSteer2-Preference publishes no threshold); set a number to drop such comparisons"
            )
        return f"a comparison is dropped when its kept preference strengths span more than {value} points (e.g. [-3, 0, 3] spans 6)"
    if name == "helpfulness_attribute":
        return f"{value!r} drives the choice of the annotations that agree most and the helpfulness filter"
    if name == "min_annotations":
        return f"a comparison with fewer than {value} usable annotations in a collected part is dropped"
    if name == "accepted_reviews_only":
        return "only annotations a lead accepted count" if value else "every annotation a lead did not reject counts"
    if name == "round_to_integer":
        return (
            "the result is rounded to the nearest integer, .5 away from zero" if value else "the result is not rounded"
        )
    return ""


RULE_CLASSES: Mapping[str, type[HelpSteer2Rule] | type[MeanRule] | type[MedianRule]] = {
    cls.name: cls for cls in (HelpSteer2Rule, MeanRule, MedianRule)
}
"""The one registry of rules, by name; a stored aggregation rule's ``kind`` is one of these names."""


def rule_from_dict(data: Mapping[str, object]) -> AggregationRule:
    """Rebuild a rule from :meth:`as_dict` output; raises ``ValueError`` on an unknown name, version or param."""
    name = data.get("name")
    if not isinstance(name, str) or name not in RULE_CLASSES:
        raise ValueError(f"Unknown aggregation rule {name!r}.")
    cls = RULE_CLASSES[name]
    if data.get("version") != cls.version:
        raise ValueError(f"Rule {name!r} version {data.get('version')!r} is not supported (have {cls.version}).")
    params = data.get("params", {})
    if not isinstance(params, Mapping):
        raise ValueError("params must be a mapping.")
    allowed = {f.name for f in fields(cls)}
    unknown = set(params) - allowed
    if unknown:
        raise ValueError(f"Unknown parameters for rule {name!r}: {sorted(unknown)}.")
    return cls(**params)


def rule_for_kind(kind: str, params: Mapping[str, object] | None = None) -> AggregationRule:
    """The current version of the rule named ``kind`` with ``params``; ``ValueError`` on an unknown kind or param.

    >>> rule_for_kind("mean", {"min_annotations": 2})
    MeanRule(round_to_integer=True, max_helpfulness_spread=None, max_strength_spread=None, \
helpfulness_attribute='helpfulness', min_annotations=2, accepted_reviews_only=False)
    """
    cls = RULE_CLASSES.get(kind)
    if cls is None:
        raise ValueError(f"Unknown aggregation rule {kind!r}.")
    return rule_from_dict({"name": kind, "version": cls.version, "params": params or {}})


# ---------------------------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AggregationResult:
    """What an aggregation rule decided.

    Attributes
    ----------
    rule : dict
        ``rule.as_dict()``.
    attributes : tuple of str
    comparisons : DataFrame, index = comparison_id (input order of first appearance)
        ``kept`` (bool), ``drop_reason`` ("" when kept, else one of :data:`DROP_REASONS`), ``n_r1``, ``n_r2``,
        ``n_preference`` (usable annotations per part), ``r1_<attribute>``, ``r2_<attribute>`` (aggregated
        ratings), ``strength`` (aggregated), ``r1_helpfulness_spread``, ``r2_helpfulness_spread``,
        ``strength_spread`` (range of the *kept* annotations), ``justifications`` (tuple of the kept
        preference annotations' texts, submission order) and ``justification`` (the first kept one whose strength
        equals the aggregate, else the first kept one; "" if none). Aggregates are filled for dropped
        comparisons too (``NaN`` only where a part has no annotation), so a preview can show them.
    kept_annotations : DataFrame
        One row per (annotation, part) retained: ``comparison_id``, ``annotation_id``, ``part``
        ("r1" / "r2" / "preference"); rows of dropped comparisons included (filter on ``comparisons.kept``).
    """

    rule: dict[str, object]
    attributes: tuple[str, ...]
    comparisons: pd.DataFrame
    kept_annotations: pd.DataFrame = field(repr=False)


@dataclass(frozen=True)
class AggregationPreview:
    """Counts and agreement before and after a rule, for the data lead's "preview" page.

    Attributes
    ----------
    rule : dict
    n_comparisons, n_kept : int
    dropped_by_reason : dict of str to int
        Every reason of :data:`DROP_REASONS`, zero included.
    n_annotations_before, n_annotations_after : int
        Non-rejected annotations; annotations retained in at least one part of a kept comparison.
    agreement_before, agreement_after : DataFrame
        :func:`annotator.stats.agreement.agreement_overview` of the non-rejected annotations and of the retained
        annotations of kept comparisons (alpha and pooled kappa per attribute, strength and direction).
    """

    rule: dict[str, object]
    n_comparisons: int
    n_kept: int
    dropped_by_reason: dict[str, int]
    n_annotations_before: int
    n_annotations_after: int
    agreement_before: pd.DataFrame
    agreement_after: pd.DataFrame

    @property
    def alpha_before(self) -> dict[str, float]:
        """Alpha per measure before the rule."""
        return {str(k): float(v) for k, v in self.agreement_before["alpha"].items()}

    @property
    def alpha_after(self) -> dict[str, float]:
        """Alpha per measure after the rule."""
        return {str(k): float(v) for k, v in self.agreement_after["alpha"].items()}


# ---------------------------------------------------------------------------------------------------------------
# Machinery
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PartBlock:
    """One part's annotations as a dense (comparisons x slots) block, slots in submission order."""

    values: FloatArray  # (C, K, F): the part's columns
    rows: IntArray  # (C, K): row positions in the sorted frame, -1 = empty slot
    count: IntArray  # (C,)


def _part_block(comp: IntArray, values: FloatArray, present: BoolArray, n_comp: int) -> _PartBlock:
    """Scatter the present rows (already sorted by comparison then submission) into a dense block."""
    rows = np.flatnonzero(present)
    c = comp[rows]
    count = np.bincount(c, minlength=n_comp).astype(np.int64)
    width = int(count.max(initial=0))
    starts = np.concatenate([[0], np.cumsum(count)[:-1]])
    slot = np.arange(rows.size) - starts[c]
    block = np.full((n_comp, max(width, 1), values.shape[1]), np.nan)
    row_block = np.full((n_comp, max(width, 1)), -1, dtype=np.int64)
    block[c, slot] = values[rows]
    row_block[c, slot] = rows
    return _PartBlock(block, row_block, count)


def _select_most_agreeing(block: _PartBlock, key_column: int, keep: int) -> BoolArray:
    """Mask (C, K) of the ``keep``-subset per comparison chosen by the HelpSteer2 criterion (module docstring)."""
    width = block.values.shape[1]
    selected = block.rows >= 0
    for k in np.unique(block.count[block.count > keep]):
        k = int(k)
        idx = np.flatnonzero(block.count == k)
        vals = block.values[idx, :k]  # (n, k, F)
        subsets = np.array(list(itertools.combinations(range(k), keep)))  # lexicographic = earliest first
        key = vals[:, :, key_column][:, subsets]  # (n, S, keep); never NaN: presence is defined by the key
        spread = key.max(axis=2) - key.min(axis=2)
        first, second = np.triu_indices(k, 1)
        gaps = np.abs(vals[:, first, :] - vals[:, second, :])  # (n, k*(k-1)/2, F)
        distance = np.where(np.isnan(gaps), 0.0, gaps).sum(axis=2)
        pair_id = np.zeros((k, k), dtype=np.int64)
        pair_id[first, second] = np.arange(first.size)
        pair_p, pair_q = np.triu_indices(keep, 1)
        summed = distance[:, pair_id[subsets[:, pair_p], subsets[:, pair_q]]].sum(axis=2)  # (n, S)
        best_spread = spread.min(axis=1, keepdims=True)
        summed = np.where(spread == best_spread, summed, np.inf)
        # argmin returns the first minimum: the lexicographically earliest subset among the remaining ties.
        choice = subsets[np.argmin(summed, axis=1)]  # (n, keep)
        mask = np.zeros((idx.size, width), dtype=bool)
        mask[np.arange(idx.size)[:, None], choice] = True
        selected[idx] = mask
    return selected


def _masked(values: FloatArray, mask: BoolArray) -> FloatArray:
    return np.where(mask[:, :, None], values, np.nan)


def _nan_reduce(values: FloatArray, how: Literal["mean", "median"]) -> FloatArray:
    """NaN-ignoring mean/median over axis 1 of (C, K, F) without the all-NaN warnings."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if how == "mean":
            total = np.nansum(values, axis=1)
            n = np.sum(~np.isnan(values), axis=1)
            return np.where(n > 0, total / np.maximum(n, 1), np.nan)
        filled = np.where(np.isnan(values), np.inf, values)
        n = np.sum(~np.isnan(values), axis=1)
        ordered = np.sort(filled, axis=1)  # NaN (as +inf) last
        lo = np.take_along_axis(ordered, np.maximum((n - 1) // 2, 0)[:, None, :], axis=1)[:, 0]
        hi = np.take_along_axis(ordered, np.maximum(n // 2, 0)[:, None, :], axis=1)[:, 0]
        return np.where(n > 0, (lo + hi) / 2.0, np.nan)


def _range(values: FloatArray) -> FloatArray:
    """max - min over axis 1 of (C, K); ``NaN`` where empty."""
    has = ~np.all(np.isnan(values), axis=1)
    hi = np.max(np.where(np.isnan(values), -np.inf, values), axis=1)
    lo = np.min(np.where(np.isnan(values), np.inf, values), axis=1)
    return np.where(has, hi - lo, np.nan)


def _usable(annotations: pd.DataFrame, accepted_reviews_only: bool) -> pd.DataFrame:
    if "review_status" not in annotations:
        return annotations
    status = annotations["review_status"]
    keep = status == "accepted" if accepted_reviews_only else status != "rejected"
    return annotations[keep.to_numpy()]


def _check_columns(annotations: pd.DataFrame, attributes: Sequence[str], rule: AggregationRule) -> None:
    needed = ["comparison_id", "annotation_id", "submitted_at"]
    needed += [f"r{side}_{a}" for a in attributes for side in (1, 2)]
    missing = [c for c in needed if c not in annotations]
    if missing:
        raise ValueError(f"The annotation table lacks the columns {missing}.")
    if attributes and rule.helpfulness_attribute not in attributes:
        raise ValueError(f"The rule's helpfulness attribute {rule.helpfulness_attribute!r} is not in attributes.")


# ---------------------------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------------------------


def aggregate(annotations: pd.DataFrame, rule: AggregationRule, attributes: Sequence[str]) -> AggregationResult:
    """Apply an aggregation rule to the long annotation table (vectorised; ~1-2 s for 100k comparisons x 5).

    Parameters
    ----------
    annotations : DataFrame
        The long table of the module docstring.
    rule : HelpSteer2Rule, MeanRule or MedianRule
    attributes : sequence of str
        Likert attributes (``r1_<a>``/``r2_<a>`` columns); may be empty for a preference-only project.

    Returns
    -------
    AggregationResult
    """
    attributes = tuple(attributes)
    _check_columns(annotations, attributes, rule)
    all_ids = pd.unique(annotations["comparison_id"].to_numpy())
    frame, comp = _in_submission_order(_usable(annotations, rule.accepted_reviews_only), all_ids)
    n_comp = len(all_ids)
    ratings = _aggregate_ratings(frame, comp, n_comp, rule, attributes)
    preference = _aggregate_preference(frame, comp, n_comp, rule)
    counts = {**ratings.counts, "preference": preference.block.count}
    spreads = {**ratings.spreads, "preference": preference.spread}
    has_strength = "strength" in frame and bool(frame["strength"].notna().any())
    reason = _drop_reasons(np.bincount(comp, minlength=n_comp), counts, spreads, rule, attributes, has_strength)

    columns: dict[str, npt.ArrayLike] = {
        "kept": reason == "",
        "drop_reason": reason.astype(str),
        "n_r1": counts["r1"],
        "n_r2": counts["r2"],
        "n_preference": counts["preference"],
    }
    columns.update(ratings.aggregates)
    columns["strength"] = preference.strength
    columns["r1_helpfulness_spread"] = spreads.get("r1", np.full(n_comp, np.nan))
    columns["r2_helpfulness_spread"] = spreads.get("r2", np.full(n_comp, np.nan))
    columns["strength_spread"] = spreads["preference"]
    comparisons = pd.DataFrame(columns, index=pd.Index(all_ids, name="comparison_id"))
    justifications, chosen = _kept_justifications(frame, preference)
    comparisons["justifications"] = pd.Series(justifications, index=comparisons.index, dtype=object)
    comparisons["justification"] = chosen.astype(str)
    kept_parts = [*ratings.kept_parts, ("preference", preference.block.rows[preference.mask])]
    return AggregationResult(rule.as_dict(), attributes, comparisons, _kept_annotations(frame, kept_parts))


def _in_submission_order(frame: pd.DataFrame, all_ids: npt.NDArray[np.object_]) -> tuple[pd.DataFrame, IntArray]:
    """The usable annotations sorted by comparison (input order), then submission, then input position; and each
    row's comparison position in ``all_ids``."""
    comp_codes = pd.Index(all_ids).get_indexer(frame["comparison_id"].to_numpy()).astype(np.int64)
    order_key = pd.factorize(frame["submitted_at"], sort=True)[0]
    order = np.lexsort((np.arange(len(frame)), order_key, comp_codes))
    return frame.iloc[order], comp_codes[order]


def _selection(block: _PartBlock, key_column: int, rule: AggregationRule) -> BoolArray:
    """Which annotations of a part the rule keeps: its ``most_agreeing`` ones where it names a number, else all."""
    keep = rule.most_agreeing
    return _select_most_agreeing(block, key_column, keep) if keep is not None else block.rows >= 0


@dataclass(frozen=True)
class _RatingParts:
    """Both responses' rating parts: aggregates per ``r<side>_<attribute>``, counts and kept helpfulness ranges per
    part, and the kept annotations' row positions per part."""

    aggregates: dict[str, FloatArray]
    counts: dict[str, IntArray]
    spreads: dict[str, FloatArray]
    kept_parts: list[tuple[Part, IntArray]]


def _aggregate_ratings(
    frame: pd.DataFrame, comp: IntArray, n_comp: int, rule: AggregationRule, attributes: tuple[str, ...]
) -> _RatingParts:
    """Parts ``r1`` and ``r2``: select per response (presence = the helpfulness rating), then reduce and round."""
    parts = _RatingParts({}, {}, {}, [])
    helpful_col = attributes.index(rule.helpfulness_attribute) if attributes else -1
    for side in (1, 2):
        part: Part = "r1" if side == 1 else "r2"
        if not attributes:
            parts.counts[part] = np.zeros(n_comp, dtype=np.int64)
            continue
        values = frame[[f"r{side}_{a}" for a in attributes]].to_numpy(dtype=np.float64)
        block = _part_block(comp, values, ~np.isnan(values[:, helpful_col]), n_comp)
        mask = _selection(block, helpful_col, rule)
        kept_values = _masked(block.values, mask)
        agg = _nan_reduce(kept_values, rule.statistic)
        if rule.rounds:
            agg = round_half_away_from_zero(agg)
        for a, attribute in enumerate(attributes):
            parts.aggregates[f"r{side}_{attribute}"] = agg[:, a]
        parts.spreads[part] = _range(kept_values[:, :, helpful_col])
        parts.counts[part] = block.count
        parts.kept_parts.append((part, block.rows[mask]))
    return parts


@dataclass(frozen=True)
class _PreferencePart:
    """The preference part: its block, the kept mask, the aggregated strength and the kept strengths' range."""

    block: _PartBlock
    mask: BoolArray
    strength: FloatArray
    spread: FloatArray


def _aggregate_preference(frame: pd.DataFrame, comp: IntArray, n_comp: int, rule: AggregationRule) -> _PreferencePart:
    """Part ``preference``: the same selection on the strength alone, reduced and rounded."""
    strength = frame["strength"].to_numpy(dtype=np.float64) if "strength" in frame else np.full(len(frame), np.nan)
    block = _part_block(comp, strength[:, None], ~np.isnan(strength), n_comp)
    mask = _selection(block, 0, rule)
    kept_strength = _masked(block.values, mask)[:, :, 0]
    aggregated = _nan_reduce(kept_strength[:, :, None], rule.statistic)[:, 0]
    if rule.rounds:
        aggregated = round_half_away_from_zero(aggregated)
    return _PreferencePart(block, mask, aggregated, _range(kept_strength))


def _kept_justifications(
    frame: pd.DataFrame, preference: _PreferencePart
) -> tuple[list[tuple[str, ...]], npt.NDArray[np.object_]]:
    """Per comparison, the kept preference annotations' justifications in submission order, and the chosen one:
    the first kept whose strength equals the aggregate, else the first kept ("" when none)."""
    block, mask = preference.block, preference.mask
    justification_col: npt.NDArray[np.object_] = (
        frame["justification"].fillna("").astype(str).to_numpy(dtype=object)
        if "justification" in frame
        else np.full(len(frame), "", dtype=object)
    )
    texts: npt.NDArray[np.object_] = (
        justification_col[np.maximum(block.rows, 0)] if len(frame) else np.full(block.rows.shape, "", dtype=object)
    )
    justifications = [tuple(row[keep_row]) for row, keep_row in zip(texts, mask, strict=True)]
    matches = mask & (block.values[:, :, 0] == preference.strength[:, None])
    pick = np.where(matches.any(axis=1), np.argmax(matches, axis=1), np.argmax(mask, axis=1))
    chosen = np.where(mask.any(axis=1), texts[np.arange(len(texts)), pick], "")
    return justifications, chosen


def _drop_reasons(
    n_rows: IntArray,
    counts: dict[str, IntArray],
    spreads: dict[str, FloatArray],
    rule: AggregationRule,
    attributes: tuple[str, ...],
    has_strength: bool,
) -> npt.NDArray[np.object_]:
    """Each comparison's drop reason, the first of :data:`DROP_REASONS` that applies ("" = kept)."""
    n_comp = len(n_rows)
    too_few = np.zeros(n_comp, dtype=bool)
    if attributes:
        too_few |= (counts["r1"] < rule.min_annotations) | (counts["r2"] < rule.min_annotations)
    if has_strength:
        too_few |= counts["preference"] < rule.min_annotations
    wide = np.zeros(n_comp, dtype=bool)
    if attributes and rule.max_helpfulness_spread is not None:
        wide = (spreads["r1"] > rule.max_helpfulness_spread) | (spreads["r2"] > rule.max_helpfulness_spread)
    strength_wide = np.zeros(n_comp, dtype=bool)
    if rule.max_strength_spread is not None:
        strength_wide = spreads["preference"] > rule.max_strength_spread
    reason = np.full(n_comp, "", dtype=object)
    for name, condition in reversed(
        [
            ("no_annotations", n_rows == 0),
            ("too_few_annotations", too_few),
            ("helpfulness_spread", wide),
            ("strength_spread", strength_wide),
        ]
    ):
        reason = np.where(condition, name, reason)
    return reason


def _kept_annotations(frame: pd.DataFrame, kept_parts: list[tuple[Part, IntArray]]) -> pd.DataFrame:
    """One row per (annotation, part) retained: ``comparison_id``, ``annotation_id``, ``part``."""
    comp_ids_sorted = frame["comparison_id"].to_numpy()
    ann_ids_sorted = frame["annotation_id"].to_numpy()
    kept_frames = [
        pd.DataFrame(
            {
                "comparison_id": comp_ids_sorted[rows],
                "annotation_id": ann_ids_sorted[rows],
                "part": np.full(rows.size, part, dtype=object),
            }
        )
        for part, rows in kept_parts
    ]
    return pd.concat(kept_frames, ignore_index=True)


def retained_annotations(annotations: pd.DataFrame, result: AggregationResult) -> pd.DataFrame:
    """The annotation table as the rule left it: only kept comparisons, each part masked to its kept annotations.

    Ratings of response 1 become ``NaN`` where the annotation was not kept for ``r1`` (likewise ``r2`` and the
    strength); rows retained in no part are removed. Feed it to
    :func:`annotator.stats.agreement.agreement_overview` for agreement "after".
    """
    kept_comparisons = result.comparisons.index[result.comparisons["kept"].to_numpy()]
    frame = annotations[annotations["comparison_id"].isin(kept_comparisons)].copy()
    ann = frame["annotation_id"]
    any_part = np.zeros(len(frame), dtype=bool)
    for part in ("r1", "r2", "preference"):
        ids = result.kept_annotations.loc[result.kept_annotations["part"] == part, "annotation_id"]
        in_part = ann.isin(ids).to_numpy()
        any_part |= in_part
        if part == "preference":
            if "strength" in frame:
                frame.loc[~in_part, "strength"] = np.nan
        else:
            cols = [f"{part}_{a}" for a in result.attributes]
            frame.loc[~in_part, cols] = np.nan
    return frame[any_part]


def aggregation_preview(
    annotations: pd.DataFrame, rule: AggregationRule, attributes: Sequence[str]
) -> AggregationPreview:
    """Run a rule and report kept/dropped counts and agreement before and after it.

    Parameters
    ----------
    annotations : DataFrame
        Long table (module docstring).
    rule : AggregationRule
    attributes : sequence of str

    Returns
    -------
    AggregationPreview
        "Before" = all non-rejected annotations; "after" = :func:`retained_annotations` (kept comparisons, kept
        annotations per part). Alpha is ordinal for attributes and strength, nominal for the direction.
    """
    result = aggregate(annotations, rule, attributes)
    before = _usable(annotations, accepted_reviews_only=False)
    after = retained_annotations(annotations, result)
    reasons = result.comparisons["drop_reason"]
    return AggregationPreview(
        rule=result.rule,
        n_comparisons=len(result.comparisons),
        n_kept=int(result.comparisons["kept"].sum()),
        dropped_by_reason={r: int((reasons == r).sum()) for r in DROP_REASONS},
        n_annotations_before=len(before),
        n_annotations_after=len(after),
        agreement_before=agreement_overview(before, attributes),
        agreement_after=agreement_overview(after, attributes),
    )
