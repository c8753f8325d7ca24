"""Which queues have a live Celery worker: so that a job sent where nobody listens says so instead of waiting silently.

The answer comes from Celery's own remote inspection (``active_queues``: every worker replies with the queues it
consumes), which the Redis and filesystem brokers both carry. Asking costs up to ``INSPECT_TIMEOUT_S`` when a worker
does not answer, so the answer is cached for ``CACHE_S`` seconds: the job page polls every two seconds and must not
wait on the broker each time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.core.cache import cache
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

INSPECT_TIMEOUT_S = 0.5
CACHE_S = 15
_CACHE_KEY = "rm_jobs:queue_workers"


@dataclass(frozen=True)
class QueueWorkers:
    """Live workers per queue name; ``checked`` is False when the broker could not be asked (then nothing is known,
    and no warning is shown)."""

    workers: dict[str, list[str]]
    checked: bool = True

    def has_worker(self, queue: str) -> bool:
        return not self.checked or bool(self.workers.get(queue))


def _inspect_active_queues() -> dict[str, list[dict[str, object]]] | None:
    """Celery's ``inspect().active_queues()``: ``{worker: [{"name": queue, ...}, ...]}``; None when nobody replied."""
    from config.celery import app

    return app.control.inspect(timeout=INSPECT_TIMEOUT_S).active_queues()  # type: ignore[no-any-return]


def queue_workers() -> QueueWorkers:
    """The live workers of every queue (cached for CACHE_S seconds)."""
    cached = cache.get(_CACHE_KEY)
    if isinstance(cached, QueueWorkers):
        return cached
    try:
        replies = _inspect_active_queues() or {}
    except (
        OSError,
        OperationalError,
    ) as exc:  # the broker is unreachable (connection refused, timeout): say nothing rather than fail
        logger.warning("could not inspect Celery workers: %s", exc)
        result = QueueWorkers(workers={}, checked=False)
    else:
        workers: dict[str, list[str]] = {}
        for worker, queues in sorted(replies.items()):
            for queue in queues or []:
                workers.setdefault(str(queue.get("name", "")), []).append(worker)
        result = QueueWorkers(workers=workers)
    cache.set(_CACHE_KEY, result, CACHE_S)
    return result


def queue_has_live_worker(*, queue: str) -> bool:
    """False only when the workers were asked and none consumes ``queue``."""
    return queue_workers().has_worker(queue)


def queue_no_worker_message(*, queue: str) -> str:
    return (
        f"No worker is listening on the '{queue}' queue right now: the job waits until one starts "
        f"(celery -A config worker -Q {queue})."
    )
