"""Claim priorities: how informative another human label on each comparison would be.

A priority scoring (``rm_jobs``: it needs a reward model) computes them; this service is the one writer of
``Comparison.priority``, so that ``annotator`` owns its column and the scoring never writes annotator tables itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from django.db import transaction

from annotator.errors import ValidationFailed
from annotator.models import Comparison, Project

_BATCH = 500


@transaction.atomic
def comparison_priorities_replace(*, project: Project, priorities: Mapping[int, float]) -> int:
    """Set the priority of each comparison in ``priorities`` (comparison id → priority, higher claimed first) and
    reset every other comparison of the project to 0, so the queue follows the latest scoring only.

    All or nothing: an id outside the project is a ValidationFailed and nothing is written. Rows are written in
    primary-key order (the lock order of several comparisons). Returns the number of comparisons given a priority.
    """
    wanted = sorted(priorities)
    found = set(Comparison.objects.filter(project=project).values_list("pk", flat=True))
    missing = [pk for pk in wanted if pk not in found]
    if missing:
        raise ValidationFailed(
            f"Comparisons {missing[:10]} are not in project {project.slug}.",
            extra={"fields": {"priorities": "Comparisons of another project."}},
        )
    not_finite = [pk for pk in wanted if not math.isfinite(priorities[pk])]
    if not_finite:
        raise ValidationFailed(
            f"Comparisons {not_finite[:10]} have no finite priority.",
            extra={"fields": {"priorities": "Not a finite number."}},
        )
    Comparison.objects.filter(project=project).exclude(priority=0.0).update(priority=0.0)
    for start in range(0, len(wanted), _BATCH):
        rows = [Comparison(pk=pk, priority=float(priorities[pk])) for pk in wanted[start : start + _BATCH]]
        Comparison.objects.bulk_update(rows, ["priority"])
    return len(wanted)
