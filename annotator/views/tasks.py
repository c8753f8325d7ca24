"""The feedback, edit and edit-quality pages (docs/task-types.md): one task at a time, keyboard-driven, the next one
without a page reload; and the htmx "check as you type" of a feedback.

Like the annotate page: ``GET /p/<slug>/tasks/`` only reads (the unfinished assignment, else a button), ``POST``
claims; the forms post to ``/t/<id>/submit/``, ``/t/<id>/skip/`` and ``/t/<id>/draft/``. With htmx each answers the
workspace partial the page includes (a refused submission comes back with every text in place and the reasons next
to the fields); without JS, plain form posts.
"""

from __future__ import annotations

import math
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from annotator.errors import Conflict, ValidationFailed
from annotator.feedback_rules import OPENING_TEXT, check_feedback
from annotator.models import AssignmentStatus, Flag, Project, Role, SkipReason, TaskAssignment, TaskResult, TaskType
from annotator.selectors.task_units import (
    task_assignment_get_for_annotator,
    task_assignment_unfinished_for_annotator,
    task_progress,
    task_workspace,
)
from annotator.services.edit_quality import edit_choice_submit
from annotator.services.edits import edit_submit
from annotator.services.feedback import FEEDBACK_FIELDS, feedback_rules_of, feedback_submit
from annotator.services.qualification import NotQualified
from annotator.services.task_units import task_claim_next, task_draft_save, task_skip
from annotator.text_diff import word_diff
from annotator.views import HtmxHttpRequest, access_project, request_user

PAGE = "annotator/task.html"
PARTIAL = "annotator/partials/_task_workspace.html"
CHECK_PARTIAL = "annotator/partials/_feedback_check.html"
DIFF_PARTIAL = "annotator/partials/_edit_diff.html"
SHORTCUTS: dict[str, tuple[tuple[str, str], ...]] = {
    TaskType.FEEDBACK: (
        ("1 / 2", "write the feedback on Response 1 / Response 2"),
        ("Esc", "leave the text box"),
        ("Ctrl+Enter", "submit"),
        ("S", "skip with a reason"),
        ("G", "show or hide the guidelines"),
    ),
    TaskType.EDIT: (
        ("E", "write the edited response"),
        ("C", "write the change summary"),
        ("Esc", "leave the text box"),
        ("Ctrl+Enter", "submit"),
        ("S", "skip with a reason"),
        ("G", "show or hide the guidelines"),
    ),
    TaskType.EDIT_QUALITY: (
        ("1 / 2", "choose Edit 1 / Edit 2"),
        ("Ctrl+Enter", "submit"),
        ("S", "skip with a reason"),
        ("G", "show or hide the guidelines"),
    ),
}
SUBMIT_FIELDS: dict[str, tuple[str, ...]] = {
    TaskType.FEEDBACK: FEEDBACK_FIELDS,
    TaskType.EDIT: ("text", "change_summary"),
    TaskType.EDIT_QUALITY: ("choice",),
}


