"""The annotate hot path (claim, submit, skip and what they read) as parameterised SQL on Django's cursor.

Why: compiling ORM querysets was about half of the server's Python time per claim+submit cycle; these statements
are built once, at import, from the models' ``_meta`` (tables and columns), so a rename in a model still reaches
them. Rows become model instances with the ORM's own converters (``from_db``), so callers see exactly what a
queryset would have given them. Business rules stay in the services: this module only reads and writes rows.

The same text runs on PostgreSQL and SQLite (>= 3.35 for RETURNING); only row locks differ. PostgreSQL gets
``FOR UPDATE`` (``SKIP LOCKED`` for the claim's candidate); SQLite has no row locks and needs none, since the
settings open every transaction with ``BEGIN IMMEDIATE`` and so serialise writers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from django.contrib.auth.models import User
from django.db import connection, models
from rest_framework.authtoken.models import Token

from annotator.models import Annotation, Assignment, Attribute, Comparison, Membership, Project, Prompt, Response

M = TypeVar("M", bound=models.Model)
Converter = Callable[[Any, Any, Any], Any]


def _table(model: type[models.Model]) -> str:
    return f'"{model._meta.db_table}"'


def _column(model: type[models.Model], name: str) -> str:
    return f'"{model._meta.get_field(name).column}"'  # type: ignore[union-attr]


def _columns(model: type[models.Model], alias: str, names: Sequence[str] | None = None) -> str:
    """``alias."col", ...`` for ``names`` (attnames; all concrete fields, in model order, when None)."""
    fields = model._meta.concrete_fields if names is None else [model._meta.get_field(n) for n in names]
    return ", ".join(f'{alias}."{f.column}"' for f in fields)  # type: ignore[union-attr]


def _attnames(model: type[models.Model]) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields]


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


def _instance(model: type[M], names: tuple[str, ...], values: Sequence[Any]) -> M:
    """A model instance as a queryset would build it (``names`` not all fields: the rest deferred, like ``only``)."""
    row = list(values)
    for i, col, conv in _converters(model, names, connection.vendor):
        row[i] = conv(row[i], col, connection)
    return model.from_db(connection.alias, list(names), row)


def _pg(sql: str) -> str:
    """The statement, with its lock clause only on PostgreSQL (see the module docstring)."""
    return sql if connection.vendor == "postgresql" else sql[: sql.rindex(" FOR UPDATE")]


def _save_value(model: type[models.Model], name: str, value: Any) -> Any:
    return model._meta.get_field(name).get_db_prep_save(value, connection)  # type: ignore[union-attr]


def _fetchone(sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()  # type: ignore[no-any-return]


def _fetchall(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# --- statements -----------------------------------------------------------------------------------------------------

_A, _C, _M, _P = _table(Assignment), _table(Comparison), _table(Membership), _table(Project)
_ASSIGNMENT = tuple(_attnames(Assignment))
_COMPARISON = tuple(_attnames(Comparison))
_PROJECT = tuple(_attnames(Project))
_ATTRIBUTE = tuple(_attnames(Attribute))
_USER = tuple(_attnames(User))
_TOKEN = tuple(_attnames(Token))
_A_INSERT = tuple(n for n in _ASSIGNMENT if n != "id")
_N_INSERT = tuple(n for n in _attnames(Annotation) if n != "id")
_SLOTS = f"(c.{_column(Comparison, 'extra_annotators')} - c.{_column(Comparison, 'slots_taken')})"

TOKEN_USER = (
    f"SELECT {_columns(Token, 't')}, {_columns(User, 'u')} FROM {_table(Token)} t "
    f'INNER JOIN {_table(User)} u ON u."id" = t.{_column(Token, "user")} WHERE t.{_column(Token, "key")} = %s'
)
MEMBERSHIPS_WITH_PROJECT = (
    f"SELECT m.{_column(Membership, 'role')}, {_columns(Project, 'p')} FROM {_M} m "
    f'INNER JOIN {_P} p ON p."id" = m.{_column(Membership, "project")} '
    f"WHERE p.{_column(Project, 'slug')} = %s AND m.{_column(Membership, 'user')} = %s"
)
MEMBERSHIP_LOCK = (
    f'SELECT m."id" FROM {_M} m WHERE m.{_column(Membership, "project")} = %s '
    f"AND m.{_column(Membership, 'user')} = %s AND m.{_column(Membership, 'role')} = %s LIMIT 1 FOR UPDATE"
)
ASSIGNMENT_UNFINISHED = (
    f"SELECT {_columns(Assignment, 'a')} FROM {_A} a "
    f'INNER JOIN {_C} c ON c."id" = a.{_column(Assignment, "comparison")} '
    f"WHERE a.{_column(Assignment, 'annotator')} = %s AND c.{_column(Comparison, 'project')} = %s "
    f"AND a.{_column(Assignment, 'status')} IN (%s, %s) "
    f'ORDER BY a.{_column(Assignment, "status")} DESC, a."id" LIMIT 1'
)
ASSIGNMENTS_EXPIRED = (
    f'SELECT a."id", a.{_column(Assignment, "comparison")} FROM {_A} a '
    f'INNER JOIN {_C} c ON c."id" = a.{_column(Assignment, "comparison")} '
    f"WHERE c.{_column(Comparison, 'project')} = %s AND a.{_column(Assignment, 'status')} = %s "
    f"AND a.{_column(Assignment, 'reserved_until')} < %s AND a.{_column(Assignment, 'annotator')} <> %s "
    f'ORDER BY a.{_column(Assignment, "reserved_until")}, a."id" LIMIT %s'
)
# The filter and the order are on extra_annotators - slots_taken, the comparison_claim_order index's expression.
COMPARISON_CANDIDATE = (
    f'SELECT c."id", c.{_column(Comparison, "extra_annotators")}, c.{_column(Comparison, "slots_taken")} '
    f"FROM {_C} c WHERE c.{_column(Comparison, 'project')} = %s AND {_SLOTS} > %s "
    f'AND c."id" NOT IN (SELECT {_column(Assignment, "comparison")} FROM {_A} '
    f"WHERE {_column(Assignment, 'annotator')} = %s){{tried}} "
    f'ORDER BY {_SLOTS}, c."id" LIMIT 1 FOR UPDATE OF c SKIP LOCKED'
)
ASSIGNMENT_INSERT = (
    f"INSERT INTO {_A} ({', '.join(_column(Assignment, n) for n in _A_INSERT)}) "
    f'VALUES ({", ".join(["%s"] * len(_A_INSERT))}) RETURNING "id"'
)
ANNOTATION_INSERT = (
    f"INSERT INTO {_table(Annotation)} ({', '.join(_column(Annotation, n) for n in _N_INSERT)}) "
    f'VALUES ({", ".join(["%s"] * len(_N_INSERT))}) RETURNING "id"'
)
ASSIGNMENT_WITH_PROJECT = (
    f"SELECT {_columns(Assignment, 'a')}, {_columns(Comparison, 'c')}, {_columns(Project, 'p')} FROM {_A} a "
    f'INNER JOIN {_C} c ON c."id" = a.{_column(Assignment, "comparison")} '
    f'INNER JOIN {_P} p ON p."id" = c.{_column(Comparison, "project")} '
    f'WHERE a."id" = %s AND a.{_column(Assignment, "annotator")} = %s'
)
COMPARISON_LOCK_IS_MEMBER = (
    f"SELECT c.{_column(Comparison, 'extra_annotators')}, EXISTS(SELECT 1 FROM {_M} m "
    f"WHERE m.{_column(Membership, 'project')} = c.{_column(Comparison, 'project')} "
    f"AND m.{_column(Membership, 'user')} = %s AND m.{_column(Membership, 'role')} = %s) "
    f'FROM {_C} c WHERE c."id" = %s FOR UPDATE'
)
ATTRIBUTES = (
    f"SELECT {_columns(Attribute, 'x')} FROM {_table(Attribute)} x WHERE x.{_column(Attribute, 'project')} = %s "
    f'ORDER BY x.{_column(Attribute, "position")}, x."id"'
)
ANNOTATION_RATINGS_FIRST = (
    f"SELECT n.{_column(Annotation, 'ratings')} FROM {_table(Annotation)} n "
    f"WHERE n.{_column(Annotation, 'comparison')} = %s AND n.{_column(Annotation, 'is_current')} = %s "
    f'AND n.{_column(Annotation, "source")} = %s ORDER BY n."id" LIMIT %s'
)
_SHOWN = ("id", "project_id", "prompt_id", "response_1_id", "response_2_id")
_SHOWN_PROJECT = ("id", "slug", "name", "guidelines", "min_justification_length")
COMPARISON_SHOWN = (
    f"SELECT {_columns(Comparison, 'c', _SHOWN)}, {_columns(Project, 'p', _SHOWN_PROJECT)}, "
    f"q.{_column(Prompt, 'turns')}, r1.{_column(Response, 'text')}, r2.{_column(Response, 'text')} FROM {_C} c "
    f'INNER JOIN {_P} p ON p."id" = c.{_column(Comparison, "project")} '
    f'INNER JOIN {_table(Prompt)} q ON q."id" = c.{_column(Comparison, "prompt")} '
    f'INNER JOIN {_table(Response)} r1 ON r1."id" = c.{_column(Comparison, "response_1")} '
    f'INNER JOIN {_table(Response)} r2 ON r2."id" = c.{_column(Comparison, "response_2")} WHERE c."id" = %s'
)


# --- reads ----------------------------------------------------------------------------------------------------------


def token_user(key: str) -> tuple[Token, User] | None:
    row = _fetchone(TOKEN_USER, [key])
    if row is None:
        return None
    token, user = _instance(Token, _TOKEN, row[: len(_TOKEN)]), _instance(User, _USER, row[len(_TOKEN) :])
    Token.user.field.set_cached_value(token, user)
    return token, user


def memberships_with_project(*, slug: str, user_id: int) -> tuple[set[str], Project | None]:
    """The roles ``user_id`` holds in the project ``slug``, and the project (None when they hold none)."""
    rows = _fetchall(MEMBERSHIPS_WITH_PROJECT, [slug, user_id])
    if not rows:
        return set(), None
    return {r[0] for r in rows}, _instance(Project, _PROJECT, rows[0][1:])


def assignment_unfinished(*, project_id: int, annotator_id: int, statuses: tuple[str, str]) -> Assignment | None:
    """The annotator's assignment in ``statuses`` in the project, the greater status first, then the oldest."""
    row = _fetchone(ASSIGNMENT_UNFINISHED, [annotator_id, project_id, *statuses])
    return None if row is None else _instance(Assignment, _ASSIGNMENT, row)


