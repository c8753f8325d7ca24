"""Agreement now and over time: Krippendorff's alpha (and kappa) per attribute and for the preference."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from annotator.models import AgreementCounts, Project
from annotator.selectors.agreement_cache import agreement_fingerprint
from annotator.selectors.agreement_counts import agreement_counts_fingerprint, counts_basis, counts_basis_matches
from annotator.selectors.annotations import annotation_frame
from annotator.selectors.projects import project_attribute_names
from annotator.selectors.quality.common import MEASURE_LABELS, counted_annotations, finite, project_likert_domain
from annotator.stats.agreement import (
    DIRECTION_DOMAIN,
    LIKERT_DOMAIN,
    STRENGTH_DOMAIN,
    agreement_overview,
    alpha_from_value_counts,
    preference_direction,
    value_counts_from_long,
)
from annotator.stats.agreement_counts import overview_from_tallies


@dataclass(frozen=True)
class AgreementRow:
    """One agreement measure. ``alpha``: Krippendorff's alpha (ordinal for ratings and strength, nominal for the
    preference direction); ``kappa``: pooled pairwise quadratic-weighted Cohen's kappa (HelpSteer2 Table 1)."""

    measure: str
    label: str
    level: str
    alpha: float | None
    kappa: float | None
    n_units: int
    n_values: int


@dataclass(frozen=True)
class AgreementPoint:
    """Agreement on the annotations submitted up to ``until`` (the first ``n_annotations`` in submission order)."""

    n_annotations: int
    until: datetime | None
    alpha: dict[str, float | None]


