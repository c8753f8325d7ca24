"""Snapshot and export at scale: 100,000 comparisons x 3 annotations from the seeded simulator.

Loads the project into a database (a fresh SQLite file per size by default; DATABASE_URL for PostgreSQL), then, in a
fresh process per size so that peak memory is the build's own, times:

* ``snapshot_seconds``: ``snapshot_build`` -- one pass of 10,000-comparison chunks, each read (texts, annotation
  numbers, justifications), aggregated by the HelpSteer2 rule, counted for the card's agreement and written to the
  canonical ``items.parquet``; then the agreement with bootstrap intervals, the file's SHA-256, card and licence;
* ``parquet_export_seconds``: every export format (all seven, trainer-ready and HelpSteer2-Preference included) as
  Parquet, one file per format and split, from the canonical file (``write_exports_from_canonical``, what
  ``snapshot_export_file`` runs);
* ``jsonl_gz_export_seconds_<n>k`` (not a target): every format as gzip JSONL.

Each time is wall clock (``time.perf_counter``) and CPU (``time.process_time``: user + system of every thread of the
process, so the background compression thread counts); on a shared machine the CPU figure is the steadier one.
``export_peak_rss_mb_<n>k`` is the process's peak resident set (VmHWM) after the build and the Parquet export;
``export_start_rss_mb_<n>k`` the same before the build (Django, pandas, pyarrow loaded). Target: snapshot + Parquet
under 10 s, peak memory flat as the size grows (10k vs 100k).

Peers: Label Studio 1.23 exporting 10,000 tasks x 3 annotations as JSON, 24.3 s and 1.5 GiB; 60,000 tasks, 106 s and
2.55 GiB, in one synchronous request. The floor on this machine (stdlib sqlite3 + aggregation + pyarrow, no ORM):
3.3 s and 373 MB for 100k.

    python benchmarks/export_snapshot.py [--sizes 10000 50000 100000] [--keep-dir /tmp/bench-export]
    DATABASE_URL=postgres://... python benchmarks/export_snapshot.py   (one database: sizes replace each other)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import report, setup_django

ANNOTATIONS_PER_COMPARISON = 3


def measure(size: int) -> None:
    """Build one snapshot and write every format (runs in its own process)."""
    from annotator.exports import EXPORT_FORMATS, ExportTarget
    from annotator.exports.write import write_exports_from_canonical
    from annotator.models import Project
    from annotator.services.snapshots.files import ITEMS_FILE, snapshot_folder
    from annotator.services.snapshots.lifecycle import snapshot_build, snapshot_create
    from annotator.tasks import snapshot_build_task
    from benchmarks.agreement import SLUG, peak_rss_mb

    project = Project.objects.get(slug=SLUG)
    with mock.patch.object(snapshot_build_task, "delay"):  # built here, not by a worker
        snapshot = snapshot_create(project=project, user=None)
    start_rss = peak_rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    snapshot = snapshot_build(snapshot_id=snapshot.id)
    t1, c1 = time.perf_counter(), time.process_time()
    assert snapshot.status == "ready", snapshot.error
    items = snapshot_folder(snapshot) / ITEMS_FILE
    with tempfile.TemporaryDirectory() as out:
        files = write_exports_from_canonical(
            items, Path(out) / "parquet", targets=[ExportTarget(fmt, "parquet") for fmt in EXPORT_FORMATS]
        )
        t2, c2 = time.perf_counter(), time.process_time()
        rss_parquet = peak_rss_mb()
        write_exports_from_canonical(
            items, Path(out) / "jsonl", targets=[ExportTarget(fmt, "jsonl.gz") for fmt in EXPORT_FORMATS]
        )
        t3, c3 = time.perf_counter(), time.process_time()
    rows = sum(f.rows for f in files)
    print(f"# {size}: {snapshot.counts['included']} comparisons in the snapshot "
          f"(dropped {snapshot.counts['filtered_by_rule']}), items file {items.stat().st_size / 1e6:.1f} MB, "
          f"{rows} Parquet rows in {len(files)} files", flush=True)  # fmt: skip
    k = f"{size // 1000}k"
    report(f"snapshot_seconds_{k}", t1 - t0, "s")
    report(f"snapshot_cpu_seconds_{k}", c1 - c0, "s")
    report(f"parquet_export_seconds_{k}", t2 - t1, "s")
    report(f"parquet_export_cpu_seconds_{k}", c2 - c1, "s")
    report(f"jsonl_gz_export_seconds_{k}", t3 - t2, "s")
    report(f"jsonl_gz_export_cpu_seconds_{k}", c3 - c2, "s")
    report(f"export_start_rss_mb_{k}", start_rss, "MB")
    report(f"export_peak_rss_mb_{k}", rss_parquet, "MB")
    report(f"all_formats_peak_rss_mb_{k}", peak_rss_mb(), "MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    parser.add_argument("--keep-dir", help="folder for the SQLite files (reused on the next run)")
    parser.add_argument("--child", choices=["load", "measure"], help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        setup_django()
        if args.child == "load":
            from benchmarks.agreement import load

            load(args.size, ANNOTATIONS_PER_COMPARISON, seed=0)
        else:
            measure(args.size)
        return

    folder = Path(args.keep_dir or tempfile.mkdtemp(prefix="prefstack-bench-export-"))
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, str] = {}
    for size in args.sizes:
        env = dict(os.environ)
        if "DATABASE_URL" not in os.environ:
            env["DATABASE_URL"] = f"sqlite:///{folder / f'export-{size}.sqlite3'}"
        env.setdefault("PREFSTACK_MEDIA_ROOT", str(folder / f"media-{size}"))
        for child in ("load", "measure"):
            done = subprocess.run(
                [sys.executable, __file__, "--child", child, "--size", str(size)],
                env=env, check=True, capture_output=True, text=True,
            )  # fmt: skip
            for line in done.stdout.splitlines():
                if line.startswith("#"):
                    print(line, flush=True)
                elif ": " in line:
                    name, value = line.split(": ", 1)
                    results[name] = value
    biggest = f"{max(args.sizes) // 1000}k"
    peers = {
        "snapshot_seconds": "floor (stdlib sqlite3 + aggregation + pyarrow): 3.3 s for build + Parquet",
        "parquet_export_seconds": "Label Studio 1.23: 24.3 s for 10,000 tasks x 3 as JSON, 106 s for 60,000",
        "export_peak_rss_mb_10k": "Label Studio 1.23: 1.5 GiB for 10,000 tasks x 3",
        "export_peak_rss_mb_100k": "Label Studio 1.23: 2.55 GiB for 60,000 tasks; floor 373 MB",
    }
    headline = {
        "snapshot_seconds": f"snapshot_seconds_{biggest}",
        "parquet_export_seconds": f"parquet_export_seconds_{biggest}",
        "export_peak_rss_mb_10k": "export_peak_rss_mb_10k",
        "export_peak_rss_mb_100k": "export_peak_rss_mb_100k",
    }
    for name, key in headline.items():
        if key in results:
            print(f"{name}: {results[key]}  (peer: {peers[name]})", flush=True)
    for name in sorted(set(results) - {"export_peak_rss_mb_10k", "export_peak_rss_mb_100k"}):
        print(f"{name}: {results[name]}", flush=True)


if __name__ == "__main__":
    main()
