from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotator.selectors.projects import project_list_for_user
from annotator.services.projects import project_create_allowed
from annotator.views import request_user


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The projects the user belongs to, with their role(s) and progress."""
    user = request_user(request)
    context = {"projects": project_list_for_user(user=user), "can_create": project_create_allowed(user=user)}
    return render(request, "annotator/home.html", context)
