"""Annotator quality signals: position bias (binomial test), speed, straight-lining, and the flags they raise.

Pure: numpy, pandas and scipy only. Input is the long annotation format of :mod:`annotator.stats.aggregation`
(``comparison_id``, ``annotator_id``, ``r1_<attribute>``, ``r2_<attribute>``, ``strength``, ``shown_swapped``,
``time_on_task_s``). The thresholds are arguments; the project's defaults live in :mod:`annotator.domain`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from annotator.domain import (
    QUALITY_GOLD_FLOOR,
    QUALITY_MIN_ANNOTATIONS,
    QUALITY_POSITION_ALPHA,
    QUALITY_SPEED_FLOOR_S,
    QUALITY_SPEED_FRACTION,
    QUALITY_STRAIGHT_SHARE,
)
from annotator.stats.agreement import position_preference_rate


@dataclass(frozen=True, slots=True)
class QualityThresholds:
    """When a signal becomes a flag.

    ``position_alpha``: flag when the two-sided binomial test of "left preferred with p = 0.5" gives a p-value
    below this. ``speed_fraction``: flag when an annotator's median time on task is below this fraction of the
    project's median. ``speed_floor_s``: flag when it is below this many seconds whatever the others do.
    ``straight_share``: flag when at least this share of an annotator's annotations give one rating everywhere.
    ``gold_floor``: flag when mean gold accuracy is below this. ``min_annotations``: fewer annotations (or decisive
    preferences, for position bias) than this never raise a flag: too little evidence.
    """

    position_alpha: float = QUALITY_POSITION_ALPHA
    speed_fraction: float = QUALITY_SPEED_FRACTION
    speed_floor_s: float = QUALITY_SPEED_FLOOR_S
    straight_share: float = QUALITY_STRAIGHT_SHARE
    gold_floor: float = QUALITY_GOLD_FLOOR
    min_annotations: int = QUALITY_MIN_ANNOTATIONS


def position_bias_test(n_left: int, n_decisive: int) -> float | None:
    """Two-sided exact binomial test p-value of ``n_left`` left preferences out of ``n_decisive`` against p = 0.5.

    ``None`` when there is no decisive preference. Same number as ``scipy.stats.binomtest(...).pvalue``.

    >>> position_bias_test(5, 10)
    1.0
    >>> round(position_bias_test(9, 10), 4)
    0.0215
    """
    if n_decisive <= 0:
        return None
    return float(binomtest(int(n_left), int(n_decisive), 0.5, alternative="two-sided").pvalue)


def straight_lining_share(annotations: pd.DataFrame, attributes: Sequence[str]) -> pd.Series:
    """Per annotator, the share of annotations whose Likert ratings (both responses, every attribute given) are
    all the same value. An annotation with fewer than two ratings says nothing and is left out of the share.

    Returns a float Series indexed by ``annotator_id`` (``NaN`` when no annotation has two ratings).
    """
    columns = [f"r{side}_{a}" for side in (1, 2) for a in attributes if f"r{side}_{a}" in annotations]
    if not columns or not len(annotations):
        return pd.Series(dtype=np.float64, name="straight_share")
    values = annotations[columns].to_numpy(np.float64)
    given = ~np.isnan(values)
    counted = given.sum(axis=1) >= 2
    low = np.where(given, values, np.inf).min(axis=1)
    high = np.where(given, values, -np.inf).max(axis=1)
    same = counted & (low == high)
    frame = pd.DataFrame({"annotator_id": annotations["annotator_id"].to_numpy(), "same": same, "counted": counted})
    grouped = frame.groupby("annotator_id")[["same", "counted"]].sum()
    share = grouped["same"] / grouped["counted"].where(grouped["counted"] > 0)
    return share.astype(np.float64).rename("straight_share")


def annotator_quality(
    annotations: pd.DataFrame,
    attributes: Sequence[str],
    *,
    gold_accuracy: dict[int, float] | None = None,
    thresholds: QualityThresholds = QualityThresholds(),
) -> pd.DataFrame:
    """Every annotator's quality signals and the flags they raise.

    Returns
    -------
    DataFrame, index = annotator_id (sorted), columns
        ``n_annotations``; ``n_decisive``, ``n_left``, ``left_rate``, ``left_p_value`` (binomial test, NaN without
        decisive preferences); ``median_time_s`` and ``project_median_time_s``; ``straight_share``;
        ``gold_accuracy`` (mean over the gold figures given, NaN without); ``flags`` (tuple of
        ``"position"``, ``"speed"``, ``"straight"``, ``"gold"``, in that order).
    """
    t = thresholds
    raters = annotations["annotator_id"].to_numpy()
    index = pd.Index(pd.unique(raters), name="annotator_id").sort_values()
    out = pd.DataFrame(index=index)
    out["n_annotations"] = annotations.groupby("annotator_id").size().reindex(index).fillna(0).astype(np.int64)
    if "strength" in annotations and "shown_swapped" in annotations and len(annotations):
        pos = position_preference_rate(raters, annotations["strength"], annotations["shown_swapped"]).reindex(index)
        out["n_decisive"] = pos["n_decisive"].fillna(0).astype(np.int64)
        out["left_rate"] = pos["left_rate"]
    else:
        out["n_decisive"], out["left_rate"] = 0, np.nan
    out["n_left"] = np.rint(out["left_rate"].fillna(0) * out["n_decisive"]).astype(np.int64)
    out["left_p_value"] = [
        _nan_if_none(position_bias_test(int(k), int(n))) for k, n in zip(out["n_left"], out["n_decisive"], strict=True)
    ]
    if "time_on_task_s" in annotations and len(annotations):
        times = annotations["time_on_task_s"].astype(np.float64)
        out["median_time_s"] = times.groupby(raters).median().reindex(index)
        project_median = float(np.nanmedian(times)) if times.notna().any() else np.nan
    else:
        out["median_time_s"], project_median = np.nan, np.nan
    out["project_median_time_s"] = project_median
    out["straight_share"] = straight_lining_share(annotations, attributes).reindex(index)
    gold = gold_accuracy or {}
    out["gold_accuracy"] = [gold.get(int(i), np.nan) for i in index]
    out["flags"] = [_flags(row, t) for row in out.itertuples()]
    return out


def _nan_if_none(x: float | None) -> float:
    return np.nan if x is None else x


def _flags(row: tuple[object, ...], t: QualityThresholds) -> tuple[str, ...]:
    r = row._asdict()  # type: ignore[attr-defined]
    enough = r["n_annotations"] >= t.min_annotations
    flags: list[str] = []
    if r["n_decisive"] >= t.min_annotations and _below(r["left_p_value"], t.position_alpha):
        flags.append("position")
    median, project = r["median_time_s"], r["project_median_time_s"]
    if enough and (_below(median, t.speed_floor_s) or _below(median, t.speed_fraction * project)):
        flags.append("speed")
    if enough and not _below(r["straight_share"], t.straight_share) and _finite(r["straight_share"]):
        flags.append("straight")
    if _below(r["gold_accuracy"], t.gold_floor):
        flags.append("gold")
    return tuple(flags)


def _finite(x: object) -> bool:
    return isinstance(x, int | float | np.floating | np.integer) and bool(np.isfinite(x))


def _below(x: object, limit: float) -> bool:
    return _finite(x) and _finite(limit) and float(x) < float(limit)  # type: ignore[arg-type]
