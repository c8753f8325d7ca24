"""Active collection: score the comparisons that still need annotators and store how informative each is.

A lead or researcher queues a :class:`~rm_jobs.models.PriorityScoring` with a signal
(:mod:`annotator.stats.informativeness`) and, for the reward-model signals, a succeeded training job of the
project; a Celery task runs it. Items the model cannot read (too long) are recorded with the reason and keep
priority 0; a crashed run is a failed scoring with the error, and leaves the previous priorities in place. The
priorities are written through :func:`annotator.services.priorities.comparison_priorities_replace` in the same
transaction as the scoring's success, so the queue never follows a half-written scoring.

A running scoring beats (``heartbeat_at``) from its loop over the comparisons, every
:func:`~annotator.services.heartbeats.heartbeat_interval` seconds at most. When its worker dies,
:func:`priority_scorings_sweep_stale` (beat, every minute) queues it again on the same queue while it has attempts
left, else fails it with the reason; the new attempt scores from the start (nothing is written before the end). The
final write names its attempt, so an attempt the sweep gave up on cannot finish the scoring.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
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
from annotator.services.heartbeats import (
    AttemptLost,
    ModelRunBeat,
    ModelRunKind,
    SweepResult,
    model_run_claim,
    model_run_owned,
    model_runs_sweep_stale,
)
from annotator.services.priorities import comparison_priorities_replace
from annotator.stats.informativeness import human_disagreement, judge_disagreement, reward_uncertainty
from rm_jobs.models import EvaluationStatus, JobStatus, PriorityScoring, PrioritySignal, Queue, TrainingJob
from rm_jobs.services.scoring import reward_model_score

logger = logging.getLogger(__name__)

MODEL_SIGNALS = frozenset({PrioritySignal.REWARD_UNCERTAINTY, PrioritySignal.JUDGE_DISAGREEMENT})
"""Signals that need a reward model (a succeeded training job of the project)."""


def _enqueue(scoring_id: int) -> None:
    """Send the scoring's task, once the transaction commits, to its job's queue (a GPU job's model scores on a GPU
    worker), or to the default queue for a signal without a model."""
    from rm_jobs.tasks import priority_scoring_run_task  # the task module imports the services

    job_queue = PriorityScoring.objects.filter(pk=scoring_id).values_list("job__queue", flat=True).get()
    queue = job_queue or Queue.DEFAULT
    transaction.on_commit(lambda: priority_scoring_run_task.apply_async(args=[scoring_id], queue=queue))


PRIORITY_SCORINGS = ModelRunKind(
    model=PriorityScoring,
    label="priority scoring",
    running=EvaluationStatus.RUNNING,
    waiting=EvaluationStatus.QUEUED,
    failed=EvaluationStatus.FAILED,
    enqueue=_enqueue,
)


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
    _enqueue(scoring.id)
    return scoring


def priority_scoring_run(*, scoring_id: int) -> PriorityScoring | None:
    """queued → running (its next attempt) → succeeded | failed; None when it was not queued (a repeated delivery).
    Every write after the claim names the attempt: once the sweep gave it up, nothing is written."""
    if not model_run_claim(PRIORITY_SCORINGS, run_id=scoring_id):  # or taken over, when its pool process died
        return None  # not queued, or its attempt lives: a repeated delivery
    scoring = PriorityScoring.objects.select_related("project", "job").get(id=scoring_id)
    owned = model_run_owned(PRIORITY_SCORINGS, run_id=scoring_id, attempt=scoring.attempt)
    try:
        with ModelRunBeat(PRIORITY_SCORINGS, run_id=scoring_id, attempt=scoring.attempt) as beat:
            priorities, failures = _priorities(scoring, beat)  # the thread beats while the model loads
    except AttemptLost:
        logger.warning("priority scoring %s: attempt %s was given up by the sweep; nothing written", scoring_id,
                       scoring.attempt)  # fmt: skip
        return PriorityScoring.objects.get(id=scoring_id)
    except Exception as error:  # recorded on the scoring, never a crashed task
        logger.exception("priority scoring %s failed", scoring_id)
        owned.update(
            status=EvaluationStatus.FAILED,
            error=f"{type(error).__name__}: {error}\n\n{traceback.format_exc(limit=8)}",
            finished_at=timezone.now(),
            heartbeat_at=None,
        )
        return PriorityScoring.objects.get(id=scoring_id)
    values = np.fromiter(priorities.values(), dtype=np.float64, count=len(priorities))
    summary = {"mean": float(values.mean()), "max": float(values.max())} if len(values) else {}
    with transaction.atomic():
        finished = owned.update(
            status=EvaluationStatus.SUCCEEDED,
            scored=len(priorities),
            failures=failures,
            summary=summary,
            finished_at=timezone.now(),
            heartbeat_at=None,
        )
        if finished:
            comparison_priorities_replace(project=scoring.project, priorities=priorities)
    return PriorityScoring.objects.get(id=scoring_id)


def priority_scorings_sweep_stale(*, stale_seconds: int | None = None) -> SweepResult:
    """Give up on running scorings whose worker stopped beating (:mod:`annotator.services.heartbeats`): queued again
    on their queue while they have attempts left, else failed with the reason. Run every minute by beat."""
    return model_runs_sweep_stale(PRIORITY_SCORINGS, stale_seconds=stale_seconds)


def _priorities(scoring: PriorityScoring, beat: Callable[[], None]) -> tuple[dict[int, float], list[dict[str, Any]]]:
    """(comparison id → priority, per-item failures) for the scoring's signal; ``beat`` is called before each
    comparison the model scores (it raises AttemptLost when the sweep gave the attempt up)."""
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
        beat()
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
