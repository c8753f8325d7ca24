"""Helpers shared by the benchmarks: Django set-up on the database DATABASE_URL names (a fresh SQLite file by
default), peak memory, and the ``name: value unit`` lines every benchmark prints."""

from __future__ import annotations

import os
import resource
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ATTRIBUTES = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")
# The vocabulary of the synthetic prompts and responses.
WORDS = (
    "the",
    "model",
    "answer",
    "explains",
    "a",
    "python",
    "function",
    "that",
    "returns",
    "sorted",
    "values",
    "with",
    "clear",
    "steps",
    "and",
    "examples",
)


def setup_django() -> str:
    """Configure Django (and migrate); returns a description of the database."""
    sys.path.insert(0, str(ROOT))
    if "DATABASE_URL" not in os.environ:
        os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp(prefix='prefstack-bench-')}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.django.base")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.db import connection

    return connection.vendor


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(name: str, value: float, unit: str, peer: str | None = None) -> None:
    line = f"{name}: {value:.3f} {unit}" if isinstance(value, float) else f"{name}: {value} {unit}"
    print(line + (f"  (peer: {peer})" if peer else ""), flush=True)
