"""Priority scorings: queued by a lead or researcher, run by the task, written through the annotator service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from annotator.errors import Conflict, ValidationFailed
from annotator.models import Annotation, Assignment, AssignmentStatus, Comparison, Project, Role
from rm_jobs.models import EvaluationStatus, JobStatus, PriorityScoring, PrioritySignal
from rm_jobs.services.priorities import priority_scoring_create, priority_scoring_run
from tests.factories import ComparisonFactory, ProjectFactory, member
from tests.rm_jobs.conftest import succeeded_job

pytestmark = pytest.mark.django_db


def _annotate(comparison: Comparison, strengths: list[int]) -> None:
    for strength in strengths:
        annotator = member(comparison.project, Role.ANNOTATOR)
        assignment = Assignment.objects.create(
            comparison=comparison, annotator=annotator, status=AssignmentStatus.SUBMITTED
        )
        Annotation.objects.create(
            assignment=assignment, comparison=comparison, annotator=annotator, ratings={}, preference_strength=strength
        )


def _run(project: Project, signal: str, job: Any, capture: Any) -> PriorityScoring:
    with capture(execute=False):
        scoring = priority_scoring_create(project=project, signal=signal, job=job)
    result = priority_scoring_run(scoring_id=scoring.id)
    assert result is not None
    return result


def test_human_disagreement_puts_the_most_disputed_open_comparison_first(
    django_capture_on_commit_callbacks: Any,
) -> None:
    project = ProjectFactory(overlap=3)
    calm, split, fresh, done = (ComparisonFactory(project=project) for _ in range(4))
    _annotate(calm, [2, 2])
    _annotate(split, [-3, 3])
    _annotate(done, [-3, 3, 0])  # full: not scored, so back to 0 whatever it had
    Comparison.objects.filter(pk=done.pk).update(priority=0.5)
    scoring = _run(project, PrioritySignal.HUMAN_DISAGREEMENT, None, django_capture_on_commit_callbacks)
    assert (scoring.status, scoring.scored, scoring.failures) == (EvaluationStatus.SUCCEEDED, 3, [])
    priorities = dict(Comparison.objects.values_list("pk", "priority"))
    assert priorities == {calm.pk: 0.0, split.pk: 1.0, fresh.pk: 0.0, done.pk: 0.0}
    assert scoring.summary == {"mean": pytest.approx(1 / 3), "max": 1.0}


def test_reward_uncertainty_scores_every_open_comparison_and_records_items_too_long(
    snapshot: Any, trained_model: Path, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    project = snapshot.project
    job = succeeded_job(snapshot, trained_model)
    too_long = ComparisonFactory(project=project)
    too_long.response_1.text = "word " * 40
    too_long.response_1.save()
    settings.PREFSTACK_SCORE_MAX_CHARS = 150
    scoring = _run(project, PrioritySignal.REWARD_UNCERTAINTY, job, django_capture_on_commit_callbacks)
    assert scoring.status == EvaluationStatus.SUCCEEDED
    assert [f["comparison_id"] for f in scoring.failures] == [too_long.pk]
    assert "limit is 150" in scoring.failures[0]["reason"]
    priorities = dict(Comparison.objects.filter(project=project).values_list("pk", "priority"))
    assert scoring.scored == len(priorities) - 1
    assert priorities[too_long.pk] == 0.0
    scored = [v for pk, v in priorities.items() if pk != too_long.pk]
    assert all(0.0 < v <= 1.0 for v in scored) and len(set(scored)) > 1


def test_a_repeated_delivery_does_nothing(django_capture_on_commit_callbacks: Any) -> None:
    project = ProjectFactory()
    ComparisonFactory(project=project)
    scoring = _run(project, PrioritySignal.HUMAN_DISAGREEMENT, None, django_capture_on_commit_callbacks)
    assert priority_scoring_run(scoring_id=scoring.id) is None


def test_a_crash_is_a_failed_scoring_and_keeps_the_previous_priorities(
    snapshot: Any, trained_model: Path, django_capture_on_commit_callbacks: Any
) -> None:
    project = snapshot.project
    job = succeeded_job(snapshot, trained_model)
    kept = project.comparisons.first()
    Comparison.objects.filter(pk=kept.pk).update(priority=0.7)
    with django_capture_on_commit_callbacks(execute=False):
        scoring = priority_scoring_create(project=project, signal=PrioritySignal.REWARD_UNCERTAINTY, job=job)
    job.checkpoint_path = "/nowhere/at/all"
    job.save()
    result = priority_scoring_run(scoring_id=scoring.id)
    assert result is not None and result.status == EvaluationStatus.FAILED and result.error
    assert Comparison.objects.get(pk=kept.pk).priority == 0.7


def test_model_signals_need_a_succeeded_job_of_the_project(snapshot: Any, trained_model: Path) -> None:
    project = snapshot.project
    with pytest.raises(ValidationFailed):
        priority_scoring_create(project=project, signal=PrioritySignal.REWARD_UNCERTAINTY)
    with pytest.raises(ValidationFailed):
        priority_scoring_create(project=project, signal="loudest")
    job = succeeded_job(snapshot, trained_model)
    with pytest.raises(ValidationFailed):
        priority_scoring_create(project=ProjectFactory(), signal=PrioritySignal.REWARD_UNCERTAINTY, job=job)
    job.status = JobStatus.RUNNING
    job.save()
    with pytest.raises(Conflict):
        priority_scoring_create(project=project, signal=PrioritySignal.REWARD_UNCERTAINTY, job=job)
    assert not PriorityScoring.objects.exists()


def test_creating_sends_the_task_after_commit(django_capture_on_commit_callbacks: Any, monkeypatch: Any) -> None:
    sent: list[Any] = []
    monkeypatch.setattr(
        "rm_jobs.tasks.priority_scoring_run_task.apply_async", lambda args, queue: sent.append((args, queue))
    )
    project = ProjectFactory()
    with django_capture_on_commit_callbacks(execute=True):
        scoring = priority_scoring_create(project=project, signal=PrioritySignal.HUMAN_DISAGREEMENT)
    assert sent == [([scoring.id], "default")]


def test_judge_disagreement_scores_where_the_judge_and_the_model_prefer_different_responses(
    snapshot: Any, trained_model: Path, django_capture_on_commit_callbacks: Any
) -> None:
    from annotator.models import JudgeDraft, JudgeDraftStatus, JudgeRun, JudgeRunStatus
    from rm_jobs.services.scoring import reward_model_score

    project = snapshot.project
    job = succeeded_job(snapshot, trained_model)
    first, second, undrafted = list(project.comparisons.order_by("id")[:3])
    run = JudgeRun.objects.create(project=project, template="t", status=JudgeRunStatus.SUCCEEDED)
    margins = {}
    for comparison in (first, second):
        rewards = reward_model_score(
            job=job, prompt=comparison.prompt.turns, responses=[comparison.response_1.text, comparison.response_2.text]
        ).rewards
        margins[comparison.pk] = rewards[0] - rewards[1]  # > 0: the model prefers response 1
    # The judge agrees with the model on the first and contradicts it, sure, on the second.
    for comparison, against in ((first, False), (second, True)):
        model_prefers_1 = margins[comparison.pk] > 0
        strength = (3 if model_prefers_1 else -3) if against else (-3 if model_prefers_1 else 3)
        JudgeDraft.objects.create(
            run=run, comparison=comparison, status=JudgeDraftStatus.OK, preference_strength=strength
        )
    scoring = _run(project, PrioritySignal.JUDGE_DISAGREEMENT, job, django_capture_on_commit_callbacks)
    assert scoring.status == EvaluationStatus.SUCCEEDED
    priorities = dict(Comparison.objects.filter(project=project).values_list("pk", "priority"))
    assert priorities[first.pk] == 0.0 and priorities[undrafted.pk] == 0.0
    assert priorities[second.pk] > 0.0
