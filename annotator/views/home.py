from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotator.selectors.projects import project_list_for_user
from annotator.views import request_user


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The projects the user belongs to, with their role(s) and progress."""
    return render(request, "annotator/home.html", {"projects": project_list_for_user(user=request_user(request))})
