"""The user's own account: the API token page (make a token, or replace it)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from annotator.selectors.users import token_find
from annotator.services.tokens import api_token_rotate
from annotator.views import request_user


@login_required
@require_http_methods(["GET", "POST"])
def account_token(request: HttpRequest) -> HttpResponse:
    """GET: whether the user has a token (since when). POST: a new token, shown in this answer only; the old one
    stops working."""
    user = request_user(request)
    new_key = api_token_rotate(user=user).key if request.method == "POST" else None
    context = {"token": token_find(user=user), "new_key": new_key}
    return render(request, "annotator/account_token.html", context)
