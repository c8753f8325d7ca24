"""The data lead's set-up pages: create a project, edit its settings, attributes and members, import comparisons
(or, in a feedback, edit or edit-quality project, HelpSteer3 files of its task type, and download them), mark gold
comparisons.

Every page works as plain HTML forms; with htmx, a form posts in place and the view answers with the partial that
the full page itself includes (``templates/annotator/partials/_setup_*.html``). Only leads of a project see its
set-up: a non-member gets 404, a member without the lead role 403.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from annotator.domain import HS3_TASK_COLUMNS
from annotator.errors import ApplicationError, NotFound, PermissionDenied, ValidationFailed
from annotator.forms import (
    AttributeForm,
    GoldForm,
    ImportForm,
    MemberInviteForm,
    MembershipAddForm,
    ProjectCreateForm,
    ProjectSettingsForm,
    QualificationSetForm,
    TaskExportForm,
    TaskImportForm,
    add_service_errors,
)
from annotator.models import Project, Role, Split, TaskType
from annotator.rendering import render_markdown
from annotator.selectors.comparisons import comparison_get, comparison_gold_list
from annotator.selectors.projects import (
    attribute_get_in_project,
    membership_get_in_project,
    membership_list,
    project_attribute_list,
)
from annotator.selectors.qualification import qualification_set_get, qualification_set_list
from annotator.selectors.task_exports import TASK_FILE_TYPES, task_file_export
from annotator.services import projects as project_services
from annotator.services import qualification as qualification_services
from annotator.services.imports import comparisons_import
from annotator.services.task_imports import task_units_import
from annotator.views import HtmxHttpRequest, access_project, render_page, request_user

GOLD_PAGE_SIZE = 50


def _is_htmx(request: HtmxHttpRequest) -> bool:
    return bool(request.htmx)


def _posted_id(request: HtmxHttpRequest, name: str) -> int:
    """The id posted as ``name``; 0 (found nowhere) when it is missing or not a whole number."""
    raw = request.POST.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 19 else 0


def _setup_url(name: str, project: Project) -> str:
    return str(reverse(f"annotator:{name}", kwargs={"slug": project.slug}))


# --- create ---------------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def project_new(request: HtmxHttpRequest) -> HttpResponse:
    """Create a project (staff and existing leads only); the creator becomes its lead."""
    if not project_services.project_create_allowed(user=request_user(request)):
        raise PermissionDenied("Only staff and data leads may create projects.")
    form = ProjectCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = project_services.project_create(
                slug=form.cleaned_data["slug"], name=form.cleaned_data["name"], creator=request_user(request)
            )
        except ValidationFailed as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Project {project.name} created with the HelpSteer2 attributes.")
            return redirect(_setup_url("setup_settings", project))
    return render(request, "annotator/setup/new.html", {"form": form})


# --- general settings and guidelines --------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def setup_settings(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    project = access_project(request, slug, {Role.LEAD})
    saved = False
    if request.method == "POST":
        form = ProjectSettingsForm(request.POST, instance=project)
        if form.is_valid():
            try:
                project_services.project_update(project=project, **form.settings())
            except ValidationFailed as exc:
                add_service_errors(form, exc)
            else:
                if not _is_htmx(request):
                    messages.success(request, "Settings saved.")
                    return redirect(_setup_url("setup_settings", project))
                saved = True
                form = ProjectSettingsForm(instance=project)
    else:
        form = ProjectSettingsForm(instance=project)
    guidelines = form["guidelines"].value() or ""
    context = {"project": project, "tab": "settings", "form": form, "saved": saved, "preview": guidelines}
    return render_page(request, "annotator/setup/settings.html", "annotator/partials/_setup_settings.html", context)


@login_required
@require_POST
def setup_guidelines_preview(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """The guidelines as annotators will see them, rendered by the one Markdown renderer; nothing is saved.

    Without JS the Preview button posts the whole settings form here and gets the settings page back, unsaved
    values kept, with the preview below them.
    """
    project = access_project(request, slug, {Role.LEAD})
    guidelines = request.POST.get("guidelines", "")
    if _is_htmx(request):
        return render(
            request, "annotator/partials/_setup_guidelines_preview.html", {"preview_html": render_markdown(guidelines)}
        )
    form = ProjectSettingsForm(request.POST, instance=project)
    context = {"project": project, "tab": "settings", "form": form, "saved": False, "preview": guidelines}
    return render(request, "annotator/setup/settings.html", context)


# --- attributes -----------------------------------------------------------------------------------------------


def _attribute_forms(project: Project, bound: AttributeForm | None = None) -> list[AttributeForm]:
    forms = []
    for attribute in project_attribute_list(project=project):
        if bound is not None and bound.attribute is not None and bound.attribute.pk == attribute.pk:
            forms.append(bound)
        else:
            forms.append(AttributeForm(attribute=attribute, prefix=f"a{attribute.pk}"))
    return forms


@login_required
@require_http_methods(["GET", "POST"])
def setup_attributes(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """List the attributes, each an editable form with one description per scale level; add and delete them.

    POST ``action`` = ``save`` | ``delete`` (with ``attribute`` = its id) or ``create``.
    """
    project = access_project(request, slug, {Role.LEAD})
    bound: AttributeForm | None = None
    new_form = AttributeForm(prefix="new")
    notice = ""
    error = ""
    if request.method == "POST":
        action = request.POST.get("action", "save")
        if action == "create":
            new_form = AttributeForm(request.POST, prefix="new")
            if new_form.is_valid():
                try:
                    attribute = project_services.attribute_create(project=project, **new_form.service_fields())
                except ValidationFailed as exc:
                    add_service_errors(new_form, exc)
                else:
                    notice = f"Attribute {attribute.name} added."
                    new_form = AttributeForm(prefix="new")
        else:
            attribute = attribute_get_in_project(project=project, attribute_id=_posted_id(request, "attribute"))
            if action == "delete":
                try:
                    project_services.attribute_delete(attribute=attribute)
                except ValidationFailed as exc:
                    error = exc.message
                else:
                    notice = f"Attribute {attribute.name} deleted."
            else:
                bound = AttributeForm(request.POST, attribute=attribute, prefix=f"a{attribute.pk}")
                if bound.is_valid():
                    try:
                        project_services.attribute_update(attribute=attribute, **bound.service_fields())
                    except ValidationFailed as exc:
                        add_service_errors(bound, exc)
                    else:
                        notice = f"Attribute {bound.cleaned_data['name']} saved."
                        bound = None
        failed = bool(error) or (bound is not None) or new_form.is_bound
        if not _is_htmx(request) and not failed:
            messages.success(request, notice)
            return redirect(_setup_url("setup_attributes", project))
    context = {
        "project": project,
        "tab": "attributes",
        "forms": _attribute_forms(project, bound),
        "new_form": new_form,
        "notice": notice,
        "error": error,
    }
    return render_page(request, "annotator/setup/attributes.html", "annotator/partials/_setup_attributes.html", context)


# --- members --------------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def setup_members(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Members by role; POST ``action`` = ``add`` (username, role), ``invite`` (e-mail, role, optional username for
    a new account) or ``remove`` (``membership`` = its id)."""
    project = access_project(request, slug, {Role.LEAD})
    form = MembershipAddForm()
    invite_form = MemberInviteForm()
    notice = ""
    error = ""
    if request.method == "POST":
        if request.POST.get("action") == "remove":
            membership = membership_get_in_project(project=project, membership_id=_posted_id(request, "membership"))
            try:
                project_services.membership_remove(membership=membership)
            except ValidationFailed as exc:
                error = exc.message
            else:
                notice = f"{membership.user} is no longer {membership.role} here."
        elif request.POST.get("action") == "invite":
            invite_form = MemberInviteForm(request.POST)
            if invite_form.is_valid():
                try:
                    invited = project_services.membership_invite(
                        project=project,
                        invited_by=request_user(request),
                        site_url=request.build_absolute_uri("/"),
                        **invite_form.cleaned_data,
                    )
                except ValidationFailed as exc:
                    add_service_errors(invite_form, exc)
                else:
                    told = "a set-password link" if not invited.user.has_usable_password() else "a notice"
                    notice = f"{invited.user} added as {invited.role}; {told} went to {invited.user.email}."
                    invite_form = MemberInviteForm()
        else:
            form = MembershipAddForm(request.POST)
            if form.is_valid():
                try:
                    added = project_services.membership_add(project=project, **form.cleaned_data)
                except ValidationFailed as exc:
                    add_service_errors(form, exc)
                else:
                    notice = f"{added.user} added as {added.role}."
                    form = MembershipAddForm()
        if not _is_htmx(request) and not error and not form.is_bound and not invite_form.is_bound:
            messages.success(request, notice)
            return redirect(_setup_url("setup_members", project))
    memberships = membership_list(project=project)
    context = {
        "project": project,
        "tab": "members",
        "form": form,
        "invite_form": invite_form,
        "memberships": memberships,
        "notice": notice,
        "error": error,
        "lead_count": sum(1 for m in memberships if m.role == Role.LEAD),
    }
    refused = form.is_bound or invite_form.is_bound  # a bound form is only left after it was refused
    return render_page(
        request,
        "annotator/setup/members.html",
        "annotator/partials/_setup_members.html",
        context,
        status=400 if refused else 200,
    )


