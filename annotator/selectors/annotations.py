"""Annotations as plain arrays: the one fast path from the database to the pure statistics.

``annotation_frame`` returns the long format that ``annotator.stats`` takes: one row per current annotation, with
each rating pulled out of the JSON in SQL (``r1_<attribute>``, ``r2_<attribute>``), so Python never decodes JSON
per row. It runs one query, executed on a raw cursor to skip model instantiation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Case, CharField, F, FloatField, Func, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Cast

from annotator.models import Annotation, Project, Review

REVIEW_ACCEPTED = "accepted"
REVIEW_REJECTED = "rejected"
REVIEW_UNREVIEWED = "unreviewed"


class RatingValue(Func):
    """``ratings -> side -> attribute`` as a number, in SQL.

    Django's JSON key transforms read a key of digits ("1") as an array index, so the path is written per backend.
    """

    output_field = FloatField()

    def __init__(self, side: str, attribute: str) -> None:
        if side not in {"1", "2"} or not attribute.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"bad rating path {side!r}/{attribute!r}")
        self.side, self.attribute = side, attribute
        super().__init__(F("ratings"))

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        column, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            return f"(({column} -> %s) ->> %s)::double precision", [*params, self.side, self.attribute]
        path = f'$."{self.side}"."{self.attribute}"'
        return f"CAST(JSON_EXTRACT({column}, %s) AS REAL)", [*params, path]


def _rating_columns(attributes: Sequence[str]) -> dict[str, RatingValue]:
    return {f"r{side}_{name}": RatingValue(side, name) for side in ("1", "2") for name in attributes}


def annotation_queryset(
    *, project: Project, attributes: Sequence[str], include_justifications: bool = False, include_imported: bool = True
) -> QuerySet[Annotation]:
    latest_review = Review.objects.filter(annotation=OuterRef("pk")).order_by("-created_at", "-id").values("decision")[:1]
    qs = Annotation.objects.filter(comparison__project=project, is_current=True)
    if not include_imported:
        qs = qs.filter(source="")
    fields: dict[str, object] = {
        "annotation_id": F("id"),
        "strength": Cast(F("preference_strength"), FloatField()),
        "time_on_task_s": F("time_on_task_seconds"),
        "shown_swapped": F("assignment__swapped"),
        "submitted_at": F("created_at"),
        "review_status": Case(
            When(review_decision="accept", then=Value(REVIEW_ACCEPTED)),
            When(review_decision="reject", then=Value(REVIEW_REJECTED)),
            default=Value(REVIEW_UNREVIEWED),
            output_field=CharField(),
        ),
        **_rating_columns(attributes),
    }
    columns = [*fields.keys(), *(["justification"] if include_justifications else [])]
    return (
        qs.annotate(review_decision=Subquery(latest_review))
        .annotate(**fields)  # type: ignore[arg-type]
        .order_by("comparison_id", "id")
        .values_list("comparison_id", "annotator_id", *columns)
    )


def annotation_frame(
    *,
    project: Project,
    attributes: Sequence[str] | None = None,
    include_justifications: bool = False,
    include_imported: bool = True,
) -> pd.DataFrame:
    """The project's current annotations in the long format of ``annotator.stats``.

    Columns: ``comparison_id``, ``annotator_id``, ``annotation_id``, ``strength`` (float, NaN when not given),
    ``time_on_task_s``, ``shown_swapped`` (bool), ``submitted_at``, ``review_status`` (accepted / rejected /
    unreviewed, from the latest review), ``r1_<attribute>`` and ``r2_<attribute>`` (float, NaN when missing), and
    ``justification`` when asked for. Rows are ordered by comparison, then submission.
    """
    if attributes is None:
        attributes = list(project.attributes.order_by("position", "id").values_list("name", flat=True))
    fields = ["annotation_id", "strength", "time_on_task_s", "shown_swapped", "submitted_at", "review_status"]
    fields += list(_rating_columns(attributes))
    if include_justifications:
        fields.append("justification")
    columns = ["comparison_id", "annotator_id", *fields]
    qs = annotation_queryset(
        project=project,
        attributes=attributes,
        include_justifications=include_justifications,
        include_imported=include_imported,
    )
    # The compiled SQL on a raw cursor: the same query without building a Python tuple through the ORM per row.
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    frame = pd.DataFrame.from_records(rows, columns=_select_order(qs, columns), coerce_float=True)
    frame = frame[columns]
    for name in fields:
        if name.startswith(("r1_", "r2_")) or name in {"strength", "time_on_task_s"}:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(np.float64)
    frame["shown_swapped"] = frame["shown_swapped"].astype(bool)
    frame["submitted_at"] = pd.to_datetime(frame["submitted_at"], utc=True)
    return frame


def _select_order(qs: QuerySet[Annotation], wanted: list[str]) -> list[str]:
    """Column names in the order the compiled SELECT lists them (values_list + annotate may reorder)."""
    query = qs.query
    selected = getattr(query, "selected", None)  # Django 5.2+: the SELECT follows values_list's order
    if selected:
        names = list(selected)
    else:  # pragma: no cover - older Django: model fields first, then annotations
        names = list(query.values_select) + [a for a in query.annotation_select if a not in query.values_select]
    if sorted(names) != sorted(wanted):  # pragma: no cover - a programming error, caught by the tests
        raise RuntimeError(f"unexpected columns {names}")
    return names