def assignments_expired(
    *, project_id: int, excluding_annotator_id: int, status: str, before: datetime, limit: int
) -> list[tuple[int, int]]:
    """(id, comparison id) of assignments in ``status`` whose reservation ended before ``before``, oldest first."""
    before_db = connection.ops.adapt_datetimefield_value(before)
    return [
        (r[0], r[1])
        for r in _fetchall(ASSIGNMENTS_EXPIRED, [project_id, status, before_db, excluding_annotator_id, limit])
    ]


def assignment_with_project(*, assignment_id: int, annotator_id: int) -> Assignment | None:
    """The assignment if ``annotator_id`` owns it, with its comparison and the comparison's project loaded."""
    row = _fetchone(ASSIGNMENT_WITH_PROJECT, [assignment_id, annotator_id])
    if row is None:
        return None
    na, nc = len(_ASSIGNMENT), len(_COMPARISON)
    assignment = _instance(Assignment, _ASSIGNMENT, row[:na])
    comparison = _instance(Comparison, _COMPARISON, row[na : na + nc])
    Comparison.project.field.set_cached_value(comparison, _instance(Project, _PROJECT, row[na + nc :]))
    Assignment.comparison.field.set_cached_value(assignment, comparison)
    return assignment


def attributes(*, project_id: int) -> list[Attribute]:
    """The project's attributes in their order (``Attribute.Meta.ordering``)."""
    return [_instance(Attribute, _ATTRIBUTE, r) for r in _fetchall(ATTRIBUTES, [project_id])]


