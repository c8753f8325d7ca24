from django.apps import AppConfig


class RmJobsConfig(AppConfig):
    name = "rm_jobs"
    verbose_name = "Reward-model jobs"
    default_auto_field = "django.db.models.BigAutoField"
