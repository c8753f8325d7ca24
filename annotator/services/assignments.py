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
  with :func:`shown_from_response_terms` first.
* **Live assignments.** A comparison's slot is taken by an assignment that is submitted, returned (the annotator
  owes a revision), or reserved and not yet expired. A comparison needs ``project.overlap +
  comparison.extra_annotators`` live assignments; skipped and expired ones free their slot.
* **Concurrency.** ``assignment_claim_next`` locks the annotator's membership row (one claim per annotator at a
  time), picks a candidate with ``select_for_update(skip_locked=True)`` on PostgreSQL, recounts the live
  assignments under that lock, and inserts. Any write that adds a live assignment to a comparison holds the
  comparison's row lock, so no comparison gets more annotators than it needs. On SQLite the settings open every
  transaction with ``BEGIN IMMEDIATE``, so writers are serialised and the same code stays correct.
  Lock order is membership → comparison → assignment everywhere.
* **Adaptive overlap** (HelpSteer2, Wang et al. 2024, §2.2): once the first ``overlap`` annotations of a comparison
  are in, if the helpfulness ratings of either response spread (max - min) by more than
  ``project.adaptive_overlap_threshold``, the comparison asks for ``project.adaptive_overlap_extra`` more
  annotators.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Case, Count, F, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.db.models.query import QuerySet
from django.utils import timezone

from annotator.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from annotator.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    Attribute,
    Comparison,
    Flag,
    Membership,
    Project,
    Role,
    SkipReason,
)

ADAPTIVE_ATTRIBUTE = "helpfulness"
STRENGTH_MIN, STRENGTH_MAX = -3, 3
JUSTIFICATION_MAX_LENGTH = 20_000
SKIP_NOTE_MAX_LENGTH = 2_000
# A claim that keeps losing races to other claimers gives up after this many candidates (it then finds nothing).
_CLAIM_ATTEMPTS = 8
_SIDES = ("left", "right")


@dataclass(frozen=True)
class SubmitResult:
    """The stored annotation and the warnings (not errors) the submission raised, as sentences."""

    annotation: Annotation
    warnings: tuple[str, ...] = ()


# --- helpers -------------------------------------------------------------------------------------------------------


def _live_q(now: datetime) -> Q:
    return Q(status__in=[AssignmentStatus.SUBMITTED, AssignmentStatus.RETURNED]) | Q(
        status=AssignmentStatus.RESERVED, reserved_until__gte=now
    )


def _live_count(*, comparison_id: int, now: datetime, exclude_pk: int | None = None) -> int:
    qs = Assignment.objects.filter(_live_q(now), comparison_id=comparison_id)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.count()


def _lock_membership(*, project: Project, annotator: User) -> None:
    """Lock the annotator's membership row (serialises one annotator's claims); refuse non-annotators."""
    found = (
        Membership.objects.select_for_update()
        .filter(project=project, user=annotator, role=Role.ANNOTATOR)
        .values_list("pk", flat=True)
        .first()
    )
    if found is None:
        raise PermissionDenied(f"You are not an annotator in project {project.slug}.")


def _check_owner(*, assignment: Assignment, annotator: User) -> None:
    if assignment.annotator_id != annotator.pk:
        # Another annotator's work is not even acknowledged to exist (blind annotation).
        raise NotFound("No such assignment.")
    if not Membership.objects.filter(
        project_id=assignment.comparison.project_id, user=annotator, role=Role.ANNOTATOR
    ).exists():
        raise PermissionDenied("You are no longer an annotator in this project.")


def _reservation_end(*, project: Project, now: datetime) -> datetime:
    return now + timedelta(minutes=project.reservation_minutes)


def shown_from_response_terms(
    *, swapped: bool, ratings: Mapping[str, Mapping[str, int]], preference_strength: int
) -> tuple[dict[str, dict[str, int]], int]:
    """Convert ratings ``{"1": ..., "2": ...}`` and a strength in response terms to shown (left/right) terms.

    >>> shown_from_response_terms(swapped=True, ratings={"1": {"h": 4}, "2": {"h": 1}}, preference_strength=-2)
    ({'left': {'h': 1}, 'right': {'h': 4}}, 2)
    """
    first, second = ("2", "1") if swapped else ("1", "2")
    shown = {"left": dict(ratings[first]), "right": dict(ratings[second])}
    return shown, -preference_strength if swapped else preference_strength


_MENTION = re.compile(r"@Response\s*([12])\b", re.IGNORECASE)


def _justification_to_response_terms(text: str, *, swapped: bool) -> str:
    """Swap "@Response 1" and "@Response 2" when the responses were shown swapped."""
    if not swapped:
        return text
    return _MENTION.sub(lambda m: f"@Response {'2' if m.group(1) == '1' else '1'}", text)


