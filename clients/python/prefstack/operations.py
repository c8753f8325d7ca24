"""Every API operation the client calls: method, path template, query parameters, body fields and the dataclass
its answer is read into. The client sends nothing outside this table (``Client`` checks each request against it)
and the server's test suite compares the table with ``/api/schema/``, so neither side can rename a field alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from prefstack import models

PAGE = frozenset({"limit", "offset"})


@dataclass(frozen=True)
class Operation:
    method: Literal["GET", "POST"]
    path: str
    """As in the schema, e.g. ``/api/v1/snapshots/{snapshot_id}/``."""
    query: frozenset[str] = frozenset()
    body: frozenset[str] = frozenset()
    encoding: Literal["json", "multipart", "none"] = "none"
    result: type[Any] | None = None
    """The dataclass of the answer (of each item of a paginated answer); None: no body, or a file."""
    many: Literal["one", "page"] = "one"
    status: int = 200


OPERATIONS: dict[str, Operation] = {
    "auth_token_obtain": Operation(
        "POST", "/api/v1/auth/token/", body=frozenset({"username", "password"}), encoding="json", result=models.Token
    ),
    "projects_list": Operation("GET", "/api/v1/projects/", query=PAGE, result=models.Project, many="page"),
    "snapshots_list": Operation(
        "GET",
        "/api/v1/projects/{slug}/snapshots/",
        query=PAGE | {"status"},
        result=models.Snapshot,
        many="page",
    ),
    "snapshots_create": Operation(
        "POST",
        "/api/v1/projects/{slug}/snapshots/create/",
        body=frozenset({"rule", "name", "split_seed", "validation_fraction", "include_judge_drafts"}),
        encoding="json",
        result=models.Snapshot,
        status=202,
    ),
    "snapshots_retrieve": Operation("GET", "/api/v1/snapshots/{snapshot_id}/", result=models.Snapshot),
    "snapshots_download": Operation(
        "GET", "/api/v1/snapshots/{snapshot_id}/download/", query=frozenset({"export", "file_type", "split"})
    ),
    "comparisons_import": Operation(
        "POST",
        "/api/v1/projects/{slug}/comparisons/import/",
        body=frozenset({"file", "format", "split"}),
        encoding="multipart",
        result=models.ImportResult,
        status=201,
    ),
    "training_jobs_list": Operation(
        "GET",
        "/api/v1/projects/{slug}/training-jobs/",
        query=PAGE | {"status"},
        result=models.TrainingJob,
        many="page",
    ),
    "training_jobs_create": Operation(
        "POST",
        "/api/v1/projects/{slug}/training-jobs/create/",
        body=frozenset({"snapshot", "objective", "base_model", "queue", "gpus", "strategy", "hyperparameters"}),
        encoding="json",
        result=models.TrainingJob,
        status=202,
    ),
    "training_jobs_retrieve": Operation("GET", "/api/v1/training-jobs/{job_id}/", result=models.TrainingJob),
    "training_jobs_metrics": Operation("GET", "/api/v1/training-jobs/{job_id}/metrics/", result=models.TrainingMetrics),
    "evaluations_create": Operation(
        "POST",
        "/api/v1/training-jobs/{job_id}/evaluations/create/",
        body=frozenset({"snapshot"}),
        encoding="json",
        result=models.Evaluation,
        status=202,
    ),
    "evaluations_create_file": Operation(
        "POST",
        "/api/v1/training-jobs/{job_id}/evaluations/create/",
        body=frozenset({"file", "benchmark"}),
        encoding="multipart",
        result=models.Evaluation,
        status=202,
    ),
    "evaluations_retrieve": Operation("GET", "/api/v1/evaluations/{evaluation_id}/", result=models.Evaluation),
    "reward_models_score": Operation(
        "POST",
        "/api/v1/reward-models/{job_id}/score",
        body=frozenset({"prompt", "responses"}),
        encoding="json",
        result=models.Scores,
    ),
    "webhooks_list": Operation(
        "GET", "/api/v1/projects/{slug}/webhooks/", query=PAGE, result=models.Webhook, many="page"
    ),
    "webhooks_create": Operation(
        "POST",
        "/api/v1/projects/{slug}/webhooks/create/",
        body=frozenset({"url", "events"}),
        encoding="json",
        result=models.WebhookWithSecret,
        status=201,
    ),
    "webhooks_update": Operation(
        "POST",
        "/api/v1/projects/{slug}/webhooks/{webhook_id}/update/",
        body=frozenset({"url", "events", "is_active"}),
        encoding="json",
        result=models.Webhook,
    ),
    "webhooks_rotate_secret": Operation(
        "POST", "/api/v1/projects/{slug}/webhooks/{webhook_id}/rotate-secret/", result=models.WebhookWithSecret
    ),
    "webhooks_delete": Operation("POST", "/api/v1/projects/{slug}/webhooks/{webhook_id}/delete/", status=204),
    "webhooks_send_test": Operation(
        "POST", "/api/v1/projects/{slug}/webhooks/{webhook_id}/test/", result=models.WebhookDelivery, status=202
    ),
    "webhook_deliveries_list": Operation(
        "GET",
        "/api/v1/projects/{slug}/webhook-deliveries/",
        query=PAGE | {"webhook"},
        result=models.WebhookDelivery,
        many="page",
    ),
    "webhook_deliveries_redeliver": Operation(
        "POST",
        "/api/v1/projects/{slug}/webhook-deliveries/{delivery_id}/redeliver/",
        result=models.WebhookDelivery,
        status=202,
    ),
}
"""Keyed by the schema's operationId (``evaluations_create_file`` is the multipart body of ``evaluations_create``)."""


def operation_id(key: str) -> str:
    """The schema's operationId of a table key (two keys may share one operation, each with one body encoding)."""
    return key.removesuffix("_file")
