"""Import 100,000 HelpSteer2-shaped comparisons (200,000 rows) into the database DATABASE_URL names.

Prints ``import_seconds`` and ``import_peak_rss_mb``. Target: under 10 s and 500 MB on SQLite and PostgreSQL.
Peer, measured on this machine: Label Studio 1.23 took 10.1 s and 1.5 GiB for 50,000 tasks.

    python benchmarks/import_comparisons.py [--comparisons N]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from _common import ATTRIBUTES, WORDS, peak_rss_mb, report, setup_django


def write_file(path: Path, comparisons: int, seed: int = 0) -> None:
    """HelpSteer2 ratings rows, two consecutive per prompt, ~30% multi-turn; written line by line."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        for i in range(comparisons):
            prompt = f"Question {i}: " + " ".join(rng.choices(WORDS, k=rng.randint(10, 60)))
            if rng.random() < 0.3:
                prompt += "\n<extra_id_1>Assistant\nAn earlier answer.\n<extra_id_1>User\nAnd a follow-up?"
            for _ in range(2):
                row = {"prompt": prompt, "response": " ".join(rng.choices(WORDS, k=rng.randint(40, 250)))}
                row.update({a: rng.randint(0, 4) for a in ATTRIBUTES})
                out.write(json.dumps(row) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--comparisons", type=int, default=100_000)
    args = parser.parse_args()
    vendor = setup_django()
    from annotator.domain import HELPSTEER2_ATTRIBUTE_SPECS
    from annotator.models import Project
    from annotator.services.imports import comparisons_import

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "helpsteer2.jsonl"
        write_file(path, args.comparisons)
        project = Project.objects.create(slug=f"bench-import-{time.time_ns()}", name="Import benchmark")
        for position, spec in enumerate(HELPSTEER2_ATTRIBUTE_SPECS):
            project.attributes.create(position=position, **spec)
        rss_before = peak_rss_mb()
        started = time.perf_counter()
        result = comparisons_import(project=project, source=str(path), fmt="helpsteer2", split="train")
        seconds = time.perf_counter() - started
    assert result.comparisons == args.comparisons
    print(f"database: {vendor}; comparisons: {result.comparisons}; file: {path.name}")
    per_50k = seconds * 50_000 / args.comparisons
    report(
        "import_seconds",
        seconds,
        "s",
        peer=f"Label Studio 1.23: 10.1 s for 50,000 tasks; ours {per_50k:.2f} s per 50,000",
    )
    report("import_peak_rss_mb", peak_rss_mb(), "MB", peer="Label Studio 1.23: 1.5 GiB for 50,000 tasks")
    report("import_rss_before_mb", rss_before, "MB")
    project.delete()


if __name__ == "__main__":
    main()
