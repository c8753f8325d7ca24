"""The lead's aggregation-rule editor: a new rule or the next version of one, posted from the rules page.

The page itself (the list and the preview) is ``annotator.views.lead.lead_rules``; it shows this form, which
starts from a rule's current parameters when the lead chose "New version" (``?from=<rule id>``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from annotator.errors import ApplicationError
from annotator.forms import AggregationRuleForm, add_service_errors
from annotator.models import Role
from annotator.selectors.quality.rules import aggregation_rule_get, aggregation_rule_list
from annotator.services.aggregation_rules import aggregation_rule_save
from annotator.stats.aggregation import HelpSteer2Rule
from annotator.views import HtmxHttpRequest, access_project, request_user


def rule_form_for(request: HtmxHttpRequest) -> AggregationRuleForm:
    """The unbound editor: the rule named by ``?from=`` (a new version of it), else a new HelpSteer2 rule."""
    initial: dict[str, Any] = {**asdict(HelpSteer2Rule()), "kind": HelpSteer2Rule.name, "round_to_integer": True}
    source = request.GET.get("from", "")
    if source.isdigit():
        try:
            rule = aggregation_rule_get(rule_id=int(source))
        except ApplicationError:
            pass  # an unknown id just opens the editor empty
        else:
            initial = AggregationRuleForm.initial_for(
                name=rule.name, kind=rule.kind, description=rule.description, params=rule.params
            )
    return AggregationRuleForm(initial=initial)


@login_required
@require_POST
def lead_rule_save(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Save a rule (version 1 or the next version) and preview it; a refused form comes back in place with 400."""
    project = access_project(request, slug, {Role.LEAD})
    form = AggregationRuleForm(request.POST)
    if form.is_valid():
        try:
            rule = aggregation_rule_save(
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"],
                params=form.params(),
                description=form.cleaned_data["description"],
                created_by=request_user(request),
            )
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            url = reverse("annotator:lead_rules", kwargs={"slug": project.slug})
            return HttpResponseRedirect(f"{url}?rule={rule.pk}")
    context = {
        "project": project,
        "tab": "rules",
        "rules": aggregation_rule_list(),
        "preview": None,
        "error": "",
        "form": form,
    }
    return render(request, "annotator/lead/rules.html", context, status=400)
