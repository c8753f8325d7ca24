"""Agreement per domain or language: the overview's figures, one row per scope (its own lazily loaded panel)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from annotator.models import Project
from annotator.selectors.annotations import annotation_frame
from annotator.selectors.projects import project_attribute_names
from annotator.selectors.quality.common import MEASURE_LABELS, counted_annotations, finite, project_likert_domain
from annotator.selectors.scopes import comparison_scopes
from annotator.stats.agreement import agreement_overview

ScopeKind = Literal["domain", "language"]
SCOPE_KINDS: tuple[ScopeKind, ...] = ("domain", "language")


@dataclass(frozen=True)
class ScopeAgreement:
    """Agreement on one scope's counted annotations: alpha per measure (None where not measurable)."""

    scope: str
    n_comparisons: int
    n_annotations: int
    alpha: dict[str, float | None]


@dataclass(frozen=True)
class ScopeAgreementTable:
    by: ScopeKind
    measures: list[tuple[str, str]]  # (measure, label) in the overview's order
    rows: list[ScopeAgreement]


def agreement_by_scope(*, project: Project, by: ScopeKind = "domain") -> ScopeAgreementTable:
    """Krippendorff's alpha of every overview measure within each ``by`` value of the prompts (the same statistics
    as :func:`annotator.selectors.quality.agreement.agreement_overview_get`, without kappa or intervals); scopes by
    name, prompts without one last as ""."""
    attributes = project_attribute_names(project=project)
    measures = [(a, a) for a in attributes]
    measures += [(m, MEASURE_LABELS[m]) for m in ("preference_strength", "preference_direction")]
    counted = counted_annotations(annotation_frame(project=project, attributes=attributes))
    if not len(counted):
        return ScopeAgreementTable(by=by, measures=measures, rows=[])
    scopes = comparison_scopes(project=project, by=by)
    keys = counted["comparison_id"].map(scopes).fillna("")
    likert = project_likert_domain(project)
    rows = []
    for scope, group in counted.groupby(keys.to_numpy(), sort=True):
        table = agreement_overview(group, attributes, n_resamples=0, with_kappa=False, likert_domain=likert)
        rows.append(
            ScopeAgreement(
                scope=str(scope),
                n_comparisons=int(group["comparison_id"].nunique()),
                n_annotations=len(group),
                alpha={m: finite(table.loc[m, "alpha"]) if m in table.index else None for m, _ in measures},
            )
        )
    rows.sort(key=lambda r: (r.scope == "", r.scope))
    return ScopeAgreementTable(by=by, measures=measures, rows=rows)
