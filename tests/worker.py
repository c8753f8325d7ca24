"""A real ``celery worker`` process for integration tests, on whatever broker the settings name.

Locally that is the embedded filesystem broker (a private folder per test session); in CI, Redis. The worker gets
the test database's name through DATABASE_URL, so tests using it must be ``django_db(transaction=True)``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@contextmanager
def worker_process(
    *,
    queues: Sequence[str] = ("default",),
    hostname: str = "test-worker",
    env: dict[str, str] | None = None,
    pool: str = "solo",
) -> Iterator[subprocess.Popen[Any]]:
    """Start ``celery -A config worker`` consuming ``queues``; wait until it answers a ping; stop it after.

    ``pool="prefork"`` runs tasks in one child process (see :func:`pool_children`), as production workers do."""
    from config.celery import app

    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.django.base",
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "PREFSTACK_CELERY_ROOT": str(settings.CELERY_QUEUE_ROOT),
        "PREFSTACK_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "HF_HUB_OFFLINE": "1",
        **(env or {}),
    }
    node = f"{hostname}-{os.getpid()}@localhost"
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", f"--pool={pool}", "--concurrency=1",
         "--loglevel=info", "-Q", ",".join(queues), "--hostname", node, "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{proc.stdout.read() if proc.stdout else ''}")
            try:
                if app.control.ping(destination=[node], timeout=0.5):
                    break
            except ValueError:  # the filesystem broker can hand over a reply file before it is written; ask again
                continue
        else:
            raise RuntimeError("worker did not answer a ping within 60 s")
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def pool_children(proc: subprocess.Popen[Any]) -> list[int]:
    """The process ids of a prefork worker's pool processes (Linux: read from /proc)."""
    children: list[int] = []
    for task in Path(f"/proc/{proc.pid}/task").iterdir():
        children += [int(pid) for pid in (task / "children").read_text().split()]
    return children
