from django.contrib import admin

from rm_jobs.models import Evaluation, JobMetric, ReviewRequest, TrainingJob


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "objective", "snapshot", "queue", "status", "attempt", "worker", "created_at")
    list_filter = ("status", "objective", "queue")
    search_fields = ("project__slug", "worker")
    raw_id_fields = ("snapshot", "created_by")
    readonly_fields = ("config", "summary", "log", "error", "heartbeat_at", "started_at", "finished_at")


@admin.register(JobMetric)
class JobMetricAdmin(admin.ModelAdmin):
    list_display = ("job", "stage", "step", "split", "loss", "accuracy", "tokens_per_s")
    list_filter = ("split",)
    raw_id_fields = ("job",)


@admin.register(Evaluation)
class EvaluationAdmin(admin.ModelAdmin):
    list_display = ("id", "job", "kind", "snapshot", "status", "created_at")
    list_filter = ("kind", "status")
    raw_id_fields = ("job", "snapshot", "created_by")


@admin.register(ReviewRequest)
class ReviewRequestAdmin(admin.ModelAdmin):
    list_display = ("comparison", "evaluation", "model_margin", "requested_by", "created_at")
    raw_id_fields = ("comparison", "evaluation", "requested_by")
