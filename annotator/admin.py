from django.contrib import admin

from annotator import models


class AttributeInline(admin.TabularInline):
    model = models.Attribute
    extra = 0


class MembershipInline(admin.TabularInline):
    model = models.Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(models.Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "overlap", "licence", "created_at"]
    search_fields = ["slug", "name"]
    inlines = [AttributeInline, MembershipInline]


@admin.register(models.Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "__str__"]
    list_filter = ["project"]


@admin.register(models.Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = ["id", "__str__", "model_name"]
    raw_id_fields = ["prompt"]


@admin.register(models.Comparison)
class ComparisonAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "split", "source", "source_id", "is_gold", "extra_annotators"]
    list_filter = ["project", "split", "is_gold", "source"]
    search_fields = ["source_id"]
    raw_id_fields = ["prompt", "response_1", "response_2"]


@admin.register(models.SourceLabel)
class SourceLabelAdmin(admin.ModelAdmin):
    list_display = ["id", "comparison", "source", "preference_strength"]
    raw_id_fields = ["comparison"]


@admin.register(models.Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["id", "comparison", "annotator", "status", "reserved_until", "swapped"]
    list_filter = ["status"]
    raw_id_fields = ["comparison", "annotator"]


@admin.register(models.Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["id", "comparison", "annotator", "preference_strength", "is_current", "source", "created_at"]
    list_filter = ["is_current", "source"]
    raw_id_fields = ["assignment", "comparison", "annotator"]


@admin.register(models.Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["id", "annotation", "reviewer", "decision", "created_at"]
    list_filter = ["decision"]
    raw_id_fields = ["annotation", "reviewer"]


@admin.register(models.ModelEndpoint)
class ModelEndpointAdmin(admin.ModelAdmin):
    """Site endpoints (no project) are managed here; leads manage their project's on the model endpoints page. Saves
    here skip the service's checks, so keep ``api_key_env`` to the ``PREFSTACK_LLM_KEY_`` prefix."""

    list_display = ["id", "name", "project", "base_url", "model_id", "concurrency_limit", "api_key_env"]
    list_filter = ["project"]
    search_fields = ["name", "model_id"]


@admin.register(models.GenerationRun)
class GenerationRunAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "status", "items_total", "items_done", "items_failed", "comparisons_created"]
    list_filter = ["status", "project"]
    readonly_fields = ["status", "items_total", "items_done", "items_failed", "comparisons_created"]
