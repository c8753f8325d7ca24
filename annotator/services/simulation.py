"""Simulated annotators working a real project through the same services as people.

Each simulated annotator is a user with the annotator role who claims with ``assignment_claim_next``, sees the
comparison in shown (left/right) order, and submits with ``annotation_submit`` or skips with ``assignment_skip``;
their ratings come from the pure, seeded generator in ``annotator.stats.simulation``. The hidden truth of a
comparison is its ``metadata["true_scores"]`` / ``metadata["true_preference"]`` where the data set ships one (the
demo does), otherwise a seeded draw. Every claim and submission is its own transaction, as for a person.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from django.contrib.auth.models import User
from django.db import transaction

from annotator.errors import ApplicationError
from annotator.models import Comparison, Membership, Project, Role
from annotator.selectors.projects import project_attribute_names
from annotator.services.assignments import annotation_submit, assignment_claim_next, assignment_skip
from annotator.shown_terms import shown_from_response_terms
from annotator.stats.simulation import ComparisonTruth, SimulatedAnnotator, make_truth

# The mix of profiles handed out in turn: mostly careful people, and one of each kind of trouble.
PROFILE_CYCLE = ("careful", "careful", "lenient", "harsh", "position_left", "random")
SIMULATED_PREFIX = "sim-"


@dataclass(frozen=True)
class SimulationResult:
    annotators: int
    submitted: int
    skipped: int
    refused: int


def _truth(comparison: Comparison, attributes: tuple[str, ...], seed: int) -> ComparisonTruth:
    meta = comparison.metadata or {}
    true_scores = meta.get("true_scores") if isinstance(meta, dict) else None
    if isinstance(true_scores, dict) and {"response_1", "response_2"} <= true_scores.keys():
        scores = np.array(
            [[float(true_scores[side].get(a, 2)) for a in attributes] for side in ("response_1", "response_2")]
        )
        strength = float(meta.get("true_preference", 0))
        return ComparisonTruth(comparison.pk, attributes, scores, strength)
    drawn = make_truth(1, attributes, seed=seed * 1_000_003 + comparison.pk)
    return ComparisonTruth(comparison.pk, attributes, drawn.scores[0], float(drawn.strength[0]))


def _number(value: object) -> float:
    """A rating, strength or time from the generator's row (typed ``object`` there; always a float)."""
    if not isinstance(value, int | float):
        raise TypeError(f"Expected a number from the simulated annotator, got {value!r}.")
    return float(value)


@transaction.atomic
def simulated_annotators_ensure(*, project: Project, count: int, seed: int) -> list[tuple[User, SimulatedAnnotator]]:
    """``count`` simulated annotator users (members of ``project``) with their generators, created on first use."""
    pool: list[tuple[User, SimulatedAnnotator]] = []
    for i in range(count):
        profile = PROFILE_CYCLE[i % len(PROFILE_CYCLE)]
        user, created = User.objects.get_or_create(username=f"{SIMULATED_PREFIX}{project.slug}-{i + 1}-{profile}")
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        Membership.objects.get_or_create(project=project, user=user, role=Role.ANNOTATOR)
        pool.append((user, SimulatedAnnotator(profile, seed=seed * 1000 + i, annotator_id=user.username)))
    return pool


def annotations_simulate(
    *,
    project: Project,
    annotators: int,
    seed: int = 0,
    max_per_annotator: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> SimulationResult:
    """Let ``annotators`` simulated annotators work through ``project`` until nothing is left for them."""
    attributes = tuple(project_attribute_names(project=project))
    pool = simulated_annotators_ensure(project=project, count=annotators, seed=seed)
    submitted = skipped = refused = 0
    done = dict.fromkeys(range(len(pool)), 0)
    active = set(done)
    while active:
        for index in sorted(active):
            user, simulated = pool[index]
            if max_per_annotator is not None and done[index] >= max_per_annotator:
                active.discard(index)
                continue
            assignment = assignment_claim_next(project=project, annotator=user)
            if assignment is None:
                active.discard(index)
                continue
            truth = _truth(assignment.comparison, attributes, seed)
            result = simulated.annotate(truth, shown_swapped=assignment.swapped)
            done[index] += 1
            try:
                if result["skipped"]:
                    assignment_skip(assignment=assignment, annotator=user, reason="needs_expertise")
                    skipped += 1
                else:
                    ratings = {
                        side: {a: int(_number(result[f"r{side}_{a}"])) for a in attributes} for side in ("1", "2")
                    }
                    strength = result["strength"]
                    shown, shown_strength = shown_from_response_terms(
                        swapped=assignment.swapped,
                        ratings=ratings,
                        preference_strength=0
                        if not isinstance(strength, float) or math.isnan(strength)
                        else int(strength),
                    )
                    annotation_submit(
                        assignment=assignment,
                        annotator=user,
                        ratings_shown=shown,
                        preference_strength=shown_strength,
                        justification=_shown_justification(str(result["justification"]), assignment.swapped),
                        time_on_task_seconds=_number(result["time_on_task_s"]),
                    )
                    submitted += 1
            except ApplicationError:
                refused += 1
            if on_progress is not None:
                on_progress(submitted + skipped + refused)
    return SimulationResult(annotators=len(pool), submitted=submitted, skipped=skipped, refused=refused)


def _shown_justification(text: str, swapped: bool) -> str:
    """The generator writes in response terms; a person writes about what they see (left = "@Response 1")."""
    if not swapped:
        return text
    return (
        text.replace("@Response 1", "@Response_tmp")
        .replace("@Response 2", "@Response 1")
        .replace("@Response_tmp", "@Response 2")
    )
