from django.urls import path

from annotator.api import annotate, annotations, comparisons, projects, snapshots, tasks

urlpatterns = [
    path("projects/", projects.ProjectListApi.as_view(), name="api-projects-list"),
    path("projects/<slug:slug>/", projects.ProjectDetailApi.as_view(), name="api-projects-detail"),
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
    path("projects/<slug:slug>/tasks/import/", tasks.TaskImportApi.as_view(), name="api-tasks-import"),
    path("projects/<slug:slug>/tasks/export/", tasks.TaskExportApi.as_view(), name="api-tasks-export"),
    path("projects/<slug:slug>/tasks/next/", tasks.TaskClaimNextApi.as_view(), name="api-tasks-next"),
    path("tasks/<int:assignment_id>/draft/", tasks.TaskDraftApi.as_view(), name="api-tasks-draft"),
    path("tasks/<int:assignment_id>/feedback/", tasks.FeedbackSubmitApi.as_view(), name="api-tasks-feedback"),
    path("tasks/<int:assignment_id>/edit/", tasks.EditSubmitApi.as_view(), name="api-tasks-edit"),
    path("tasks/<int:assignment_id>/edit-choice/", tasks.EditChoiceSubmitApi.as_view(), name="api-tasks-edit-choice"),
    path("tasks/<int:assignment_id>/skip/", tasks.TaskSkipApi.as_view(), name="api-tasks-skip"),
]
