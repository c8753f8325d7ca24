"""The annotate page: one comparison at a time, keyboard-driven, next comparison without a page reload.

``GET /p/<slug>/annotate/`` only reads: it shows the annotator's unfinished assignment (returned for revision, or a
live reservation), else a button. Claiming writes, so it is ``POST /p/<slug>/annotate/`` (that button; CSRF-checked,
so another site cannot make a visitor claim), idempotent like the service: the unfinished assignment comes back
first. The form posts to ``/a/<id>/submit/``, ``/a/<id>/skip/`` or ``/a/<id>/draft/``. With htmx each
answers the workspace partial that the page itself includes (the next comparison, or the same one with errors next
to the fields and the input kept); without JS each is an ordinary form post answered with a redirect or the full
page. Everything shown is in *shown* terms (left = "Response 1"); the services map it back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from annotator.errors import Conflict, ValidationFailed
from annotator.models import Assignment, AssignmentStatus, Flag, Project, Role, SkipReason, TaskType
from annotator.selectors.annotation_edits import annotation_edit_refusal, annotation_get_own_current
from annotator.selectors.assignments import (
    STRENGTH_CHOICES,
    Workspace,
    annotation_edit_values,
    annotation_history_for_annotator,
    annotator_progress,
    assignment_get_for_annotator,
    assignment_unfinished_for_annotator,
    assignment_workspace,
)
from annotator.services.assignments import (
    annotation_revise,
    annotation_submit,
    assignment_claim_next,
    assignment_draft_save,
    assignment_skip,
)
from annotator.services.qualification import NotQualified
from annotator.views import HtmxHttpRequest, access_project, request_user

PAGE = "annotator/annotate.html"
HISTORY_PAGE = "annotator/annotate_history.html"
PARTIAL = "annotator/partials/_workspace.html"
# Keys the annotate form understands; shortcuts are documented on the page from this list.
SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("0-4", "rate the focused attribute, then move on"),
    ("1-7", "preference strength (1 = Response 1 much better … 7 = Response 2 much better)"),
    ("Tab / Shift+Tab", "next / previous question"),
    ("← →", "change the focused choice"),
    ("J", "write the justification"),
    ("Esc", "leave the text box"),
    ("Ctrl+Enter", "submit"),
    ("S", "skip with a reason"),
    ("G", "show or hide the guidelines"),
)


def _annotator_project(request: HtmxHttpRequest, slug: str) -> Project:
    return access_project(request, slug, {Role.ANNOTATOR})


def _own_assignment(request: HtmxHttpRequest, assignment_id: int) -> Assignment:
    return assignment_get_for_annotator(assignment_id=assignment_id, user=request_user(request))


# --- form parsing (shown terms) -------------------------------------------------------------------------------


def _int_or_raw(raw: str | None) -> int | str | None:
    """A whole number when the text is one; the text itself otherwise, so the service names what is wrong."""
    if raw is None or raw.strip() == "":
        return None
    try:
        return int(raw.strip())
    except ValueError:
        return raw


def _seconds(raw: str | None) -> float | None:
    """The number sent, even NaN, negative or huge (the service refuses those); NaN for text that is no number."""
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        return math.nan


@dataclass(frozen=True)
class SubmittedForm:
    ratings_shown: dict[str, dict[str, Any]]
    preference_strength: Any
    justification: str
    flags: list[str]
    time_on_task_seconds: float | None

    def as_values(self) -> dict[str, Any]:
        """The same answers in the shape of a draft, to show them again."""
        return {
            **{side: {k: v for k, v in r.items() if v is not None} for side, r in self.ratings_shown.items()},
            "preference_strength": self.preference_strength,
            "justification": self.justification,
            "flags": self.flags,
            "time_on_task_seconds": self.time_on_task_seconds,
        }


def _parse(post: QueryDict) -> SubmittedForm:
    ratings: dict[str, dict[str, Any]] = {"left": {}, "right": {}}
    for key in post:  # every left.<name> / right.<name>: an unknown attribute is refused, not ignored
        side, dot, name = key.partition(".")
        value = _int_or_raw(post.get(key))
        if dot and side in ratings and value is not None:
            ratings[side][name] = value
    return SubmittedForm(
        ratings_shown=ratings,
        preference_strength=_int_or_raw(post.get("preference_strength")),
        justification=post.get("justification", ""),
        flags=post.getlist("flags"),
        time_on_task_seconds=_seconds(post.get("time_on_task_seconds")),
    )


# --- rendering ------------------------------------------------------------------------------------------------


def _side(ws: Workspace, key: str, label: str, errors: dict[str, str]) -> dict[str, Any]:
    given = ws.values.get(key)
    if not isinstance(given, dict):
        given = {}
    rows = [
        {
            "attribute": a,
            "name": f"{key}.{a.name}",
            "value": given.get(a.name),
            "error": errors.get(f"{key}.{a.name}", ""),
        }
        for a in ws.attributes
    ]
    return {"key": key, "label": label, "response": ws.left if key == "left" else ws.right, "rows": rows}


def _context(
    request: HtmxHttpRequest,
    project: Project,
    assignment: Assignment | None,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    error_message: str = "",
    notices: list[str] | None = None,
    skip_open: bool = False,
    nothing_left: bool = False,
    not_qualified: str = "",
) -> dict[str, Any]:
    errors = errors or {}
    context: dict[str, Any] = {
        "project": project,
        "assignment": assignment,
        "nothing_left": nothing_left,
        "not_qualified": not_qualified,
        "progress": annotator_progress(project=project, annotator=request_user(request)),
        "notices": notices or [],
        "shortcuts": SHORTCUTS,
        "errors": errors,
        "error_message": error_message,
    }
    if assignment is None:
        return context
    ws = assignment_workspace(assignment=assignment)
    if values is not None:
        ws = Workspace(**{**ws.__dict__, "values": values})
    context.update(
        ws=ws,
        sides=[_side(ws, "left", "Response 1", errors), _side(ws, "right", "Response 2", errors)],
        strength_choices=[(i + 1, value, label) for i, (value, label) in enumerate(STRENGTH_CHOICES)],
        flag_choices=Flag.choices,
        skip_reasons=SkipReason.choices,
        skip_open=skip_open or any(k in errors for k in ("reason", "note")),
        is_returned=assignment.status == AssignmentStatus.RETURNED,
        time_on_task=ws.values.get("time_on_task_seconds") or 0,
    )
    return context


def _respond(request: HtmxHttpRequest, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
    """The full page, or for htmx the workspace partial (always 200, so htmx swaps it in)."""
    if request.htmx:
        return render(request, PARTIAL, context)
    return render(request, PAGE, context, status=status)


def _claim(request: HtmxHttpRequest, project: Project) -> Assignment | None:
    return assignment_claim_next(project=project, annotator=request_user(request))


def _next(request: HtmxHttpRequest, project: Project, notices: list[str]) -> HttpResponse:
    """After a claim, submit or skip (all POSTs): the next comparison is claimed; htmx gets it in place, a plain post
    is redirected to the page that shows it (or says that nothing is left, or which qualification the work left
    needs: 400 in place, with a link to the qualification page)."""
    try:
        assignment = _claim(request, project)
    except NotQualified as refused:
        context = _context(request, project, None, notices=notices, not_qualified=refused.message)
        return _respond(request, context, status=refused.status)
    if not request.htmx:
        for notice in notices:
            messages.info(request, notice)
        if assignment is None:
            return _respond(request, _context(request, project, None, nothing_left=True))
        return redirect(reverse("annotator:annotate", kwargs={"slug": project.slug}), permanent=False)
    return _respond(request, _context(request, project, assignment, notices=notices, nothing_left=assignment is None))


# --- views ----------------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def annotate(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """GET: the annotator's unfinished comparison, or a button to start. POST: claim the next comparison."""
    project = _annotator_project(request, slug)
    if project.task_type != TaskType.COMPARISON:  # feedback, edit and edit-quality tasks have their own page
        return redirect(reverse("annotator:task", kwargs={"slug": project.slug}))
    if request.method == "POST":
        return _next(request, project, [])
    assignment = assignment_unfinished_for_annotator(project=project, annotator=request_user(request))
    return _respond(request, _context(request, project, assignment))


