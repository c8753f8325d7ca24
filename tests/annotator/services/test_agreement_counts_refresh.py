"""The kept agreement counts follow every write that changes which annotations count, and give exactly the figures
computed from the annotations (annotator.services.agreement_counts; the reference is agreement_overview_get)."""

from __future__ import annotations

import contextlib
import json
import random
import threading
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections

from annotator.errors import Conflict
from annotator.models import AgreementCounts, Annotation, AssignmentStatus, ReviewDecision, Role
from annotator.selectors.agreement_cache import agreement_fingerprint
from annotator.selectors.agreement_counts import agreement_counts_check
from annotator.selectors.annotation_edits import annotation_edit_refusal
from annotator.selectors.quality.agreement import agreement_overview_get, agreement_overview_read
from annotator.selectors.quality.progress import project_progress, project_progress_read
from annotator.services.agreement_counts import agreement_counts_rebuild, agreement_counts_repair
from annotator.services.agreement_intervals import agreement_intervals_compute, agreement_intervals_request
from annotator.services.assignments import (
    annotation_revise,
    annotation_submit,
    assignment_claim_next,
    assignment_skip,
)
from annotator.services.imports import comparisons_import
from annotator.services.reviews import review_bulk_accept, review_decide
from annotator.tasks import agreement_intervals_task
from tests.annotator.selectors.quality_data import annotate
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db

JUSTIFICATION = "@Response 1 answers the question; @Response 2 does not."
ATTRS = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")


def assert_counts_exact(project: Any) -> None:
    """The figures from the counts equal the figures from the annotations, and the counts pass their check."""
    fast = agreement_overview_read(project=project)
    assert fast.from_counts
    reference = agreement_overview_get(project=project, time_points=0)
    assert fast.rows == reference.rows  # floats compared exactly (NaN shows as None in both)
    assert (fast.n_annotations, fast.n_rejected_excluded) == (reference.n_annotations, reference.n_rejected_excluded)
    check = agreement_counts_check(project=project)
    assert check.ok, check.problems
    assert project_progress_read(project=project) == project_progress(project=project)


def _answers(rng: random.Random) -> dict[str, Any]:
    return {
        "ratings_shown": {side: {a: rng.randint(0, 4) for a in ATTRS} for side in ("left", "right")},
        "preference_strength": rng.randint(-3, 3),
        "justification": JUSTIFICATION,
    }


def _import(project: Any, rng: random.Random, tmp_path: Path) -> None:
    path = tmp_path / f"import-{rng.random()}.jsonl"
    if rng.random() < 0.5:  # per-annotator ratings, no strength
        n = rng.randint(1, 4)
        rows = [{"prompt": "p", "response": r, **{a: [rng.randint(0, 4) for _ in range(n)] for a in ATTRS}}
                for r in ("a", "b")]  # fmt: skip
        fmt = "helpsteer2-disagreements"
    else:  # per-annotator strengths (-100: not ratable), no ratings
        prefs = [{"strength": rng.choice([-3, -1, 0, 2, 3, -100]), "justification": "@Response 2 is better."}
                 for _ in range(rng.randint(1, 4))]  # fmt: skip
        rows = [{
            "split": "train", "prompt": "p", "response_1": "a", "response_2": "b", "preference_strength": 1,
            "preference_statement": "s", "preference_elaboration": "e",
            "three_most_similar_preferences": [{"statement": "s", "elaboration": "e", "strength": 1}] * 3,
            "all_preferences_unprocessed": prefs,
        }]  # fmt: skip
        fmt = "helpsteer2-preference"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    comparisons_import(project=project, source=str(path), fmt=fmt)


