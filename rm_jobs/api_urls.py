"""Training jobs, evaluations and reward models under ``/api/v1/``."""

from django.urls import path

from rm_jobs import api

urlpatterns = [
    path("projects/<slug:slug>/training-jobs/", api.TrainingJobListApi.as_view(), name="api-training-jobs-list"),
    path(
        "projects/<slug:slug>/training-jobs/create/",
        api.TrainingJobCreateApi.as_view(),
        name="api-training-jobs-create",
    ),
    path(
        "projects/<slug:slug>/training-jobs/compare/",
        api.TrainingJobCompareApi.as_view(),
        name="api-training-jobs-compare",
    ),
    path(
        "projects/<slug:slug>/priority-scorings/",
        api.PriorityScoringListApi.as_view(),
        name="api-priority-scorings-list",
    ),
    path(
        "projects/<slug:slug>/priority-scorings/create/",
        api.PriorityScoringCreateApi.as_view(),
        name="api-priority-scorings-create",
    ),
    path(
        "priority-scorings/<int:scoring_id>/",
        api.PriorityScoringDetailApi.as_view(),
        name="api-priority-scorings-detail",
    ),
    path("training-jobs/<int:job_id>/", api.TrainingJobDetailApi.as_view(), name="api-training-jobs-detail"),
    path("training-jobs/<int:job_id>/cancel/", api.TrainingJobCancelApi.as_view(), name="api-training-jobs-cancel"),
    path("training-jobs/<int:job_id>/metrics/", api.TrainingJobMetricsApi.as_view(), name="api-training-jobs-metrics"),
    path(
        "training-jobs/<int:job_id>/checkpoint/",
        api.TrainingJobCheckpointApi.as_view(),
        name="api-training-jobs-checkpoint",
    ),
    path("training-jobs/<int:job_id>/evaluations/", api.EvaluationListApi.as_view(), name="api-evaluations-list"),
    path(
        "training-jobs/<int:job_id>/evaluations/create/",
        api.EvaluationCreateApi.as_view(),
        name="api-evaluations-create",
    ),
    path("evaluations/<int:evaluation_id>/", api.EvaluationDetailApi.as_view(), name="api-evaluations-detail"),
    path(
        "evaluations/<int:evaluation_id>/results.json",
        api.EvaluationResultsApi.as_view(),
        name="api-evaluations-results",
    ),
    path(
        "evaluations/<int:evaluation_id>/review-requests/",
        api.ReviewRequestCreateApi.as_view(),
        name="api-evaluations-review-requests",
    ),
    path("reward-models/base-models/", api.BaseModelListApi.as_view(), name="api-base-models-list"),
    path("reward-models/<int:job_id>/score", api.ScoreApi.as_view(), name="api-reward-models-score"),
    # The same operation with a trailing slash, as every other path here has one (not repeated in the schema).
    path("reward-models/<int:job_id>/score/", api.ScoreSlashApi.as_view(), name="api-reward-models-score-slash"),
]
