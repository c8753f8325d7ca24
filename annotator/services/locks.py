"""Row locks for the annotate path, in the one order every transaction takes them.

Lock order: **membership → comparison (or task unit) → assignment (or task assignment) → the project's agreement counts** (the last one taken by
``annotator.services.agreement_counts.agreement_counts_refresh``, after the service's own writes, once per
transaction). A transaction may skip a step but never goes back up, and
never locks two of these in one statement (``FOR UPDATE`` on a join locks each joined row in whatever order the plan
reads them). Several rows of one table are locked in primary-key order. Whoever needs:

* one annotator's claims serialised: :func:`membership_lock` (claim);
* a comparison's slots to stay put (claim, reclaim, submit, skip: they move an assignment in or out of a slot):
  :func:`comparison_lock_for_annotator`, :func:`comparison_lock_next_candidate`, :func:`comparison_lock_if_free`;
* one assignment to stay put while a slot does not move (draft, a lead's review): :func:`assignment_lock`;
  a status change takes the assignment's lock in its conditional update, :func:`assignment_update_if_status`.

PostgreSQL takes the locks; SQLite has no row locks and needs none, since the settings open every transaction with
``BEGIN IMMEDIATE`` and so serialise writers: :func:`for_update` gives SQLite no lock clause, as the ORM does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import connection

from annotator.models import Assignment, Comparison, QueueOrder, TaskAssignment, TaskUnit
from annotator.selectors.hot_path import NEVER_HAD_BY_ANNOTATOR, QUALIFIED_PARAMS, fetch_one, qualification_filter
from annotator.selectors.task_hot_path import UNIT_NEVER_HAD_BY_ANNOTATOR, UNIT_NOT_BY_ITS_AUTHORS


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


# --- 2. comparison --------------------------------------------------------------------------------------------------

# The membership is only read (EXISTS), not locked: the comparison is the one row this statement locks.
COMPARISON_FOR_ANNOTATOR = """
    SELECT c.extra_annotators, EXISTS(SELECT 1 FROM annotator_membership m
        WHERE m.project_id = c.project_id AND m.user_id = %(user)s AND m.role = %(role)s)
    FROM annotator_comparison c WHERE c.id = %(comparison)s"""
COMPARISON_SLOTS = """
    SELECT c.id, c.extra_annotators, c.slots_taken FROM annotator_comparison c WHERE c.id = %(comparison)s"""
# Free slots are overlap + extra_annotators - slots_taken; the filter and the order are on
# extra_annotators - slots_taken, the comparison_claim_order index's expression, so a few rows are read.
CANDIDATE = f"""
    SELECT c.id, c.extra_annotators, c.slots_taken FROM annotator_comparison c
    WHERE c.project_id = %(project)s AND (c.extra_annotators - c.slots_taken) > %(slots_gt)s
    AND c.id {NEVER_HAD_BY_ANNOTATOR}{{tried}}{{qualified}}
    ORDER BY {{order}} LIMIT 1"""
# The project's queue order → the candidate's ORDER BY; each is the key of an index on (project, ...), so the
# informative order reads as few rows as the default one (comparison_claim_order, comparison_claim_informative).
CANDIDATE_ORDERS: dict[str, str] = {
    QueueOrder.COMPLETION: "(c.extra_annotators - c.slots_taken), c.id",
    QueueOrder.INFORMATIVE: "c.priority DESC, (c.extra_annotators - c.slots_taken), c.id",
}


def comparison_lock_for_annotator(*, comparison_id: int, user_id: int, role: str) -> tuple[int, bool]:
    """Lock the comparison: its ``extra_annotators``, and whether ``user_id`` holds ``role`` in its project."""
    params = {"user": user_id, "role": role, "comparison": comparison_id}
    row = fetch_one(f"{COMPARISON_FOR_ANNOTATOR} {for_update()}", params)
    if row is None:
        raise Comparison.DoesNotExist
    return int(row[0]), bool(row[1])


def comparison_lock_if_free(*, comparison_id: int) -> tuple[int, int] | None:
    """Lock the comparison unless another transaction holds it: (extra_annotators, slots_taken), None if held."""
    row = fetch_one(f"{COMPARISON_SLOTS} {for_update(skip_locked=True)}", {"comparison": comparison_id})
    return None if row is None else (int(row[1]), int(row[2]))


def comparison_lock_next_candidate(
    *,
    project_id: int,
    annotator_id: int,
    slots_gt: int,
    tried: Iterable[int],
    lock: bool = True,
    qualification_required: bool = False,
    order: str = QueueOrder.COMPLETION,
) -> tuple[int, int, int] | None:
    """(id, extra_annotators, slots_taken) of the project's comparison with ``extra_annotators - slots_taken >
    slots_gt`` that the annotator never had (nor in ``tried``), lowest ``extra_annotators - slots_taken`` first
    (``order`` informative: highest ``priority`` first, then that); with ``qualification_required``, only one
    the annotator is qualified for (:func:`annotator.selectors.hot_path.qualification_filter`).

    Locked, passing over rows other transactions hold, so concurrent claimers spread over different comparisons;
    a row locked this way is the latest committed version, so its ``slots_taken`` is current. ``lock=False`` only
    looks: it locks nothing and passes over nothing.
    """
    tried = list(tried)
    params: dict[str, Any] = {"project": project_id, "slots_gt": slots_gt, "annotator": annotator_id}
    params.update({f"tried{i}": pk for i, pk in enumerate(tried)})
    clause = f" AND c.id NOT IN ({', '.join(f'%(tried{i})s' for i in range(len(tried)))})" if tried else ""
    qualified = qualification_filter(required=qualification_required, prompt="c.prompt_id", comparison="c.id")
    if qualified:
        params.update(QUALIFIED_PARAMS)
    sql = CANDIDATE.format(tried=clause, qualified=qualified, order=CANDIDATE_ORDERS[order])
    row = fetch_one(f"{sql} {for_update(of='c', skip_locked=True)}" if lock else sql, params)
    return None if row is None else (row[0], row[1], row[2])


# --- 3. assignment --------------------------------------------------------------------------------------------------


def assignment_lock(*, pk: int) -> Assignment:
    """Lock the assignment's row only (its comparison and project come along, read without a lock)."""
    return Assignment.objects.select_for_update(of=("self",)).select_related("comparison__project").get(pk=pk)


