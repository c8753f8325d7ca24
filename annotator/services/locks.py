"""Row locks for the annotate path, in the one order every transaction takes them.

Lock order: **membership → comparison (or task unit) → assignment (or task assignment) → the project's agreement counts** (the last one taken by
``annotator.services.agreement_counts.agreement_counts_refresh``, after the service's own writes, once per
transaction). A transaction may skip a step but never goes back up, and
never locks two of these in one statement (``FOR UPDATE`` on a join locks each joined row in whatever order the plan
reads them). Several rows of one table are locked in primary-key order. Whoever needs:

* one annotator's claims serialised: :func:`membership_lock` (claim);
* a unit's slots to stay put (claim, reclaim, submit, skip: they move an assignment in or out of a slot):
  :meth:`UnitLocks.lock_for_annotator`, :meth:`UnitLocks.lock_next_candidate`, :meth:`UnitLocks.lock_if_free`
  (:data:`COMPARISON_LOCKS`, :data:`UNIT_LOCKS`);
* one assignment to stay put while a slot does not move (draft, a lead's review): :func:`assignment_lock`,
  :func:`task_assignment_lock`; a status change takes the assignment's lock in its conditional update,
  :meth:`UnitLocks.assignment_update_if_status`.

The statements are written once for every kind of work (:class:`UnitLocks` on the kind's
:class:`annotator.selectors.hot_path.ClaimTables`); the claim machinery that takes them is
:mod:`annotator.services.claims`.

PostgreSQL takes the locks; SQLite has no row locks and needs none, since the settings open every transaction with
``BEGIN IMMEDIATE`` and so serialise writers: :func:`for_update` gives SQLite no lock clause, as the ORM does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import connection

from annotator.models import Assignment, QueueOrder, TaskAssignment
from annotator.selectors.hot_path import COMPARISON_TABLES, QUALIFIED_PARAMS, ClaimTables, fetch_one
from annotator.selectors.task_hot_path import UNIT_TABLES


def for_update(*, of: str | None = None, skip_locked: bool = False) -> str:
    """The lock clause this database understands (``FOR UPDATE [OF x] [SKIP LOCKED]``); empty where it has none."""
    features = connection.features
    if not features.has_select_for_update:
        return ""
    clause = "FOR UPDATE"
    if of and features.has_select_for_update_of:
        clause += f" OF {of}"
    if skip_locked and features.has_select_for_update_skip_locked:
        clause += " SKIP LOCKED"
    return clause


def skips_locked_rows() -> bool:
    """Whether a locked look passes over rows other transactions hold (PostgreSQL), rather than seeing every row."""
    return bool(connection.features.has_select_for_update_skip_locked)


# --- 1. membership --------------------------------------------------------------------------------------------------

MEMBERSHIP = """
    SELECT m.id FROM annotator_membership m
    WHERE m.project_id = %(project)s AND m.user_id = %(user)s AND m.role = %(role)s LIMIT 1"""


def membership_lock(*, project_id: int, user_id: int, role: str) -> bool:
    """Lock the user's membership row with ``role`` in the project; False when there is none."""
    return fetch_one(f"{MEMBERSHIP} {for_update()}", {"project": project_id, "user": user_id, "role": role}) is not None


# --- 2. comparison or task unit, 3. its assignment ------------------------------------------------------------------


def candidate_order(alias: str) -> str:
    """The claim's default order on the unit ``alias``: closest to completion (fewest free slots), then oldest.

    Free slots are overlap + extra_annotators - slots_taken; the filter and the order are on
    extra_annotators - slots_taken, the claim-order index's expression, so a few rows are read."""
    return f"({alias}.extra_annotators - {alias}.slots_taken), {alias}.id"