def _step(project: Any, people: list[Any], lead: Any, rng: random.Random, tmp_path: Path) -> None:
    op = rng.choices(["submit", "revise", "review", "bulk", "import", "skip", "claim"], weights=[6, 2, 3, 1, 1, 1, 1])[
        0
    ]
    current = list(Annotation.objects.filter(comparison__project=project, is_current=True, source=""))
    if op == "submit":
        annotator = rng.choice(people)
        assignment = assignment_claim_next(project=project, annotator=annotator)
        if assignment is not None:
            annotation_submit(assignment=assignment, annotator=annotator, **_answers(rng))
    elif op == "revise":
        editable = [a for a in current if annotation_edit_refusal(annotation=a, annotator=a.annotator) is None]
        if editable:
            chosen = rng.choice(editable)
            annotation_revise(annotation=chosen, annotator=chosen.annotator, **_answers(rng))
    elif op == "review" and current:
        chosen = rng.choice(current)
        decision = rng.choice([ReviewDecision.ACCEPT, ReviewDecision.REJECT])
        with contextlib.suppress(Conflict):  # the same decision twice is refused; nothing is written then
            review_decide(annotation=chosen, reviewer=lead, decision=decision, reason="Read the guidelines again.")
    elif op == "bulk" and current:
        chosen = rng.sample(current, min(3, len(current)))
        review_bulk_accept(project=project, annotation_ids=[a.pk for a in chosen], reviewer=lead)
    elif op == "import":
        _import(project, rng, tmp_path)
    elif op in ("skip", "claim"):  # a reservation left open, or given back (a returned one too)
        annotator = rng.choice(people)
        assignment = assignment_claim_next(project=project, annotator=annotator)
        if assignment is not None and op == "skip":
            assignment_skip(assignment=assignment, annotator=annotator, reason="needs_expertise")


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_counts_equal_the_computation_from_the_annotations_through_a_random_history(seed: int, tmp_path) -> None:
    rng = random.Random(seed)
    project = ProjectFactory(overlap=3, adaptive_overlap_extra=seed % 2, adaptive_overlap_threshold=1)
    ComparisonFactory.create_batch(7, project=project)
    people = [member(project) for _ in range(6)]
    lead = member(project, role=Role.LEAD)
    for step in range(45):
        _step(project, people, lead, rng, tmp_path)
        if step % 5 == 4:
            assert_counts_exact(project)
    assert_counts_exact(project)
    counts = AgreementCounts.objects.get(project=project)
    assert counts.n_counted > 10 and counts.tallies["helpfulness"]["patterns"]


def test_a_rejection_leaves_an_annotation_out_and_an_acceptance_brings_it_back() -> None:
    project = ProjectFactory(overlap=2)
    comparison = ComparisonFactory(project=project)
    people = [member(project) for _ in range(2)]
    lead = member(project, role=Role.LEAD)
    rng = random.Random(5)
    for person in people:
        annotation_submit(
            assignment=assignment_claim_next(project=project, annotator=person), annotator=person, **_answers(rng)
        )
    first = Annotation.objects.filter(comparison=comparison).first()
    assert agreement_overview_read(project=project).n_annotations == 2
    review_decide(annotation=first, reviewer=lead, decision=ReviewDecision.REJECT, reason="Too quick.")
    overview = agreement_overview_read(project=project)
    assert (overview.from_counts, overview.n_annotations, overview.n_rejected_excluded) == (True, 1, 1)
    assert all(r.n_units == 0 for r in overview.rows)  # one annotation left: nothing pairable
    review_decide(annotation=first, reviewer=lead, decision=ReviewDecision.ACCEPT)
    assert agreement_overview_read(project=project).n_annotations == 2
    assert_counts_exact(project)


def test_a_write_that_bypassed_the_services_is_caught_by_the_check_and_repaired() -> None:
    project = ProjectFactory(overlap=3)
    comparison = ComparisonFactory(project=project)
    person = member(project)
    annotation_submit(
        assignment=assignment_claim_next(project=project, annotator=person),
        annotator=person,
        **_answers(random.Random(1)),
    )
    assert agreement_counts_check(project=project).ok
    assert not agreement_counts_repair(project=project)  # nothing to repair
    annotate(comparison, member(project), r1=1, r2=4)  # straight into the tables
    check = agreement_counts_check(project=project)
    assert not check.ok
    assert f"comparison {comparison.pk}: kept counts differ from its annotations" in check.problems
    assert agreement_counts_repair(project=project)
    assert_counts_exact(project)