_ASSIGNMENT_FIELDS = {f.attname: f for f in Assignment._meta.concrete_fields}


def assignment_update_if_status(*, pk: int, if_status: str, fields: Mapping[str, Any]) -> bool:
    """Write ``fields`` if the assignment's status is still ``if_status``; False when it is not.

    One statement: the update takes the assignment's row lock and checks the status under it.
    """
    sets = ", ".join(f"{_ASSIGNMENT_FIELDS[name].column} = %(set_{name})s" for name in fields)
    params = {f"set_{n}": _ASSIGNMENT_FIELDS[n].get_db_prep_save(value, connection) for n, value in fields.items()}
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE annotator_assignment SET {sets} WHERE id = %(pk)s AND status = %(if_status)s",
            {**params, "pk": pk, "if_status": if_status},
        )
        return bool(cursor.rowcount)


# --- 2'. task unit: the comparison's place in the order, for feedback, edit and edit-quality projects ---------------
# The same statements as the comparison's on annotator_taskunit / annotator_taskassignment (docs/task-types.md).
# With Project.qualification_required, the qualification rule on the unit's prompt (hot_path.qualification_filter).

UNIT_FOR_ANNOTATOR = """
    SELECT u.extra_annotators, EXISTS(SELECT 1 FROM annotator_membership m
        WHERE m.project_id = u.project_id AND m.user_id = %(user)s AND m.role = %(role)s)
    FROM annotator_taskunit u WHERE u.id = %(unit)s"""
