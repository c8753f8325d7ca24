"""The annotate hot path's reads (claim, submit, skip and the page around them) as plain SQL on Django's cursor.

Why SQL and not querysets: compiling a queryset costs about a millisecond of server time per statement (measured:
the claim's candidate query, 0.27 ms as SQL, 1.3 ms as a queryset on PostgreSQL), and these statements run several
times per submission. Writes that run once per submission (the inserts) use the ORM, whose extra cost there is a
tenth of a millisecond. Each statement below is one named rule, written once, with named parameters; business rules
that are not a filter or an order stay in the services.

Rows become model instances through the ORM's own converters (``from_db``), so callers see what a queryset would
have given them, and every select list comes from the model (:class:`_Columns`), so a new field needs no edit here.
Locking statements live in :mod:`annotator.services.locks` (with the lock order); they use the helpers here.

The claim's statements are written once for every kind of work an annotator claims: a :class:`ClaimTables` names
the tables of one kind (comparisons here, the task types' units in :mod:`annotator.selectors.task_hot_path`), and
:class:`ClaimReads` and the locks of :mod:`annotator.services.locks` build the same statements on it.

Every statement is executed by the test suite on SQLite and, in CI, on PostgreSQL, so a renamed table or column
fails there rather than at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Generic, TypeVar

from django.contrib.auth.models import User
from django.db import connection, models
from rest_framework.authtoken.models import Token

from annotator.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    AttemptStatus,
    Attribute,
    Comparison,
    Project,
    Prompt,
    Response,
    TaskAssignment,
)

M = TypeVar("M", bound=models.Model)
# The assignment of one kind of claimable work: a comparison's, or a task unit's.
AssignmentT = TypeVar("AssignmentT", Assignment, TaskAssignment)
Converter = Callable[[Any, Any, Any], Any]
Params = Mapping[str, Any]


# --- rows to instances ----------------------------------------------------------------------------------------------


@cache
def _converters(model: type[models.Model], names: tuple[str, ...], vendor: str) -> list[tuple[int, Any, Converter]]:
    """The ORM's converters for these fields (backend's, then field's), as the compiler would apply them."""
    out = []
    for i, name in enumerate(names):
        field = model._meta.get_field(name)
        col = field.get_col(model._meta.db_table)  # type: ignore[union-attr]
        for conv in connection.ops.get_db_converters(col) + col.get_db_converters(connection):
            out.append((i, col, conv))
    return out


class _Columns(Generic[M]):
    """A select list for ``model`` under ``alias``: all concrete fields in model order, or only ``names`` (the rest
    deferred, as with ``only``); :meth:`instance` turns the matching slice of a row back into a model instance."""

    def __init__(self, model: type[M], alias: str, names: Sequence[str] | None = None) -> None:
        fields = model._meta.concrete_fields if names is None else [model._meta.get_field(n) for n in names]
        self.model = model
        self.names = tuple(f.attname for f in fields)  # type: ignore[union-attr]
        self.sql = ", ".join(f'{alias}."{f.column}"' for f in fields)  # type: ignore[union-attr]

    def __len__(self) -> int:
        return len(self.names)

    def instance(self, values: Sequence[Any]) -> M:
        row = list(values)
        for i, col, conv in _converters(self.model, self.names, connection.vendor):
            row[i] = conv(row[i], col, connection)
        return self.model.from_db(connection.alias, list(self.names), row)


def fetch_one(sql: str, params: Params) -> tuple[Any, ...] | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()  # type: ignore[no-any-return]


def fetch_all(sql: str, params: Params) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def db_datetime(value: datetime) -> Any:
    """A datetime parameter as the ORM would send it (SQLite stores text)."""
    return connection.ops.adapt_datetimefield_value(value)


# --- the rules as filters -------------------------------------------------------------------------------------------