def justification_to_shown_terms(text: str, *, swapped: bool) -> str:
    """The inverse of the mapping applied on submission (it is its own inverse)."""
    return _justification_to_response_terms(text, swapped=swapped)


def _clean_flags(flags: Iterable[object], errors: dict[str, str]) -> list[str]:
    allowed = set(Flag.values)
    cleaned: list[str] = []
    for flag in flags:
        if not isinstance(flag, str) or flag not in allowed:
            errors["flags"] = f"Unknown flag {flag!r}; choose from {', '.join(sorted(allowed))}."
            return []
        if flag not in cleaned:
            cleaned.append(flag)
    return cleaned


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- claim ---------------------------------------------------------------------------------------------------------


def _candidate_comparisons(*, project: Project, annotator: User, now: datetime) -> QuerySet[Comparison]:
    """Comparisons of ``project`` that still need annotators and this annotator never had, closest to completion first.

    Locked with SKIP LOCKED on PostgreSQL, so concurrent claimers spread over different comparisons. The live count
    comes from the statement's snapshot and may be stale by the time the lock is held; the caller recounts.
    """
    live = (
        Assignment.objects.filter(_live_q(now), comparison=OuterRef("pk"))
        .order_by()
        .values("comparison")
        .annotate(n=Count("pk"))
        .values("n")
    )
    mine = Assignment.objects.filter(annotator=annotator).values("comparison_id")
    return (
        Comparison.objects.filter(project=project)
        .exclude(pk__in=mine)
        .annotate(live=Coalesce(Subquery(live, output_field=IntegerField()), 0))
        .filter(live__lt=F("extra_annotators") + project.overlap)
        .order_by((F("extra_annotators") + project.overlap) - F("live"), "id")
        .select_for_update(skip_locked=True, of=("self",))
        .only("id", "extra_annotators")
    )


@transaction.atomic
def assignment_claim_next(*, project: Project, annotator: User, now: datetime | None = None) -> Assignment | None:
    """The annotator's unfinished assignment, or a newly reserved comparison; None when nothing is left for them.

    Order: an assignment a lead returned for revision, then the annotator's live reservation (an expired one is
    renewed when its slot is still free), then the comparison closest to completion (fewest free slots) among
    those that still need annotators and that this annotator has never had. Gold comparisons are ordinary
    candidates. Raises PermissionDenied for a non-annotator.
    """
    now = now or timezone.now()
    _lock_membership(project=project, annotator=annotator)

    own = (
        Assignment.objects.filter(
            annotator=annotator,
            comparison__project=project,
            status__in=[AssignmentStatus.RETURNED, AssignmentStatus.RESERVED],
        )
        .annotate(returned_first=Case(When(status=AssignmentStatus.RETURNED, then=Value(0)), default=Value(1)))
        .order_by("returned_first", "id")
        .first()
    )
    if own is not None:
        if own.status == AssignmentStatus.RETURNED or (own.reserved_until and own.reserved_until >= now):
            return own
        # Our own reservation expired: keep it (and its draft) if nobody took the slot meanwhile.
        reserved = Comparison.objects.select_for_update().get(pk=own.comparison_id)
        needed = project.overlap + reserved.extra_annotators
        if _live_count(comparison_id=reserved.pk, now=now, exclude_pk=own.pk) < needed:
            own.reserved_until = _reservation_end(project=project, now=now)
            own.save(update_fields=["reserved_until", "updated_at"])
            return own
        own.status = AssignmentStatus.EXPIRED
        own.save(update_fields=["status", "updated_at"])

    candidates = _candidate_comparisons(project=project, annotator=annotator, now=now)
    tried: list[int] = []
    for _ in range(_CLAIM_ATTEMPTS):
        comparison = candidates.exclude(pk__in=tried).first()
        if comparison is None:
            return None
        # The candidate query's count may predate a claim committed just before we took the lock: recount.
        if _live_count(comparison_id=comparison.pk, now=now) < project.overlap + comparison.extra_annotators:
            return Assignment.objects.create(
                comparison=comparison,
                annotator=annotator,
                status=AssignmentStatus.RESERVED,
                reserved_until=_reservation_end(project=project, now=now),
                swapped=random.random() < 0.5,
            )
        tried.append(comparison.pk)
    return None


# --- draft ---------------------------------------------------------------------------------------------------------