class UnitLocks:
    """The locking statements of one kind of work (a comparison or a task unit, and its assignments), written once on
    its :class:`annotator.selectors.hot_path.ClaimTables`."""

    def __init__(self, tables: ClaimTables[Any]) -> None:
        t, u = tables, tables.alias
        self.tables = tables
        # The membership is only read (EXISTS), not locked: the unit is the one row this statement locks.
        self.for_annotator_sql = f"""
    SELECT {u}.extra_annotators, EXISTS(SELECT 1 FROM annotator_membership m
        WHERE m.project_id = {u}.project_id AND m.user_id = %(user)s AND m.role = %(role)s)
    FROM {t.unit_table} {u} WHERE {u}.id = %(unit)s"""
        self.slots_sql = f"""
    SELECT {u}.id, {u}.extra_annotators, {u}.slots_taken FROM {t.unit_table} {u} WHERE {u}.id = %(unit)s"""
        self.candidate_sql = f"""
    SELECT {u}.id, {u}.extra_annotators, {u}.slots_taken FROM {t.unit_table} {u}
    WHERE {u}.project_id = %(project)s AND ({u}.extra_annotators - {u}.slots_taken) > %(slots_gt)s
    AND {t.claimable(f"{u}.id")}{{tried}}{{qualified}}
    ORDER BY {{order}} LIMIT 1"""
        self._assignment_fields = {f.attname: f for f in t.assignment._meta.concrete_fields}

    def lock_for_annotator(self, *, unit_id: int, user_id: int, role: str) -> tuple[int, bool]:
        """Lock the unit: its ``extra_annotators``, and whether ``user_id`` holds ``role`` in its project."""
        row = fetch_one(f"{self.for_annotator_sql} {for_update()}", {"user": user_id, "role": role, "unit": unit_id})
        if row is None:
            raise self.tables.unit.DoesNotExist  # type: ignore[attr-defined]  # Comparison's or TaskUnit's
        return int(row[0]), bool(row[1])

    def lock_if_free(self, *, unit_id: int) -> tuple[int, int] | None:
        """Lock the unit unless another transaction holds it: (extra_annotators, slots_taken), None if held."""
        row = fetch_one(f"{self.slots_sql} {for_update(skip_locked=True)}", {"unit": unit_id})
        return None if row is None else (int(row[1]), int(row[2]))

    def lock_next_candidate(
        self,
        *,
        project_id: int,
        annotator_id: int,
        slots_gt: int,
        tried: Iterable[int],
        lock: bool = True,
        qualification_required: bool = False,
        order: str,
    ) -> tuple[int, int, int] | None:
        """(id, extra_annotators, slots_taken) of the project's unit with ``extra_annotators - slots_taken >
        slots_gt`` that the annotator may have (:meth:`~annotator.selectors.hot_path.ClaimTables.claimable`), not in
        ``tried``, first in ``order`` (an ORDER BY on the unit); with ``qualification_required``, only one the
        annotator is qualified for (:func:`annotator.selectors.hot_path.qualification_filter`).

        Locked, passing over rows other transactions hold, so concurrent claimers spread over different units; a
        row locked this way is the latest committed version, so its ``slots_taken`` is current. ``lock=False`` only
        looks: it locks nothing and passes over nothing.
        """
        u = self.tables.alias
        tried = list(tried)
        params: dict[str, Any] = {"project": project_id, "slots_gt": slots_gt, "annotator": annotator_id}
        params.update({f"tried{i}": pk for i, pk in enumerate(tried)})
        clause = f" AND {u}.id NOT IN ({', '.join(f'%(tried{i})s' for i in range(len(tried)))})" if tried else ""
        qualified = self.tables.qualified(required=qualification_required)
        if qualified:
            params.update(QUALIFIED_PARAMS)
        sql = self.candidate_sql.format(tried=clause, qualified=qualified, order=order)
        row = fetch_one(f"{sql} {for_update(of=u, skip_locked=True)}" if lock else sql, params)
        return None if row is None else (row[0], row[1], row[2])

    def assignment_update_if_status(self, *, pk: int, if_status: str, fields: Mapping[str, Any]) -> bool:
        """Write ``fields`` on the assignment if its status is still ``if_status``; False when it is not.

        One statement: the update takes the assignment's row lock and checks the status under it.
        """
        columns = self._assignment_fields
        sets = ", ".join(f"{columns[name].column} = %(set_{name})s" for name in fields)
        params = {f"set_{n}": columns[n].get_db_prep_save(value, connection) for n, value in fields.items()}
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {self.tables.assignment_table} SET {sets} WHERE id = %(pk)s AND status = %(if_status)s",
                {**params, "pk": pk, "if_status": if_status},
            )
            return bool(cursor.rowcount)


COMPARISON_LOCKS = UnitLocks(COMPARISON_TABLES)
# A feedback, edit or edit-quality project's units: the comparison's statements on annotator_taskunit /
# annotator_taskassignment (docs/task-types.md), never a unit whose feedback or edits the annotator wrote.
UNIT_LOCKS = UnitLocks(UNIT_TABLES)

CANDIDATE = COMPARISON_LOCKS.candidate_sql
# The project's queue order → the candidate's ORDER BY; each is the key of an index on (project, ...), so the
# informative order reads as few rows as the default one (comparison_claim_order, comparison_claim_informative).
CANDIDATE_ORDERS: dict[str, str] = {
    QueueOrder.COMPLETION: candidate_order("c"),
    QueueOrder.INFORMATIVE: f"c.priority DESC, {candidate_order('c')}",
}
# Task units have no priority: always the default order (their claim-order index).
UNIT_CANDIDATE, UNIT_CANDIDATE_ORDER = UNIT_LOCKS.candidate_sql, candidate_order("u")


def assignment_lock(*, pk: int) -> Assignment:
    """Lock the assignment's row only (its comparison and project come along, read without a lock)."""
    return Assignment.objects.select_for_update(of=("self",)).select_related("comparison__project").get(pk=pk)


def task_assignment_lock(*, pk: int) -> TaskAssignment:
    """Lock the task assignment's row only (its unit and project come along, read without a lock)."""
    return TaskAssignment.objects.select_for_update(of=("self",)).select_related("unit__project").get(pk=pk)
