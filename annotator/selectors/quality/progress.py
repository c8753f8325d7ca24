"""Progress of a project: how many comparisons are done, open, returned or untouched (one grouped query)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.db import connection

from annotator.models import (
    AgreementCounts,
    Assignment,
    AssignmentStatus,
    Comparison,
    ComparisonAgreementCounts,
    Project,
)


@dataclass(frozen=True)
class ProjectProgress:
    """How far a project is.

    ``by_k``: (number of submitted annotations, comparisons with that many), k ascending. ``complete``: comparisons
    with all the annotations they need (overlap + extra annotators); ``in_progress``: started but not complete;
    ``untouched``: never handed to anyone.
    """

    comparisons: int
    complete: int
    in_progress: int
    untouched: int
    annotations: int
    returned: int
    by_k: list[tuple[int, int]]
    overlap: int

    @property
    def complete_percent(self) -> float:
        return 100.0 * self.complete / self.comparisons if self.comparisons else 0.0


def project_progress(*, project: Project) -> ProjectProgress:
    """Progress counts in one grouped query (a few rows back, whatever the project's size)."""
    c_table = Comparison._meta.db_table
    a_table = Assignment._meta.db_table
    sql = f"""
        SELECT k, extra, has_open, has_any, returned, COUNT(*)
        FROM (
            SELECT c.id,
                   c.extra_annotators AS extra,
                   SUM(CASE WHEN a.status = %s THEN 1 ELSE 0 END) AS k,
                   SUM(CASE WHEN a.status = %s THEN 1 ELSE 0 END) AS returned,
                   MAX(CASE WHEN a.status IN (%s, %s) THEN 1 ELSE 0 END) AS has_open,
                   MAX(CASE WHEN a.id IS NULL THEN 0 ELSE 1 END) AS has_any
            FROM {c_table} c LEFT JOIN {a_table} a ON a.comparison_id = c.id
            WHERE c.project_id = %s
            GROUP BY c.id, c.extra_annotators
        ) per_comparison
        GROUP BY k, extra, has_open, has_any, returned
    """  # noqa: S608 - only the two table names from _meta are put in; every value is bound
    params: list[str | int] = [
        AssignmentStatus.SUBMITTED,
        AssignmentStatus.RETURNED,
        AssignmentStatus.RESERVED,
        AssignmentStatus.RETURNED,
        project.pk,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    by_k: Counter[int] = Counter()
    comparisons = complete = untouched = annotations = returned = 0
    for k, extra, _has_open, has_any, n_returned, count in rows:
        k, count = int(k or 0), int(count)
        comparisons += count
        annotations += k * count
        returned += int(n_returned or 0) * count
        by_k[k] += count
        if k >= project.overlap + int(extra or 0):
            complete += count
        elif not has_any:
            untouched += count
    return ProjectProgress(
        comparisons=comparisons,
        complete=complete,
        in_progress=comparisons - complete - untouched,
        untouched=untouched,
        annotations=annotations,
        returned=returned,
        by_k=sorted(by_k.items()),
        overlap=project.overlap,
    )


def project_progress_read(*, project: Project) -> ProjectProgress:
    """:func:`project_progress` from kept counts, in three index reads instead of a pass over every assignment.

    Submitted and returned assignments per comparison come from the agreement counts (kept by the services that
    change them), untouched comparisons from ``assignment_count`` (kept by triggers; the ``comparison_untouched``
    index), and the few comparisons with extra annotators from the ``comparison_widened`` partial index. The same
    figures; without agreement counts (never made for this project) it is :func:`project_progress`.
    """
    if not AgreementCounts.objects.filter(project=project).exists():
        return project_progress(project=project)
    c_table = Comparison._meta.db_table
    r_table = ComparisonAgreementCounts._meta.db_table
    # Only the two table names from _meta are put in; the project id is bound.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT COUNT(*) FROM {c_table} WHERE project_id = %s), "  # noqa: S608 - see above
            f"(SELECT COUNT(*) FROM {c_table} WHERE project_id = %s AND assignment_count = 0)",
            [project.pk, project.pk],
        )
        comparisons, untouched = (int(x) for x in cursor.fetchone())
        cursor.execute(
            f"SELECT n_submitted, n_returned, COUNT(*) FROM {r_table} "  # noqa: S608 - see above
            "WHERE project_id = %s GROUP BY n_submitted, n_returned",
            [project.pk],
        )
        per_k = [(int(k), int(r), int(n)) for k, r, n in cursor.fetchall()]
        cursor.execute(
            f"SELECT c.extra_annotators, COALESCE(r.n_submitted, 0) FROM {c_table} c "  # noqa: S608 - see above
            f"LEFT JOIN {r_table} r ON r.comparison_id = c.id WHERE c.project_id = %s AND c.extra_annotators > 0",
            [project.pk],
        )
        widened = [(int(e), int(k)) for e, k in cursor.fetchall()]
    overlap = project.overlap
    by_k: Counter[int] = Counter()
    for k, _, n in per_k:
        by_k[k] += n
    by_k[0] += comparisons - sum(n for _, _, n in per_k)  # no counts kept: nothing submitted
    # Complete: k >= overlap + extra. Count as if extra were 0, then correct the comparisons with extra annotators.
    complete = sum(n for k, n in by_k.items() if k >= overlap)
    complete += sum((k >= overlap + extra) - (k >= overlap) for extra, k in widened)
    # Untouched: never assigned; never complete either, as the overlap is at least 1 (project_overlap_positive).
    return ProjectProgress(
        comparisons=comparisons,
        complete=complete,
        in_progress=comparisons - complete - untouched,
        untouched=untouched,
        annotations=sum(k * n for k, _, n in per_k),
        returned=sum(r * n for _, r, n in per_k),
        by_k=sorted((k, n) for k, n in by_k.items() if n),
        overlap=overlap,
    )