def never_had_by_annotator(*, assignment: str, unit_fk: str) -> str:
    """The rule "an annotator never gets the same unit twice": ``NOT IN`` the units (``unit_fk`` of the ``assignment``
    table) of every assignment they ever had, whatever its status. The only place this rule is written; the claim's
    candidate and reclaim statements of every kind of work use it (:meth:`ClaimTables.claimable`)."""
    return f"NOT IN (SELECT had.{unit_fk} FROM {assignment} had WHERE had.annotator_id = %(annotator)s)"


NEVER_HAD_BY_ANNOTATOR = never_had_by_annotator(assignment="annotator_assignment", unit_fk="comparison_id")
# The order in which an annotator's unfinished work comes back: what a lead returned for revision, then their own
# reservation; oldest first within each.
UNFINISHED_ORDER = "CASE a.status WHEN %(returned)s THEN 0 ELSE 1 END, a.id"
UNFINISHED_PARAMS = {"returned": AssignmentStatus.RETURNED.value, "reserved": AssignmentStatus.RESERVED.value}
# "A qualification scope's work reaches only the annotators who passed its set" (annotator pools): a prompt is
# open to the annotator unless a qualification set of its project covers the prompt's domain and language (an empty
# scope field covers every value: annotator.domain.scope_matches) and the annotator has no passed attempt at it.
# The only place this rule is written: ``{prompt}`` is the SQL expression of the prompt's id (``c.prompt_id`` for a
# comparison; other kinds of task name their own row's prompt), the parameters are %(annotator)s and
# QUALIFIED_PARAMS. Callers add it only where ``Project.qualification_required`` (qualification_filter).
# Written as a count, not NOT EXISTS: PostgreSQL turns NOT EXISTS into an anti join that first lists every prompt
# of the blocked scopes (measured: 28 ms with 10,000 of them, growing with the project), where a subquery it cannot
# flatten is evaluated for the few candidates the claim's index scan reads (0.1 ms).
QUALIFIED_FOR_PROMPT = """0 = (
    SELECT COUNT(*) FROM annotator_prompt qp INNER JOIN annotator_qualificationset qs ON qs.project_id = qp.project_id
    AND (qs.domain = '' OR qs.domain = qp.domain) AND (qs.language = '' OR qs.language = qp.language)
    WHERE qp.id = {prompt} AND NOT EXISTS (SELECT 1 FROM annotator_qualificationattempt qa
        WHERE qa.annotator_id = %(annotator)s AND qa.qualification_set_id = qs.id AND qa.status = %(passed)s))"""
# Qualification items are asked (with their answers shown) on the qualification page, never handed out as work.
NOT_A_QUALIFICATION_ITEM = (
    "NOT EXISTS (SELECT 1 FROM annotator_qualificationitem qi WHERE qi.comparison_id = {comparison})"
)
QUALIFIED_PARAMS = {"passed": AttemptStatus.PASSED.value}


def qualification_filter(*, required: bool, prompt: str = "c.prompt_id", comparison: str | None = "c.id") -> str:
    """`` AND <rule>`` for a WHERE clause when the project requires qualification (``required``), else "".

    ``prompt`` and ``comparison`` are the SQL expressions of the candidate's prompt id and comparison id (None for
    a task that is no comparison: qualification items are comparisons). The statement must pass %(annotator)s and
    :data:`QUALIFIED_PARAMS`.
    """
    if not required:
        return ""
    clause = " AND " + QUALIFIED_FOR_PROMPT.format(prompt=prompt)
    if comparison is not None:
        clause += " AND " + NOT_A_QUALIFICATION_ITEM.format(comparison=comparison)
    return clause


# Annotations by people (not imported from a dataset: their ``source`` is empty) that are still current.
BY_PEOPLE_CURRENT = "n.source = '' AND n.is_current"


