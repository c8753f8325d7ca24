"""Active collection: score the comparisons that still need annotators and store how informative each is.

A lead or researcher queues a :class:`~rm_jobs.models.PriorityScoring` with a signal
(:mod:`annotator.stats.informativeness`) and, for the reward-model signals, a succeeded training job of the
project; a Celery task runs it. Items the model cannot read (too long) are recorded with the reason and keep
priority 0; a crashed run is a failed scoring with the error, and leaves the previous priorities in place. The
priorities are written through :func:`annotator.services.priorities.comparison_priorities_replace` in the same
transaction as the scoring's success, so the queue never follows a half-written scoring.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

import numpy as np
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from annotator.error_codes import ErrorCode
from annotator.errors import ApplicationError, Conflict, ValidationFailed
from annotator.models import Project
from annotator.selectors.judge import judge_strengths
from annotator.selectors.priorities import comparison_open_ids, comparison_open_iter, preference_strengths_by_comparison
from annotator.services.priorities import comparison_priorities_replace
from annotator.stats.informativeness import human_disagreement, judge_disagreement, reward_uncertainty
from rm_jobs.models import EvaluationStatus, JobStatus, PriorityScoring, PrioritySignal, Queue, TrainingJob
from rm_jobs.services.scoring import reward_model_score

logger = logging.getLogger(__name__)

MODEL_SIGNALS = frozenset({PrioritySignal.REWARD_UNCERTAINTY, PrioritySignal.JUDGE_DISAGREEMENT})
"""Signals that need a reward model (a succeeded training job of the project)."""


@transaction.atomic
def priority_scoring_create(
    *, project: Project, signal: str, job: TrainingJob | None = None, user: User | None = None
) -> PriorityScoring:
    """Queue a scoring of ``project``'s open comparisons with ``signal``; runs after commit on the job's queue.

    Raises
    ------
    ValidationFailed : an unknown signal, a model signal without a job, or a job of another project.
    Conflict : (``job_not_succeeded``) a job that has not succeeded.
    """
    if signal not in PrioritySignal.values:
        raise ValidationFailed(
            f"Unknown signal {signal!r}.",
            extra={"fields": {"signal": f"One of {', '.join(PrioritySignal.values)}."}},
        )
    if signal in MODEL_SIGNALS and job is None:
        raise ValidationFailed(
            "This signal needs a reward model: choose a succeeded training job.",
            extra={"fields": {"job": "Required for this signal."}},
        )
    if job is not None:
        if job.project_id != project.pk:
            raise ValidationFailed("That job belongs to another project.", extra={"fields": {"job": "Not here."}})
        if job.status != JobStatus.SUCCEEDED or not job.checkpoint_path:
            raise Conflict(
                f"Job {job.id} is {job.status}; score with a job that succeeded.", code=ErrorCode.JOB_NOT_SUCCEEDED
            )
    scoring = PriorityScoring.objects.create(project=project, signal=signal, job=job, created_by=user)
    from rm_jobs.tasks import priority_scoring_run_task  # the task module imports the services

    scoring_id, queue = scoring.id, (job.queue if job is not None else Queue.DEFAULT)
    transaction.on_commit(lambda: priority_scoring_run_task.apply_async(args=[scoring_id], queue=queue))
    return scoring


def priority_scoring_run(*, scoring_id: int) -> PriorityScoring | None:
    """queued → running → succeeded | failed; None when it was not queued (a repeated delivery)."""
    claimed = PriorityScoring.objects.filter(id=scoring_id, status=EvaluationStatus.QUEUED).update(
        status=EvaluationStatus.RUNNING
    )
    if not claimed:
        return None
    scoring = PriorityScoring.objects.select_related("project", "job").get(id=scoring_id)
    try:
        priorities, failures = _priorities(scoring)
    except Exception as error:  # recorded on the scoring, never a crashed task
        logger.exception("priority scoring %s failed", scoring_id)
        PriorityScoring.objects.filter(id=scoring_id, status=EvaluationStatus.RUNNING).update(
            status=EvaluationStatus.FAILED,
            error=f"{type(error).__name__}: {error}\n\n{traceback.format_exc(limit=8)}",
            finished_at=timezone.now(),
        )
        return PriorityScoring.objects.get(id=scoring_id)
    values = np.fromiter(priorities.values(), dtype=np.float64, count=len(priorities))
    summary = {"mean": float(values.mean()), "max": float(values.max())} if len(values) else {}
    with transaction.atomic():
        finished = PriorityScoring.objects.filter(id=scoring_id, status=EvaluationStatus.RUNNING).update(
            status=EvaluationStatus.SUCCEEDED,
            scored=len(priorities),
            failures=failures,
            summary=summary,
            finished_at=timezone.now(),
        )
        if finished:
            comparison_priorities_replace(project=scoring.project, priorities=priorities)
    return PriorityScoring.objects.get(id=scoring_id)


def _priorities(scoring: PriorityScoring) -> tuple[dict[int, float], list[dict[str, Any]]]:
    """(comparison id → priority, per-item failures) for the scoring's signal."""
    project = scoring.project
    if scoring.signal == PrioritySignal.HUMAN_DISAGREEMENT:
        ids = comparison_open_ids(project=project)
        strengths = preference_strengths_by_comparison(project=project, comparison_ids=ids)
        spread = human_disagreement([strengths.get(pk, []) for pk in ids])
        return {pk: float(v) for pk, v in zip(ids, spread, strict=True)}, []
    assert scoring.job is not None
    ids, rewards_1, rewards_2 = [], [], []
    failures: list[dict[str, Any]] = []
    for item in comparison_open_iter(project=project):
        try:
            result = reward_model_score(
                job=scoring.job, prompt=item.prompt, responses=[item.response_1, item.response_2]
            )
        except ApplicationError as error:  # this item only (too long for the model): recorded, priority 0
            failures.append({"comparison_id": item.id, "reason": error.message})
            continue
        ids.append(item.id)
        rewards_1.append(result.rewards[0])
        rewards_2.append(result.rewards[1])
    if scoring.signal == PrioritySignal.JUDGE_DISAGREEMENT:
        # Comparisons the judge did not draft (or failed on) count as undecided by the judge: priority 0.
        judged = judge_strengths(project=project)
        judge_strength = np.asarray([judged.get(pk, np.nan) for pk in ids], dtype=np.float64)
        values = judge_disagreement(judge_strength, np.asarray(rewards_1), np.asarray(rewards_2))
    else:
        values = reward_uncertainty(np.asarray(rewards_1), np.asarray(rewards_2))
    return {pk: float(v) for pk, v in zip(ids, values, strict=True)}, failures
