"""Row locks for the annotate path, in the one order every transaction takes them.

Lock order: **membership → comparison → assignment**. A transaction may skip a step but never goes back up, and
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

from annotator.models import Assignment, Comparison, QueueOrder
from annotator.selectors.hot_path import NEVER_HAD_BY_ANNOTATOR, fetch_one


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
    AND c.id {NEVER_HAD_BY_ANNOTATOR}{{tried}}
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
    order: str = QueueOrder.COMPLETION,
) -> tuple[int, int, int] | None:
    """(id, extra_annotators, slots_taken) of the project's comparison with ``extra_annotators - slots_taken >
    slots_gt`` that the annotator never had (nor in ``tried``), lowest ``extra_annotators - slots_taken`` first
    (``order`` informative: highest ``priority`` first, then that).

    Locked, passing over rows other transactions hold, so concurrent claimers spread over different comparisons;
    a row locked this way is the latest committed version, so its ``slots_taken`` is current. ``lock=False`` only
    looks: it locks nothing and passes over nothing.
    """
    tried = list(tried)
    params: dict[str, Any] = {"project": project_id, "slots_gt": slots_gt, "annotator": annotator_id}
    params.update({f"tried{i}": pk for i, pk in enumerate(tried)})
    clause = f" AND c.id NOT IN ({', '.join(f'%(tried{i})s' for i in range(len(tried)))})" if tried else ""
    sql = CANDIDATE.format(tried=clause, order=CANDIDATE_ORDERS[order])
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