def annotation_ratings_first(*, comparison_id: int, limit: int) -> list[Any]:
    """Ratings of the first ``limit`` current annotations by people (not imported) on the comparison."""
    rows = _fetchall(ANNOTATION_RATINGS_FIRST, [comparison_id, True, "", limit])
    return [_instance(Annotation, ("ratings",), r).ratings for r in rows]


def comparison_shown(*, comparison_id: int) -> tuple[Comparison, Prompt, Response, Response]:
    """The comparison (``only`` its keys) with its project's display fields, its prompt and both responses."""
    row = _fetchone(COMPARISON_SHOWN, [comparison_id])
    if row is None:
        raise Comparison.DoesNotExist
    n, p = len(_SHOWN), len(_SHOWN_PROJECT)
    comparison = _instance(Comparison, _SHOWN, row[:n])
    Comparison.project.field.set_cached_value(comparison, _instance(Project, _SHOWN_PROJECT, row[n : n + p]))
    prompt = _instance(Prompt, ("id", "turns"), (comparison.prompt_id, row[n + p]))
    r1 = _instance(Response, ("id", "text"), (comparison.response_1_id, row[n + p + 1]))
    r2 = _instance(Response, ("id", "text"), (comparison.response_2_id, row[n + p + 2]))
    for name, related in (("prompt", prompt), ("response_1", r1), ("response_2", r2)):
        Comparison._meta.get_field(name).set_cached_value(comparison, related)  # type: ignore[union-attr]
    return comparison, prompt, r1, r2


