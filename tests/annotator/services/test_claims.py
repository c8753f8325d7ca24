"""The claim machinery shared by comparisons and task units (annotator.services.claims): its checks, and the two kinds
it serves. The claims themselves are tested through the public services (test_assignment_claim.py,
test_feedback_submit.py, test_task_claim_concurrency.py, ...)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from annotator.errors import NotFound, ValidationFailed
from annotator.models import Annotation, TaskType
from annotator.selectors.hot_path import COMPARISON_READS
from annotator.services import claims, locks
from annotator.services.assignments import COMPARISONS, annotation_submit, assignment_claim_next
from annotator.services.task_units import TASKS, task_claim_next
from tests.factories import ComparisonFactory, ProjectFactory, TaskUnitFactory, full_ratings, member

JUSTIFICATION = "@Response 1 is clearer than @Response 2."


@pytest.mark.parametrize("seconds", [0, 12, 12.5, 86_400])
def test_a_plausible_time_on_task_is_a_float(settings: Any, seconds: float) -> None:
    settings.PREFSTACK_MAX_TIME_ON_TASK_SECONDS = 86_400
    errors: dict[str, str] = {}
    assert claims.check_seconds(seconds, errors) == float(seconds)
    assert errors == {}


@pytest.mark.parametrize("seconds", [True, False, math.nan, math.inf, -1, 86_401, "12"])
def test_an_implausible_time_on_task_is_named(settings: Any, seconds: object) -> None:
    settings.PREFSTACK_MAX_TIME_ON_TASK_SECONDS = 86_400
    errors: dict[str, str] = {}
    assert claims.check_seconds(seconds, errors) is None
    assert errors == {"time_on_task_seconds": "Time on task is a number of seconds from 0 to 86400."}


def test_flags_are_kept_once_and_an_unknown_one_is_named() -> None:
    errors: dict[str, str] = {}
    assert claims.clean_flags(["pii", "unsafe", "pii"], errors) == ["pii", "unsafe"]
    assert errors == {}
    assert claims.clean_flags(["pii", "typo"], errors) == []
    assert errors["flags"].startswith("Unknown flag 'typo'")


def test_a_refusal_says_its_one_error_or_that_there_are_several() -> None:
    claims.refuse({})  # nothing to refuse
    with pytest.raises(ValidationFailed) as one:
        claims.refuse({"note": "Say why."})
    assert one.value.message == "Say why."
    several = {"reason": "Choose a reason.", "note": "Say why."}
    with pytest.raises(ValidationFailed) as generic:
        claims.refuse(several)
    assert generic.value.message == claims.SEVERAL_ERRORS
    assert generic.value.extra == {"fields": several}
    with pytest.raises(ValidationFailed) as first:
        claims.refuse(several, several=None)
    assert first.value.message == "Choose a reason."


def test_a_kind_is_built_on_one_pair_of_tables() -> None:
    with pytest.raises(ValueError, match="same tables"):
        claims.ClaimKind(reads=COMPARISON_READS, locks=locks.UNIT_LOCKS, result=Annotation, noun="comparison")


@pytest.mark.django_db
def test_another_annotators_work_is_refused_before_any_lock(django_assert_num_queries: Any) -> None:
    project = ProjectFactory(task_type=TaskType.FEEDBACK)
    TaskUnitFactory(project=project)
    task = task_claim_next(project=project, annotator=member(project))
    comparison_project = ProjectFactory()
    ComparisonFactory(project=comparison_project)
    comparison = assignment_claim_next(project=comparison_project, annotator=member(comparison_project))
    assert task is not None and comparison is not None
    stranger = member(ProjectFactory())
    for kind, assignment in ((TASKS, task), (COMPARISONS, comparison)):
        with django_assert_num_queries(0), pytest.raises(NotFound):
            claims.unit_lock(kind=kind, assignment=assignment, annotator=stranger)  # type: ignore[arg-type]


@pytest.mark.django_db
def test_a_comparisons_time_on_task_is_checked_as_a_tasks() -> None:
    project = ProjectFactory()
    ComparisonFactory(project=project)
    annotator = member(project)
    assignment = assignment_claim_next(project=project, annotator=annotator)
    assert assignment is not None
    ratings = full_ratings(project)
    with pytest.raises(ValidationFailed) as refused:
        annotation_submit(
            assignment=assignment, annotator=annotator, ratings_shown={"left": ratings["1"], "right": ratings["2"]},
            preference_strength=-1, justification=JUSTIFICATION, time_on_task_seconds=True,
        )  # fmt: skip
    assert list(refused.value.extra["fields"]) == ["time_on_task_seconds"]
