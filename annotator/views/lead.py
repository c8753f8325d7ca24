"""The data lead's quality audit: overview, annotators, disagreement queue with review, aggregation rules.

Function views, each serving its full page and, for htmx requests, the partial the page itself includes
(``templates/annotator/partials/_lead_*.html``). Every page works without JavaScript: sorting and paging are links,
review is a form. Only leads of the project get in: a non-member gets 404, another member 403.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling

from annotator.domain import INT64_MAX, scope_valid
from annotator.errors import ApplicationError, ValidationFailed
from annotator.models import Role
from annotator.selectors.agreement_cache import agreement_intervals_get
from annotator.selectors.annotations import annotation_frame
from annotator.selectors.comparisons import annotation_get_in_project
from annotator.selectors.projects import project_attribute_names
from annotator.selectors.quality.agreement import (
    agreement_over_time_get,
    agreement_overview_read,
    over_time_chart_data,
)
from annotator.selectors.quality.annotators import (
    QUALITY_THRESHOLDS,
    annotation_with_review,
    annotator_annotations,
    annotator_table,
)
from annotator.selectors.quality.common import MEASURE_LABELS
from annotator.selectors.quality.disagreements import (
    DISAGREEMENT_ORDERS,
    DisagreementFilters,
    disagreement_filter_choices,
    disagreement_queue,
)
from annotator.selectors.quality.progress import project_progress_read
from annotator.selectors.quality.rules import aggregation_rule_get, aggregation_rule_list, aggregation_rule_preview
from annotator.selectors.quality.scopes import SCOPE_KINDS, agreement_by_scope
from annotator.selectors.scopes import frame_in_scope, prompt_scope_choices
from annotator.services.aggregation_rules import aggregation_rules_ensure_defaults
from annotator.services.agreement_intervals import agreement_intervals_request
from annotator.services.reviews import review_bulk_accept, review_decide
from annotator.views import HtmxHttpRequest, access_project, render_page, request_user
from annotator.views.rules import rule_form_for

ANNOTATIONS_PER_PAGE = 25


# A page number past any table (its SQL OFFSET would overflow 64 bits: a 500 on PostgreSQL and SQLite alike).
MAX_PAGE = 1_000_000


def _int_param(request: HtmxHttpRequest, name: str, default: int) -> int:
    try:
        return min(max(1, int(request.GET.get(name, default))), MAX_PAGE)
    except (TypeError, ValueError):
        return default


# --- overview --------------------------------------------------------------------------------------------------


@login_required
@require_GET
def lead_overview(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Progress and agreement per attribute (with intervals when the background task has them), from the kept
    counts; the page then loads agreement over time (:func:`lead_agreement_over_time`), which reads every rating."""
    project = access_project(request, slug, {Role.LEAD})
    overview = agreement_overview_read(project=project)
    intervals = agreement_intervals_get(project=project, fingerprint=overview.fingerprint)
    context = {
        "project": project,
        "tab": "overview",
        "progress": project_progress_read(project=project),
        "overview": overview,
        "intervals": intervals,
        "chart_data": overview.chart_data(intervals.results if intervals.current else None),
    }
    return render(request, "annotator/lead/overview.html", context)