def test_the_intervals_task_repairs_stale_counts(monkeypatch) -> None:
    project = ProjectFactory(overlap=3)
    comparison = ComparisonFactory(project=project)
    for value in (1, 2, 4):
        annotate(comparison, member(project), r1=value, r2=value)
    agreement_counts_rebuild(project=project)
    annotate(comparison, member(project), r1=0, r2=0)  # straight into the tables
    monkeypatch.setattr(agreement_intervals_task, "delay", lambda project_id: None)
    agreement_intervals_request(project=project, n_resamples=50)
    agreement_intervals_compute(project_id=project.pk)
    assert_counts_exact(project)
    assert agreement_overview_read(project=project).fingerprint == agreement_fingerprint(project=project)


def test_the_first_write_to_a_project_without_counts_counts_it_whole() -> None:
    project = ProjectFactory(overlap=3)
    comparisons = ComparisonFactory.create_batch(2, project=project)
    for c in comparisons:
        for value in (1, 3):
            annotate(c, member(project), r1=value, r2=value)
    assert not AgreementCounts.objects.filter(project=project).exists()
    person = member(project)
    annotation_submit(
        assignment=assignment_claim_next(project=project, annotator=person),
        annotator=person,
        **_answers(random.Random(2)),
    )
    assert AgreementCounts.objects.get(project=project).n_counted == 5
    assert_counts_exact(project)


def test_an_import_of_many_comparisons_is_counted_through_the_vectorised_path(tmp_path) -> None:
    project = ProjectFactory(overlap=3)
    agreement_counts_rebuild(project=project)
    rng = random.Random(7)
    rows = [
        {"prompt": f"p{i}", "response": r, **{a: [rng.randint(0, 4) for _ in range(3)] for a in ATTRS}}
        for i in range(70)
        for r in ("a", "b")
    ]
    path = tmp_path / "many.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    comparisons_import(project=project, source=str(path), fmt="helpsteer2-disagreements")
    assert AgreementCounts.objects.get(project=project).n_counted == 70 * 3
    assert_counts_exact(project)


@pytest.mark.django_db(transaction=True)
def test_concurrent_submissions_and_reviews_never_make_the_counts_drift() -> None:
    """Threads against PostgreSQL: every counts update runs under the project's counts lock, taken last."""
    if connection.vendor != "postgresql":
        pytest.skip("concurrency is exercised on PostgreSQL (SQLite serialises every writer by design)")
    project = ProjectFactory(overlap=3, adaptive_overlap_extra=0)
    ComparisonFactory.create_batch(8, project=project)
    annotators = [member(project) for _ in range(8)]
    leads = [member(project, role=Role.LEAD) for _ in range(2)]
    failures: list[BaseException] = []
    barrier = threading.Barrier(len(annotators) + len(leads))

    def annotate_all(annotator: Any, seed: int) -> None:
        rng = random.Random(seed)
        try:
            barrier.wait()
            while (a := assignment_claim_next(project=project, annotator=annotator)) is not None:
                annotation_submit(assignment=a, annotator=annotator, **_answers(rng))
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    def review_some(lead: Any, seed: int) -> None:
        rng = random.Random(seed)
        try:
            barrier.wait()
            for _ in range(15):
                current = list(Annotation.objects.filter(comparison__project=project, is_current=True))
                if current:
                    with contextlib.suppress(Conflict):  # superseded meanwhile, or the same decision twice
                        review_decide(
                            annotation=rng.choice(current), reviewer=lead,
                            decision=rng.choice([ReviewDecision.ACCEPT, ReviewDecision.REJECT]), reason="Check.",
                        )  # fmt: skip
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=annotate_all, args=(a, i)) for i, a in enumerate(annotators)]
    threads += [threading.Thread(target=review_some, args=(lead, 100 + i)) for i, lead in enumerate(leads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures
    assert Annotation.objects.filter(comparison__project=project, is_current=True).count() >= 8 * 3 - 8
    assert AssignmentStatus.SUBMITTED in set(
        Annotation.objects.filter(comparison__project=project).values_list("assignment__status", flat=True)
    )
    assert_counts_exact(project)
