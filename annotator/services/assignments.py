"""Work distribution and submission: claim the next comparison, save a draft, submit an annotation, skip.

Every function here is one transaction, keyword-only, and returns the instance (or a small dataclass) it wrote.

Terms the callers must know
---------------------------
* **Shown terms.** Which response appears on the left is drawn at random per assignment and stored as
  ``Assignment.swapped`` (True: response 2 is on the left). Everything an annotator sends is in *shown* terms:
  ``ratings_shown = {"left": {attribute: int}, "right": {attribute: int}}``, ``preference_strength`` from -3
  (left much better) to +3 (right much better), and a justification where "@Response 1" is the left response and
  "@Response 2" the right one. ``annotation_submit`` maps all three back, so stored annotations are always in
  response_1 / response_2 terms (ratings ``{"1": ..., "2": ...}``, strength negative = response 1 better, mentions
  swapped in the justification). Callers holding data in response terms (simulated annotators, imports) convert
  with :func:`annotator.shown_terms.shown_from_response_terms` first.
* **Slots.** A comparison's slot is taken by an assignment that is submitted, returned (the annotator owes a
  revision), or reserved — even past ``reserved_until``: an expired reservation keeps its slot (and its owner may
  still submit or renew it) until another claimer reclaims it, which marks it ``expired``. Skipped and expired
  assignments hold no slot. A comparison needs ``project.overlap + comparison.extra_annotators`` slots taken;
  ``Comparison.slots_taken`` counts them, kept by database triggers for every writer (migration 0003).
* **Concurrency.** ``assignment_claim_next`` locks the annotator's membership row (one claim per annotator at a
  time), picks a candidate with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL and reads its ``slots_taken`` under that
  lock, then inserts. Every write that moves an assignment in or out of a slot (claim,
  reclaim, submit, skip) holds the comparison's row lock, so no comparison gets more annotators than it needs. On
  SQLite the settings open every transaction with ``BEGIN IMMEDIATE``, so writers are serialised and the same code
  stays correct. The locks, and the one order they are taken in, are :mod:`annotator.services.locks`.
* **One machinery.** Claim, reclaim, the comparison's lock, the status transitions and skip are
  :mod:`annotator.services.claims`, written once for comparisons and the task types' units; :data:`COMPARISONS`
  says what is the comparison's. This module keeps what only a comparison has: the ratings, the shown terms, the
  queue order, adaptive overlap, the agreement counts.
* **Statements.** What claim, submit and skip read on every call is plain SQL in :mod:`annotator.selectors.hot_path`
  (compiling querysets was half their cost); each filter or order there is one named rule, the rest stays here.
* **Adaptive overlap** (HelpSteer2, Wang et al. 2024, §2.2): once the first ``overlap`` annotations of a comparison
  are in, if the helpfulness ratings of either response spread (max - min) by more than
  ``project.adaptive_overlap_threshold``, the comparison asks for ``project.adaptive_overlap_extra`` more
  annotators.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from annotator.domain import HELPFULNESS, PREFERENCE_STRENGTH_TEXT, is_preference_strength
from annotator.error_codes import ErrorCode
from annotator.errors import Conflict
from annotator.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    Attribute,
    Comparison,
    Membership,
    Project,
    Role,
)
from annotator.selectors import hot_path
from annotator.selectors.annotation_edits import annotation_edit_refusal
from annotator.services import claims, locks
from annotator.services.agreement_counts import agreement_counts_refresh
from annotator.services.claims import BUSY_BACKOFF_S as _BUSY_BACKOFF_S  # read per claim: a test shortens it
from annotator.services.webhooks import comparison_completed_emit
from annotator.shown_terms import justification_swap_terms, response_from_shown_terms
from annotator.text import check_text, visible_length

ADAPTIVE_ATTRIBUTE = HELPFULNESS
_SIDES = ("left", "right")
# What is the comparison's in the claim machinery (annotator.services.claims).
COMPARISONS = claims.ClaimKind(
    reads=hot_path.COMPARISON_READS, locks=locks.COMPARISON_LOCKS, result=Annotation, noun="comparison"
)


@dataclass(frozen=True)
class SubmitResult:
    """The stored annotation and the warnings (not errors) the submission raised, as sentences."""

    annotation: Annotation
    warnings: tuple[str, ...] = ()


# --- helpers -------------------------------------------------------------------------------------------------------


def _check_owner(*, assignment: Assignment, annotator: User) -> None:
    """NotFound unless ``annotator`` owns ``assignment``; PermissionDenied unless they are still an annotator."""
    claims.owner_check(assignment=assignment, annotator=annotator)
    claims.member_check(
        is_member=Membership.objects.filter(
            project_id=assignment.comparison.project_id, user=annotator, role=Role.ANNOTATOR
        ).exists()
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- claim ---------------------------------------------------------------------------------------------------------


def _candidate_comparison(
    *, project: Project, annotator: User, tried: list[int], lock: bool = True
) -> tuple[int, int, int] | None:
    """(id, extra_annotators, slots_taken) of the comparison of ``project`` with a free slot that this annotator never
    had (nor tried), in the project's queue order (closest to completion, or most informative first); None when
    there is none.

    Free slots are ``overlap + extra_annotators - slots_taken``. Locked, passing over rows that other transactions
    hold (see :meth:`annotator.services.locks.UnitLocks.lock_next_candidate`); ``lock=False`` only looks.
    """
    return locks.COMPARISON_LOCKS.lock_next_candidate(
        project_id=project.pk,
        annotator_id=annotator.pk,
        slots_gt=-project.overlap,
        tried=tried,
        lock=lock,
        qualification_required=project.qualification_required,
        order=locks.CANDIDATE_ORDERS[project.queue_order],
    )


@transaction.atomic
def assignment_claim_next(*, project: Project, annotator: User, now: datetime | None = None) -> Assignment | None:
    """The annotator's unfinished assignment, or a newly reserved comparison; None when nothing is left for them.

    Order: an assignment a lead returned for revision, then the annotator's reservation (renewed if it expired:
    a reservation keeps its slot until another claimer reclaims it, which marks it expired), then a comparison
    holding someone else's expired reservation, then the comparison closest to completion (fewest free slots) among
    those that still need annotators (with ``project.queue_order`` informative: highest ``priority`` first); never
    one this annotator already had. Gold comparisons are ordinary candidates. Where the project has qualification
    sets, only comparisons whose prompt's domain and language the annotator is qualified for
    (``hot_path.qualification_filter``), never a qualification item. Raises PermissionDenied for a non-annotator,
    and NotQualified (400, naming the qualification sets to take) when nothing is left for them but work they are
    not qualified for. The machinery is :func:`annotator.services.claims.claim_next`.
    """
    return claims.claim_next(
        kind=COMPARISONS,
        project=project,
        annotator=annotator,
        now=now or timezone.now(),
        candidate=partial(_candidate_comparison, project=project, annotator=annotator),
        backoff=_BUSY_BACKOFF_S,
    )


# --- draft ---------------------------------------------------------------------------------------------------------


def _clean_draft(draft: Mapping[str, Any], attribute_names: set[str]) -> dict[str, Any]:
    """Keep only what the annotate form holds, in shown terms; drafts are never trusted beyond their shape."""
    cleaned: dict[str, Any] = {}
    for side in _SIDES:
        values = draft.get(side)
        if isinstance(values, Mapping):
            cleaned[side] = {k: v for k, v in values.items() if k in attribute_names and _is_int(v)}
    strength = draft.get("preference_strength")
    if is_preference_strength(strength):
        cleaned["preference_strength"] = strength
    justification = draft.get("justification")
    if isinstance(justification, str):
        cleaned["justification"] = check_text(justification, field="justification")[
            : settings.PREFSTACK_MAX_JUSTIFICATION_CHARS
        ]
    return cleaned | claims.draft_flags_and_seconds(draft)


@transaction.atomic
def assignment_draft_save(
    *, assignment: Assignment, annotator: User, draft: Mapping[str, Any], now: datetime | None = None
) -> Assignment:
    """Store the annotator's unfinished form (shown terms) on the assignment; a live reservation is extended.

    ``draft`` may hold ``left``/``right`` (attribute → int), ``preference_strength``, ``justification``, ``flags``
    and ``time_on_task_seconds``; anything else is dropped. A justification no database can store (NUL, lone
    surrogates: :func:`annotator.text.check_text`) is refused (ValidationFailed), never stored altered.
    """
    now = now or timezone.now()
    # Only the assignment's row is locked: a draft changes no slot.
    locked = locks.assignment_lock(pk=assignment.pk)
    _check_owner(assignment=locked, annotator=annotator)
    if locked.status not in (AssignmentStatus.RESERVED, AssignmentStatus.RETURNED):
        raise Conflict("This assignment is finished; its draft can no longer change.", code=ErrorCode.ASSIGNMENT_CLOSED)
    project = locked.comparison.project
    names = set(project.attributes.values_list("name", flat=True))
    return claims.draft_keep(assignment=locked, draft=_clean_draft(draft, names), project=project, now=now)


# --- submit --------------------------------------------------------------------------------------------------------


def _validate_ratings(
    ratings_shown: Mapping[str, Any], attributes: list[Attribute], errors: dict[str, str]
) -> dict[str, dict[str, int]]:
    cleaned: dict[str, dict[str, int]] = {}
    if not isinstance(ratings_shown, Mapping):
        errors["ratings"] = "Ratings must map left and right to attribute ratings."
        return cleaned
    names = {a.name for a in attributes}
    unknown_sides = sorted(str(key) for key in ratings_shown if key not in _SIDES)
    if unknown_sides:
        errors["ratings"] = f"Unknown ratings key {unknown_sides[0]!r}; ratings has only left and right."
    for side in _SIDES:
        given = ratings_shown.get(side)
        given = given if isinstance(given, Mapping) else {}
        unknown = sorted(set(given) - names)
        if unknown:
            errors[f"{side}.{unknown[0]}"] = f"{unknown[0]} is not an attribute of this project."
        cleaned[side] = {}
        label = "Response 1" if side == "left" else "Response 2"
        for attribute in attributes:
            key = f"{side}.{attribute.name}"
            value = given.get(attribute.name)
            if value is None:
                errors[key] = f"Rate {attribute.name} for {label}."
            elif not _is_int(value) or not attribute.scale_min <= value <= attribute.scale_max:
                errors[key] = f"{attribute.name} is a whole number from {attribute.scale_min} to {attribute.scale_max}."
            else:
                cleaned[side][attribute.name] = value
    return cleaned


def _contradiction_warning(ratings: dict[str, dict[str, int]], strength: int, attribute: str) -> str | None:
    """Shown terms: negative strength says the left response is better."""
    left, right = ratings.get("left", {}).get(attribute), ratings.get("right", {}).get(attribute)
    if left is None or right is None:
        return None
    if (strength < 0 and left < right) or (strength > 0 and left > right):
        better = "Response 1" if strength < 0 else "Response 2"
        return (
            f"You preferred {better} but rated its {attribute} lower ({min(left, right)} vs {max(left, right)}). "
            "Submitted as it is; check it if that was not intended."
        )
    return None


def _apply_adaptive_overlap(
    *, comparison_id: int, extra_annotators: int, project: Project, attributes: list[Attribute]
) -> None:
    """Run under the comparison's lock, after the submission's annotation is written."""
    if not project.adaptive_overlap_extra or extra_annotators:
        return
    names = [a.name for a in attributes]
    attribute = ADAPTIVE_ATTRIBUTE if ADAPTIVE_ATTRIBUTE in names else (names[0] if names else None)
    if attribute is None:
        return
    first = hot_path.annotation_ratings_first(comparison_id=comparison_id, limit=project.overlap)
    if len(first) < project.overlap:
        return
    for response in ("1", "2"):
        values = [r[response][attribute] for r in first if _is_int(r.get(response, {}).get(attribute))]
        if values and max(values) - min(values) > project.adaptive_overlap_threshold:
            Comparison.objects.filter(pk=comparison_id).update(extra_annotators=project.adaptive_overlap_extra)
            return


@dataclass(frozen=True)
class _CleanSubmission:
    """A submission that passed validation, still in shown terms."""

    ratings: dict[str, dict[str, int]]
    preference_strength: int
    justification: str
    flags: list[str]
    time_on_task_seconds: float | None


def _validate_submission(
    *,
    project: Project,
    attributes: list[Attribute],
    ratings_shown: Mapping[str, Mapping[str, Any]],
    preference_strength: int | None,
    justification: str,
    flags: Iterable[str],
    time_on_task_seconds: float | None,
) -> _CleanSubmission:
    """The submission's answers checked against the project; ValidationFailed naming every field in error."""
    errors: dict[str, str] = {}
    ratings = _validate_ratings(ratings_shown, attributes, errors)
    if preference_strength is None:
        errors["preference_strength"] = "Choose which response is better, and by how much."
    elif not is_preference_strength(preference_strength):
        errors["preference_strength"] = f"Preference strength is {PREFERENCE_STRENGTH_TEXT}."
    text = (justification or "").strip() if isinstance(justification, str) else ""
    if visible_length(text) < project.min_justification_length:  # zero-width characters do not count
        errors["justification"] = (
            f"Write at least {project.min_justification_length} characters, referring to @Response 1 and @Response 2."
        )
    elif len(text) > settings.PREFSTACK_MAX_JUSTIFICATION_CHARS:
        errors["justification"] = (
            f"Keep the justification under {settings.PREFSTACK_MAX_JUSTIFICATION_CHARS} characters."
        )
    clean_flags = claims.clean_flags(flags, errors)
    seconds = claims.check_seconds(time_on_task_seconds, errors)
    claims.refuse(errors, several="Some answers are missing or out of range.")
    assert preference_strength is not None  # checked above
    return _CleanSubmission(ratings, preference_strength, text, clean_flags, seconds)


