"""Reads of the LLM judge: its configuration, runs, drafts and the calibration report against human labels.

Only leads and researchers read these (:data:`JUDGE_ROLES`); no annotator page or API imports this module.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from django.db.models import QuerySet

from annotator.exports.chunks import JudgeDrafts
from annotator.models import (
    Annotation,
    Judge,
    JudgeDraft,
    JudgeDraftStatus,
    JudgeRun,
    JudgeRunStatus,
    Project,
    Role,
)
from annotator.selectors.projects import project_attribute_list
from annotator.stats.calibration import (
    OrdinalCalibration,
    PreferenceCalibration,
    ordinal_calibration,
    preference_calibration,
)

JUDGE_ROLES: frozenset[str] = frozenset({Role.LEAD, Role.RESEARCHER})
"""Who sees the judge's drafts and calibration (never annotators: the drafts are blind to them)."""
CALIBRATION_RESAMPLES = 1000


def judge_get(*, project: Project) -> Judge | None:
    return Judge.objects.select_related("endpoint").filter(project=project).first()


def judge_run_list(*, project: Project) -> QuerySet[JudgeRun]:
    """The project's judge runs, newest first."""
    return JudgeRun.objects.filter(project=project).select_related("created_by")


def judge_run_get(*, project: Project, run_id: int | None = None) -> JudgeRun | None:
    """Run ``run_id`` of the project, or (None) its latest succeeded run; None when there is none."""
    runs = JudgeRun.objects.filter(project=project)
    if run_id is not None:
        return runs.filter(pk=run_id).first()
    return runs.filter(status=JudgeRunStatus.SUCCEEDED).order_by("-created_at", "-id").first()


def judge_draft_list(*, run: JudgeRun, failed_only: bool = False) -> QuerySet[JudgeDraft]:
    """The run's drafts by comparison."""
    drafts = JudgeDraft.objects.filter(run=run)
    return drafts.filter(status=JudgeDraftStatus.FAILED) if failed_only else drafts


def judge_strengths(*, project: Project) -> dict[int, int]:
    """Comparison id → the judge's preference strength in the project's latest succeeded run (drafted items)."""
    run = judge_run_get(project=project)
    if run is None:
        return {}
    rows = judge_draft_list(run=run).filter(status=JudgeDraftStatus.OK, preference_strength__isnull=False)
    return {c: int(s) for c, s in rows.values_list("comparison_id", "preference_strength") if s is not None}


@dataclass(frozen=True)
class CalibrationReport:
    """The judge of ``run`` against the humans' aggregated labels on the comparisons both labelled
    (``n_comparisons``): one :class:`OrdinalCalibration` per attribute (units: comparison × response) and the
    preference. The humans' aggregate is the mean of the current annotations by people."""

    run: JudgeRun
    n_comparisons: int
    attributes: list[OrdinalCalibration]
    preference: PreferenceCalibration


