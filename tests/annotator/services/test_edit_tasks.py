"""Edit and edit-quality tasks: made from feedback and from reviews, the authors kept out, the refusals, the choice
stored in unit terms, and a lead's review sending a result back."""

from __future__ import annotations

import pytest

from annotator.error_codes import ErrorCode
from annotator.errors import ValidationFailed
from annotator.models import AssignmentStatus, Role, TaskResult, TaskType, TaskUnit
from annotator.services.edit_quality import edit_choice_submit, edit_quality_units_create_from_reviews
from annotator.services.edits import edit_submit, edit_units_create_from_feedback
from annotator.services.feedback import feedback_submit
from annotator.services.task_reviews import task_result_review
from annotator.services.task_units import task_claim_next
from tests.factories import ProjectFactory, TaskUnitFactory, good_feedback, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain():
    """A feedback project with one unit and one feedback, and an edit project made from it; one lead of both."""
    feedback_project = ProjectFactory(task_type=TaskType.FEEDBACK, overlap=1)
    edit_project = ProjectFactory(task_type=TaskType.EDIT, overlap=2)
    lead = member(feedback_project, Role.LEAD)
    edit_project.memberships.create(user=lead, role=Role.LEAD)
    unit = TaskUnitFactory(project=feedback_project)
    writer = member(feedback_project)
    edit_project.memberships.create(user=writer, role=Role.ANNOTATOR)
    taken = task_claim_next(project=feedback_project, annotator=writer)
    feedback_submit(assignment=taken, annotator=writer, feedback_1=good_feedback(), feedback_2=good_feedback("not"))
    created = edit_units_create_from_feedback(project=edit_project, source=feedback_project, lead=lead)
    return {"feedback": feedback_project, "edit": edit_project, "lead": lead, "writer": writer, "unit": unit,
            "created": created}  # fmt: skip


def test_edit_units_are_made_per_response_with_its_feedback_once(chain) -> None:
    created = chain["created"]
    assert [u.response_1_id for u in created] == [chain["unit"].response_1_id, chain["unit"].response_2_id]
    assert created[0].feedback == [good_feedback()]
    assert edit_units_create_from_feedback(project=chain["edit"], source=chain["feedback"], lead=chain["lead"]) == []


def test_the_feedback_writer_never_gets_the_edit_and_is_refused_if_they_hold_it(chain) -> None:
    assert task_claim_next(project=chain["edit"], annotator=chain["writer"]) is None
    # Even an assignment they hold by other means is refused with its code.
    from annotator.models import TaskAssignment

    held = TaskAssignment.objects.create(unit=chain["created"][0], annotator=chain["writer"])
    with pytest.raises(ValidationFailed) as refused:
        edit_submit(assignment=held, annotator=chain["writer"], text="Changed.", change_summary="Changed it.")
    assert refused.value.code == ErrorCode.EDIT_BY_FEEDBACK_AUTHOR
    assert TaskResult.objects.filter(unit__project=chain["edit"]).count() == 0


def test_an_edit_identical_to_the_original_is_refused_and_a_real_one_stored(chain) -> None:
    editor = member(chain["edit"])
    taken = task_claim_next(project=chain["edit"], annotator=editor)
    original = taken.unit.response_1.text
    with pytest.raises(ValidationFailed) as refused:
        edit_submit(assignment=taken, annotator=editor, text=original + "  \n", change_summary="Nothing.")
    assert refused.value.code == ErrorCode.EDIT_UNCHANGED and "identical" in refused.value.extra["fields"]["text"]
    with pytest.raises(ValidationFailed) as no_summary:
        edit_submit(assignment=taken, annotator=editor, text="Better.", change_summary=" ")
    assert set(no_summary.value.extra["fields"]) == {"change_summary"}
    result = edit_submit(assignment=taken, annotator=editor, text="A better answer.", change_summary="Rewrote it.")
    assert (result.text, result.change_summary) == ("A better answer.", "Rewrote it.")


def test_a_rejected_edit_goes_back_and_becomes_the_bad_candidate_of_an_edit_quality_unit(chain) -> None:
    first, second = member(chain["edit"]), member(chain["edit"])
    results = []
    for editor, text in ((first, "A good edit."), (second, "A bad edit.")):
        taken = task_claim_next(project=chain["edit"], annotator=editor)
        results.append(edit_submit(assignment=taken, annotator=editor, text=text, change_summary="Edited."))
    task_result_review(result=results[0], reviewer=chain["lead"], decision="accept")
    with pytest.raises(ValidationFailed):
        task_result_review(result=results[1], reviewer=chain["lead"], decision="reject")
    task_result_review(result=results[1], reviewer=chain["lead"], decision="reject", reason="Ignores the feedback.")
    returned = results[1].assignment
    returned.refresh_from_db()
    assert returned.status == AssignmentStatus.RETURNED and returned.review_note == "Ignores the feedback."
    assert task_claim_next(project=chain["edit"], annotator=second).pk == returned.pk

    quality = ProjectFactory(task_type=TaskType.EDIT_QUALITY, overlap=1)
    quality.memberships.create(user=chain["lead"], role=Role.LEAD)
    (unit,) = edit_quality_units_create_from_reviews(project=quality, source=chain["edit"], lead=chain["lead"])
    assert (unit.edit_1, unit.edit_2, unit.good_edit) == ("A good edit.", "A bad edit.", 1)
    # Neither the editors nor the feedback writer judge it; a third annotator does, in shown terms.
    for someone in (first, second, chain["writer"]):
        quality.memberships.create(user=someone, role=Role.ANNOTATOR)
        assert task_claim_next(project=quality, annotator=someone) is None
    judge = member(quality)
    taken = task_claim_next(project=quality, annotator=judge)
    with pytest.raises(ValidationFailed):
        edit_choice_submit(assignment=taken, annotator=judge, choice=3)
    shown_good = 2 if taken.swapped else 1
    result = edit_choice_submit(assignment=taken, annotator=judge, choice=shown_good)
    assert result.choice == 1


def test_units_only_come_from_the_right_task_type(chain) -> None:
    with pytest.raises(ValidationFailed) as refused:
        edit_units_create_from_feedback(project=chain["feedback"], source=chain["edit"], lead=chain["lead"])
    assert refused.value.code == ErrorCode.TASK_TYPE_MISMATCH
    assert TaskUnit.objects.filter(project=chain["feedback"]).count() == 1


def test_a_feedback_writer_never_reclaims_an_expired_edit_reservation(chain) -> None:
    from datetime import timedelta

    from django.utils import timezone

    editor = member(chain["edit"])
    old = task_claim_next(project=chain["edit"], annotator=editor, now=timezone.now() - timedelta(hours=2))
    assert old is not None
    assert task_claim_next(project=chain["edit"], annotator=chain["writer"]) is None  # nor the other unit
    old.refresh_from_db()
    assert old.status == AssignmentStatus.RESERVED  # left for someone who may edit it
    other = member(chain["edit"])
    taken = task_claim_next(project=chain["edit"], annotator=other)
    assert taken is not None and taken.unit_id == old.unit_id  # reclaimed first, before fresh work
