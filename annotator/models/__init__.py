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
from annotator.models.project import UNIT_TASK_TYPES, Attribute, Membership, Project, QueueOrder, Role, TaskType
from annotator.models.qualification import (
    AttemptStatus,
    QualificationAnswer,
    QualificationAttempt,
    QualificationItem,
    QualificationSet,
)
from annotator.models.quality import AgreementCounts, AgreementIntervals, ComparisonAgreementCounts, IntervalsStatus
from annotator.models.release import AggregationKind, AggregationRule, Snapshot, SnapshotStatus
from annotator.models.task import TaskAssignment, TaskResult, TaskReview, TaskUnit
from annotator.models.webhook import WEBHOOK_TEST_EVENT, DeliveryStatus, Webhook, WebhookDelivery, WebhookEvent

__all__ = [
    "SLOT_STATUSES",
    "UNIT_TASK_TYPES",
    "WEBHOOK_TEST_EVENT",
    "AggregationKind",
    "AggregationRule",
    "AgreementCounts",
    "AgreementIntervals",
    "Annotation",
    "Assignment",
    "AssignmentStatus",
    "AttemptStatus",
    "Attribute",
    "Comparison",
    "ComparisonAgreementCounts",
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
    "QualificationAnswer",
    "QualificationAttempt",
    "QualificationItem",
    "QualificationSet",
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
    "TaskAssignment",
    "TaskResult",
    "TaskReview",
    "TaskType",
    "TaskUnit",
    "Webhook",
    "WebhookDelivery",
    "WebhookEvent",
]