# --- one kind of claimable work -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimTables(Generic[AssignmentT]):
    """The tables of one kind of work an annotator claims, as the claim's shared statements name them.

    ``unit`` is the model an assignment reserves a slot of (a comparison, or a task unit), written ``alias`` in the
    statements; ``assignment`` the model of its assignments, whose ``unit_field`` points at it. Both tables have the
    same slot columns (``project_id``, ``prompt_id``, ``extra_annotators``, ``slots_taken``) and the assignments the
    same status columns. ``rules``: the kind's own filters on the unit's row that a claim adds to the shared ones
    (`` AND ...``, on ``alias``). ``qualification_items``: the units are comparisons, which may be qualification
    items (never handed out as work).
    """

    unit: type[models.Model]
    assignment: type[AssignmentT]
    alias: str
    unit_field: str
    rules: str = ""
    qualification_items: bool = False

    @property
    def unit_table(self) -> str:
        return str(self.unit._meta.db_table)

    @property
    def assignment_table(self) -> str:
        return str(self.assignment._meta.db_table)

    @property
    def unit_fk(self) -> str:
        """The assignment's column naming its unit (``comparison_id``, ``unit_id``)."""
        return f"{self.unit_field}_id"

    def claimable(self, unit: str) -> str:
        """The condition that the unit whose id is the SQL expression ``unit`` may go to %(annotator)s: never had, and
        the kind's own ``rules``."""
        never_had = never_had_by_annotator(assignment=self.assignment_table, unit_fk=self.unit_fk)
        return f"{unit} {never_had}{self.rules}"

    def qualified(self, *, required: bool) -> str:
        """The qualification rule on the unit's prompt (:func:`qualification_filter`), where ``required``."""
        a = self.alias
        return qualification_filter(
            required=required, prompt=f"{a}.prompt_id", comparison=f"{a}.id" if self.qualification_items else None
        )


class ClaimReads(Generic[AssignmentT]):
    """The claim and submit path's reads of one kind of work, written once on its :class:`ClaimTables`: the
    annotator's unfinished assignment, the oldest expired reservation to reclaim, and an assignment with its unit and
    project (as a submission reads it)."""

    def __init__(self, tables: ClaimTables[AssignmentT]) -> None:
        t, u = tables, tables.alias
        self.tables: ClaimTables[AssignmentT] = tables
        self._assignment: _Columns[AssignmentT] = _Columns(t.assignment, "a")
        self._unit: _Columns[models.Model] = _Columns(t.unit, u)
        # The foreign keys whose caches take the unit and the project read with the assignment.
        self._assignment_unit: Any = t.assignment._meta.get_field(t.unit_field)
        self._unit_project: Any = t.unit._meta.get_field("project")
        join = f"{t.assignment_table} a INNER JOIN {t.unit_table} {u} ON {u}.id = a.{t.unit_fk}"
        self.unfinished_sql: str = f"""
    SELECT {self._assignment.sql} FROM {join}
    WHERE a.annotator_id = %(annotator)s AND {u}.project_id = %(project)s AND a.status IN (%(returned)s, %(reserved)s)
    ORDER BY {UNFINISHED_ORDER} LIMIT 1"""
        # Uses the partial index on reserved_until (reservations only): a few rows whatever the project's size.
        self.reservations_expired_sql: str = f"""
    SELECT a.id, a.{t.unit_fk} FROM {join}
    WHERE {u}.project_id = %(project)s AND a.status = %(reserved)s AND a.reserved_until < %(before)s
    AND a.annotator_id <> %(annotator)s AND {t.claimable(f"a.{t.unit_fk}")}{{qualified}}
    ORDER BY a.reserved_until, a.id LIMIT 1"""
        self.with_project_sql: str = f"""
    SELECT {self._assignment.sql}, {self._unit.sql}, {_PROJECT.sql} FROM {join}
    INNER JOIN annotator_project p ON p.id = {u}.project_id
    WHERE a.id = %(assignment)s AND a.annotator_id = %(annotator)s"""

    def unfinished(self, *, project_id: int, annotator_id: int) -> AssignmentT | None:
        """The annotator's returned or reserved assignment in the project (:data:`UNFINISHED_ORDER` picks one)."""
        params = {"annotator": annotator_id, "project": project_id, **UNFINISHED_PARAMS}
        row = fetch_one(self.unfinished_sql, params)
        return None if row is None else self._assignment.instance(row)

    def reservation_expired_oldest(
        self, *, project_id: int, annotator_id: int, before: datetime, qualification_required: bool = False
    ) -> tuple[int, int] | None:
        """(id, unit id) of the oldest reservation held by another annotator that ended before ``before``, on a unit
        ``annotator_id`` may have (:meth:`ClaimTables.claimable`; with ``qualification_required``, one they are
        qualified for); None when there is none."""
        params = {
            "project": project_id,
            "reserved": AssignmentStatus.RESERVED.value,
            "before": db_datetime(before),
            "annotator": annotator_id,
            **QUALIFIED_PARAMS,
        }
        sql = self.reservations_expired_sql.format(qualified=self.tables.qualified(required=qualification_required))
        row = fetch_one(sql, params)
        return None if row is None else (row[0], row[1])

    def with_project(self, *, assignment_id: int, annotator_id: int) -> AssignmentT | None:
        """The assignment if ``annotator_id`` owns it, with its unit and the unit's project loaded."""
        row = fetch_one(self.with_project_sql, {"assignment": assignment_id, "annotator": annotator_id})
        if row is None:
            return None
        na, nu = len(self._assignment), len(self._unit)
        assignment = self._assignment.instance(row[:na])
        unit = self._unit.instance(row[na : na + nu])
        self._unit_project.set_cached_value(unit, _PROJECT.instance(row[na + nu :]))
        self._assignment_unit.set_cached_value(assignment, unit)
        return assignment


