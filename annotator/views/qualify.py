"""Onboarding for annotator pools: the qualification sets of a project, and an attempt taken item by item.

After each answer the annotator sees the expected answer and the item's explanation (practice with feedback); the
last answer shows the result. Plain forms (the pages work without JavaScript); htmx swaps the item in place.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from annotator.domain import PREFERENCE_STRENGTH_LABELS
from annotator.errors import ApplicationError
from annotator.models import AttemptStatus, Project, QualificationAttempt, QualificationItem, Role
from annotator.selectors.projects import project_attribute_list
from annotator.selectors.qualification import (
    qualification_attempt_answered,
    qualification_attempt_get,
    qualification_items,
    qualification_set_get,
    qualification_standings,
)
from annotator.services.qualification import AnswerResult, qualification_answer_submit, qualification_attempt_start
from annotator.views import HtmxHttpRequest, access_project, render_page, request_user

LIST_PAGE = "annotator/qualify.html"
ATTEMPT_PAGE = "annotator/qualify_attempt.html"
ITEM_PARTIAL = "annotator/partials/_qualify_item.html"


@login_required
@require_http_methods(["GET"])
def qualify(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """The project's qualification sets with the annotator's standing in each, and a button to start or retry."""
    project = access_project(request, slug, {Role.ANNOTATOR})
    return _list(request, project)


def _list(request: HtmxHttpRequest, project: Project, *, error: str = "", status: int = 200) -> HttpResponse:
    standings = qualification_standings(project=project, annotator=request_user(request), now=timezone.now())
    context = {"project": project, "standings": standings, "error": error}
    return render_page(request, LIST_PAGE, LIST_PAGE, context, status=status)


@login_required
@require_http_methods(["POST"])
def qualify_start(request: HtmxHttpRequest, slug: str, set_id: int) -> HttpResponse:
    """Start (or continue) an attempt and go to its next item; a refusal (passed, cooling down, no attempt left)
    is shown in place on the list."""
    project = access_project(request, slug, {Role.ANNOTATOR})
    qualification_set = qualification_set_get(project=project, set_id=set_id)
    try:
        attempt = qualification_attempt_start(qualification_set=qualification_set, annotator=request_user(request))
    except ApplicationError as refused:
        return _list(request, project, error=refused.message, status=refused.status)
    return redirect(reverse("annotator:qualify_attempt", kwargs={"slug": slug, "attempt_id": attempt.pk}))


@login_required
@require_http_methods(["GET", "POST"])
def qualify_attempt(request: HtmxHttpRequest, slug: str, attempt_id: int) -> HttpResponse:
    """GET: the attempt's next unanswered item, or its result. POST: answer an item; the answer is checked and the
    expected answer with its explanation is shown (400 in place for an incomplete answer)."""
    project = access_project(request, slug, {Role.ANNOTATOR})
    user = request_user(request)
    attempt = qualification_attempt_get(project=project, attempt_id=attempt_id, annotator=user)
    items = qualification_items(qualification_set=attempt.qualification_set)
    if request.method == "POST":
        item = _item(items, request.POST.get("item"))
        if item is None:
            return _attempt_page(request, project, attempt, items, error="No such item in this set.", status=400)
        ratings, strength = _answer_from(request.POST)
        try:
            result = qualification_answer_submit(
                attempt=attempt, annotator=user, item_id=item.pk, ratings=ratings, preference_strength=strength
            )
        except ApplicationError as refused:
            fields = refused.extra.get("fields", {})
            return _attempt_page(
                request, project, attempt, items, item=item, error=refused.message, errors=fields, status=refused.status
            )
        return _attempt_page(request, project, result.attempt, items, item=item, feedback=result)
    return _attempt_page(request, project, attempt, items)


def _item(items: list[QualificationItem], raw: str | None) -> QualificationItem | None:
    return next((i for i in items if str(i.pk) == raw), None)


def _int_or_none(raw: str | None) -> int | None:
    try:
        return int(raw) if raw not in (None, "") else None  # type: ignore[arg-type]
    except ValueError:
        return None


def _answer_from(post: Any) -> tuple[dict[str, dict[str, int | None]], int | None]:
    """Ratings ``r1.<attribute>`` / ``r2.<attribute>`` and ``preference_strength`` from the form, in response terms."""
    ratings: dict[str, dict[str, int | None]] = {"1": {}, "2": {}}
    for name, value in post.items():
        side, _, attribute = name.partition(".")
        if side in ("r1", "r2") and attribute:
            ratings[side[1]][attribute] = _int_or_none(value)
    return ratings, _int_or_none(post.get("preference_strength"))


def _questions(project: Project, item: QualificationItem) -> list[dict[str, Any]]:
    """What the item asks: the ratings its gold answer gives (per response), then the preference strength."""
    gold = item.comparison.gold_ratings or {}
    attributes = {a.name: a for a in project_attribute_list(project=project)}
    questions: list[dict[str, Any]] = []
    for key in ("1", "2"):
        for name, expected in (gold.get(key) or {}).items():
            attribute = attributes.get(name)
            if attribute is not None:
                questions.append(
                    {
                        "name": f"r{key}.{name}",
                        "label": f"{name.capitalize()} of Response {key}",
                        "choices": attribute.levels,
                        "expected": expected,
                    }
                )
    if gold.get("strength") is not None:
        questions.append(
            {
                "name": "preference_strength",
                "label": "Which response is better?",
                "choices": list(PREFERENCE_STRENGTH_LABELS),
                "expected": gold["strength"],
            }
        )
    return questions


def _attempt_page(
    request: HtmxHttpRequest,
    project: Project,
    attempt: QualificationAttempt,
    items: list[QualificationItem],
    *,
    item: QualificationItem | None = None,
    feedback: AnswerResult | None = None,
    error: str = "",
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    answered = qualification_attempt_answered(attempt=attempt)
    if item is None and attempt.status == AttemptStatus.IN_PROGRESS:
        item = next((i for i in items if i.pk not in answered), None)
    given: dict[str, Any] = {}
    if feedback is not None:
        answer = feedback.answer
        for key, values in (answer.ratings or {}).items():
            for name, value in values.items():
                given[f"r{key}.{name}"] = value
        given["preference_strength"] = answer.preference_strength
    questions = _questions(project, item) if item is not None else []
    for question in questions:
        question["given"] = given.get(question["name"])
        question["error"] = (errors or {}).get(question["name"], "")
        question["label_of"] = dict(question["choices"])
    context = {
        "project": project,
        "attempt": attempt,
        "set": attempt.qualification_set,
        "item": item,
        "position": len(answered) + (0 if feedback else 1),
        "total": len(items),
        "questions": questions,
        "feedback": feedback,
        "finished": attempt.status != AttemptStatus.IN_PROGRESS,
        "passed": attempt.status == AttemptStatus.PASSED,
        "error": error,
    }
    return render_page(request, ATTEMPT_PAGE, ITEM_PARTIAL, context, status=status)
