"""Work that a worker may die in the middle of (training jobs, generation runs, judge runs, and in rm_jobs evaluations
and priority scorings): the one heartbeat rule they share.

A running piece of work refreshes its ``heartbeat_at`` while it works. One whose heartbeat is older than
``PREFSTACK_JOB_STALE_SECONDS`` (or that never beat) lost its worker (kill -9, the OOM killer, the machine gone):
the periodic sweep re-queues it while it has attempts left (``PREFSTACK_JOB_MAX_ATTEMPTS`` counts the first run),
else marks it failed with the reason. Training jobs have a sweep of their own
(:func:`rm_jobs.services.jobs.training_jobs_sweep_stale`: checkpoints, cancels, a torchrun group); generation runs,
judge runs, evaluations and priority scorings share :func:`model_runs_sweep_stale` below, each described by a
:class:`ModelRunKind`. A run that restarts from scratch beats through :class:`ModelRunBeat` from its loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Model, Q
from django.utils import timezone

logger = logging.getLogger(__name__)


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
    """Seconds between two heartbeats of a model run (generation, judge, evaluation, priority scoring):
    ``PREFSTACK_JOB_HEARTBEAT_SECONDS``, or a quarter of the stale threshold when that is 0 (training jobs then beat
    only per step; a run has no steps)."""
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


@dataclass(frozen=True)
class ModelRunKind:
    """What the sweep needs to know of one kind of model run (a generation run, a judge run)."""

    model: type[Model]
    label: str
    """In the log: "generation run"."""
    running: str
    waiting: str
    """The status of a run queued again."""
    failed: str
    enqueue: Callable[[int], None]
    """Sends the run's task once the transaction commits."""
    failed_emit: Callable[[int], None] | None = None
    """Told, in the sweep's transaction, of a run it failed (an evaluation's webhook event)."""
    records_start: bool = False
    """The run has a ``started_at``, set when an attempt starts."""


def _runs(kind: ModelRunKind) -> Any:
    return kind.model._default_manager


def model_run_owned(kind: ModelRunKind, *, run_id: int, attempt: int) -> Any:
    """The run ``run_id`` while ``attempt`` still runs it (running, that attempt): every write of a worker goes
    through it, so an attempt the sweep gave up on writes nothing."""
    return _runs(kind).filter(pk=run_id, status=kind.running, attempt=attempt)


def model_runs_sweep_stale(kind: ModelRunKind, *, stale_seconds: int | None = None) -> SweepResult:
    """Give up on the running runs of ``kind`` whose worker stopped beating: waiting and enqueued again while they
    have attempts left, else failed with the reason (each run in a transaction of its own)."""
    result = SweepResult()
    stale = _runs(kind).filter(heartbeat_stale(stale_seconds=stale_seconds), status=kind.running)
    for run in stale.only("id", "attempt", "heartbeat_at"):
        outcome = _model_run_give_up(kind, run=run)
        if outcome is not None:
            getattr(result, outcome).append(run.pk)
    return result


@transaction.atomic
def _model_run_give_up(kind: ModelRunKind, *, run: Any, enqueue: bool = True) -> str | None:
    """The worker of ``run`` (as loaded: its ``attempt`` and ``heartbeat_at``) is gone: "requeued" while it has
    attempts left (enqueued again, unless the caller is the delivery that will run it), else "failed"; None when
    that attempt no longer owned the run (one conditional update, so two sweepers never both act)."""
    why = heartbeat_stale_reason(heartbeat_at=run.heartbeat_at)
    owned = model_run_owned(kind, run_id=run.pk, attempt=run.attempt)
    if heartbeat_attempts_left(attempt=run.attempt):
        if not owned.update(status=kind.waiting, heartbeat_at=None, requeue_reason=f"attempt {run.attempt}: {why}"):
            return None
        logger.warning("%s %s re-queued: %s", kind.label, run.pk, why)
        if enqueue:
            kind.enqueue(run.pk)
        return "requeued"
    failed = owned.update(
        status=kind.failed,
        heartbeat_at=None,
        finished_at=timezone.now(),
        error=f"attempt {run.attempt}: {why}; no attempts left.",
    )
    if not failed:
        return None
    logger.warning("%s %s failed: %s", kind.label, run.pk, why)
    if kind.failed_emit is not None:
        kind.failed_emit(run.pk)
    return "failed"


def heartbeat_silent(fetch: Callable[[], Any | None], *, window_s: float) -> Any | None:
    """Watch a running attempt (``fetch`` loads it, with ``attempt``, ``heartbeat_at`` and ``started_at`` if it
    has one; None once it is gone or no longer running) until its heartbeat has been silent for ``window_s``; then
    return it as last loaded. None when the heartbeat moved meanwhile (the attempt lives) or the attempt ended.
    What a task delivered again after its pool process died asks before taking the work over."""
    window = timedelta(seconds=window_s)
    work = fetch()
    if work is None:
        return None
    first_beat, attempt = work.heartbeat_at, work.attempt
    poll = max(0.05, min(1.0, window_s / 8))
    while True:
        silent_since = work.heartbeat_at or getattr(work, "started_at", None) or timezone.now() - window
        if timezone.now() - silent_since > window:
            return work
        time.sleep(min(poll, max(0.0, (silent_since + window - timezone.now()).total_seconds()) + 0.01))
        fresh = fetch()
        if fresh is None or fresh.attempt != attempt or fresh.heartbeat_at != first_beat:
            return None
        work = fresh


