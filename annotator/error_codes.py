"""Every machine-readable error code Prefstack answers with, in one enum (listed in docs/architecture.md).

An :class:`annotator.errors.ApplicationError` carries one of these as ``code``; the API renders it as
``{"message", "code", "extra"}``. The values are plain strings (``StrEnum``), so clients and tests compare them with
text. Framework errors the API lets through keep DRF's own codes (``not_authenticated``, ``method_not_allowed`` ...).
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    # The generic codes of the ApplicationError family (annotator.errors).
    INVALID = "invalid"
    VALIDATION_FAILED = "validation_failed"
    INVALID_COMBINATION = "invalid_combination"
    """Each field is valid alone but they cannot go together, or with the project (QLoRA without a rank, FSDP with
    LoRA, more devices than the queue's workers have): a rule the API's schema cannot state."""
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    ERROR = "error"
    """A framework error without a code of its own."""
    BAD_REQUEST = "bad_request"
    """A request Django refused before any view (too many fields, a malformed header)."""
    REQUEST_TOO_LARGE = "request_too_large"
    SERVER_ERROR = "server_error"
    INVALID_CREDENTIALS = "invalid_credentials"
    """A token was asked for with a wrong username or password, or for an inactive account."""
    LOCKED_OUT = "locked_out"
    """Too many failed logins (django-axes): the username or address is refused for a while, right password too."""

    # Annotating (annotator.services.assignments).
    ALREADY_SUBMITTED = "already_submitted"
    RESERVATION_EXPIRED = "reservation_expired"
    ASSIGNMENT_CLOSED = "assignment_closed"
    ASSIGNMENT_CHANGED = "assignment_changed"
    ANNOTATION_NOT_EDITABLE = "annotation_not_editable"

    # Annotator pools (annotator.services.qualification).
    NOT_QUALIFIED = "not_qualified"
    """The work left for the annotator needs a qualification they have not passed."""
    QUALIFICATION_UNAVAILABLE = "qualification_unavailable"
    """No attempt is open: already passed, no attempt left, or cooling down after a failed one."""
    # HelpSteer3's task types (docs/task-types.md).
    FEEDBACK_RULES_BROKEN = "feedback_rules_broken"
    """A feedback breaks the project's rules (sentences, words, the helpfulness opening); extra.fields says which."""
    EDIT_BY_FEEDBACK_AUTHOR = "edit_by_feedback_author"
    EDIT_UNCHANGED = "edit_unchanged"
    TASK_TYPE_MISMATCH = "task_type_mismatch"
    """The request or the file is for another task type than the project collects."""

    # Imports and releases.
    IMPORT_FAILED = "import_failed"
    IMPORT_FORMAT_ERROR = "import_format_error"
    SNAPSHOT_NOT_READY = "snapshot_not_ready"

    # Files (annotator.storage).
    STORAGE_UNAVAILABLE = "storage_unavailable"
    """The file store could not be reached or refused the credentials (after retries)."""

    # Reward models (rm_jobs).
    JOB_NOT_SUCCEEDED = "job_not_succeeded"
    NO_CHECKPOINT = "no_checkpoint"
    EVALUATION_NOT_READY = "evaluation_not_ready"
    MODEL_NOT_READY = "model_not_ready"
    INPUT_TOO_LONG = "input_too_long"
    TOO_MANY_ITEMS = "too_many_items"
    DOES_NOT_FIT = "does_not_fit"
    BENCHMARK_LAYOUT = "benchmark_layout"
    UNKNOWN_BENCHMARK = "unknown_benchmark"
    NO_RESULTS_FILE = "no_results_file"
    TRAINING_GROUP_FAILED = "training_group_failed"

    # Webhooks (annotator.services.webhooks).
    WEBHOOK_URL_NOT_ALLOWED = "webhook_url_not_allowed"
    """Not http(s), or its host resolves to an address the admin did not allow (private, loopback, link-local)."""
    WEBHOOK_EVENT_UNKNOWN = "webhook_event_unknown"

    # Model endpoints and generation runs (annotator.services.model_endpoints, annotator.services.generation).
    ENDPOINT_KEY_MISSING = "endpoint_key_missing"
    """The environment variable an endpoint names for its API key is not set (where the check runs)."""
    ENDPOINT_IN_USE = "endpoint_in_use"
    GENERATION_NOT_RESUMABLE = "generation_not_resumable"

    # The LLM judge (annotator.services.judge).
    JUDGE_NOT_CONFIGURED = "judge_not_configured"
    """A judge run was asked for a project with no judge attached."""
