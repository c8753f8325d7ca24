"""A typed client for the Prefstack API (``pip install ./clients/python``; import ``prefstack``)."""

from prefstack.client import Client, __version__
from prefstack.errors import PrefstackError, RunFailed
from prefstack.models import (
    AggregationRule,
    Evaluation,
    ImportResult,
    MetricPoint,
    MetricSeries,
    Project,
    Scores,
    Snapshot,
    Token,
    TrainingJob,
    TrainingMetrics,
    Webhook,
    WebhookDelivery,
    WebhookWithSecret,
)

__all__ = [
    "AggregationRule",
    "Client",
    "Evaluation",
    "ImportResult",
    "MetricPoint",
    "MetricSeries",
    "PrefstackError",
    "Project",
    "RunFailed",
    "Scores",
    "Snapshot",
    "Token",
    "TrainingJob",
    "TrainingMetrics",
    "Webhook",
    "WebhookDelivery",
    "WebhookWithSecret",
    "__version__",
]
