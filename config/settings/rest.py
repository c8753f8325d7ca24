"""Django REST Framework and drf-spectacular."""

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "annotator.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Rates: PREFSTACK_API_THROTTLE_RATES (config/settings/security.py).
    "DEFAULT_THROTTLE_CLASSES": [
        "annotator.api.throttling.AnonRateThrottle",
        "annotator.api.throttling.UserRateThrottle",
    ],
    # JSON bodies only (an upload declares its own multipart parser): one encoding, the one the schema documents.
    "DEFAULT_PARSER_CLASSES": ["annotator.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "annotator.api.schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "annotator.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Prefstack API",
    "DESCRIPTION": "Collect human preference feedback on LLM responses, audit it, export it and train reward models.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs pages work offline: Swagger UI and Redoc are served from drf-spectacular-sidecar's static files.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a "status" field; name each choice set after its model so the schema is unambiguous.
    "ENUM_NAME_OVERRIDES": {
        "SnapshotStatusEnum": "annotator.models.release.SnapshotStatus",
        "JobStatusEnum": "rm_jobs.models.JobStatus",
        "EvaluationStatusEnum": "rm_jobs.models.EvaluationStatus",
        "GenerationRunStatusEnum": "annotator.models.generation.GenerationRunStatus",
    },
}