@login_required
@require_POST
def annotate_submit(request: HtmxHttpRequest, assignment_id: int) -> HttpResponse:
    assignment = _own_assignment(request, assignment_id)
    project = assignment.comparison.project
    form = _parse(request.POST)
    try:
        result = annotation_submit(
            assignment=assignment,
            annotator=request_user(request),
            ratings_shown=form.ratings_shown,
            preference_strength=form.preference_strength,
            justification=form.justification,
            flags=form.flags,
            time_on_task_seconds=form.time_on_task_seconds,
        )
    except ValidationFailed as exc:
        context = _context(
            request,
            project,
            assignment,
            values=form.as_values(),
            errors=exc.extra.get("fields", {}),
            error_message=exc.message,
        )
        return _respond(request, context, status=422)
    except Conflict as exc:
        return _next(request, project, [exc.message])
    return _next(request, project, ["Submitted.", *result.warnings])


@login_required
@require_POST
def annotate_skip(request: HtmxHttpRequest, assignment_id: int) -> HttpResponse:
    assignment = _own_assignment(request, assignment_id)
    project = assignment.comparison.project
    try:
        assignment_skip(
            assignment=assignment,
            annotator=request_user(request),
            reason=request.POST.get("reason", ""),
            note=request.POST.get("note", ""),
            flags=request.POST.getlist("flags"),
        )
    except ValidationFailed as exc:
        values = dict(assignment.draft or {})
        context = _context(
            request,
            project,
            assignment,
            values=values,
            errors=exc.extra.get("fields", {}),
            error_message=exc.message,
            skip_open=True,
        )
        context.update(skip_reason=request.POST.get("reason", ""), skip_note=request.POST.get("note", ""))
        return _respond(request, context, status=422)
    except Conflict as exc:
        return _next(request, project, [exc.message])
    return _next(request, project, ["Skipped."])