def _seconds(raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        return math.nan


def _values(task_type: str, post: QueryDict) -> dict[str, Any]:
    """The form's answers, in the shape of a draft (to show them again, or keep them)."""
    values: dict[str, Any] = {
        "flags": post.getlist("flags"),
        "time_on_task_seconds": _seconds(post.get("time_on_task_seconds")),
    }
    for field in SUBMIT_FIELDS[task_type]:
        raw = post.get(field, "")
        if field == "choice":
            values[field] = int(raw) if raw.strip().isdigit() else (raw or None)
        else:
            values[field] = raw
    return values


def _feedback_checks(project: Project, values: dict[str, Any]) -> dict[str, Any]:
    rules = feedback_rules_of(project)
    return {field: check_feedback(str(values.get(field) or ""), rules) for field in FEEDBACK_FIELDS}


def _context(
    request: HtmxHttpRequest,
    project: Project,
    assignment: TaskAssignment | None,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    error_message: str = "",
    notices: list[str] | None = None,
    nothing_left: bool = False,
    not_qualified: str = "",
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "project": project,
        "assignment": assignment,
        "nothing_left": nothing_left,
        "not_qualified": not_qualified,
        "progress": task_progress(project=project, annotator=request_user(request)),
        "notices": notices or [],
        "shortcuts": SHORTCUTS.get(project.task_type, ()),
        "errors": errors or {},
        "error_message": error_message,
        "flag_choices": Flag.choices,
        "skip_reasons": SkipReason.choices,
    }
    if assignment is None:
        return context
    ws = task_workspace(assignment=assignment)
    shown = values if values is not None else ws.values
    context.update(
        ws=ws,
        values=shown,
        is_returned=assignment.status == AssignmentStatus.RETURNED,
        time_on_task=shown.get("time_on_task_seconds") or 0,
        opening=OPENING_TEXT,
        rules=feedback_rules_of(project),
    )
    if project.task_type == TaskType.FEEDBACK:
        context["responses"] = [
            {"field": "feedback_1", "label": "Response 1", "text": ws.response_1, "key": "1"},
            {"field": "feedback_2", "label": "Response 2", "text": ws.response_2, "key": "2"},
        ]
        context["checks"] = _feedback_checks(project, shown) if values is not None else {}
    if project.task_type == TaskType.EDIT and shown.get("text"):
        context["diff"] = word_diff(ws.response_1, str(shown["text"]))
    if project.task_type == TaskType.EDIT_QUALITY:
        context["edits"] = [
            {"shown": i + 1, "text": text, "diff": word_diff(ws.response_1, text)} for i, text in enumerate(ws.edits)
        ]
    return context


def _respond(request: HtmxHttpRequest, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
    if request.htmx:
        return render(request, PARTIAL, context)
    return render(request, PAGE, context, status=status)


def _next(request: HtmxHttpRequest, project: Project, notices: list[str]) -> HttpResponse:
    """After a claim, submit or skip (all POSTs), as on the annotate page: the next task, in place for htmx, else a
    redirect to the page that shows it; or that nothing is left; or which qualification the work left needs (in
    place, with a link to the qualification page; 400 for a plain post, as the annotate page answers)."""
    try:
        assignment = task_claim_next(project=project, annotator=request_user(request))
    except NotQualified as refused:
        context = _context(request, project, None, notices=notices, not_qualified=refused.message)
        return _respond(request, context, status=refused.status)
    if not request.htmx:
        for notice in notices:
            messages.info(request, notice)
        if assignment is None:
            return _respond(request, _context(request, project, None, nothing_left=True))
        return redirect(reverse("annotator:task", kwargs={"slug": project.slug}))
    return _respond(request, _context(request, project, assignment, notices=notices, nothing_left=assignment is None))


def _submit(assignment: TaskAssignment, request: HtmxHttpRequest, values: dict[str, Any]) -> TaskResult:
    """The task type's own service, with the form's answers."""
    common = {
        "assignment": assignment,
        "annotator": request_user(request),
        "flags": values["flags"],
        "time_on_task_seconds": values["time_on_task_seconds"],
    }
    task_type = assignment.unit.task_type
    if task_type == TaskType.FEEDBACK:
        return feedback_submit(**common, feedback_1=values["feedback_1"], feedback_2=values["feedback_2"])
    if task_type == TaskType.EDIT:
        return edit_submit(**common, text=values["text"], change_summary=values["change_summary"])
    return edit_choice_submit(**common, choice=values["choice"])


# --- views -----------------------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def task(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """GET: the annotator's unfinished task, or a button to start. POST: claim the next task."""
    project = access_project(request, slug, {Role.ANNOTATOR})
    if project.task_type == TaskType.COMPARISON:
        return redirect(reverse("annotator:annotate", kwargs={"slug": project.slug}))
    if request.method == "POST":
        return _next(request, project, [])
    assignment = task_assignment_unfinished_for_annotator(project=project, annotator=request_user(request))
    return _respond(request, _context(request, project, assignment))


@login_required
@require_POST
def task_submit(request: HtmxHttpRequest, assignment_id: int) -> HttpResponse:
    assignment = task_assignment_get_for_annotator(assignment_id=assignment_id, user=request_user(request))
    project = assignment.unit.project
    values = _values(assignment.unit.task_type, request.POST)
    try:
        _submit(assignment, request, values)
    except ValidationFailed as exc:
        context = _context(
            request, project, assignment, values=values, errors=exc.extra.get("fields", {}), error_message=exc.message
        )
        return _respond(request, context, status=422)
    except Conflict as exc:
        return _next(request, project, [exc.message])
    return _next(request, project, ["Submitted."])


@login_required
@require_POST
def task_skip_view(request: HtmxHttpRequest, assignment_id: int) -> HttpResponse:
    assignment = task_assignment_get_for_annotator(assignment_id=assignment_id, user=request_user(request))
    project = assignment.unit.project
    try:
        task_skip(
            assignment=assignment,
            annotator=request_user(request),
            reason=request.POST.get("reason", ""),
            note=request.POST.get("note", ""),
            flags=request.POST.getlist("flags"),
        )
    except ValidationFailed as exc:
        context = _context(request, project, assignment, errors=exc.extra.get("fields", {}), error_message=exc.message)
        context.update(
            skip_open=True, skip_reason=request.POST.get("reason", ""), skip_note=request.POST.get("note", "")
        )
        return _respond(request, context, status=422)
    except Conflict as exc:
        return _next(request, project, [exc.message])
    return _next(request, project, ["Skipped."])


@login_required
@require_POST
def task_draft(request: HtmxHttpRequest, assignment_id: int) -> HttpResponse:
    """Keep the unfinished form: 204 for script, a redirect back for a plain post."""
    assignment = task_assignment_get_for_annotator(assignment_id=assignment_id, user=request_user(request))
    project = assignment.unit.project
    scripted = bool(request.htmx or request.headers.get("X-Requested-With"))
    try:
        task_draft_save(
            assignment=assignment,
            annotator=request_user(request),
            draft=_values(assignment.unit.task_type, request.POST),
        )
    except (ValidationFailed, Conflict) as exc:
        if scripted:
            return HttpResponse(exc.message, status=exc.status, content_type="text/plain")
        messages.error(request, exc.message)
    else:
        if scripted:
            return HttpResponse(status=204)
        messages.info(request, "Draft saved.")
    return redirect(reverse("annotator:task", kwargs={"slug": project.slug}))


@login_required
@require_POST
def task_feedback_check(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """The rules check of one feedback as the annotator types (htmx): the same checker as the submission.

    ``field`` names the feedback (feedback_1 / feedback_2), its text is posted under that name. Writes nothing.
    """
    project = access_project(request, slug, {Role.ANNOTATOR})
    field = request.POST.get("field", "")
    if field not in FEEDBACK_FIELDS:
        return HttpResponse("Unknown feedback field.", status=400, content_type="text/plain")
    checked = check_feedback(request.POST.get(field, ""), feedback_rules_of(project))
    return render(request, CHECK_PARTIAL, {"field": field, "check": checked, "rules": feedback_rules_of(project)})


@login_required
@require_POST
def task_edit_diff(request: HtmxHttpRequest, assignment_id: int) -> HttpResponse:
    """The edit (posted as ``text``) against the assignment's original response, as the page shows it while the
    annotator types (htmx): the same server-side word diff as after a submission, escaped by the template."""
    assignment = task_assignment_get_for_annotator(assignment_id=assignment_id, user=request_user(request))
    ws = task_workspace(assignment=assignment)
    diff = word_diff(ws.response_1, request.POST.get("text", "")) if assignment.unit.task_type == TaskType.EDIT else []
    return render(request, DIFF_PARTIAL, {"diff": diff})
