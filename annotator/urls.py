from django.urls import path

from annotator.views import annotate, generation, home, judge, lead, project, rules, setup, snapshots, webhooks

app_name = "annotator"
urlpatterns = [
    path("", home.home, name="home"),
    path("p/<slug:slug>/", project.project_home, name="project"),
    path("p/<slug:slug>/annotate/", annotate.annotate, name="annotate"),
    path("a/<int:assignment_id>/submit/", annotate.annotate_submit, name="annotate_submit"),
    path("a/<int:assignment_id>/skip/", annotate.annotate_skip, name="annotate_skip"),
    path("a/<int:assignment_id>/draft/", annotate.annotate_draft, name="annotate_draft"),
    path("p/<slug:slug>/annotate/history/", annotate.annotate_history, name="annotate_history"),
    path("n/<int:annotation_id>/edit/", annotate.annotate_edit, name="annotate_edit"),
    path("projects/new/", setup.project_new, name="project_new"),
    path("p/<slug:slug>/settings/", setup.setup_settings, name="setup_settings"),
    path("p/<slug:slug>/settings/guidelines/preview/", setup.setup_guidelines_preview, name="setup_guidelines_preview"),
    path("p/<slug:slug>/settings/attributes/", setup.setup_attributes, name="setup_attributes"),
    path("p/<slug:slug>/settings/members/", setup.setup_members, name="setup_members"),
    path("p/<slug:slug>/settings/import/", setup.setup_import, name="setup_import"),
    path("p/<slug:slug>/settings/gold/", setup.setup_gold, name="setup_gold"),
    path("p/<slug:slug>/settings/webhooks/", webhooks.setup_webhooks, name="setup_webhooks"),
    path("p/<slug:slug>/lead/", lead.lead_overview, name="lead_overview"),
    path("p/<slug:slug>/lead/intervals/", lead.lead_intervals, name="lead_intervals"),
    path("p/<slug:slug>/lead/annotators/", lead.lead_annotators, name="lead_annotators"),
    path("p/<slug:slug>/lead/annotators/<int:user_id>/", lead.lead_annotator_detail, name="lead_annotator_detail"),
    path("p/<slug:slug>/lead/disagreements/", lead.lead_disagreements, name="lead_disagreements"),
    path("p/<slug:slug>/lead/annotations/<int:annotation_id>/review/", lead.lead_review, name="lead_review"),
    path("p/<slug:slug>/lead/annotations/accept/", lead.lead_review_bulk_accept, name="lead_review_bulk_accept"),
    path("p/<slug:slug>/lead/rules/", lead.lead_rules, name="lead_rules"),
    path("p/<slug:slug>/lead/rules/save/", rules.lead_rule_save, name="lead_rule_save"),
    path("p/<slug:slug>/snapshots/", snapshots.snapshots, name="snapshots"),
    path("p/<slug:slug>/snapshots/<int:number>/", snapshots.snapshot_detail, name="snapshot_detail"),
    path("p/<slug:slug>/models/", generation.model_endpoints, name="model_endpoints"),
    path("p/<slug:slug>/models/<int:endpoint_id>/", generation.model_endpoint_edit, name="model_endpoint_edit"),
    path("p/<slug:slug>/judge/", judge.judge_page, name="judge"),
    path("p/<slug:slug>/judge/run/", judge.judge_run_launch, name="judge_run_launch"),
    path("p/<slug:slug>/judge/calibration.json", judge.judge_calibration_json, name="judge_calibration_json"),
    path("p/<slug:slug>/generation/", generation.generation_runs, name="generation_runs"),
    path("p/<slug:slug>/generation/<int:run_id>/", generation.generation_run, name="generation_run"),
    path(
        "p/<slug:slug>/generation/<int:run_id>/cancel/", generation.generation_run_cancel, name="generation_run_cancel"
    ),
    path(
        "p/<slug:slug>/generation/<int:run_id>/resume/", generation.generation_run_resume, name="generation_run_resume"
    ),
]
