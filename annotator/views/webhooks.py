"""The data lead's webhooks page: add, pause, resume and delete webhooks, send a test, read the delivery log and
redeliver. Plain forms posting to the page, which redirects back with a message (POST/redirect/GET); only leads."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from annotator.errors import ValidationFailed
from annotator.forms import add_service_errors
from annotator.models import Role, WebhookEvent
from annotator.selectors.webhooks import (
    webhook_delivery_get_in_project,
    webhook_delivery_list,
    webhook_get_in_project,
    webhook_list,
)
from annotator.services import webhooks as webhook_services
from annotator.views import access_project
from annotator.webhooks_signing import SIGNATURE_HEADER


class WebhookForm(forms.Form):
    url = forms.URLField(label="URL", max_length=2000, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple, initial=list(WebhookEvent.values)
    )


def _posted_id(request: HttpRequest, name: str) -> int:
    raw = request.POST.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 19 else 0


@login_required
@require_http_methods(["GET", "POST"])
def setup_webhooks(request: HttpRequest, slug: str) -> HttpResponse:
    """POST ``action`` = ``add`` (url, events), ``pause`` / ``resume`` / ``delete`` / ``test`` (``webhook`` = its
    id) or ``redeliver`` (``delivery`` = its id). A refused URL is shown in the form (400), nothing saved."""
    project = access_project(request, slug, {Role.LEAD})
    form = WebhookForm()
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "add":
                form = WebhookForm(request.POST)
                if form.is_valid():
                    hook = webhook_services.webhook_create(project=project, **form.cleaned_data)
                    messages.success(request, f"Webhook added for {hook.url}; sign-checking secret below.")
            elif action == "redeliver":
                delivery = webhook_delivery_get_in_project(project=project, delivery_id=_posted_id(request, "delivery"))
                again = webhook_services.webhook_redeliver(delivery=delivery)
                messages.success(request, f"Delivery {delivery.pk} sent again as delivery {again.pk}.")
            else:
                hook = webhook_get_in_project(project=project, webhook_id=_posted_id(request, "webhook"))
                if action == "test":
                    sent = webhook_services.webhook_send_test(webhook=hook)
                    messages.success(request, f"Test delivery {sent.pk} queued for {hook.url}.")
                elif action in ("pause", "resume"):
                    webhook_services.webhook_update(webhook=hook, is_active=action == "resume")
                    messages.success(request, f"{hook.url} {'resumed' if hook.is_active else 'paused'}.")
                elif action == "delete":
                    webhook_services.webhook_delete(webhook=hook)
                    messages.success(request, f"{hook.url} deleted.")
                else:
                    raise ValidationFailed("Unknown action.")
        except ValidationFailed as exc:
            if action == "add":
                add_service_errors(form, exc)
            else:
                messages.error(request, exc.message)
        if not form.is_bound or not form.errors:
            return redirect(reverse("annotator:setup_webhooks", kwargs={"slug": project.slug}))
    context = {
        "project": project,
        "tab": "webhooks",
        "form": form,
        "webhooks": webhook_list(project=project),
        "deliveries": webhook_delivery_list(project=project),
        "signature_header": SIGNATURE_HEADER,
    }
    return render(request, "annotator/setup/webhooks.html", context, status=400 if form.errors else 200)