@login_required
@require_POST
def annotate_draft(request: HtmxHttpRequest, assignment_id: int) -> HttpResponse:
    """Keep the unfinished form. Script (autosave, sendBeacon on leaving) gets 204; a plain post a redirect back."""
    assignment = _own_assignment(request, assignment_id)
    project = assignment.comparison.project
    form = _parse(request.POST)
    draft = form.as_values()
    try:
        assignment_draft_save(assignment=assignment, annotator=request_user(request), draft=draft)
    except ValidationFailed as exc:  # text no database can store: nothing saved, the reason shown
        if request.htmx or request.headers.get("X-Requested-With"):
            return HttpResponse(exc.message, status=400, content_type="text/plain")
        context = _context(request, project, assignment, values=draft, error_message=exc.message)
        return render(request, PAGE, context, status=400)
    except Conflict as exc:
        if request.htmx or request.headers.get("X-Requested-With"):
            return HttpResponse(exc.message, status=409, content_type="text/plain")
        messages.info(request, exc.message)
        return redirect(reverse("annotator:annotate", kwargs={"slug": project.slug}))
    if request.htmx or request.headers.get("X-Requested-With"):
        return HttpResponse(status=204)
    messages.info(request, "Draft saved.")
    return redirect(reverse("annotator:annotate", kwargs={"slug": project.slug}))


# --- the annotator's own history, and editing their last submission ------------------------------------------


@login_required
@require_http_methods(["GET"])
def annotate_history(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """The annotator's recent submissions in the project, newest first; the last one can be edited while allowed."""
    project = _annotator_project(request, slug)
    user = request_user(request)
    context = {
        "project": project,
        "progress": annotator_progress(project=project, annotator=user),
        "entries": annotation_history_for_annotator(project=project, annotator=user),
    }
    return render(request, HISTORY_PAGE, context)


@login_required
@require_http_methods(["GET", "POST"])
def annotate_edit(request: HtmxHttpRequest, annotation_id: int) -> HttpResponse:
    """GET: the last submission in the annotate form. POST: save the edit as a new version (a plain form post)."""
    annotation = annotation_get_own_current(annotation_id=annotation_id, annotator=request_user(request))
    assignment = annotation.assignment
    project = assignment.comparison.project
    history = reverse("annotator:annotate_history", kwargs={"slug": project.slug})
    values: dict[str, Any] = annotation_edit_values(annotation=annotation)
    values["time_on_task_seconds"] = annotation.time_on_task_seconds or 0
    errors: dict[str, str] = {}
    error_message = ""
    status = 200
    refusal = annotation_edit_refusal(annotation=annotation, annotator=request_user(request))
    if request.method == "GET" and refusal:
        messages.error(request, refusal)
        return redirect(history)
    if request.method == "POST":
        form = _parse(request.POST)
        try:
            result = annotation_revise(
                annotation=annotation,
                annotator=request_user(request),
                ratings_shown=form.ratings_shown,
                preference_strength=form.preference_strength,
                justification=form.justification,
                flags=form.flags,
                time_on_task_seconds=form.time_on_task_seconds,
            )
        except ValidationFailed as exc:
            values, errors, error_message, status = form.as_values(), exc.extra.get("fields", {}), exc.message, 422
        except Conflict as exc:
            messages.error(request, exc.message)
            return redirect(history)
        else:
            for text in ("Your edit was saved.", *result.warnings):
                messages.info(request, text)
            return redirect(history)
    context = _context(request, project, assignment, values=values, errors=errors, error_message=error_message)
    context.update(editing=annotation, is_returned=False)
    return render(request, PAGE, context, status=status)