@dataclass(frozen=True)
class AgreementOverview:
    attributes: list[str]
    rows: list[AgreementRow]
    over_time: list[AgreementPoint]
    n_annotations: int
    n_rejected_excluded: int
    from_counts: bool = False
    """True when the figures came from the kept agreement counts rather than from the annotations."""
    fingerprint: str = ""
    """The agreement fingerprint of the data the figures describe (:func:`agreement_overview_read` only)."""

    def chart_data(self, intervals: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        """What the page's charts draw (json_script): alpha per measure with its interval where known, over time."""
        intervals = intervals or {}
        return {
            "measures": [
                {
                    "measure": r.measure,
                    "label": r.label,
                    "alpha": r.alpha,
                    "kappa": r.kappa,
                    "ci_low": finite(intervals.get(r.measure, {}).get("ci_low")),
                    "ci_high": finite(intervals.get(r.measure, {}).get("ci_high")),
                }
                for r in self.rows
            ],
            "over_time": over_time_chart_data(self.over_time),
        }


def over_time_chart_data(points: Sequence[AgreementPoint]) -> dict[str, Any]:
    """What the over-time chart draws (json_script): alpha per measure at each point."""
    measures = list(points[0].alpha) if points else []
    return {
        "n_annotations": [p.n_annotations for p in points],
        "until": [p.until.isoformat() if p.until else None for p in points],
        "series": {m: [p.alpha.get(m) for p in points] for m in measures},
        "labels": {m: MEASURE_LABELS.get(m, m) for m in measures},
    }


def _measure_inputs(
    frame: pd.DataFrame, attributes: Sequence[str], likert: np.ndarray
) -> list[tuple[str, str, np.ndarray, np.ndarray, int, np.ndarray]]:
    """(measure, level, units, values, n_units, domain) for every alpha of the overview, rows in frame order."""
    comp = pd.factorize(frame["comparison_id"].to_numpy())[0].astype(np.int64)
    n_comp = int(comp.max(initial=-1) + 1)
    both_units = np.concatenate([comp * 2, comp * 2 + 1])
    out = []
    for attribute in attributes:
        values = np.concatenate(
            [frame[f"r1_{attribute}"].to_numpy(np.float64), frame[f"r2_{attribute}"].to_numpy(np.float64)]
        )
        out.append((attribute, "ordinal", both_units, values, 2 * n_comp, likert))
    strength = frame["strength"].to_numpy(np.float64)
    out.append(("preference_strength", "ordinal", comp, strength, n_comp, STRENGTH_DOMAIN))
    out.append(("preference_direction", "nominal", comp, preference_direction(strength), n_comp, DIRECTION_DOMAIN))
    return out


def agreement_over_time(
    frame: pd.DataFrame, attributes: Sequence[str], *, points: int = 10, likert: np.ndarray = LIKERT_DOMAIN
) -> list[AgreementPoint]:
    """Alpha of every measure on the first 1/points, 2/points, ... of the annotations in submission order.

    Value counts add up unit by unit, so each point adds one slice's counts to the previous point's: the cost is
    one pass over the annotations plus ``points`` alphas per measure, not ``points`` passes.
    """
    n = len(frame)
    if n == 0 or points <= 0:
        return []
    # Integer time stamps: a tz-aware column's to_numpy() would box every value into a Timestamp object.
    submitted = pd.DatetimeIndex(frame["submitted_at"]).asi8
    order = np.lexsort((frame["annotation_id"].to_numpy(), submitted))
    columns = ["comparison_id", "strength", *(f"r{side}_{a}" for a in attributes for side in (1, 2))]
    ordered = frame[columns].iloc[order]  # only the columns alpha needs: justifications would triple the copy
    cuts = sorted({max(1, round(n * (i + 1) / points)) for i in range(points)})
    until = submitted[order[np.asarray(cuts) - 1]]
    alphas: dict[str, list[float | None]] = {}
    for measure, level, units, values, n_units, domain in _measure_inputs(ordered, attributes, likert):
        # Ratings of both responses are stacked (rows, then the same rows again): view them as (halves, n).
        halves = units.shape[0] // n
        units_2d, values_2d = units.reshape(halves, n), values.reshape(halves, n)
        # Counts kept as (values, units) so that counts.T, what alpha reads, is column-major: its per-unit sums
        # over the few values then run as contiguous column adds (about twice as fast as row sums).
        counts = np.zeros((len(domain), n_units))
        series: list[float | None] = []
        start = 0
        for cut in cuts:
            chunk_units, chunk_values = units_2d[:, start:cut].ravel(), values_2d[:, start:cut].ravel()
            counts += value_counts_from_long(chunk_units, chunk_values, domain, n_units=n_units).T
            series.append(finite(alpha_from_value_counts(counts.T, level=level, value_domain=domain)))  # type: ignore[arg-type]
            start = cut
        alphas[measure] = series
    return [
        AgreementPoint(
            n_annotations=cut,
            until=pd.Timestamp(int(until[i]), unit=_time_unit(frame), tz="UTC").to_pydatetime(warn=False),
            alpha={m: alphas[m][i] for m in alphas},
        )
        for i, cut in enumerate(cuts)
    ]


def _time_unit(frame: pd.DataFrame) -> str:
    """The resolution of ``submitted_at`` (pandas 3 keeps the unit the data came in: s, ms, us or ns)."""
    return str(np.datetime_data(pd.DatetimeIndex(frame["submitted_at"]).dtype.base)[0])


def agreement_overview_get(
    *,
    project: Project,
    frame: pd.DataFrame | None = None,
    with_kappa: bool = True,
    time_points: int = 10,
) -> AgreementOverview:
    """Every agreement figure of the overview, without intervals (those come from the background task)."""
    attributes = project_attribute_names(project=project)
    if frame is None:
        frame = annotation_frame(project=project, attributes=attributes)
    counted = counted_annotations(frame)
    likert = project_likert_domain(project)
    rows: list[AgreementRow] = []
    if len(counted):
        table = agreement_overview(counted, attributes, n_resamples=0, with_kappa=with_kappa, likert_domain=likert)
        rows = _rows(table)
    over_time = agreement_over_time(counted, attributes, points=time_points, likert=likert) if len(counted) else []
    return AgreementOverview(
        attributes=attributes,
        rows=rows,
        over_time=over_time,
        n_annotations=len(counted),
        n_rejected_excluded=len(frame) - len(counted),
    )


def _rows(table: pd.DataFrame) -> list[AgreementRow]:
    return [
        AgreementRow(
            measure=str(measure),
            label=MEASURE_LABELS.get(str(measure), str(measure)),
            level=str(r["level"]),
            alpha=finite(r["alpha"]),
            kappa=finite(r["kappa"]),
            n_units=int(r["n_units"]),
            n_values=int(r["n_values"]),
        )
        for measure, r in table.iterrows()
    ]


def agreement_overview_read(*, project: Project, with_kappa: bool = True) -> AgreementOverview:
    """The overview's agreement figures (without the over-time series) from the kept agreement counts: a few
    hundred numbers read, whatever the project's size. The same figures as :func:`agreement_overview_get`.

    Every service that changes which annotations count keeps the counts in its own transaction, so they are read
    as they are; ``fingerprint`` is theirs (the fingerprint of the data they describe). Without counts, or with
    counts made on other attributes or another scale, the figures are computed from the annotations as
    :func:`agreement_overview_get` does (``from_counts`` False) and the fingerprint is counted. A write that
    bypasses the services is caught by ``manage.py agreement_counts`` and repaired by the intervals task.
    """
    row = AgreementCounts.objects.filter(project=project).first()
    basis = counts_basis(project=project) if row is not None else None
    if row is None or basis is None or not counts_basis_matches(row, basis):
        computed = agreement_overview_get(project=project, with_kappa=with_kappa, time_points=0)
        return replace(computed, fingerprint=agreement_fingerprint(project=project))
    rows = _rows(overview_from_tallies(row.tallies, basis.specs, with_kappa=with_kappa)) if row.n_counted else []
    return AgreementOverview(
        attributes=basis.attributes,
        rows=rows,
        over_time=[],
        n_annotations=row.n_counted,
        n_rejected_excluded=row.n_rejected,
        from_counts=True,
        fingerprint=agreement_counts_fingerprint(row),
    )


def agreement_over_time_get(*, project: Project, points: int = 10) -> list[AgreementPoint]:
    """Alpha of every measure as annotations arrived (see :func:`agreement_over_time`); computed from the
    annotations, so the overview loads it after its first response."""
    attributes = project_attribute_names(project=project)
    counted = counted_annotations(annotation_frame(project=project, attributes=attributes))
    return agreement_over_time(counted, attributes, points=points, likert=project_likert_domain(project))