def model_run_start(kind: ModelRunKind, *, run_id: int) -> bool:
    """waiting → running as its next attempt, with a first heartbeat; False when the run is not waiting."""
    now = timezone.now()
    started = {"started_at": now} if kind.records_start else {}
    return bool(
        _runs(kind)
        .filter(pk=run_id, status=kind.waiting)
        .update(status=kind.running, heartbeat_at=now, attempt=F("attempt") + 1, **started)
    )


def model_run_claim(kind: ModelRunKind, *, run_id: int) -> bool:
    """What a delivery of a run's task does first: start the run, or take it over when its pool process died
    (:func:`model_run_take_over`) and start it. False for a repeated delivery (not waiting, or its attempt lives)."""
    if model_run_start(kind, run_id=run_id):
        return True
    return model_run_take_over(kind, run_id=run_id) and model_run_start(kind, run_id=run_id)


def model_run_take_over(kind: ModelRunKind, *, run_id: int) -> bool:
    """Called when a delivery of a run's task finds the run not waiting. If it is running and its heartbeat stays
    silent for two heartbeat intervals (its pool process died and Celery handed the task back), give that attempt
    up without sending a new message, so that this delivery runs it next. True when the run waits again for the
    caller; False when it is not running, its attempt beats (a duplicate delivery), or it had no attempt left."""

    def fetch() -> Any | None:
        return _runs(kind).filter(pk=run_id, status=kind.running).first()

    run = heartbeat_silent(fetch, window_s=2 * heartbeat_interval())
    return run is not None and _model_run_give_up(kind, run=run, enqueue=False) == "requeued"


class AttemptLost(Exception):
    """The attempt no longer owns its run (the sweep gave it up): stop, and write nothing more."""


class BackgroundBeat:
    """Calls ``beat`` from a daemon thread every ``every_s`` seconds while the ``with`` block runs, until ``beat``
    answers False (the work is no longer this attempt's). For what has no loop to beat in: loading a large model,
    tokenising, a training step slower than the stale threshold. The thread dies with the process (kill -9), which
    is the point: the beat then stops and the sweep takes the work. ``every_s <= 0``: no thread."""

    def __init__(self, beat: Callable[[], bool], *, every_s: float, name: str) -> None:
        self.beat, self.every_s, self.name = beat, every_s, name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> BackgroundBeat:
        if self.every_s > 0:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.every_s):
                try:
                    if not self.beat():
                        return
                except Exception:  # a locked database must not end the beat; the next one retries
                    logger.warning("%s failed", self.name, exc_info=True)
        finally:
            connection.close()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


class ModelRunBeat:
    """The heartbeat of one attempt of a run, called from its loop (each batch or item): writes ``heartbeat_at`` when
    a beat is due (:class:`HeartbeatClock`, one write every few seconds at most), and raises :class:`AttemptLost` when
    the attempt no longer owns the run.

    Used as a context manager it also beats from a thread while the block runs, so that what has no loop to beat in
    (downloading and loading a large model, tokenising) is not taken for a dead worker. The thread dies with the
    process, which is the point; it only refreshes the beat, and leaves telling a lost attempt to the loop's calls,
    which see the run through the work's own connection."""

    def __init__(self, kind: ModelRunKind, *, run_id: int, attempt: int, clock: HeartbeatClock | None = None) -> None:
        self.kind, self.run_id, self.attempt = kind, run_id, attempt
        self.clock = HeartbeatClock() if clock is None else clock
        name = f"heartbeat of {kind.label} {run_id}"
        self._background = BackgroundBeat(self._refresh, every_s=self.clock.every, name=name)

    def _refresh(self) -> bool:
        """One beat, no verdict: False (given up, or not visible to the thread's connection) only stops the thread;
        the loop's next call tells a lost attempt."""
        return bool(
            model_run_owned(self.kind, run_id=self.run_id, attempt=self.attempt).update(heartbeat_at=timezone.now())
        )

    def __enter__(self) -> ModelRunBeat:
        self._background.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._background.__exit__(*exc)

    def __call__(self) -> None:
        if not self.clock.due():
            return
        self.clock.beaten()
        if not model_run_owned(self.kind, run_id=self.run_id, attempt=self.attempt).update(heartbeat_at=timezone.now()):
            raise AttemptLost(f"{self.kind.label} {self.run_id}: attempt {self.attempt} no longer runs it")