def _submission_warnings(submission: _CleanSubmission, attributes: list[Attribute]) -> tuple[str, ...]:
    names = [a.name for a in attributes]
    check = ADAPTIVE_ATTRIBUTE if ADAPTIVE_ATTRIBUTE in names else (names[0] if names else "")
    warning = _contradiction_warning(submission.ratings, submission.preference_strength, check)
    return (warning,) if warning else ()


def _annotation_store(*, assignment: Assignment, annotator: User, submission: _CleanSubmission) -> Annotation:
    """Write the annotation by a person (no ``source``), mapped from shown to response terms."""
    swapped = assignment.swapped
    stored_ratings, stored_strength = response_from_shown_terms(
        swapped=swapped, ratings_shown=submission.ratings, preference_strength=submission.preference_strength
    )
    return Annotation.objects.create(
        assignment=assignment,
        comparison_id=assignment.comparison_id,
        annotator=annotator,
        ratings=stored_ratings,
        preference_strength=stored_strength,
        justification=justification_swap_terms(submission.justification, swapped=swapped),
        flags=submission.flags,
        time_on_task_seconds=submission.time_on_task_seconds,
    )


@transaction.atomic
def annotation_submit(
    *,
    assignment: Assignment,
    annotator: User,
    ratings_shown: Mapping[str, Mapping[str, Any]],
    preference_strength: int | None,
    justification: str,
    flags: Iterable[str] = (),
    time_on_task_seconds: float | None = None,
    now: datetime | None = None,
) -> SubmitResult:
    """Validate and store one annotation, in shown terms (see the module docstring), mapped to response terms.

    Refuses (ValidationFailed, ``extra["fields"]`` keyed ``left.<attribute>``, ``right.<attribute>``,
    ``preference_strength``, ``justification``, ``flags``, ``time_on_task_seconds``): a missing or out-of-scale
    rating, a strength outside -3...3, a justification shorter than ``project.min_justification_length``.
    Refuses (Conflict) a second submission, a skipped or expired assignment, and a reservation that ran out while
    its slot went to someone else; NotFound for another annotator's assignment; PermissionDenied for a non-member.
    Accepts a ``returned`` assignment (resubmission after a rejection): the previous annotation is superseded.
    Warns, without refusing, when the strength contradicts the helpfulness ratings. ``assignment`` (as the caller
    read it) is updated in place; if its status changed since, the submission is refused with nothing written.
    """
    if isinstance(justification, str):
        check_text(justification, field="justification")  # refused before any lock is taken
    now = now or timezone.now()
    extra_annotators = claims.unit_lock(kind=COMPARISONS, assignment=assignment, annotator=annotator)
    project = assignment.comparison.project  # the callers' selectors fetch it with the assignment
    claims.refuse_submission(kind=COMPARISONS, status=assignment.status)
    attributes = hot_path.attributes(project_id=project.pk)
    submission = _validate_submission(
        project=project,
        attributes=attributes,
        ratings_shown=ratings_shown,
        preference_strength=preference_strength,
        justification=justification,
        flags=flags,
        time_on_task_seconds=time_on_task_seconds,
    )
    claims.mark_submitted(kind=COMPARISONS, assignment=assignment, now=now)
    annotation = _annotation_store(assignment=assignment, annotator=annotator, submission=submission)
    _apply_adaptive_overlap(
        comparison_id=assignment.comparison_id,
        extra_annotators=extra_annotators,
        project=project,
        attributes=attributes,
    )
    agreement_counts_refresh(project=project, comparison_ids=[assignment.comparison_id])
    comparison_completed_emit(project=project, comparison_id=assignment.comparison_id)
    return SubmitResult(annotation=annotation, warnings=_submission_warnings(submission, attributes))


