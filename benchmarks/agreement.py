"""The lead overview on a large project: the page from the kept counts, and the computation from every rating.

Loads 100,000 comparisons x 5 annotators (5 attributes x 2 responses + the preference strength) from the seeded
simulator into the database that DATABASE_URL names (a fresh SQLite file by default; ``--db-file`` keeps one between
runs; ``--database postgresql`` takes ``--pg-url``), counts its agreement counts once (the loader writes past the
services, as an existing database's migration would), then, in a fresh process so that peak memory is the
overview's own, times:

* ``overview_page_seconds_<vendor>``: the lead overview page's first response (Django's test client, full request),
  its figures read from the kept counts (``agreement_overview_read``, ``project_progress_read``). Target: < 0.5 s.
  ``overview_over_time_panel_seconds``: the over-time panel the page loads next (it reads every rating).
* ``overview_before_seconds_<vendor>``: what the page computed before the counts: the fingerprint, every figure
  from every rating (``agreement_overview_get`` with kappa and 10 time points) and ``project_progress``.
* ``agreement_query_seconds`` / ``agreement_alphas_seconds`` / ``agreement_overview_seconds``: ``annotation_frame``
  and ``agreement_overview_get`` without kappa (the computation the background intervals and the over-time panel
  run), and ``agreement_peak_rss_mb``; the peer's figure: the ``krippendorff`` package on the same 100,000 x 2 units.

Prints ``name: value unit`` lines (best of a few runs: the machine may be shared).

    python benchmarks/agreement.py [--comparisons 100000] [--annotators 5] [--db-file /tmp/agreement.sqlite3]
    python benchmarks/agreement.py --database postgresql [--pg-url postgres://postgres@127.0.0.1:5432/bench]
    DATABASE_URL=postgres://... python benchmarks/agreement.py
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import report, setup_django

SLUG = "bench-agreement"
POOL = ["careful"] * 14 + ["lenient", "harsh", "position_left", "position_right", "random", "careful"]


def _insert(model: type, rows: list[dict[str, object]], batch: int = 20_000) -> None:
    """Plain INSERTs of every concrete field (defaults for those a row leaves out): ~10x faster than bulk_create."""
    from django.db import connection

    fields = list(model._meta.concrete_fields)  # type: ignore[attr-defined]
    defaults = {f.attname: f.get_default() for f in fields}
    table = connection.ops.quote_name(model._meta.db_table)  # type: ignore[attr-defined]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            cursor.executemany(
                sql,
                [
                    tuple(
                        f.get_db_prep_save(row[f.attname] if f.attname in row else defaults[f.attname], connection)
                        for f in fields
                    )
                    for row in rows[start : start + batch]
                ],
            )


def load(n_comparisons: int, k: int, seed: int) -> None:
    """Create the project and its annotations unless a project of this size is already there."""
    import numpy as np
    from django.contrib.auth import get_user_model
    from django.core.management.color import no_style
    from django.db import connection, transaction

    from annotator.domain import HELPSTEER2_ATTRIBUTE_SPECS
    from annotator.models import Annotation, Assignment, AssignmentStatus, Comparison, Project, Prompt, Response
    from annotator.models.project import Attribute, Membership, Role
    from annotator.stats.simulation import SimulatedAnnotator, make_truth, simulate_annotations

    existing = Project.objects.filter(slug=SLUG).first()
    if existing is not None:
        if Assignment.objects.filter(comparison__project=existing).count() == n_comparisons * k:
            print(f"# reusing the loaded project ({n_comparisons} x {k})", flush=True)
            _counts(existing)
            return
        existing.delete()
    clock = time.perf_counter()
    truth = make_truth(n_comparisons, seed=seed)
    frame = simulate_annotations(
        truth, [SimulatedAnnotator(p, seed=i, annotator_id=i) for i, p in enumerate(POOL)], k, seed=seed
    )
    User = get_user_model()
    with transaction.atomic():
        project = Project.objects.create(slug=SLUG, name="Agreement benchmark", overlap=k)
        for position, spec in enumerate(HELPSTEER2_ATTRIBUTE_SPECS):
            Attribute.objects.create(project=project, position=position, **spec)
        users = [User.objects.get_or_create(username=f"bench-{i}-{p}")[0] for i, p in enumerate(POOL)]
        Membership.objects.bulk_create(
            [Membership(project=project, user=u, role=Role.ANNOTATOR) for u in users], ignore_conflicts=True
        )
        base = {m: (m.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1 for m in
                (Prompt, Response, Comparison, Assignment, Annotation)}  # fmt: skip
        now = datetime.now(tz=UTC)
        ids = np.arange(n_comparisons)
        _insert(Prompt, [{"id": base[Prompt] + i, "project_id": project.pk,
                          "turns": [{"role": "user", "content": f"Question {i}?"}]} for i in ids])  # fmt: skip
        _insert(Response, [{"id": base[Response] + 2 * i + s, "prompt_id": base[Prompt] + i, "text": f"Answer {i}.{s}"}
                           for i in ids for s in (0, 1)])  # fmt: skip
        _insert(Comparison, [{"id": base[Comparison] + i, "project_id": project.pk, "prompt_id": base[Prompt] + i,
                              "response_1_id": base[Response] + 2 * i, "response_2_id": base[Response] + 2 * i + 1,
                              "split": "train", "created_at": now} for i in ids])  # fmt: skip
        attributes = [a["name"] for a in HELPSTEER2_ATTRIBUTE_SPECS]
        records = frame.to_dict("records")
        _insert(Assignment, [{"id": base[Assignment] + n, "comparison_id": base[Comparison] + int(r["comparison_id"]),
                              "annotator_id": users[int(r["annotator_id"])].pk, "swapped": bool(r["shown_swapped"]),
                              "status": AssignmentStatus.SKIPPED if r["skipped"] else AssignmentStatus.SUBMITTED,
                              "created_at": now, "updated_at": now} for n, r in enumerate(records)])  # fmt: skip
        _insert(Annotation, [
            {"id": base[Annotation] + n, "assignment_id": base[Assignment] + n,
             "comparison_id": base[Comparison] + int(r["comparison_id"]), "annotator_id": users[int(r["annotator_id"])].pk,
             "ratings": {s: {a: int(r[f"r{s}_{a}"]) for a in attributes} for s in ("1", "2")},
             "preference_strength": int(r["strength"]), "justification": r["justification"],
             "time_on_task_seconds": float(r["time_on_task_s"]), "created_at": r["submitted_at"].to_pydatetime(warn=False)}
            for n, r in enumerate(records) if not r["skipped"]
        ])  # fmt: skip
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(
                no_style(), [Prompt, Response, Comparison, Assignment, Annotation]
            ):
                cursor.execute(statement)
    with connection.cursor() as cursor:  # fresh statistics, or the planner guesses a handful of rows
        cursor.execute("ANALYZE")
    print(f"# loaded {len(frame)} annotations in {time.perf_counter() - clock:.1f} s", flush=True)
    _counts(project)


def _counts(project: object) -> None:
    """Count the agreement counts if they do not describe the data (the loader bypasses the services), and make
    sure the project has a lead to open the page."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from annotator.models.project import Membership, Role
    from annotator.services.agreement_counts import agreement_counts_repair

    lead = get_user_model().objects.get_or_create(username="bench-lead")[0]
    Membership.objects.get_or_create(project=project, user=lead, role=Role.LEAD)
    clock = time.perf_counter()
    if agreement_counts_repair(project=project):  # type: ignore[arg-type]
        report("agreement_counts_rebuild_seconds", time.perf_counter() - clock, "s")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MB. Not getrusage: on Linux its ru_maxrss survives exec, so a
    child started by a big parent would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _best(fn: Callable[[], object], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def measure_page(vendor: str) -> None:
    """The overview page's first response, and the panel it loads next; the page as it was, for comparison."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from annotator.models import Project
    from annotator.selectors.agreement_cache import agreement_fingerprint
    from annotator.selectors.quality.agreement import agreement_overview_get, agreement_overview_read
    from annotator.selectors.quality.progress import project_progress, project_progress_read

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["*"]
    project = Project.objects.get(slug=SLUG)
    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-lead"))
    page = reverse("annotator:lead_overview", kwargs={"slug": SLUG})
    panel = reverse("annotator:lead_agreement_over_time", kwargs={"slug": SLUG})
    response = client.get(page)
    assert response.status_code == 200, response.status_code
    overview = agreement_overview_read(project=project)
    assert overview.from_counts, "the kept counts do not describe the data"
    report(f"overview_page_seconds_{vendor}", _best(lambda: client.get(page), 7), "s")
    report("overview_agreement_from_counts_seconds", _best(lambda: agreement_overview_read(project=project), 7), "s")
    report("overview_progress_from_counts_seconds", _best(lambda: project_progress_read(project=project), 7), "s")
    report("overview_over_time_panel_seconds", _best(lambda: client.get(panel), 2), "s")

    def before() -> None:
        agreement_fingerprint(project=project)
        agreement_overview_get(project=project, with_kappa=True)
        project_progress(project=project)

    report(f"overview_before_seconds_{vendor}", _best(before, 2), "s")
    reference = agreement_overview_get(project=project, with_kappa=True, time_points=0)
    assert overview.rows == reference.rows, "the figures from the counts differ from the computed ones"
    assert project_progress_read(project=project) == project_progress(project=project)
    print("# the page's figures equal the computed ones (agreement and progress)", flush=True)


def measure(with_kappa: bool, intervals: bool) -> None:
    """Time the overview from the query to the last number (runs in its own process: peak RSS is its own)."""
    from annotator.models import Project
    from annotator.selectors.annotations import annotation_frame
    from annotator.selectors.projects import project_attribute_names
    from annotator.selectors.quality.agreement import agreement_overview_get
    from annotator.selectors.quality.progress import project_progress
    from annotator.stats.agreement import agreement_overview

    project = Project.objects.get(slug=SLUG)
    attributes = project_attribute_names(project=project)
    baseline = peak_rss_mb()
    best: dict[str, float] = {}
    for _ in range(3):  # best of three: the machine is shared
        t0 = time.perf_counter()
        frame = annotation_frame(project=project, attributes=attributes)
        t1 = time.perf_counter()
        overview = agreement_overview_get(project=project, frame=frame, with_kappa=False)
        t2 = time.perf_counter()
        for name, value in (("query", t1 - t0), ("alphas", t2 - t1), ("total", t2 - t0)):
            best[name] = min(best.get(name, float("inf")), value)
    alpha = {r.measure: r.alpha for r in overview.rows}
    print(f"# {len(frame)} annotations; alpha helpfulness {alpha['helpfulness']:.3f}, "
          f"strength {alpha['preference_strength']:.3f}; {len(overview.over_time)} time points", flush=True)  # fmt: skip
    report("agreement_query_seconds", best["query"], "s")
    report("agreement_alphas_seconds", best["alphas"], "s")
    report("agreement_overview_seconds", best["total"], "s")
    report("agreement_peak_rss_mb", peak_rss_mb(), "MB")
    report("agreement_baseline_rss_mb", baseline, "MB")
    t = time.perf_counter()
    project_progress(project=project)
    report("project_progress_seconds", time.perf_counter() - t, "s")
    if with_kappa:
        t = time.perf_counter()
        agreement_overview_get(project=project, frame=frame, with_kappa=True)
        report("agreement_overview_with_kappa_seconds", time.perf_counter() - t, "s")
    if intervals:
        t = time.perf_counter()
        agreement_overview(frame, attributes, n_resamples=1000, with_kappa=False)
        report("agreement_intervals_1000_resamples_seconds", time.perf_counter() - t, "s")
    _peer(frame, attributes[0])


def _peer(frame: object, attribute: str) -> None:
    """The krippendorff package on the same helpfulness data (dense raters x units matrix; value counts)."""
    import krippendorff
    import numpy as np
    import pandas as pd

    from annotator.stats.agreement import LIKERT_DOMAIN, reliability_matrix, value_counts_from_long

    assert isinstance(frame, pd.DataFrame)
    comp = pd.factorize(frame["comparison_id"])[0]
    units = np.concatenate([comp * 2, comp * 2 + 1])
    raters = np.concatenate([frame["annotator_id"].to_numpy()] * 2)
    values = np.concatenate([frame[f"r1_{attribute}"].to_numpy(), frame[f"r2_{attribute}"].to_numpy()])
    matrix = reliability_matrix(raters, units, values).values
    t = time.perf_counter()
    krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal", value_domain=LIKERT_DOMAIN)
    report(
        "peer_krippendorff_one_alpha_seconds", time.perf_counter() - t, "s", peer="krippendorff 0.9.0, from the matrix"
    )
    counts = value_counts_from_long(units, values, LIKERT_DOMAIN)
    t = time.perf_counter()
    krippendorff.alpha(value_counts=counts, level_of_measurement="ordinal", value_domain=LIKERT_DOMAIN)
    report("peer_krippendorff_one_alpha_from_counts_seconds", time.perf_counter() - t, "s", peer="krippendorff 0.9.0")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comparisons", type=int, default=100_000)
    parser.add_argument("--annotators", type=int, default=5, help="annotators per comparison")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--db-file", help="SQLite file to load into (and reuse on the next run)")
    parser.add_argument(
        "--database", choices=["sqlite", "postgresql"], help="postgresql: load into --pg-url (default: DATABASE_URL)"
    )
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/prefstack_bench_agreement")
    parser.add_argument("--kappa", action="store_true", help="also time the overview with pooled kappa")
    parser.add_argument("--intervals", action="store_true", help="also time the 1,000-resample bootstrap")
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.database == "postgresql":
        os.environ["DATABASE_URL"] = args.pg_url
    elif args.db_file and ("DATABASE_URL" not in os.environ or args.database == "sqlite"):
        os.environ["DATABASE_URL"] = f"sqlite:///{Path(args.db_file).resolve()}"
    vendor = setup_django()
    if args.measure_only:
        measure(args.kappa, args.intervals)
        measure_page(vendor)
        return
    from django.db import connection

    print(f"# database: {vendor} {connection.settings_dict['NAME']}", flush=True)
    load(args.comparisons, args.annotators, args.seed)
    env = {**os.environ, "DATABASE_URL": os.environ["DATABASE_URL"]}
    child = [sys.executable, __file__, "--measure-only"] + (["--kappa"] if args.kappa else [])
    child += ["--intervals"] if args.intervals else []
    sys.exit(subprocess.call(child, env=env))


if __name__ == "__main__":
    main()
