"""What the API answers, as frozen dataclasses whose field names are the schema's (a test in the server's suite
checks each against ``/api/schema/``). Fields the server adds later are ignored; one it drops is a clear error."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Token:
    token: str
    username: str


@dataclass(frozen=True)
class Project:
    slug: str
    name: str
    licence: str
    overlap: int
    roles: list[str]
    comparisons: int


@dataclass(frozen=True)
class AggregationRule:
    name: str
    version: int
    kind: str


@dataclass(frozen=True)
class Snapshot:
    id: int
    project: str
    number: int
    name: str
    rule: AggregationRule
    split_seed: int
    validation_fraction: float
    include_judge_drafts: bool
    """Whether the items file carries the LLM judge's drafts as model-made columns."""
    status: str
    """pending, building, ready or failed."""
    progress: float
    error: str
    counts: dict[str, Any]
    agreement: dict[str, Any]
    content_hash: str
    created_at: datetime
    finished_at: datetime | None

    @property
    def done(self) -> bool:
        return self.status in ("ready", "failed")


@dataclass(frozen=True)
class ImportResult:
    comparisons: int
    annotations: int
    source_labels: int
    skipped_as_not_ratable: int


@dataclass(frozen=True)
class TrainingJob:
    id: int
    project: str
    snapshot: int
    objective: str
    base_model: str
    queue: str
    status: str
    """queued, running, succeeded, failed or cancelled."""
    attempt: int
    stage: int
    step: int
    total_steps: int
    hyperparameters: dict[str, Any]
    summary: dict[str, Any]
    error: str
    created_at: datetime
    finished_at: datetime | None

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class MetricPoint:
    x: int
    """Optimizer step, counted across stages."""
    y: float


@dataclass(frozen=True)
class MetricSeries:
    loss: list[MetricPoint]
    accuracy: list[MetricPoint]
    val_loss: list[MetricPoint]
    val_accuracy: list[MetricPoint]


@dataclass(frozen=True)
class TrainingMetrics:
    job: int
    status: str
    step: int
    total_steps: int
    stage: int
    stages: int
    series: MetricSeries
    last_id: int


@dataclass(frozen=True)
class Evaluation:
    id: int
    job: int
    kind: str
    snapshot: int | None
    status: str
    """queued, running, succeeded or failed."""
    metrics: dict[str, Any]
    disagreements: list[dict[str, Any]]
    error: str
    created_at: datetime
    finished_at: datetime | None

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed")


@dataclass(frozen=True)
class Scores:
    rewards: list[float]
    """One reward per response, in order."""
    num_tokens: list[int]
    max_length: int
    outputs: list[dict[str, float]]


@dataclass(frozen=True)
class Webhook:
    id: int
    url: str
    events: list[str]
    is_active: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class WebhookWithSecret(Webhook):
    """A webhook as created or rotated: the only answers that carry its secret."""

    secret: str


@dataclass(frozen=True)
class WebhookDelivery:
    id: int
    webhook: int
    event: str
    status: str
    """pending, sending, retrying, succeeded or failed."""
    attempts: int
    response_code: int | None
    duration_ms: int | None
    error: str
    redelivery_of: int | None
    created_at: datetime
    last_attempt_at: datetime | None
    finished_at: datetime | None


def _convert(kind: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        inner = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        return _convert(inner[0], value) if len(inner) == 1 else value
    if origin is list:
        (item,) = typing.get_args(kind)
        return [_convert(item, v) for v in value]
    if kind is datetime:
        return datetime.fromisoformat(value)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return load(kind, value)
    return value


def load(cls: type[T], data: Mapping[str, Any]) -> T:
    """An instance of the dataclass ``cls`` from a JSON object (nested dataclasses, lists and datetimes converted).

    >>> load(MetricPoint, {"x": 3, "y": 0.5, "extra": 1})
    MetricPoint(x=3, y=0.5)
    """
    hints = typing.get_type_hints(cls)
    values = {f.name: _convert(hints[f.name], data[f.name]) for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**values)


def read_fields(cls: type[Any]) -> dict[str, Any]:
    """Field name -> the nested dataclass it is read into (through lists and optionals), or None for a plain value.

    The schema check walks this to compare every field the client reads with the response schema."""
    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        while typing.get_origin(kind) in (list, typing.Union, types.UnionType):
            args = [a for a in typing.get_args(kind) if a is not type(None)]
            kind = args[0] if len(args) == 1 else Any
        out[f.name] = kind if isinstance(kind, type) and dataclasses.is_dataclass(kind) else None
    return out
