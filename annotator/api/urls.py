from django.urls import path

from annotator.api import (
    annotate,
    annotations,
    comparisons,
    generation,
    judge,
    projects,
    snapshots,
    tasks,
    tokens,
    webhooks,
)

urlpatterns = [
    path("auth/token/", tokens.ApiTokenObtainApi.as_view(), name="api-auth-token"),
    path("projects/", projects.ProjectListApi.as_view(), name="api-projects-list"),
    path("projects/<slug:slug>/", projects.ProjectDetailApi.as_view(), name="api-projects-detail"),
    path("projects/<slug:slug>/queue-order/", projects.ProjectQueueOrderApi.as_view(), name="api-projects-queue-order"),
    path("projects/<slug:slug>/judge/runs/", judge.JudgeRunListApi.as_view(), name="api-judge-runs-list"),
    path("projects/<slug:slug>/judge/runs/create/", judge.JudgeRunCreateApi.as_view(), name="api-judge-runs-create"),
    path("projects/<slug:slug>/judge/drafts/", judge.JudgeDraftListApi.as_view(), name="api-judge-drafts-list"),
    path("projects/<slug:slug>/judge/calibration/", judge.JudgeCalibrationApi.as_view(), name="api-judge-calibration"),
    path("projects/<slug:slug>/comparisons/", comparisons.ComparisonListApi.as_view(), name="api-comparisons-list"),
    path(
        "projects/<slug:slug>/comparisons/import/",
        comparisons.ComparisonImportApi.as_view(),
        name="api-comparisons-import",
    ),
    path(
        "projects/<slug:slug>/comparisons/<int:comparison_id>/",
        comparisons.ComparisonDetailApi.as_view(),
        name="api-comparisons-detail",
    ),
    path("projects/<slug:slug>/annotations/", annotations.AnnotationListApi.as_view(), name="api-annotations-list"),
    path("projects/<slug:slug>/snapshots/", snapshots.SnapshotListApi.as_view(), name="api-snapshots-list"),
    path("projects/<slug:slug>/snapshots/create/", snapshots.SnapshotCreateApi.as_view(), name="api-snapshots-create"),
    path("snapshots/<int:snapshot_id>/", snapshots.SnapshotDetailApi.as_view(), name="api-snapshots-detail"),
    path("snapshots/<int:snapshot_id>/card/", snapshots.SnapshotCardApi.as_view(), name="api-snapshots-card"),
    path(
        "snapshots/<int:snapshot_id>/download/", snapshots.SnapshotDownloadApi.as_view(), name="api-snapshots-download"
    ),
    path(
        "projects/<slug:slug>/assignments/next/",
        annotate.AssignmentClaimNextApi.as_view(),
        name="api-assignments-next",
    ),
    path("assignments/<int:assignment_id>/draft/", annotate.AssignmentDraftApi.as_view(), name="api-assignments-draft"),
    path(
        "assignments/<int:assignment_id>/submit/", annotate.AnnotationSubmitApi.as_view(), name="api-assignments-submit"
    ),
    path("assignments/<int:assignment_id>/skip/", annotate.AssignmentSkipApi.as_view(), name="api-assignments-skip"),
    path("projects/<slug:slug>/webhooks/", webhooks.WebhookListApi.as_view(), name="api-webhooks-list"),
    path("projects/<slug:slug>/webhooks/create/", webhooks.WebhookCreateApi.as_view(), name="api-webhooks-create"),
    path(
        "projects/<slug:slug>/webhooks/<int:webhook_id>/update/",
        webhooks.WebhookUpdateApi.as_view(),
        name="api-webhooks-update",
    ),
    path(
        "projects/<slug:slug>/webhooks/<int:webhook_id>/rotate-secret/",
        webhooks.WebhookSecretRotateApi.as_view(),
        name="api-webhooks-rotate-secret",
    ),
    path(
        "projects/<slug:slug>/webhooks/<int:webhook_id>/delete/",
        webhooks.WebhookDeleteApi.as_view(),
        name="api-webhooks-delete",
    ),
    path(
        "projects/<slug:slug>/webhooks/<int:webhook_id>/test/",
        webhooks.WebhookSendTestApi.as_view(),
        name="api-webhooks-test",
    ),
    path(
        "projects/<slug:slug>/webhook-deliveries/",
        webhooks.WebhookDeliveryListApi.as_view(),
        name="api-webhook-deliveries-list",
    ),
    path(
        "projects/<slug:slug>/webhook-deliveries/<int:delivery_id>/redeliver/",
        webhooks.WebhookRedeliverApi.as_view(),
        name="api-webhook-deliveries-redeliver",
    ),
    path(
        "projects/<slug:slug>/model-endpoints/",
        generation.ModelEndpointListApi.as_view(),
        name="api-model-endpoints-list",
    ),
    path(
        "projects/<slug:slug>/model-endpoints/create/",
        generation.ModelEndpointCreateApi.as_view(),
        name="api-model-endpoints-create",
    ),
    path(
        "projects/<slug:slug>/model-endpoints/<int:endpoint_id>/",
        generation.ModelEndpointDetailApi.as_view(),
        name="api-model-endpoints-detail",
    ),
    path(
        "projects/<slug:slug>/model-endpoints/<int:endpoint_id>/update/",
        generation.ModelEndpointUpdateApi.as_view(),
        name="api-model-endpoints-update",
    ),
    path(
        "projects/<slug:slug>/model-endpoints/<int:endpoint_id>/delete/",
        generation.ModelEndpointDeleteApi.as_view(),
        name="api-model-endpoints-delete",
    ),
    path(
        "projects/<slug:slug>/generation-runs/",
        generation.GenerationRunListApi.as_view(),
        name="api-generation-runs-list",
    ),
    path(
        "projects/<slug:slug>/generation-runs/create/",
        generation.GenerationRunCreateApi.as_view(),
        name="api-generation-runs-create",
    ),
    path(
        "projects/<slug:slug>/generation-runs/<int:run_id>/",
        generation.GenerationRunDetailApi.as_view(),
        name="api-generation-runs-detail",
    ),
    path(
        "projects/<slug:slug>/generation-runs/<int:run_id>/cancel/",
        generation.GenerationRunCancelApi.as_view(),
        name="api-generation-runs-cancel",
    ),
    path(
        "projects/<slug:slug>/generation-runs/<int:run_id>/resume/",
        generation.GenerationRunResumeApi.as_view(),
        name="api-generation-runs-resume",
    ),
    path("projects/<slug:slug>/tasks/import/", tasks.TaskImportApi.as_view(), name="api-tasks-import"),
    path("projects/<slug:slug>/tasks/export/", tasks.TaskExportApi.as_view(), name="api-tasks-export"),
    path("projects/<slug:slug>/tasks/next/", tasks.TaskClaimNextApi.as_view(), name="api-tasks-next"),
    path("tasks/<int:assignment_id>/draft/", tasks.TaskDraftApi.as_view(), name="api-tasks-draft"),
    path("tasks/<int:assignment_id>/feedback/", tasks.FeedbackSubmitApi.as_view(), name="api-tasks-feedback"),
    path("tasks/<int:assignment_id>/edit/", tasks.EditSubmitApi.as_view(), name="api-tasks-edit"),
    path("tasks/<int:assignment_id>/edit-choice/", tasks.EditChoiceSubmitApi.as_view(), name="api-tasks-edit-choice"),
    path("tasks/<int:assignment_id>/skip/", tasks.TaskSkipApi.as_view(), name="api-tasks-skip"),
]