# --- skip ----------------------------------------------------------------------------------------------------------


@transaction.atomic
def assignment_skip(
    *,
    assignment: Assignment,
    annotator: User,
    reason: str,
    note: str = "",
    flags: Iterable[str] = (),
    now: datetime | None = None,
) -> Assignment:
    """Give a comparison back with a reason (and flags); its slot goes to another annotator.

    ``reason`` is a SkipReason value; "other" needs a note. A returned assignment may be skipped too: the rejected
    annotation stays as the lead left it. ``assignment`` is updated in place and returned. The machinery is
    :func:`annotator.services.claims.skip`; a refusal's message is its first field's.
    """
    was_returned = assignment.status == AssignmentStatus.RETURNED
    claims.skip(
        kind=COMPARISONS, assignment=assignment, annotator=annotator, reason=reason, note=note, flags=flags,
        now=now or timezone.now(), several=None,
    )  # fmt: skip
    if was_returned:  # one returned assignment fewer: the overview's progress counts them
        agreement_counts_refresh(project=assignment.comparison.project, comparison_ids=[assignment.comparison_id])
    return assignment


# --- edit the last submission --------------------------------------------------------------------------------------


@transaction.atomic
def annotation_revise(
    *,
    annotation: Annotation,
    annotator: User,
    ratings_shown: Mapping[str, Mapping[str, Any]],
    preference_strength: int | None,
    justification: str,
    flags: Iterable[str] = (),
    time_on_task_seconds: float | None = None,
) -> SubmitResult:
    """Edit the annotator's last submission (shown terms, as :func:`annotation_submit`) as a new annotation version.

    The previous version stays, with ``is_current=False``; the new one is current. Refused (Conflict, nothing
    written) unless :func:`annotation_edit_refusal` allows it: the annotator's own last submission, not reviewed,
    in no snapshot. ValidationFailed as :func:`annotation_submit`. The comparison's lock is held, then the
    annotation is read again, so two edits sent at once make two versions one after the other, never two current.
    """
    if isinstance(justification, str):
        check_text(justification, field="justification")  # refused before any lock is taken, as on submit
    assignment = annotation.assignment
    claims.unit_lock(kind=COMPARISONS, assignment=assignment, annotator=annotator)
    locked = (
        Annotation.objects.select_for_update().select_related("assignment", "comparison__project").get(pk=annotation.pk)
    )
    refusal = annotation_edit_refusal(annotation=locked, annotator=annotator)
    if refusal:
        raise Conflict(refusal, code=ErrorCode.ANNOTATION_NOT_EDITABLE)
    project = locked.comparison.project
    attributes = hot_path.attributes(project_id=project.pk)
    submission = _validate_submission(
        project=project,
        attributes=attributes,
        ratings_shown=ratings_shown,
        preference_strength=preference_strength,
        justification=justification,
        flags=flags,
        time_on_task_seconds=time_on_task_seconds,
    )
    Annotation.objects.filter(pk=locked.pk).update(is_current=False)
    revised = _annotation_store(assignment=locked.assignment, annotator=annotator, submission=submission)
    agreement_counts_refresh(project=project, comparison_ids=[locked.comparison_id])
    return SubmitResult(annotation=revised, warnings=_submission_warnings(submission, attributes))
