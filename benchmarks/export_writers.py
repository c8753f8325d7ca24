"""Time the pure export writers (annotator.exports.write_exports) on synthetic HelpSteer2-shaped snapshot items.

N comparisons (default 100,000), 3 annotations each, ~700-character prompts (~30% multi-turn), ~1,500-character
responses, ~250-character justifications, 90% train / 10% validation. Every format is written once as Parquet
(one file per split), then once as gzip JSONL. Each size runs in its own subprocess so its peak RSS is its own.
Items are generated lazily (a generator, as from a database cursor); the generation time is measured on its own
and subtracted, so the figures are the writers' time.

Prints ``export_writers_parquet_seconds_100k``, ``export_writers_jsonl_gz_seconds_100k`` (wall time; their CPU time,
all threads, as ``..._cpu_seconds_100k``), ``export_writers_peak_rss_mb_10k`` and ``export_writers_peak_rss_mb_100k``.
Target (issue, snapshot export): under
10 s for aggregation plus Parquet for 100,000 comparisons, memory flat from 10k to 100k; peer floor on this machine:
stdlib SQLite streaming + pyarrow Parquet, 3.3 s at 373 MB.

    python benchmarks/export_writers.py [--comparisons N] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from _common import ATTRIBUTES, ROOT, peak_rss_mb, report
from _common import WORDS as BASE_WORDS

sys.path.insert(0, str(ROOT))

from annotator.exports import (
    EXPORT_FORMATS,
    ExportTarget,
    FileType,
    IndividualAnnotation,
    KeptPreference,
    SnapshotItem,
    write_exports,
)
from annotator.imports import Turn

WORDS = (
    *BASE_WORDS,
    "while",
    "response",
    "one",
    "is",
    "correct",
    "but",
    "verbose",
    "second",
    "misses",
    "edge",
    "case",
    "user",
    "asked",
    "about",
    "performance",
    "memory",
    "threads",
    "database",
    "query",
    "index",
    "join",
    "table",
    "column",
    "row",
    "group",
    "parquet",
    "arrow",
    "schema",
    "list",
    "struct",
    "string",
    "integer",
    "float",
)


def _corpus(rng: random.Random, chars: int) -> str:
    """Random words, sliced at random offsets so no two texts are the same (realistic compression)."""
    words: list[str] = []
    size = 0
    while size < chars:
        chunk = rng.choices(WORDS, k=4096)
        words += chunk
        size += sum(map(len, chunk)) + len(chunk)
    return " ".join(words)


def synthetic_items(n: int, seed: int = 0) -> Iterator[SnapshotItem]:
    """``n`` snapshot items, generated one at a time."""
    rng = random.Random(seed)
    text = _corpus(rng, 16 << 20)
    limit = len(text) - 4000

    def piece(mean: int) -> str:
        start = rng.randrange(limit)
        return text[start : start + rng.randint(mean // 2, mean * 3 // 2)]

    def ratings() -> dict[str, int | None]:
        return {name: rng.randint(0, 4) for name in ATTRIBUTES}

    for i in range(n):
        if rng.random() < 0.3:
            turns = (Turn("user", piece(300)), Turn("assistant", piece(250)), Turn("user", piece(150)))
        else:
            turns = (Turn("user", piece(700)),)
        annotations = []
        for a in range(3):
            strength = rng.randint(-3, 3)
            annotations.append(
                IndividualAnnotation(f"a{(i + a) % 50}", ratings(), ratings(), strength, False, piece(250))
            )
        strength = round(sum(a.preference_strength or 0 for a in annotations) / 3)
        kept = tuple(KeptPreference(a.preference_strength or 0, piece(60), piece(200)) for a in annotations)
        yield SnapshotItem(
            comparison_id=f"c{i}",
            split="validation" if i % 10 == 9 else "train",
            turns=turns,
            response_1=piece(1500),
            response_2=piece(1500),
            ratings_1=ratings(),
            ratings_2=ratings(),
            preference_strength=strength,
            justification=annotations[0].justification,
            kept_preferences=kept,
            annotations=tuple(annotations),
            domain="general",
            language="english",
        )


def child(n: int, file_types: list[FileType]) -> None:
    """Run in a subprocess: time generation alone, then each file type; print one JSON object."""
    import pyarrow as pa

    pa.array([""])  # pyarrow imports pandas on its first conversion: a one-off start-up cost, not the writers'
    started, cpu = time.perf_counter(), time.process_time()
    for _ in synthetic_items(n):
        pass
    generate, generate_cpu = time.perf_counter() - started, time.process_time() - cpu
    result: dict[str, float] = {"generate_s": generate}
    with tempfile.TemporaryDirectory(prefix="export-writers-") as folder:
        for file_type in file_types:
            targets = [ExportTarget(fmt, file_type) for fmt in EXPORT_FORMATS]
            started, cpu = time.perf_counter(), time.process_time()
            written = write_exports(synthetic_items(n), Path(folder) / file_type, targets=targets)
            result[f"{file_type}_s"] = time.perf_counter() - started - generate
            result[f"{file_type}_cpu_s"] = time.process_time() - cpu - generate_cpu
            result[f"{file_type}_mb"] = sum(f.size_bytes for f in written) / 1e6
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def run_child(n: int, file_types: list[str]) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", str(n), *file_types]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--comparisons", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per figure; the best is reported")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("file_types", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.file_types)
        return
    n = args.comparisons
    label = f"{n // 1000}k" if n % 1000 == 0 else str(n)
    small = max(n // 10, 1)
    small_label = f"{small // 1000}k" if small % 1000 == 0 else str(small)
    runs = [run_child(n, ["parquet", "jsonl.gz"]) for _ in range(args.repeat)]
    rss_small = min(run_child(small, ["parquet"])["peak_rss_mb"] for _ in range(args.repeat))
    rss_large = min(run_child(n, ["parquet"])["peak_rss_mb"] for _ in range(args.repeat))
    best = {key: min(run[key] for run in runs) for key in runs[0]}
    print(
        f"comparisons: {n}; generation alone {best['generate_s']:.2f} s (subtracted); "
        f"Parquet {best['parquet_mb']:.0f} MB, gzip JSONL {best['jsonl.gz_mb']:.0f} MB; "
        f"all runs: {[round(run['parquet_s'], 2) for run in runs]} / {[round(run['jsonl.gz_s'], 2) for run in runs]} s"
    )
    report(
        f"export_writers_parquet_seconds_{label}", best["parquet_s"], "s", peer="floor 3.3 s (one format + aggregation)"
    )
    report(f"export_writers_jsonl_gz_seconds_{label}", best["jsonl.gz_s"], "s")
    # CPU time of all threads (the writers compress on a second thread): steadier than wall time on a shared machine.
    report(f"export_writers_parquet_cpu_seconds_{label}", best["parquet_cpu_s"], "s")
    report(f"export_writers_jsonl_gz_cpu_seconds_{label}", best["jsonl.gz_cpu_s"], "s")
    report(f"export_writers_peak_rss_mb_{small_label}", rss_small, "MB")
    report(f"export_writers_peak_rss_mb_{label}", rss_large, "MB", peer="floor 373 MB")


if __name__ == "__main__":
    main()