# --- reads ----------------------------------------------------------------------------------------------------------

_TOKEN, _USER = _Columns(Token, "t"), _Columns(User, "u")
_PROJECT = _Columns(Project, "p")
_ATTRIBUTE = _Columns(Attribute, "x")
_SHOWN = _Columns(Comparison, "c", ("id", "project_id", "prompt_id", "response_1_id", "response_2_id"))
_SHOWN_PROJECT = _Columns(Project, "p", ("id", "slug", "name", "guidelines", "min_justification_length"))

COMPARISON_TABLES = ClaimTables(
    unit=Comparison, assignment=Assignment, alias="c", unit_field="comparison", qualification_items=True
)
COMPARISON_READS = ClaimReads(COMPARISON_TABLES)

TOKEN_USER = f"""
    SELECT {_TOKEN.sql}, {_USER.sql} FROM authtoken_token t INNER JOIN auth_user u ON u.id = t.user_id
    WHERE t.key = %(key)s"""
MEMBERSHIPS_WITH_PROJECT = f"""
    SELECT m.role, {_PROJECT.sql} FROM annotator_membership m INNER JOIN annotator_project p ON p.id = m.project_id
    WHERE p.slug = %(slug)s AND m.user_id = %(user)s"""
ATTRIBUTES = f"""
    SELECT {_ATTRIBUTE.sql} FROM annotator_attribute x WHERE x.project_id = %(project)s ORDER BY x.position, x.id"""
ANNOTATION_RATINGS_FIRST = f"""
    SELECT n.ratings FROM annotator_annotation n WHERE n.comparison_id = %(comparison)s AND {BY_PEOPLE_CURRENT}
    ORDER BY n.id LIMIT %(limit)s"""
COMPARISON_SHOWN = f"""
    SELECT {_SHOWN.sql}, {_SHOWN_PROJECT.sql}, q.turns, r1.text, r2.text FROM annotator_comparison c
    INNER JOIN annotator_project p ON p.id = c.project_id INNER JOIN annotator_prompt q ON q.id = c.prompt_id
    INNER JOIN annotator_response r1 ON r1.id = c.response_1_id
    INNER JOIN annotator_response r2 ON r2.id = c.response_2_id WHERE c.id = %(comparison)s"""