# --- import ---------------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def setup_import(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Upload a file of comparisons; all rows are imported or none, and the first bad row is shown with its
    line (or row) and column. Files of tens of MB import within the request in seconds.

    A feedback, edit or edit-quality project imports HelpSteer3 files of its task type instead
    (:func:`_task_import`)."""
    project = access_project(request, slug, {Role.LEAD})
    if project.task_type != TaskType.COMPARISON:
        return _task_import(request, project)
    result = None
    error: ApplicationError | None = None
    form = ImportForm()
    status = 200
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = comparisons_import(
                    project=project,
                    source=upload,
                    fmt=form.cleaned_data["fmt"],
                    domain=form.cleaned_data["domain"],
                    language=form.cleaned_data["language"],
                    max_bytes=settings.PREFSTACK_IMPORT_MAX_BYTES,
                )
            except ApplicationError as exc:  # ImportFailed: extra names the line or row, column and expectation
                error = exc
        if result is None:
            status = 400  # the full page; render_page answers htmx with 200
    context = {
        "project": project,
        "tab": "import",
        "form": form,
        "result": result,
        "error": error,
        "comparison_count": project.comparisons.count(),
    }
    return render_page(
        request, "annotator/setup/import.html", "annotator/partials/_setup_import.html", context, status=status
    )


def _task_downloads(project: Project) -> list[tuple[str, list[tuple[str, str]]]]:
    """The import tab's download links: (what, [(file type, url)]) for the whole project and each split, and for an
    edit project its edit pairs too."""
    url = reverse("annotator:task_export", kwargs={"slug": project.slug})
    rows: list[tuple[str, dict[str, str]]] = [("All tasks", {}), *((label, {"split": s}) for s, label in Split.choices)]
    if project.task_type == TaskType.EDIT:
        rows += [(f"{what}, edit pairs", {**query, "edit_pairs": "true"}) for what, query in rows]
    return [
        (what, [(file_type, f"{url}?{urlencode({'file_type': file_type, **query})}") for file_type in TASK_FILE_TYPES])
        for what, query in rows
    ]


def _task_import(request: HtmxHttpRequest, project: Project) -> HttpResponse:
    """The import tab of a feedback, edit or edit-quality project: a HelpSteer3 file of its task type, all rows or
    none (the first bad row named in place; a file of another task type refused the same way), the same service as
    ``POST /api/v1/projects/<slug>/tasks/import/``; and the links to download its task files."""
    result = None
    error: ApplicationError | None = None
    form = TaskImportForm()
    status = 200
    if request.method == "POST":
        form = TaskImportForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                result = task_units_import(
                    project=project, source=form.cleaned_data["file"], split=form.cleaned_data["split"]
                )
            except ValidationFailed as exc:  # import_failed, task_type_mismatch: extra names the line or row
                error = exc
        if result is None:
            status = 400  # the full page; render_page answers htmx with 200
    context = {
        "project": project,
        "tab": "import",
        "form": form,
        "result": result,
        "error": error,
        "unit_count": project.task_units.count(),
        "columns": HS3_TASK_COLUMNS[project.task_type],
        "downloads": _task_downloads(project),
    }
    return render_page(
        request,
        "annotator/setup/task_import.html",
        "annotator/partials/_setup_task_import.html",
        context,
        status=status,
    )


@login_required
@require_http_methods(["GET"])
def task_export(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Download a feedback, edit or edit-quality project's HelpSteer3 file (``?file_type=jsonl|jsonl.gz|parquet``,
    ``split``, ``edit_pairs``): the same file as ``GET /api/v1/projects/<slug>/tasks/export/``, for the same roles."""
    project = access_project(request, slug, {Role.LEAD, Role.RESEARCHER})
    form = TaskExportForm(request.GET)
    if not form.is_valid():
        fields = {name: " ".join(str(e) for e in errors) for name, errors in form.errors.items()}
        raise ValidationFailed(" ".join(fields.values()), extra={"fields": fields})
    exported = task_file_export(
        project=project,
        file_type=form.cleaned_data["file_type"],
        split=form.cleaned_data["split"] or None,
        edit_pairs=form.cleaned_data["edit_pairs"],
    )
    response = HttpResponse(exported.body, content_type=exported.content_type)
    response["Content-Disposition"] = f'attachment; filename="{exported.name}"'
    return response


