"""Everything under ``/api/v1/``: one module per app, each listing one API view per operation."""

from django.urls import include, path

urlpatterns = [
    path("", include("annotator.api.urls")),
    path("", include("rm_jobs.api_urls")),
]
