"""Aggregation rules as the lead sees them: the list, one rule, and a preview of what it would keep and drop."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from annotator.errors import NotFound, ValidationFailed
from annotator.models import AggregationRule, Project
from annotator.selectors.annotations import annotation_frame
from annotator.selectors.projects import project_attribute_names
from annotator.selectors.quality.common import MEASURE_LABELS, finite
from annotator.stats.aggregation import DROP_REASONS, aggregation_preview, rule_for_kind


@dataclass(frozen=True)
class RulePreviewRow:
    measure: str
    label: str
    alpha_before: float | None
    alpha_after: float | None
    kappa_before: float | None
    kappa_after: float | None


@dataclass(frozen=True)
class RulePreview:
    """What a rule would do to the project now: comparisons kept and dropped (by reason), annotations used, and
    agreement before and after, as HelpSteer2's Table 1 shows before and after its filter."""

    rule: AggregationRule
    n_comparisons: int
    n_kept: int
    dropped_by_reason: dict[str, int]
    n_annotations_before: int
    n_annotations_after: int
    rows: list[RulePreviewRow]

    @property
    def n_dropped(self) -> int:
        return self.n_comparisons - self.n_kept


def aggregation_rule_list() -> list[AggregationRule]:
    """Every rule, every version; latest version of each name first."""
    return list(AggregationRule.objects.order_by("name", "-version"))


def aggregation_rule_latest_list() -> list[AggregationRule]:
    """The newest version of each rule, by name: the choices a snapshot is cut with."""
    latest: dict[str, AggregationRule] = {}
    for rule in aggregation_rule_list():
        latest.setdefault(rule.name, rule)
    return list(latest.values())


def aggregation_rule_get(*, rule_id: int) -> AggregationRule:
    rule = AggregationRule.objects.filter(pk=rule_id).first()
    if rule is None:
        raise NotFound("No such aggregation rule.")
    return rule


def aggregation_rule_preview(
    *, project: Project, rule: AggregationRule, frame: pd.DataFrame | None = None
) -> RulePreview:
    """Apply ``rule`` to the project's current annotations without writing anything."""
    attributes = project_attribute_names(project=project)
    if frame is None:
        frame = annotation_frame(project=project, attributes=attributes)
    pure_rule = rule_for_kind(rule.kind, rule.params)
    if attributes and pure_rule.helpfulness_attribute not in attributes:
        raise ValidationFailed(
            f"Rule {rule} needs the attribute {pure_rule.helpfulness_attribute!r}, which this project lacks."
        )
    if not len(frame):
        return RulePreview(rule, 0, 0, dict.fromkeys(DROP_REASONS, 0), 0, 0, [])
    preview = aggregation_preview(frame, pure_rule, attributes)
    before, after = preview.agreement_before, preview.agreement_after
    rows = [
        RulePreviewRow(
            measure=str(measure),
            label=MEASURE_LABELS.get(str(measure), str(measure)),
            alpha_before=finite(before.loc[measure, "alpha"]),
            alpha_after=finite(after.loc[measure, "alpha"]) if measure in after.index else None,
            kappa_before=finite(before.loc[measure, "kappa"]),
            kappa_after=finite(after.loc[measure, "kappa"]) if measure in after.index else None,
        )
        for measure in before.index
    ]
    return RulePreview(
        rule=rule,
        n_comparisons=preview.n_comparisons,
        n_kept=preview.n_kept,
        dropped_by_reason=preview.dropped_by_reason,
        n_annotations_before=preview.n_annotations_before,
        n_annotations_after=preview.n_annotations_after,
        rows=rows,
    )