# --- locks and writes -----------------------------------------------------------------------------------------------


def membership_lock(*, project_id: int, user_id: int, role: str) -> bool:
    """Lock the membership row (PostgreSQL); False when there is none."""
    return _fetchone(_pg(MEMBERSHIP_LOCK), [project_id, user_id, role]) is not None


def skips_locked_rows() -> bool:
    """Whether the claim's candidate query skips rows other transactions lock (PostgreSQL; SQLite has no row locks,
    its writers are serialised)."""
    return connection.vendor == "postgresql"


def comparison_claim_candidate(
    *, project_id: int, annotator_id: int, slots_gt: int, tried: Iterable[int], lock: bool = True
) -> tuple[int, int, int] | None:
    """(id, extra_annotators, slots_taken) of the comparison with ``extra_annotators - slots_taken > slots_gt``
    that the annotator never had (nor in ``tried``), lowest ``extra_annotators - slots_taken`` first; locked,
    skipping rows other transactions hold (PostgreSQL). ``lock=False`` only looks, taking and skipping nothing."""
    tried = list(tried)
    clause = f' AND c."id" NOT IN ({", ".join(["%s"] * len(tried))})' if tried else ""
    sql = COMPARISON_CANDIDATE.format(tried=clause)
    sql = _pg(sql) if lock else sql[: sql.rindex(" FOR UPDATE")]
    row = _fetchone(sql, [project_id, slots_gt, annotator_id, *tried])
    return None if row is None else (row[0], row[1], row[2])


def comparison_lock_is_member(*, comparison_id: int, user_id: int, role: str) -> tuple[int, bool]:
    """Lock the comparison (PostgreSQL): its extra_annotators, and whether ``user_id`` has ``role`` in its project."""
    row = _fetchone(_pg(COMPARISON_LOCK_IS_MEMBER), [user_id, role, comparison_id])
    if row is None:
        raise Comparison.DoesNotExist
    return int(row[0]), bool(row[1])


def _insert(model: type[M], names: tuple[str, ...], sql: str, values: dict[str, Any]) -> M:
    params = [_save_value(model, n, values[n]) for n in names]
    row = _fetchone(sql, params)
    assert row is not None  # INSERT ... RETURNING gives one row
    instance = model(id=row[0], **values)
    instance._state.adding, instance._state.db = False, connection.alias
    return instance


def assignment_insert(**values: Any) -> Assignment:
    """Insert an assignment; ``values`` holds every field but ``id``."""
    return _insert(Assignment, _A_INSERT, ASSIGNMENT_INSERT, values)


def annotation_insert(**values: Any) -> Annotation:
    """Insert an annotation; ``values`` holds every field but ``id``."""
    return _insert(Annotation, _N_INSERT, ANNOTATION_INSERT, values)


@cache
def _update_sql(names: tuple[str, ...]) -> str:
    sets = ", ".join(f"{_column(Assignment, n)} = %s" for n in names)
    return f'UPDATE {_A} SET {sets} WHERE "id" = %s AND {_column(Assignment, "status")} = %s'


def assignment_update_if_status(*, pk: int, if_status: str, fields: Mapping[str, Any]) -> bool:
    """Write ``fields`` if the assignment's status is still ``if_status`` (one statement); False when it is not."""
    names = tuple(fields)
    params = [_save_value(Assignment, n, fields[n]) for n in names]
    with connection.cursor() as cursor:
        cursor.execute(_update_sql(names), [*params, pk, if_status])
        return bool(cursor.rowcount)
