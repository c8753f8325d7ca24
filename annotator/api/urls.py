from django.urls import path

from annotator.api import annotate, annotations, comparisons, judge, projects, snapshots

urlpatterns = [
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
]
