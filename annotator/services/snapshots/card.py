"""The inputs of a snapshot's dataset card (README.md) and licence: what the build counted and measured, in words.

The card itself is rendered by the pure :func:`annotator.exports.card.render_dataset_card`; this module turns a
snapshot, its counts and its agreement summary (as stored on the snapshot) into that function's arguments.
"""

from __future__ import annotations

from typing import Any

from annotator.exports.canonical import judge_column_names
from annotator.exports.card import AgreementFigure, AttributeCard, ModelMadeColumns, render_dataset_card
from annotator.exports.formats import judge_export_columns
from annotator.models import Snapshot
from annotator.selectors.projects import project_attribute_list

# Bootstrap resamples for the agreement intervals printed on the card (cost is independent of the data size).
AGREEMENT_RESAMPLES = 200

_STATISTICS = {"ordinal": "Krippendorff's alpha (ordinal)", "nominal": "Krippendorff's alpha (nominal)"}


def snapshot_attribution(snapshot: Snapshot) -> str:
    """Whom the card and the licence credit."""
    return f'the annotators and maintainers of the Prefstack project "{snapshot.project.name}", snapshot v{snapshot.number}'


def _agreement_figures(agreement: dict[str, Any]) -> list[AgreementFigure]:
    """The card's agreement lines: per measure, alpha (with its interval) and, where measured, pooled kappa."""
    figures = []
    for measure, row in agreement.get("released", {}).items():
        if row.get("alpha") is None:
            continue
        interval = (row["ci_low"], row["ci_high"]) if row.get("ci_low") is not None else None
        quantity = measure.replace("_", " ")
        figures.append(
            AgreementFigure(
                quantity,
                _STATISTICS.get(row.get("level", ""), "Krippendorff's alpha"),
                row["alpha"],
                interval,
                units=row.get("n_units"),
            )
        )
        if row.get("kappa") is not None:
            statistic = "Cohen's kappa (pooled pairs, " + (
                "unweighted)" if row.get("level") == "nominal" else "quadratic)"
            )
            figures.append(AgreementFigure(quantity, statistic, row["kappa"]))
    return figures


def snapshot_dataset_card(
    snapshot: Snapshot, counts: dict[str, Any], agreement: dict[str, Any], content_hash: str
) -> str:
    """The dataset card (Markdown with a Hugging Face YAML header) of a snapshot the build has just counted."""
    project = snapshot.project
    attributes = [
        AttributeCard(name=a.name, description=a.description, levels=dict(a.levels))
        for a in project_attribute_list(project=project)
    ]
    rule = snapshot.rule_params
    model_made = None
    if snapshot.include_judge_drafts:
        names = [a.name for a in attributes]
        model_made = ModelMadeColumns(
            columns=judge_column_names(names),
            models=counts.get("judge_models", []),
            items=counts.get("judge_drafts", 0),
            exports=judge_export_columns(names),
        )
    summary = (
        f"Pairs of LLM responses to the same prompt, rated by people on {len(attributes)} Likert attributes and "
        f"compared with a preference strength and a written justification, from the Prefstack project "
        f'"{project.name}". Snapshot v{snapshot.number} ({snapshot.name}) holds {counts["included"]:,} '
        f"comparisons. Canonical items SHA-256: `{content_hash}`."
    )
    if counts.get("task_rows"):
        rows = ", ".join(f"{n:,} {split}" for split, n in counts["task_rows"].items())
        summary += f" It also holds the project's HelpSteer3 `{project.task_type}` data ({rows} rows)."
    collection = (
        f"Each comparison was shown to {project.overlap} annotators (more where their helpfulness ratings spread by "
        f"more than {project.adaptive_overlap_threshold} points), who rated both responses, stated a preference "
        f"strength and justified it. Leads reviewed annotations; {counts['rejected_annotations']:,} rejected ones are "
        f"left out. {counts['annotations']:,} annotations by {counts['annotators']:,} annotators went in, and "
        f"{counts.get('not_ratable_annotations', 0):,} judged their pair not ratable (released as strength -100 in "
        "HelpSteer2-Preference's all_preferences_unprocessed; they take no part in the labels or the agreement "
        "figures). Comparisons "
        "imported with released labels keep those labels where nobody here annotated them. The train/validation "
        "split is the source's where it had one; otherwise prompts were split by a seeded hash "
        f"(seed {snapshot.split_seed}, validation fraction {snapshot.validation_fraction}), so a prompt never spans "
        "both splits."
    )
    limitations = [
        f"{counts['unlabelled']:,} comparisons of the project had no usable label and are not included; "
        f"{counts['filtered_by_rule']:,} were dropped by the aggregation rule.",
        "Agreement is measured on the annotations the rule retained; intervals are percentile bootstrap intervals "
        "over units "
        f"({AGREEMENT_RESAMPLES} resamples); imported annotators are anonymous per comparison.",
        "Complexity and verbosity describe the response; higher is not better.",
        "Annotator ids (a1, a2, ...) are stable within this snapshot only.",
    ]
    return render_dataset_card(
        title=f"{project.name} — Prefstack snapshot",
        summary=summary,
        collection=collection,
        attributes=attributes,
        aggregation_rule=f"{rule.get('name')} v{rule.get('version')} ({rule.get('kind')})",
        aggregation_parameters=rule.get("params") or {},
        agreement=_agreement_figures(agreement),
        counts=counts["splits"],
        attribution=snapshot_attribution(snapshot),
        limitations=limitations,
        version=f"v{snapshot.number}",
        task_configs=[project.task_type] if counts.get("task_rows") else [],  # type: ignore[list-item]
        model_made=model_made,
    )