@login_required
@require_GET
def lead_agreement_over_time(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """The over-time panel the overview loads after its first response (alpha on the first n annotations)."""
    project = access_project(request, slug, {Role.LEAD})
    points = agreement_over_time_get(project=project)
    context = {"project": project, "over_time": over_time_chart_data(points), "loaded": True}
    return render(request, "annotator/partials/_lead_over_time.html", context)


@login_required
def lead_intervals(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """GET: the intervals panel (polled while a computation runs). POST: ask for a fresh computation."""
    project = access_project(request, slug, {Role.LEAD})
    if request.method == "POST":
        agreement_intervals_request(project=project)
        if not request.htmx:
            return HttpResponseRedirect(reverse("annotator:lead_overview", kwargs={"slug": slug}))
    elif request.method != "GET":
        return HttpResponse(status=405)
    state = agreement_intervals_get(project=project)
    context = {"project": project, "intervals": state, "labels": MEASURE_LABELS}
    response = render(request, "annotator/partials/_lead_intervals.html", context)
    if request.method == "GET" and request.htmx and not state.busy:
        # Done: the panel has its final content; 286 tells htmx to stop polling.
        stop = HttpResponseStopPolling()
        stop.content = response.content
        return stop
    return response


@login_required
@require_GET
def lead_agreement_scopes(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Agreement per domain (``?by=language``: per language), the overview's lazily loaded panel: the overview
    itself stays as fast as before, and this panel fills in once the page is shown (``hx-trigger="load"``)."""
    project = access_project(request, slug, {Role.LEAD})
    by = request.GET.get("by", "domain")
    if by not in SCOPE_KINDS:
        by = "domain"
    table = agreement_by_scope(project=project, by=by)  # type: ignore[arg-type]
    context = {"project": project, "tab": "overview", "table": table, "kinds": SCOPE_KINDS}
    return render_page(
        request, "annotator/lead/agreement_scopes.html", "annotator/partials/_lead_agreement_scopes.html", context
    )


# --- annotators -------------------------------------------------------------------------------------------------


@login_required
@require_GET
def lead_annotators(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """The per-annotator table, flagged annotators first, sortable by any column; the lead picks the column groups
    (``?show=<group>``, repeated; a plain GET form, so it works without JavaScript)."""
    project = access_project(request, slug, {Role.LEAD})
    sort = request.GET.get("sort", "loo_agreement")
    descending = request.GET.get("dir", "asc") == "desc"
    shown = [g for g in request.GET.getlist("show") if g in ANNOTATOR_COLUMN_GROUPS] or list(DEFAULT_COLUMN_GROUPS)
    error = ""
    try:
        scope = _scope(request)
    except ApplicationError as exc:
        error, scope = exc.message, _Scope()
    attributes = project_attribute_names(project=project)
    frame = None
    if scope.domain or scope.language:
        frame = frame_in_scope(
            annotation_frame(project=project, attributes=attributes),
            project=project,
            domain=scope.domain,
            language=scope.language,
        )
    try:
        rows = annotator_table(project=project, sort=sort, descending=descending, frame=frame)
    except ApplicationError as exc:
        error, sort, descending = exc.message, "loo_agreement", False
        rows = annotator_table(project=project, frame=frame)
    columns = _annotator_columns(attributes)
    # The sorted column always shows, whatever groups were picked.
    shown += [group for key, _, _, group in columns if key == sort and group not in (*shown, "name")]
    context = {
        "project": project,
        "tab": "annotators",
        "rows": rows,
        "columns": [c for c in columns if c[3] in ("name", *shown)],
        "sort": sort,
        "descending": descending,
        "attributes": attributes,
        "error": error,
        "shown": shown,
        "column_groups": ANNOTATOR_COLUMN_GROUPS.items(),
        # The column groups and the scope ride along on the sort links.
        "show_query": urlencode([("show", g) for g in shown] + scope.query()),
        "scope": scope,
        "scope_choices": prompt_scope_choices(project=project),
        "n_flagged": sum(1 for r in rows if r.flags),
        "thresholds": QUALITY_THRESHOLDS,
    }
    return render_page(
        request, "annotator/lead/annotators.html", "annotator/partials/_lead_annotator_table.html", context,
        status=400 if error else 200,
    )  # fmt: skip


@dataclass(frozen=True)
class _Scope:
    """The domain and language a lead page is narrowed to ("" = any)."""

    domain: str = ""
    language: str = ""

    def query(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in (("domain", self.domain), ("language", self.language)) if v]


def _scope(request: HtmxHttpRequest) -> _Scope:
    """The ``domain`` and ``language`` of the query string; a value no prompt can have (too long, unprintable: a
    database would refuse a NUL) is a ValidationFailed, never a 500."""
    values = {name: request.GET.get(name, "").strip() for name in ("domain", "language")}
    bad = {n: "Choose one from the list." for n, v in values.items() if not scope_valid(v)}
    if bad:
        raise ValidationFailed(" ".join(bad.values()), extra={"fields": bad})
    return _Scope(**values)


# The annotator table's column groups, in the table's order, and those shown until the lead picks others.
ANNOTATOR_COLUMN_GROUPS = {
    "flags": "quality flags",
    "volume": "annotations and rejections",
    "agreement": "agreement",
    "per_attribute": "agreement per attribute",
    "bias": "bias per attribute",
    "position": "left rate and its test",
    "speed": "median time",
    "skips": "skips",
    "straight": "straight-lining",
    "gold": "gold accuracy",
}
DEFAULT_COLUMN_GROUPS = ("flags", "volume", "agreement", "position", "speed", "skips", "straight", "gold")


def _annotator_columns(attributes: list[str]) -> list[tuple[str, str, bool, str]]:
    """(sort key, header, numeric, column group) in the table's order."""
    return [
        ("username", "annotator", False, "name"),
        ("flags", "flags", False, "flags"),
        ("n_annotations", "annotations", True, "volume"),
        ("n_rejected", "rejected", True, "volume"),
        ("loo_agreement", "agreement", True, "agreement"),
        *((f"loo_{a}", f"r {a}", True, "per_attribute") for a in attributes),
        ("loo_strength", "r strength", True, "per_attribute"),
        *((f"bias_{a}", f"bias {a}", True, "bias") for a in attributes),
        ("left_rate", "left rate", True, "position"),
        ("left_p_value", "left p", True, "position"),
        ("median_time_on_task_s", "median time", True, "speed"),
        ("skip_rate", "skips", True, "skips"),
        ("straight_share", "same rating everywhere", True, "straight"),
        *((f"gold_{a}", f"gold {a}", True, "gold") for a in attributes),
    ]


@login_required
@require_GET
def lead_annotator_detail(request: HtmxHttpRequest, slug: str, user_id: int) -> HttpResponse:
    """One annotator's annotations, newest first, each with its review and the review form."""
    project = access_project(request, slug, {Role.LEAD})
    page = _int_param(request, "page", 1)
    username, items, total = annotator_annotations(
        project=project, user_id=user_id, limit=ANNOTATIONS_PER_PAGE, offset=(page - 1) * ANNOTATIONS_PER_PAGE
    )
    context = {
        "project": project,
        "tab": "annotators",
        "username": username,
        "user_id": user_id,
        "items": items,
        "total": total,
        "page": page,
        "has_next": page * ANNOTATIONS_PER_PAGE < total,
        "attributes": project_attribute_names(project=project),
    }
    return render(request, "annotator/lead/annotator_detail.html", context)


# --- disagreement queue and review ------------------------------------------------------------------------------


@login_required
@require_GET
def lead_disagreements(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Comparisons ordered by how much their annotators disagree, every annotation side by side; filtered by
    attribute, annotator, minimum spread, domain and language (a plain GET form)."""
    project = access_project(request, slug, {Role.LEAD})
    order = request.GET.get("order", "rating")
    if order not in DISAGREEMENT_ORDERS:
        order = "rating"
    error = ""
    try:
        filters = _disagreement_filters(request)
        queue = disagreement_queue(project=project, order=order, page=_int_param(request, "page", 1), filters=filters)
    except ApplicationError as exc:
        error = exc.message
        queue = disagreement_queue(project=project, order=order)
    annotators, scope_choices = disagreement_filter_choices(project=project)
    context = {
        "project": project,
        "tab": "disagreements",
        "queue": queue,
        "orders": DISAGREEMENT_ORDERS,
        "error": error,
        "annotators": annotators,
        "scope_choices": scope_choices,
        "scope": queue.filters,
        "filter_query": urlencode(
            [
                (k, request.GET[k])
                for k in ("attribute", "annotator", "min_spread", "domain", "language")
                if request.GET.get(k)
            ]
        ),
    }
    return render_page(
        request, "annotator/lead/disagreements.html", "annotator/partials/_lead_disagreement_list.html", context,
        status=400 if error else 200,
    )  # fmt: skip


def _disagreement_filters(request: HtmxHttpRequest) -> DisagreementFilters:
    """The queue's filters from the query string; a malformed number is a ValidationFailed, never a 500."""
    fields: dict[str, str] = {}
    annotator_id: int | None = None
    min_spread: float | None = None
    if raw := request.GET.get("annotator", "").strip():
        try:
            annotator_id = int(raw)
        except ValueError:
            annotator_id = None
        if annotator_id is None or abs(annotator_id) > INT64_MAX:
            fields["annotator"] = "Choose an annotator from the list."
    if raw := request.GET.get("min_spread", "").strip():
        try:
            min_spread = float(raw)
        except ValueError:
            fields["min_spread"] = "A number of scale points, such as 2."
        else:
            if not math.isfinite(min_spread):
                fields["min_spread"] = "A number of scale points, such as 2."
    if fields:
        raise ValidationFailed(" ".join(fields.values()), extra={"fields": fields})
    scope = _scope(request)
    return DisagreementFilters(
        attribute=request.GET.get("attribute", "").strip(),
        annotator_id=annotator_id,
        min_spread=min_spread,
        domain=scope.domain,
        language=scope.language,
    )


@login_required
@require_POST
def lead_review(request: HtmxHttpRequest, slug: str, annotation_id: int) -> HttpResponse:
    """Accept, or reject with a reason (the annotation goes back to its annotator). htmx: the annotation's card."""
    project = access_project(request, slug, {Role.LEAD})
    annotation = annotation_get_in_project(project=project, annotation_id=annotation_id)
    decision = request.POST.get("decision", "")
    reason = request.POST.get("reason", "")
    error = ""
    try:
        review_decide(annotation=annotation, reviewer=request_user(request), decision=decision, reason=reason)
    except ApplicationError as exc:
        error = exc.message
    if not request.htmx:
        if error:
            context = {"project": project, "tab": "disagreements", "error": error, "back": _next_url(request, slug)}
            return render(request, "annotator/lead/review_error.html", context, status=400)
        return HttpResponseRedirect(_next_url(request, slug))
    annotation.refresh_from_db()
    context = {
        "project": project,
        "reviewed": annotation_with_review(annotation=annotation),
        "attributes": project_attribute_names(project=project),
        "error": error,
        "reason": reason if error else "",
        "next": request.POST.get("next", ""),
    }
    return render(request, "annotator/partials/_lead_annotation_review.html", context)


@login_required
@require_POST
def lead_review_bulk_accept(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Accept every ticked annotation (``annotation``, repeated) at once, then back to the page it came from."""
    project = access_project(request, slug, {Role.LEAD})
    try:
        ids = _annotation_ids(request.POST.getlist("annotation"))
        review_bulk_accept(project=project, annotation_ids=ids, reviewer=request_user(request))
    except ApplicationError as exc:
        context = {"project": project, "tab": "disagreements", "error": exc.message, "back": _next_url(request, slug)}
        return render(request, "annotator/lead/review_error.html", context, status=exc.status)
    return HttpResponseRedirect(_next_url(request, slug))


def _annotation_ids(raw: list[str]) -> list[int]:
    try:
        ids = [int(value) for value in raw]
    except ValueError:
        raise ValidationFailed(
            "Tick annotations from the page.", extra={"fields": {"annotation": "Not an id."}}
        ) from None
    if any(not 0 < i <= INT64_MAX for i in ids):
        raise ValidationFailed("Tick annotations from the page.", extra={"fields": {"annotation": "Not an id."}})
    return ids


def _next_url(request: HtmxHttpRequest, slug: str) -> str:
    candidate = request.POST.get("next", "")
    if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()}):
        return candidate
    return reverse("annotator:lead_disagreements", kwargs={"slug": slug})


# --- aggregation rules ------------------------------------------------------------------------------------------


@login_required
@require_GET
def lead_rules(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """The aggregation rules and, for the chosen one, what it would keep and drop here and agreement before/after."""
    project = access_project(request, slug, {Role.LEAD})
    # The default rules are seeded on first use (idempotent), so a fresh install needs no extra step.
    rules = aggregation_rule_list()
    if not rules:
        aggregation_rules_ensure_defaults()
        rules = aggregation_rule_list()
    chosen_id = request.GET.get("rule")
    preview, error = None, ""
    if chosen_id:
        try:
            rule = aggregation_rule_get(rule_id=int(chosen_id))
            preview = aggregation_rule_preview(project=project, rule=rule)
        except ValueError:
            error = "Choose a rule from the list."
        except ApplicationError as exc:
            error = exc.message
    context = {"project": project, "tab": "rules", "rules": rules, "preview": preview, "error": error}
    context["form"] = rule_form_for(request)
    return render_page(request, "annotator/lead/rules.html", "annotator/partials/_lead_rule_preview.html", context)
