"""Researcher pages: the snapshot list (status and progress, polled while building), one snapshot with its card
rendered and download buttons. Leads see them too; annotators do not."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseStopPolling

from annotator.errors import ApplicationError, NotFound
from annotator.exports import EXPORT_FORMATS
from annotator.models import Snapshot, SnapshotStatus
from annotator.selectors.quality.rules import aggregation_rule_latest_list
from annotator.selectors.snapshots import SNAPSHOT_ROLES, aggregation_rule_find, snapshot_get_in_project, snapshot_list
from annotator.services.snapshots.files import snapshot_card
from annotator.services.snapshots.lifecycle import snapshot_create
from annotator.views import HtmxHttpRequest, access_project, request_user

IN_PROGRESS = (SnapshotStatus.PENDING, SnapshotStatus.BUILDING)


def _strip_front_matter(card: str) -> str:
    """The card without its YAML header (shown as metadata, not as prose)."""
    if card.startswith("---\n"):
        end = card.find("\n---\n", 4)
        if end != -1:
            return card[end + 5 :]
    return card


@login_required
@require_http_methods(["GET", "POST"])
def snapshots(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """The list; POST cuts a new snapshot. htmx polls the list partial while any snapshot is being built."""
    project = access_project(request, slug, SNAPSHOT_ROLES)
    error = None
    if request.method == "POST":
        rule_name = request.POST.get("rule", "").strip()
        rule = aggregation_rule_find(name=rule_name)
        try:
            if rule_name and rule is None:
                raise NotFound(f"No aggregation rule named {rule_name!r}.")
            snapshot_create(
                project=project,
                user=request_user(request),
                rule=rule,
                name=request.POST.get("name", "")[:200],
                include_judge_drafts=request.POST.get("include_judge_drafts") == "on",
            )
        except ApplicationError as exc:
            error = exc.message
        else:
            return redirect("annotator:snapshots", slug=project.slug)
    items = list(snapshot_list(project=project))
    building = any(s.status in IN_PROGRESS for s in items)
    context = {"project": project, "snapshots": items, "building": building, "error": error}
    if request.htmx and request.method == "GET":
        response = render(request, "annotator/partials/_snapshot_list.html", context)
        if not building:
            # Stop polling; the final list replaces the old one.
            stop = HttpResponseStopPolling()
            stop.content = response.content
            return stop
        return response
    context["rules"] = aggregation_rule_latest_list()
    context["chosen_rule"] = request.POST.get("rule", "")
    return render(request, "annotator/snapshots.html", context, status=400 if error else 200)


@login_required
@require_GET
def snapshot_detail(request: HtmxHttpRequest, slug: str, number: int) -> HttpResponse:
    project = access_project(request, slug, SNAPSHOT_ROLES)
    snapshot: Snapshot = snapshot_get_in_project(project=project, number=number)
    card = _strip_front_matter(snapshot_card(snapshot=snapshot)) if snapshot.status == SnapshotStatus.READY else ""
    context = {
        "project": project,
        "snapshot": snapshot,
        "card": card,
        "formats": EXPORT_FORMATS,
        "file_types": ("parquet", "jsonl.gz"),
        "in_progress": snapshot.status in IN_PROGRESS,
    }
    if request.htmx:
        response = render(request, "annotator/partials/_snapshot_status.html", context)
        if not context["in_progress"]:
            # Built meanwhile: reload the whole page so the card and the downloads appear.
            response["HX-Refresh"] = "true"
        return response
    return render(request, "annotator/snapshot_detail.html", context)