UNIT_SLOTS = "SELECT u.id, u.extra_annotators, u.slots_taken FROM annotator_taskunit u WHERE u.id = %(unit)s"
UNIT_CANDIDATE = f"""
    SELECT u.id, u.extra_annotators, u.slots_taken FROM annotator_taskunit u
    WHERE u.project_id = %(project)s AND (u.extra_annotators - u.slots_taken) > %(slots_gt)s
    AND u.id {UNIT_NEVER_HAD_BY_ANNOTATOR} AND {UNIT_NOT_BY_ITS_AUTHORS}{{tried}}{{qualified}}
    ORDER BY (u.extra_annotators - u.slots_taken), u.id LIMIT 1"""


def unit_lock_for_annotator(*, unit_id: int, user_id: int, role: str) -> tuple[int, bool]:
    """Lock the task unit: its ``extra_annotators``, and whether ``user_id`` holds ``role`` in its project."""
    row = fetch_one(f"{UNIT_FOR_ANNOTATOR} {for_update()}", {"user": user_id, "role": role, "unit": unit_id})
    if row is None:
        raise TaskUnit.DoesNotExist
    return int(row[0]), bool(row[1])


def unit_lock_if_free(*, unit_id: int) -> tuple[int, int] | None:
    """Lock the task unit unless another transaction holds it: (extra_annotators, slots_taken), None if held."""
    row = fetch_one(f"{UNIT_SLOTS} {for_update(skip_locked=True)}", {"unit": unit_id})
    return None if row is None else (int(row[1]), int(row[2]))


def unit_lock_next_candidate(
    *,
    project_id: int,
    annotator_id: int,
    slots_gt: int,
    tried: Iterable[int],
    lock: bool = True,
    qualification_required: bool = False,
) -> tuple[int, int, int] | None:
    """As :func:`comparison_lock_next_candidate`, for the task units of a feedback, edit or edit-quality project;
    never a unit whose feedback or edits the annotator wrote; with ``qualification_required``, only one whose prompt
    the annotator is qualified for."""
    tried = list(tried)
    params: dict[str, Any] = {"project": project_id, "slots_gt": slots_gt, "annotator": annotator_id}
    params.update({f"tried{i}": pk for i, pk in enumerate(tried)})
    clause = f" AND u.id NOT IN ({', '.join(f'%(tried{i})s' for i in range(len(tried)))})" if tried else ""
    qualified = qualification_filter(required=qualification_required, prompt="u.prompt_id", comparison=None)
    if qualified:
        params.update(QUALIFIED_PARAMS)
    sql = UNIT_CANDIDATE.format(tried=clause, qualified=qualified)
    row = fetch_one(f"{sql} {for_update(of='u', skip_locked=True)}" if lock else sql, params)
    return None if row is None else (row[0], row[1], row[2])


def task_assignment_lock(*, pk: int) -> TaskAssignment:
    """Lock the task assignment's row only (its unit and project come along, read without a lock)."""
    return TaskAssignment.objects.select_for_update(of=("self",)).select_related("unit__project").get(pk=pk)


_TASK_ASSIGNMENT_FIELDS = {f.attname: f for f in TaskAssignment._meta.concrete_fields}


def task_assignment_update_if_status(*, pk: int, if_status: str, fields: Mapping[str, Any]) -> bool:
    """As :func:`assignment_update_if_status`, for a task assignment."""
    sets = ", ".join(f"{_TASK_ASSIGNMENT_FIELDS[name].column} = %(set_{name})s" for name in fields)
    params = {f"set_{n}": _TASK_ASSIGNMENT_FIELDS[n].get_db_prep_save(value, connection) for n, value in fields.items()}
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE annotator_taskassignment SET {sets} WHERE id = %(pk)s AND status = %(if_status)s",
            {**params, "pk": pk, "if_status": if_status},
        )
        return bool(cursor.rowcount)