def _clean_draft(draft: Mapping[str, Any], attribute_names: set[str]) -> dict[str, Any]:
    """Keep only what the annotate form holds, in shown terms; drafts are never trusted beyond their shape."""
    cleaned: dict[str, Any] = {}
    for side in _SIDES:
        values = draft.get(side)
        if isinstance(values, Mapping):
            cleaned[side] = {k: v for k, v in values.items() if k in attribute_names and _is_int(v)}
    strength = draft.get("preference_strength")
    if isinstance(strength, int) and not isinstance(strength, bool) and STRENGTH_MIN <= strength <= STRENGTH_MAX:
        cleaned["preference_strength"] = strength
    justification = draft.get("justification")
    if isinstance(justification, str):
        cleaned["justification"] = justification[:JUSTIFICATION_MAX_LENGTH]
    flags = draft.get("flags")
    if isinstance(flags, list):
        cleaned["flags"] = [f for f in flags if isinstance(f, str) and f in Flag.values]
    seconds = draft.get("time_on_task_seconds")
    if isinstance(seconds, int | float) and not isinstance(seconds, bool) and math.isfinite(seconds) and seconds >= 0:
        cleaned["time_on_task_seconds"] = float(seconds)
    return cleaned


@transaction.atomic
def assignment_draft_save(
    *, assignment: Assignment, annotator: User, draft: Mapping[str, Any], now: datetime | None = None
) -> Assignment:
    """Store the annotator's unfinished form (shown terms) on the assignment; a live reservation is extended.

    ``draft`` may hold ``left``/``right`` (attribute → int), ``preference_strength``, ``justification``, ``flags``
    and ``time_on_task_seconds``; anything else is dropped.
    """
    now = now or timezone.now()
    locked = Assignment.objects.select_for_update().select_related("comparison__project").get(pk=assignment.pk)
    _check_owner(assignment=locked, annotator=annotator)
    if locked.status not in (AssignmentStatus.RESERVED, AssignmentStatus.RETURNED):
        raise Conflict("This assignment is finished; its draft can no longer change.", code="assignment_closed")
    project = locked.comparison.project
    names = set(project.attributes.values_list("name", flat=True))
    locked.draft = _clean_draft(draft, names)
    fields = ["draft", "updated_at"]
    if locked.status == AssignmentStatus.RESERVED and locked.reserved_until and locked.reserved_until >= now:
        locked.reserved_until = _reservation_end(project=project, now=now)
        fields.append("reserved_until")
    locked.save(update_fields=fields)
    return locked


# --- submit --------------------------------------------------------------------------------------------------------


def _validate_ratings(
    ratings_shown: Mapping[str, Any], attributes: list[Attribute], errors: dict[str, str]
) -> dict[str, dict[str, int]]:
    cleaned: dict[str, dict[str, int]] = {}
    if not isinstance(ratings_shown, Mapping):
        errors["ratings"] = "Ratings must map left and right to attribute ratings."
        return cleaned
    names = {a.name for a in attributes}
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


