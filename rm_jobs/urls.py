"""The researcher's training pages, under ``p/<slug>/jobs/``."""

from django.urls import path

from rm_jobs import views

app_name = "rm_jobs"
urlpatterns = [
    path("p/<slug:slug>/jobs/", views.jobs_list, name="jobs_list"),
    path("p/<slug:slug>/jobs/compare/", views.jobs_compare, name="jobs_compare"),
    path("p/<slug:slug>/jobs/priorities/", views.priorities, name="priorities"),
    path("p/<slug:slug>/jobs/priorities/order/", views.priorities_order, name="priorities_order"),
    path("p/<slug:slug>/jobs/<int:job_id>/", views.job_detail, name="job_detail"),
    path("p/<slug:slug>/jobs/<int:job_id>/metrics.json", views.job_metrics, name="job_metrics"),
    path("p/<slug:slug>/jobs/<int:job_id>/cancel/", views.job_cancel, name="job_cancel"),
    path("p/<slug:slug>/jobs/<int:job_id>/score/", views.job_score, name="job_score"),
    path("p/<slug:slug>/jobs/<int:job_id>/checkpoint.zip", views.job_checkpoint, name="job_checkpoint"),
    path("p/<slug:slug>/jobs/<int:job_id>/evaluations/", views.evaluation_new, name="evaluation_new"),
    path(
        "p/<slug:slug>/jobs/<int:job_id>/evaluations/<int:evaluation_id>/results.json",
        views.evaluation_results,
        name="evaluation_results",
    ),
    path(
        "p/<slug:slug>/jobs/<int:job_id>/evaluations/<int:evaluation_id>/review/",
        views.evaluation_review,
        name="evaluation_review",
    ),
]
