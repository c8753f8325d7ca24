"""Work that a worker may die in the middle of (training jobs, generation runs, judge runs): the one heartbeat rule
they share.

A running piece of work refreshes its ``heartbeat_at`` while it works. One whose heartbeat is older than
``PREFSTACK_JOB_STALE_SECONDS`` (or that never beat) lost its worker (kill -9, the OOM killer, the machine gone):
the periodic sweep re-queues it while it has attempts left (``PREFSTACK_JOB_MAX_ATTEMPTS`` counts the first run),
else marks it failed with the reason. Nothing here writes: the sweeps of each kind of work
(:func:`rm_jobs.services.jobs.training_jobs_sweep_stale`, :func:`annotator.services.generation.generation_runs_sweep_stale`,
:func:`annotator.services.judge.judge_runs_sweep_stale`) do, each with its own conditional updates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone


def heartbeat_stale(*, stale_seconds: int | None = None) -> Q:
    """The rows whose ``heartbeat_at`` is older than ``stale_seconds`` (default ``PREFSTACK_JOB_STALE_SECONDS``) or
    empty; combine with the kind's running status."""
    stale_seconds = settings.PREFSTACK_JOB_STALE_SECONDS if stale_seconds is None else stale_seconds
    cutoff = timezone.now() - timedelta(seconds=stale_seconds)
    return Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True)


def heartbeat_attempts_left(*, attempt: int) -> bool:
    """Whether work that ran ``attempt`` times may run once more after its worker died."""
    return attempt < settings.PREFSTACK_JOB_MAX_ATTEMPTS


def heartbeat_stale_reason(*, heartbeat_at: datetime | None, worker: str = "") -> str:
    """What the sweep records on work whose worker stopped beating."""
    beat = heartbeat_at.isoformat(timespec="seconds") if heartbeat_at else "never"
    return f"{f'worker {worker}' if worker else 'its worker'} stopped sending heartbeats (last {beat})"


@dataclass(frozen=True)
class SweepResult:
    """The ids a sweep re-queued, failed (no attempt left) and, for training jobs, cancelled (a cancel was asked)."""

    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)


def heartbeat_interval() -> float:
    """Seconds between two heartbeats of a generation or judge run: ``PREFSTACK_JOB_HEARTBEAT_SECONDS``, or a quarter
    of the stale threshold when that is 0 (training jobs then beat only per step; a run has no steps)."""
    every = settings.PREFSTACK_JOB_HEARTBEAT_SECONDS
    return float(every) if every > 0 else settings.PREFSTACK_JOB_STALE_SECONDS / 4


class HeartbeatClock:
    """Says when a run's next heartbeat is due, so that a loop that wakes every second writes one every
    :func:`heartbeat_interval` seconds at most (monotonic time; the first call after a beat is never due)."""

    def __init__(self, every: float | None = None) -> None:
        self.every = heartbeat_interval() if every is None else every
        self.last = time.monotonic()

    def due(self) -> bool:
        return time.monotonic() - self.last >= self.every

    def beaten(self) -> None:
        self.last = time.monotonic()