def _apply_adaptive_overlap(*, comparison: Comparison, project: Project, attributes: list[Attribute]) -> None:
    if not project.adaptive_overlap_extra or comparison.extra_annotators:
        return
    names = [a.name for a in attributes]
    attribute = ADAPTIVE_ATTRIBUTE if ADAPTIVE_ATTRIBUTE in names else (names[0] if names else None)
    if attribute is None:
        return
    first = list(
        Annotation.objects.filter(comparison=comparison, is_current=True, source="")
        .order_by("id")
        .values_list("ratings", flat=True)[: project.overlap]
    )
    if len(first) < project.overlap:
        return
    for response in ("1", "2"):
        values = [r[response][attribute] for r in first if _is_int(r.get(response, {}).get(attribute))]
        if values and max(values) - min(values) > project.adaptive_overlap_threshold:
            comparison.extra_annotators = project.adaptive_overlap_extra
            comparison.save(update_fields=["extra_annotators"])
            return


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
    Warns, without refusing, when the strength contradicts the helpfulness ratings.
    """
    now = now or timezone.now()
    comparison = Comparison.objects.select_for_update().select_related("project").get(pk=assignment.comparison_id)
    locked = Assignment.objects.select_for_update().get(pk=assignment.pk)
    locked.comparison = comparison
    project = comparison.project
    _check_owner(assignment=locked, annotator=annotator)

    if locked.status == AssignmentStatus.SUBMITTED:
        raise Conflict("You already submitted this comparison.", code="already_submitted")
    if locked.status in (AssignmentStatus.SKIPPED, AssignmentStatus.EXPIRED):
        raise Conflict(f"This assignment is {locked.status}; it can no longer be submitted.", code="assignment_closed")
    if locked.status == AssignmentStatus.RESERVED and (locked.reserved_until is None or locked.reserved_until < now):
        needed = project.overlap + comparison.extra_annotators
        if _live_count(comparison_id=comparison.pk, now=now, exclude_pk=locked.pk) >= needed:
            raise Conflict(
                "Your reservation expired and the comparison went to another annotator.", code="reservation_expired"
            )

    attributes = list(project.attributes.all())
    errors: dict[str, str] = {}
    ratings = _validate_ratings(ratings_shown, attributes, errors)
    if preference_strength is None:
        errors["preference_strength"] = "Choose which response is better, and by how much."
    elif not _is_int(preference_strength) or not STRENGTH_MIN <= preference_strength <= STRENGTH_MAX:
        errors["preference_strength"] = "Preference strength is a whole number from -3 to 3."
    text = (justification or "").strip() if isinstance(justification, str) else ""
    if len(text) < project.min_justification_length:
        errors["justification"] = (
            f"Write at least {project.min_justification_length} characters, referring to @Response 1 and @Response 2."
        )
    elif len(text) > JUSTIFICATION_MAX_LENGTH:
        errors["justification"] = f"Keep the justification under {JUSTIFICATION_MAX_LENGTH} characters."
    clean_flags = _clean_flags(flags, errors)
    if time_on_task_seconds is not None and (
        not isinstance(time_on_task_seconds, int | float)
        or not math.isfinite(time_on_task_seconds)
        or time_on_task_seconds < 0
    ):
        errors["time_on_task_seconds"] = "Time on task is a non-negative number of seconds."
    if errors:
        raise ValidationFailed(
            "Some answers are missing or out of range." if len(errors) > 1 else next(iter(errors.values())),
            extra={"fields": errors},
        )
    assert preference_strength is not None  # checked above

    warnings: list[str] = []
    names = [a.name for a in attributes]
    check = ADAPTIVE_ATTRIBUTE if ADAPTIVE_ATTRIBUTE in names else (names[0] if names else "")
    warning = _contradiction_warning(ratings, preference_strength, check)
    if warning:
        warnings.append(warning)

    swapped = locked.swapped
    stored_ratings = (
        {"1": ratings["right"], "2": ratings["left"]} if swapped else {"1": ratings["left"], "2": ratings["right"]}
    )
    if locked.status == AssignmentStatus.RETURNED:
        Annotation.objects.filter(assignment=locked, is_current=True).update(is_current=False)
    annotation = Annotation.objects.create(
        assignment=locked,
        comparison=comparison,
        annotator=annotator,
        ratings=stored_ratings,
        preference_strength=-preference_strength if swapped else preference_strength,
        justification=_justification_to_response_terms(text, swapped=swapped),
        flags=clean_flags,
        time_on_task_seconds=float(time_on_task_seconds) if time_on_task_seconds is not None else None,
    )
    locked.status = AssignmentStatus.SUBMITTED
    locked.draft = {}
    locked.save(update_fields=["status", "draft", "updated_at"])
    _apply_adaptive_overlap(comparison=comparison, project=project, attributes=attributes)
    return SubmitResult(annotation=annotation, warnings=tuple(warnings))


# --- skip ----------------------------------------------------------------------------------------------------------


@transaction.atomic
def assignment_skip(
    *,
    assignment: Assignment,
    annotator: User,
    reason: str,
    note: str = "",
    flags: Iterable[str] = (),
) -> Assignment:
    """Give a comparison back with a reason (and flags); its slot goes to another annotator.

    ``reason`` is a SkipReason value; "other" needs a note. A returned assignment may be skipped too: the rejected
    annotation stays as the lead left it.
    """
    locked = Assignment.objects.select_for_update().select_related("comparison").get(pk=assignment.pk)
    _check_owner(assignment=locked, annotator=annotator)
    if locked.status not in (AssignmentStatus.RESERVED, AssignmentStatus.RETURNED):
        raise Conflict(f"This assignment is {locked.status}; it can no longer be skipped.", code="assignment_closed")
    errors: dict[str, str] = {}
    if reason not in SkipReason.values:
        errors["reason"] = "Choose a reason for skipping."
    note = (note or "").strip()
    if reason == SkipReason.OTHER and not note:
        errors["note"] = "Say why in a note when the reason is “other”."
    if len(note) > SKIP_NOTE_MAX_LENGTH:
        errors["note"] = f"Keep the note under {SKIP_NOTE_MAX_LENGTH} characters."
    clean_flags = _clean_flags(flags, errors)
    if errors:
        raise ValidationFailed(next(iter(errors.values())), extra={"fields": errors})
    locked.status = AssignmentStatus.SKIPPED
    locked.skip_reason = reason
    locked.skip_note = note
    locked.flags = clean_flags
    locked.save(update_fields=["status", "skip_reason", "skip_note", "flags", "updated_at"])
    return locked
