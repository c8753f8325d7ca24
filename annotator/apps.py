from django.apps import AppConfig


class AnnotatorConfig(AppConfig):
    name = "annotator"
    verbose_name = "Annotation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import pyarrow as pa

        # Arrow runs on jemalloc (config.django.base sets ARROW_DEFAULT_MEMORY_POOL). Left to its default decay,
        # jemalloc keeps freed pages for seconds, so a long streaming export grows ~2 MB a batch before levelling
        # off (+30 MB over a 100,000-comparison export); purged at once, the export's memory stays flat, for about
        # 0.4 s more CPU on that export (benchmarks/export_snapshot.py).
        if pa.default_memory_pool().backend_name == "jemalloc":
            pa.jemalloc_set_decay_ms(0)
