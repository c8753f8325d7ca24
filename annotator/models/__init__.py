"""The annotation domain: projects, their attributes, comparisons to annotate, assignments, annotations, reviews."""

from annotator.models.annotation import (
    SLOT_STATUSES,
    Annotation,
    Assignment,
    AssignmentStatus,
    Flag,
    Review,
    ReviewDecision,
    ReviewStatus,
    SkipReason,
)
from annotator.models.comparison import Comparison, Prompt, Response, SourceLabel, Split
from annotator.models.generation import (
    GenerationItem,
    GenerationItemStatus,
    GenerationRun,
    GenerationRunStatus,
    ModelEndpoint,
)
from annotator.models.judge import Judge, JudgeDraft, JudgeDraftStatus, JudgeRun, JudgeRunStatus
from annotator.models.project import Attribute, Membership, Project, QueueOrder, Role
from annotator.models.quality import AgreementIntervals, IntervalsStatus
from annotator.models.release import AggregationKind, AggregationRule, Snapshot, SnapshotStatus
from annotator.models.webhook import WEBHOOK_TEST_EVENT, DeliveryStatus, Webhook, WebhookDelivery, WebhookEvent

__all__ = [
    "SLOT_STATUSES",
    "WEBHOOK_TEST_EVENT",
    "AggregationKind",
    "AggregationRule",
    "AgreementIntervals",
    "Annotation",
    "Assignment",
    "AssignmentStatus",
    "Attribute",
    "Comparison",
    "DeliveryStatus",
    "Flag",
    "GenerationItem",
    "GenerationItemStatus",
    "GenerationRun",
    "GenerationRunStatus",
    "IntervalsStatus",
    "Judge",
    "JudgeDraft",
    "JudgeDraftStatus",
    "JudgeRun",
    "JudgeRunStatus",
    "Membership",
    "ModelEndpoint",
    "Project",
    "Prompt",
    "QueueOrder",
    "Response",
    "Review",
    "ReviewDecision",
    "ReviewStatus",
    "Role",
    "SkipReason",
    "Snapshot",
    "SnapshotStatus",
    "SourceLabel",
    "Split",
    "Webhook",
    "WebhookDelivery",
    "WebhookEvent",
]