def _human_means(project: Project, comparison_ids: set[int]) -> tuple[dict[int, dict[str, dict[str, float]]],
                                                                       dict[int, float]]:  # fmt: skip
    """Per comparison, the mean rating of each response and attribute, and the mean strength (people only)."""
    ratings: dict[int, dict[str, dict[str, list[float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    strengths: dict[int, list[float]] = defaultdict(list)
    rows = Annotation.objects.filter(comparison__project=project, source="", is_current=True).values_list(
        "comparison_id", "ratings", "preference_strength"
    )
    for comparison_id, given, strength in rows.iterator(chunk_size=2000):
        if comparison_id not in comparison_ids:
            continue
        for side in ("1", "2"):
            for name, value in ((given or {}).get(side) or {}).items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    ratings[comparison_id][side][name].append(float(value))
        if strength is not None:
            strengths[comparison_id].append(float(strength))
    means = {c: {s: {n: float(np.mean(v)) for n, v in by_name.items()} for s, by_name in sides.items()}
             for c, sides in ratings.items()}  # fmt: skip
    return means, {c: float(np.mean(v)) for c, v in strengths.items()}


def judge_calibration(*, run: JudgeRun, n_resamples: int = CALIBRATION_RESAMPLES, seed: int = 0) -> CalibrationReport:
    """The calibration report of ``run`` (see :mod:`annotator.stats.calibration`)."""
    drafts = list(judge_draft_list(run=run).filter(status=JudgeDraftStatus.OK))
    by_comparison = {d.comparison_id: d for d in drafts}
    ratings, strengths = _human_means(run.project, set(by_comparison))
    labelled = sorted(set(ratings) | set(strengths))
    attributes = []
    for attribute in project_attribute_list(project=run.project):
        judge_values, human_values = [], []
        for comparison_id in labelled:
            for side in ("1", "2"):
                human = ratings.get(comparison_id, {}).get(side, {}).get(attribute.name)
                judged = by_comparison[comparison_id].ratings.get(side, {}).get(attribute.name)
                if human is not None and judged is not None:
                    judge_values.append(float(judged))
                    human_values.append(human)
        attributes.append(ordinal_calibration(attribute.name, judge_values, human_values, low=attribute.scale_min,
                                              high=attribute.scale_max, n_resamples=n_resamples, seed=seed))  # fmt: skip
    with_strength = [c for c in labelled if c in strengths and by_comparison[c].preference_strength is not None]
    preference = preference_calibration(
        [float(by_comparison[c].preference_strength) for c in with_strength],  # type: ignore[arg-type]
        [strengths[c] for c in with_strength],
        confidences=[by_comparison[c].confidence for c in with_strength],
        n_resamples=n_resamples,
        seed=seed,
    )
    return CalibrationReport(run, len(labelled), attributes, preference)


def _json_clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if np.isnan(value) else value
    if isinstance(value, dict):
        return {k: _json_clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_clean(v) for v in value]
    return value


def calibration_as_dict(report: CalibrationReport) -> dict[str, Any]:
    """The report as JSON-ready data (NaN as None), for the page's charts and the API."""
    return _json_clean({  # type: ignore[no-any-return]
        "run": report.run.pk,
        "comparisons": report.n_comparisons,
        "attributes": [asdict(a) for a in report.attributes],
        "preference": asdict(report.preference),
    })  # fmt: skip


def judge_drafts_for_snapshot(
    *, project: Project, attributes: tuple[str, ...], first_comparison_id: int, last_comparison_id: int
) -> JudgeDrafts:
    """The latest successful draft (status ok, of a succeeded run; the newest run wins) of each of the project's
    comparisons with ids in ``[first_comparison_id, last_comparison_id]``, as arrays for a snapshot build's chunk.

    One query per chunk. Model-made: a snapshot writes them to their own columns only (never into a label)."""
    rows = (
        JudgeDraft.objects.filter(
            run__project=project,
            run__status=JudgeRunStatus.SUCCEEDED,
            status=JudgeDraftStatus.OK,
            comparison_id__gte=first_comparison_id,
            comparison_id__lte=last_comparison_id,
        )
        .order_by("comparison_id", "-run__created_at", "-run_id")
        .values_list("comparison_id", "run__model_id", "preference_strength", "confidence", "ratings")
    )
    ids: list[int] = []
    models: list[str] = []
    strength: list[float] = []
    confidence: list[float] = []
    ratings: list[dict[str, Any]] = []
    for comparison_id, model_id, draft_strength, draft_confidence, draft_ratings in rows.iterator(chunk_size=2000):
        if ids and ids[-1] == comparison_id:
            continue  # an older run's draft of the same comparison
        ids.append(comparison_id)
        models.append(model_id)
        strength.append(np.nan if draft_strength is None else float(draft_strength))
        confidence.append(np.nan if draft_confidence is None else float(draft_confidence))
        ratings.append(draft_ratings if isinstance(draft_ratings, dict) else {})

    def side(key: str, attribute: str) -> npt.NDArray[np.float64]:
        values = ((r.get(key) or {}).get(attribute) for r in ratings)
        return np.fromiter((float(v) if isinstance(v, int | float) else np.nan for v in values), dtype=np.float64)

    return JudgeDrafts(
        comparison_ids=np.asarray(ids, dtype=np.int64),
        model=models,
        strength=np.asarray(strength, dtype=np.float64),
        confidence=np.asarray(confidence, dtype=np.float64),
        ratings_1={a: side("1", a) for a in attributes},
        ratings_2={a: side("2", a) for a in attributes},
    )