# --- gold -----------------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def setup_gold(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Comparisons of the project, gold ones marked; pick one (``?comparison=<id>``) to set its expected ratings.

    POST ``comparison`` = its id and ``action`` = ``mark`` | ``unmark``. Gold comparisons are claimed like any other
    comparison, so they reach annotators' queues unannounced.
    """
    project = access_project(request, slug, {Role.LEAD})
    attributes = project_attribute_list(project=project)
    comparison_id = request.POST.get("comparison") or request.GET.get("comparison")
    comparison = (
        comparison_get(project=project, comparison_id=int(comparison_id))
        if comparison_id and str(comparison_id).isdigit()
        else None
    )
    gold_form = GoldForm(comparison=comparison, attributes=attributes) if comparison else None
    notice = ""
    if request.method == "POST":
        if comparison is None:
            raise NotFound("No such comparison.")
        if request.POST.get("action") == "unmark":
            project_services.comparison_unmark_gold(comparison=comparison)
            notice = f"Comparison {comparison.pk} is no longer gold."
            gold_form = GoldForm(comparison=comparison, attributes=attributes)
        else:
            gold_form = GoldForm(request.POST, comparison=comparison, attributes=attributes)
            if gold_form.is_valid():
                try:
                    project_services.comparison_mark_gold(
                        comparison=comparison,
                        gold_ratings=gold_form.gold_ratings(),
                        tolerance=gold_form.cleaned_data["tolerance"],
                    )
                except ValidationFailed as exc:
                    add_service_errors(gold_form, exc)
                else:
                    notice = f"Comparison {comparison.pk} is gold."
                    gold_form = GoldForm(comparison=comparison, attributes=attributes)
        if not _is_htmx(request) and not gold_form.errors:
            messages.success(request, notice)
            return redirect(f"{_setup_url('setup_gold', project)}?comparison={comparison.pk}")
    only_gold = request.GET.get("gold") == "1"
    queryset = comparison_gold_list(project=project, only_gold=only_gold)
    page = Paginator(queryset, GOLD_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "project": project,
        "tab": "gold",
        "page": page,
        "only_gold": only_gold,
        "gold_count": comparison_gold_list(project=project, only_gold=True).count(),
        "comparison": comparison,
        "gold_form": gold_form,
        "notice": notice,
    }
    return render_page(request, "annotator/setup/gold.html", "annotator/partials/_setup_gold.html", context)


# --- annotator pools ------------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def setup_pools(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Qualification sets: a domain's and/or language's work reaches only annotators who passed its set.

    POST ``action`` = ``create`` (the form's fields) or ``delete`` (``set`` = its id).
    """
    project = access_project(request, slug, {Role.LEAD})
    form = QualificationSetForm()
    notice = ""
    status = 200
    if request.method == "POST":
        if request.POST.get("action") == "delete":
            qualification_set = qualification_set_get(project=project, set_id=_int_or_zero(request.POST.get("set")))
            qualification_services.qualification_set_delete(qualification_set=qualification_set)
            notice = f"Qualification set “{qualification_set.name}” removed."
        else:
            form = QualificationSetForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    created = qualification_services.qualification_set_create(project=project, **data)
                except ValidationFailed as exc:
                    add_service_errors(form, exc)
                else:
                    notice = f"Qualification set “{created.name}” created."
                    form = QualificationSetForm()
            if form.errors:
                status = 400
        if not _is_htmx(request) and status == 200:
            messages.success(request, notice)
            return redirect(_setup_url("setup_pools", project))
    context = {
        "project": project,
        "tab": "pools",
        "form": form,
        "sets": qualification_set_list(project=project),
        "notice": notice,
    }
    return render_page(
        request, "annotator/setup/pools.html", "annotator/partials/_setup_pools.html", context, status=status
    )


def _int_or_zero(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and len(raw) < 19 else 0
