"""Annotations as plain arrays: the one fast path from the database to the pure statistics.

``annotation_frame`` returns the long format that ``annotator.stats`` takes: one row per current annotation, with
each rating pulled out of the JSON in SQL (``r1_<attribute>``, ``r2_<attribute>``). Only numbers cross the wire:
timestamps leave the database as epoch seconds, rows are sorted in pandas rather than by the database, and on
PostgreSQL the rows stream through ``COPY … TO STDOUT`` straight into pandas' C CSV reader. Reviews and
justifications, which few callers need, come from separate small queries and are mapped on by annotation id.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
from django.db import connection

from annotator.models import Annotation, Assignment, Comparison, Project, Review, ReviewDecision, ReviewStatus
from annotator.selectors.projects import project_attribute_names

# The review_status column holds ReviewStatus values as plain text.
REVIEW_ACCEPTED = ReviewStatus.ACCEPTED.value
REVIEW_REJECTED = ReviewStatus.REJECTED.value
REVIEW_UNREVIEWED = ReviewStatus.UNREVIEWED.value
_DECISIONS = {decision: ReviewStatus.of(decision).value for decision in ReviewDecision.values}
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_IDS = ("comparison_id", "annotator_id", "annotation_id")
_FETCH_BLOCK = 20_000


def _rating_sql(side: str, attribute: str) -> str:
    if not _SAFE_NAME.match(attribute):  # attribute names are slugs; anything else never reaches SQL
        raise ValueError(f"bad attribute name {attribute!r}")
    if connection.vendor == "postgresql":
        return f"((a.ratings -> '{side}') ->> '{attribute}')::float8"
    return f'CAST(json_extract(a.ratings, \'$."{side}"."{attribute}"\') AS REAL)'


def _numbers_sql(attributes: Sequence[str], include_imported: bool, id_range: tuple[int, int] | None) -> str:
    pg = connection.vendor == "postgresql"
    epoch = "EXTRACT(EPOCH FROM a.created_at)" if pg else "(julianday(a.created_at) - 2440587.5) * 86400.0"
    swapped = "s.swapped::int" if pg else "s.swapped"
    ratings = ", ".join(_rating_sql(side, name) for side in ("1", "2") for name in attributes)
    imported = "" if include_imported else " AND a.source = ''"
    within = "" if id_range is None else f" AND a.comparison_id BETWEEN {int(id_range[0])} AND {int(id_range[1])}"
    # Only table names from _meta, attribute names that passed _SAFE_NAME and ints are put in; values are bound.
    return (
        f"SELECT a.comparison_id, a.annotator_id, a.id, a.preference_strength, a.time_on_task_seconds, {swapped}, "  # noqa: S608 - see above
        f"{epoch}{', ' if ratings else ''}{ratings} "
        f"FROM {Annotation._meta.db_table} a JOIN {Assignment._meta.db_table} s ON s.id = a.assignment_id "
        f"WHERE a.is_current AND NOT a.not_ratable{imported}{within} AND a.comparison_id IN "
        f"(SELECT id FROM {Comparison._meta.db_table} WHERE project_id = %s)"
    )


def _read_numbers(sql: str, project_id: int, columns: list[str]) -> pd.DataFrame:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            buffer = io.BytesIO()
            query = sql.replace("%s", str(int(project_id)))  # COPY takes no parameters; the id is an int
            with cursor.cursor.copy(f"COPY ({query}) TO STDOUT (FORMAT CSV)") as copy:
                for block in copy:
                    buffer.write(block)
            buffer.seek(0)
            if buffer.getbuffer().nbytes == 0:
                return pd.DataFrame({c: np.empty(0) for c in columns})
            return pd.read_csv(buffer, names=columns, header=None, dtype=np.float64, engine="c")
        cursor.execute(sql, [project_id])
        # In blocks, so that at most one block of Python tuples is alive beside the growing arrays.
        blocks = []
        while rows := cursor.fetchmany(_FETCH_BLOCK):
            blocks.append(np.array(rows, dtype=np.float64))
            del rows
    values = np.concatenate(blocks) if blocks else np.empty((0, len(columns)))
    return pd.DataFrame(values, columns=columns)


def annotation_review_status(*, project: Project, comparison_id_range: tuple[int, int] | None = None) -> pd.Series:
    """Latest review decision per annotation id (accepted / rejected), for the reviewed ones only (of the
    comparisons whose ids lie in ``comparison_id_range``, both ends included, when given)."""
    reviews = Review.objects.filter(annotation__comparison__project=project)
    if comparison_id_range is not None:
        first, last = comparison_id_range
        reviews = reviews.filter(annotation__comparison_id__gte=first, annotation__comparison_id__lte=last)
    rows = list(reviews.order_by("annotation_id", "created_at", "id").values_list("annotation_id", "decision"))
    if not rows:
        return pd.Series(dtype=object)
    frame = pd.DataFrame(rows, columns=["annotation_id", "decision"]).drop_duplicates("annotation_id", keep="last")
    return pd.Series(frame["decision"].map(_DECISIONS).to_numpy(), index=frame["annotation_id"].to_numpy())


def _justifications_by_annotation(*, project: Project) -> pd.Series:
    """Justification per current annotation id."""
    rows = Annotation.objects.filter(comparison__project=project, is_current=True).values_list("id", "justification")
    ids, texts = zip(*rows, strict=True) if rows else ((), ())
    return pd.Series(list(texts), index=list(ids), dtype=object)


def annotation_frame(
    *,
    project: Project,
    attributes: Sequence[str] | None = None,
    include_justifications: bool = False,
    include_imported: bool = True,
    comparison_id_range: tuple[int, int] | None = None,
) -> pd.DataFrame:
    """The project's current annotations in the long format of ``annotator.stats`` (only those of the comparisons
    whose ids lie in ``comparison_id_range``, both ends included, when given: a block of a large project).
    Not-ratable annotations are left out: they take no part in aggregation or agreement.

    Columns: ``comparison_id``, ``annotator_id``, ``annotation_id`` (int64), ``strength`` (float, NaN when not
    given), ``time_on_task_s``, ``shown_swapped`` (bool), ``submitted_at`` (aware UTC), ``review_status``
    (accepted / rejected / unreviewed, from the latest review), ``r1_<attribute>`` and ``r2_<attribute>`` (float,
    NaN when missing), and ``justification`` when asked for. Rows are ordered by comparison, then annotation id.
    """
    if attributes is None:
        attributes = project_attribute_names(project=project)
    ratings = [f"r{side}_{name}" for side in ("1", "2") for name in attributes]
    columns = [*_IDS, "strength", "time_on_task_s", "shown_swapped", "submitted_epoch", *ratings]
    frame = _read_numbers(_numbers_sql(attributes, include_imported, comparison_id_range), project.pk, columns)
    for name in _IDS:
        frame[name] = frame[name].astype(np.int64)
    frame["shown_swapped"] = frame["shown_swapped"].astype(bool)
    frame["submitted_at"] = pd.to_datetime(frame.pop("submitted_epoch"), unit="s", utc=True)
    frame = frame.sort_values(["comparison_id", "annotation_id"], kind="stable", ignore_index=True)

    reviews = annotation_review_status(project=project, comparison_id_range=comparison_id_range)
    status = frame["annotation_id"].map(reviews) if len(reviews) else pd.Series(index=frame.index, dtype=object)
    frame["review_status"] = status.fillna(REVIEW_UNREVIEWED).astype(object)
    if include_justifications:
        texts = _justifications_by_annotation(project=project)
        frame["justification"] = frame["annotation_id"].map(texts).fillna("").astype(object)
    order = ["comparison_id", "annotator_id", "annotation_id", "strength", "time_on_task_s", "shown_swapped",
             "submitted_at", "review_status", *ratings, *(["justification"] if include_justifications else [])]  # fmt: skip
    return frame[order]