_RATINGS = _Columns(Annotation, "n", ("ratings",))
_TURNS = _Columns(Prompt, "q", ("id", "turns"))
_TEXT = _Columns(Response, "r", ("id", "text"))


def token_user(key: str) -> tuple[Token, User] | None:
    row = fetch_one(TOKEN_USER, {"key": key})
    if row is None:
        return None
    token, user = _TOKEN.instance(row[: len(_TOKEN)]), _USER.instance(row[len(_TOKEN) :])
    Token.user.field.set_cached_value(token, user)
    return token, user


def memberships_with_project(*, slug: str, user_id: int) -> tuple[set[str], Project | None]:
    """The roles ``user_id`` holds in the project ``slug``, and the project (None when they hold none)."""
    rows = fetch_all(MEMBERSHIPS_WITH_PROJECT, {"slug": slug, "user": user_id})
    if not rows:
        return set(), None
    return {r[0] for r in rows}, _PROJECT.instance(rows[0][1:])


def assignment_unfinished(*, project_id: int, annotator_id: int) -> Assignment | None:
    """The annotator's returned or reserved assignment in the project (:data:`UNFINISHED_ORDER` picks one)."""
    return COMPARISON_READS.unfinished(project_id=project_id, annotator_id=annotator_id)


def reservation_expired_oldest(
    *, project_id: int, annotator_id: int, before: datetime, qualification_required: bool = False
) -> tuple[int, int] | None:
    """(id, comparison id) of the oldest reservation held by another annotator that ended before ``before``, on a
    comparison ``annotator_id`` never had (and, with ``qualification_required``, is qualified for); None when there
    is none."""
    return COMPARISON_READS.reservation_expired_oldest(
        project_id=project_id, annotator_id=annotator_id, before=before, qualification_required=qualification_required
    )


def assignment_with_project(*, assignment_id: int, annotator_id: int) -> Assignment | None:
    """The assignment if ``annotator_id`` owns it, with its comparison and the comparison's project loaded."""
    return COMPARISON_READS.with_project(assignment_id=assignment_id, annotator_id=annotator_id)


def attributes(*, project_id: int) -> list[Attribute]:
    """The project's attributes in their order (``Attribute.Meta.ordering``)."""
    return [_ATTRIBUTE.instance(r) for r in fetch_all(ATTRIBUTES, {"project": project_id})]


def annotation_ratings_first(*, comparison_id: int, limit: int) -> list[Any]:
    """Ratings of the first ``limit`` current annotations by people (:data:`BY_PEOPLE_CURRENT`) on the comparison."""
    rows = fetch_all(ANNOTATION_RATINGS_FIRST, {"comparison": comparison_id, "limit": limit})
    return [_RATINGS.instance(r).ratings for r in rows]


def comparison_shown(*, comparison_id: int) -> tuple[Comparison, Prompt, Response, Response]:
    """The comparison (``only`` its keys) with its project's display fields, its prompt and both responses."""
    row = fetch_one(COMPARISON_SHOWN, {"comparison": comparison_id})
    if row is None:
        raise Comparison.DoesNotExist
    n, p = len(_SHOWN), len(_SHOWN_PROJECT)
    comparison: Comparison = _SHOWN.instance(row[:n])
    Comparison.project.field.set_cached_value(comparison, _SHOWN_PROJECT.instance(row[n : n + p]))
    prompt = _TURNS.instance((comparison.prompt_id, row[n + p]))
    r1 = _TEXT.instance((comparison.response_1_id, row[n + p + 1]))
    r2 = _TEXT.instance((comparison.response_2_id, row[n + p + 2]))
    for name, related in (("prompt", prompt), ("response_1", r1), ("response_2", r2)):
        Comparison._meta.get_field(name).set_cached_value(comparison, related)  # type: ignore[union-attr]
    return comparison, prompt, r1, r2


# The task types' hot path (annotator.selectors.task_hot_path) builds its statements the same way.
Columns = _Columns
