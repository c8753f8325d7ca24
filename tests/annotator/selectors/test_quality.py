import pytest

from annotator.errors import ValidationFailed
from annotator.models import Annotation, Assignment, AssignmentStatus, Comparison, Review, Role
from annotator.selectors.annotations import annotation_frame
from annotator.selectors.quality.agreement import agreement_over_time, agreement_overview_get
from annotator.selectors.quality.annotators import annotator_annotations, annotator_table
from annotator.selectors.quality.disagreements import (
    DisagreementFilters,
    disagreement_filter_choices,
    disagreement_queue,
)
from annotator.selectors.quality.progress import project_progress, project_progress_read
from annotator.selectors.quality.rules import aggregation_rule_preview
from annotator.services.aggregation_rules import aggregation_rules_ensure_defaults
from annotator.services.agreement_counts import agreement_counts_rebuild
from annotator.services.reviews import review_decide
from tests.annotator.selectors.quality_data import annotate, simulated_project
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    return ProjectFactory(overlap=3)


# --- progress --------------------------------------------------------------------------------------------------


def test_progress_counts_complete_in_progress_and_untouched(project, django_assert_num_queries) -> None:
    people = [member(project) for _ in range(4)]
    done, started, widened, _untouched = (ComparisonFactory(project=project) for _ in range(4))
    for person in people[:3]:
        annotate(done, person)
        annotate(widened, person)
    widened.extra_annotators = 2
    widened.save()
    annotate(started, people[0])
    Assignment.objects.create(comparison=started, annotator=people[1])  # reserved
    returned = annotate(started, people[2]).assignment
    returned.status = AssignmentStatus.RETURNED
    returned.save()

    with django_assert_num_queries(1):
        progress = project_progress(project=project)
    assert (progress.comparisons, progress.complete, progress.in_progress, progress.untouched) == (4, 1, 2, 1)
    assert progress.by_k == [(0, 1), (1, 1), (3, 2)]
    assert (progress.annotations, progress.returned) == (7, 1)


def test_progress_from_the_kept_counts_equals_the_count_over_assignments(project, django_assert_num_queries) -> None:
    people = [member(project) for _ in range(4)]
    done, started, widened, _untouched, skipped_only = (ComparisonFactory(project=project) for _ in range(5))
    for person in people[:3]:
        annotate(done, person)
        annotate(widened, person)
    Comparison.objects.filter(pk=widened.pk).update(extra_annotators=2)
    annotate(started, people[0])
    Assignment.objects.create(comparison=started, annotator=people[1])  # reserved
    Assignment.objects.create(comparison=skipped_only, annotator=people[3], status=AssignmentStatus.SKIPPED)
    returned = annotate(started, people[2]).assignment
    Assignment.objects.filter(pk=returned.pk).update(status=AssignmentStatus.RETURNED)
    agreement_counts_rebuild(project=project)

    with django_assert_num_queries(4):  # counts exist?, totals, per (submitted, returned), widened comparisons
        progress = project_progress_read(project=project)
    assert progress == project_progress(project=project)
    assert (progress.complete, progress.in_progress, progress.untouched, progress.returned) == (1, 3, 1, 1)


# --- agreement, against a known truth ----------------------------------------------------------------------------


def test_careful_annotators_agree_and_random_clickers_do_not(project) -> None:
    careful = ProjectFactory(overlap=3)
    simulated_project(careful, comparisons=120, profiles=["careful"] * 4, seed=1)
    noisy = ProjectFactory(overlap=3)
    simulated_project(noisy, comparisons=120, profiles=["random"] * 4, seed=1)

    good = {r.measure: r for r in agreement_overview_get(project=careful).rows}
    bad = {r.measure: r for r in agreement_overview_get(project=noisy).rows}
    assert set(good) == {"helpfulness", "correctness", "coherence", "complexity", "verbosity",
                         "preference_strength", "preference_direction"}  # fmt: skip
    assert good["helpfulness"].alpha > 0.7
    assert good["preference_strength"].alpha > 0.6
    assert good["helpfulness"].kappa > 0.7
    assert abs(bad["helpfulness"].alpha) < 0.15
    assert abs(bad["preference_strength"].alpha) < 0.15
    assert good["helpfulness"].n_units == 240  # two responses per comparison


def test_rejected_annotations_do_not_count_in_the_overview(project) -> None:
    lead = member(project, Role.LEAD)
    a, b, c = (member(project) for _ in range(3))
    comparisons = [ComparisonFactory(project=project) for _ in range(6)]
    for i, comparison in enumerate(comparisons):
        annotate(comparison, a, r1=i % 5, r2=(i + 2) % 5, strength=-1)
        annotate(comparison, b, r1=i % 5, r2=(i + 2) % 5, strength=-1)
        outlier = annotate(comparison, c, r1=4 - i % 5, r2=0, strength=3)
        review_decide(annotation=outlier, reviewer=lead, decision="reject", reason="Opposite of everyone.")
    overview = agreement_overview_get(project=project)
    assert overview.n_rejected_excluded == 6
    assert overview.n_annotations == 12
    assert {r.measure: r.alpha for r in overview.rows}["helpfulness"] == pytest.approx(1.0)


def test_agreement_over_time_ends_at_the_overall_figure(project) -> None:
    simulated_project(project, comparisons=60, profiles=["careful"] * 3 + ["random"], seed=3)
    overview = agreement_overview_get(project=project, time_points=5)
    points = overview.over_time
    assert [p.n_annotations for p in points] == sorted(p.n_annotations for p in points)
    assert len(points) == 5
    assert points[-1].n_annotations == overview.n_annotations
    final = {r.measure: r.alpha for r in overview.rows}
    for measure, alpha in points[-1].alpha.items():
        assert alpha == pytest.approx(final[measure])
    assert points[0].until <= points[-1].until


def test_agreement_over_time_on_a_prefix_equals_the_overview_of_that_prefix(project) -> None:
    simulated_project(project, comparisons=40, profiles=["careful"] * 3, seed=4)
    frame = annotation_frame(project=project)
    attributes = list(project.attributes.values_list("name", flat=True))
    points = agreement_over_time(frame, attributes, points=4)
    first = frame.sort_values(["submitted_at", "annotation_id"]).iloc[: points[1].n_annotations]
    expected = agreement_overview_get(project=project, frame=first.sort_values("comparison_id"), with_kappa=False)
    for row in expected.rows:
        assert points[1].alpha[row.measure] == pytest.approx(row.alpha)


# --- annotators ----------------------------------------------------------------------------------------------------


def test_annotator_table_finds_the_known_troublemakers(project) -> None:
    profiles = ["careful"] * 5 + ["lenient", "position_left", "random"]
    data = simulated_project(project, comparisons=300, profiles=profiles, k=4, seed=7)
    rows = {r.username.split("-")[0] + "-" + r.username.split("-")[1]: r for r in annotator_table(project=project)}
    random_clicker, lenient, positional = rows["random-7"], rows["lenient-5"], rows["position_left-6"]
    assert random_clicker.outlier
    assert random_clicker.outlier_reason
    assert not any(rows[f"careful-{i}"].outlier for i in range(5))
    assert lenient.bias["helpfulness"] > 0.4
    assert all(abs(rows[f"careful-{i}"].bias["helpfulness"]) < 0.35 for i in range(5))
    assert positional.left_rate > 0.75
    assert 0.3 < rows["careful-0"].left_rate < 0.7
    assert rows["careful-0"].median_time_on_task_s > random_clicker.median_time_on_task_s
    expected_skips = data["frame"].groupby("annotator_id")["skipped"].mean()
    assert rows["careful-0"].skip_rate == pytest.approx(expected_skips[0])
    # Default order: lowest agreement first, the annotators to look at.
    assert annotator_table(project=project)[0].username.startswith("random")


def test_annotator_table_flags_quality_signals_and_lists_flagged_annotators_first(project) -> None:
    profiles = ["careful"] * 4 + ["position_left"]
    data = simulated_project(project, comparisons=120, profiles=profiles, k=3, seed=5)
    straight = data["users"][1]
    for annotation in Annotation.objects.filter(annotator=straight):
        annotation.ratings = {side: dict.fromkeys(values, 2) for side, values in annotation.ratings.items()}
        annotation.save(update_fields=["ratings"])
    rows = annotator_table(project=project, sort="username")
    by_id = {r.user_id: r for r in rows}
    positional = by_id[data["users"][4].pk]
    assert "position" in positional.flags
    assert positional.left_p_value is not None and positional.left_p_value < 0.01
    assert by_id[straight.pk].flags == ("straight",)
    assert by_id[straight.pk].straight_share == 1.0
    assert by_id[data["users"][0].pk].flags == ()
    # Flagged annotators first (each group in the chosen order), then the rest.
    assert [bool(r.flags) for r in rows] == sorted((bool(r.flags) for r in rows), reverse=True)
    assert {r.user_id for r in rows[:2]} == {positional.user_id, straight.pk}
    unflagged_order = annotator_table(project=project, sort="username", flagged_first=False)
    assert [r.username for r in unflagged_order] == sorted(r.username for r in rows)


def test_annotator_table_sorts_and_refuses_unknown_columns(project) -> None:
    simulated_project(project, comparisons=40, profiles=["careful", "careful", "lenient"], seed=2)
    by_bias = annotator_table(project=project, sort="bias_helpfulness", descending=True)
    assert by_bias[0].username.startswith("lenient")
    names = [r.username for r in annotator_table(project=project, sort="username")]
    assert names == sorted(names)
    with pytest.raises(ValidationFailed):
        annotator_table(project=project, sort="password")


def test_gold_accuracy_is_the_share_within_tolerance_per_attribute(project) -> None:
    close, far = member(project), member(project)
    gold = ComparisonFactory(
        project=project, is_gold=True, gold_tolerance=1,
        gold_ratings={"1": {"helpfulness": 4, "correctness": 4}, "2": {"helpfulness": 1}, "strength": -2},
    )  # fmt: skip
    annotate(gold, close, r1={"helpfulness": 3, "correctness": 4}, r2={"helpfulness": 1}, strength=-3)
    annotate(gold, far, r1={"helpfulness": 1, "correctness": 4}, r2={"helpfulness": 1}, strength=1)
    rows = {r.user_id: r for r in annotator_table(project=project)}
    assert rows[close.pk].gold_accuracy == {"helpfulness": 1.0, "correctness": 1.0, "strength": 1.0}
    assert rows[far.pk].gold_accuracy == {"helpfulness": 0.5, "correctness": 1.0, "strength": 0.0}
    assert rows[far.pk].gold_n == 1
    # Mean gold accuracy 0.5 is below the floor: a flag, even on little else.
    assert (rows[far.pk].flags, rows[close.pk].flags) == (("gold",), ())


def test_annotator_annotations_lists_one_annotators_work_with_review_status(project) -> None:
    lead, person, other = member(project, Role.LEAD), member(project), member(project)
    first = annotate(ComparisonFactory(project=project), person)
    annotate(ComparisonFactory(project=project), person)
    annotate(ComparisonFactory(project=project), other)
    review_decide(annotation=first, reviewer=lead, decision="reject", reason="Too short.")
    username, page, total = annotator_annotations(project=project, user_id=person.pk)
    assert (username, total) == (person.username, 2)
    assert {(a.annotation.pk, a.review_status, a.review_reason) for a in page} >= {(first.pk, "rejected", "Too short.")}


# --- disagreement queue --------------------------------------------------------------------------------------------


def test_disagreement_queue_puts_the_widest_spread_first(project, django_assert_max_num_queries) -> None:
    people = [member(project) for _ in range(3)]
    calm, torn, split_preference = (ComparisonFactory(project=project) for _ in range(3))
    for i, person in enumerate(people):
        annotate(calm, person, r1=3, r2=3, strength=0)
        annotate(torn, person, r1={"helpfulness": [0, 2, 4][i]}, strength=1, justification=f"reason {i}")
        annotate(split_preference, person, r1=3, r2=3, strength=[-3, 0, 3][i])
    annotate(ComparisonFactory(project=project), people[0])  # alone: no spread to speak of

    with django_assert_max_num_queries(8):
        queue = disagreement_queue(project=project)
        items = [(item.comparison.pk, item.max_rating_spread, item.strength_spread) for item in queue.items]
        texts = [a.annotation.justification for a in queue.items[0].annotations]
    assert items == [(torn.pk, 4.0, 0.0), (split_preference.pk, 0.0, 6.0), (calm.pk, 0.0, 0.0)]
    assert queue.total == 3
    assert texts == ["reason 0", "reason 1", "reason 2"]
    assert queue.items[0].spread["helpfulness"] == 4.0
    assert (
        next(i.comparison.pk for i in disagreement_queue(project=project, order="strength").items)
        == split_preference.pk
    )
    second = disagreement_queue(project=project, per_page=2, page=2)
    assert [i.comparison.pk for i in second.items] == [calm.pk]
    assert second.pages == 2
    with pytest.raises(ValidationFailed):
        disagreement_queue(project=project, order="random")


def test_rejecting_the_outlier_moves_a_comparison_down_the_queue(project) -> None:
    lead = member(project, Role.LEAD)
    people = [member(project) for _ in range(3)]
    first, second = ComparisonFactory(project=project), ComparisonFactory(project=project)
    outlier = None
    for i, person in enumerate(people):
        annotation = annotate(first, person, r1={"helpfulness": [3, 3, 0][i]})
        outlier = annotation if i == 2 else outlier
        annotate(second, person, r1={"helpfulness": [3, 2, 1][i]})
    assert disagreement_queue(project=project).items[0].comparison == first
    review_decide(annotation=outlier, reviewer=lead, decision="reject", reason="Helpfulness 0 for a correct answer.")
    queue = disagreement_queue(project=project)
    assert [i.comparison for i in queue.items] == [second, first]
    shown = {a.annotation.pk: a.review_status for a in queue.items[1].annotations}
    assert shown[outlier.pk] == "rejected"  # still shown, marked


# --- aggregation rule preview --------------------------------------------------------------------------------------


def test_helpsteer2_preview_drops_wide_comparisons_and_raises_agreement(project) -> None:
    rules = {r.name: r for r in aggregation_rules_ensure_defaults()}
    simulated_project(project, comparisons=150, profiles=["careful"] * 3 + ["random"] * 2, k=3, seed=5)
    preview = aggregation_rule_preview(project=project, rule=rules["helpsteer2"])
    assert preview.n_comparisons == 150
    assert (
        0
        < preview.dropped_by_reason["helpfulness_spread"]
        == preview.n_dropped - preview.dropped_by_reason["too_few_annotations"]
    )
    rows = {r.measure: r for r in preview.rows}
    assert rows["helpfulness"].alpha_after > rows["helpfulness"].alpha_before
    mean = aggregation_rule_preview(project=project, rule=rules["mean"])
    assert mean.dropped_by_reason["helpfulness_spread"] == 0


def test_accepted_only_rule_counts_only_accepted_annotations(project) -> None:
    rules = {r.name: r for r in aggregation_rules_ensure_defaults()}
    lead = member(project, Role.LEAD)
    people = [member(project) for _ in range(3)]
    reviewed, unreviewed = ComparisonFactory(project=project), ComparisonFactory(project=project)
    for person in people:
        annotation = annotate(reviewed, person)
        review_decide(annotation=annotation, reviewer=lead, decision="accept")
        annotate(unreviewed, person)
    preview = aggregation_rule_preview(project=project, rule=rules["mean-accepted"])
    assert (preview.n_comparisons, preview.n_kept, preview.dropped_by_reason["no_annotations"]) == (2, 1, 1)
    assert Review.objects.count() == 3


def test_the_flagged_order_lists_comparisons_a_reward_model_sent_to_review() -> None:
    from annotator.selectors.quality.disagreements import disagreement_queue
    from tests.factories import ComparisonFactory

    flagged = ComparisonFactory(metadata={"needs_review": {"reason": "model prefers response 1 by 4.2", "job": 7}})
    ComparisonFactory(project=flagged.project)
    page = disagreement_queue(project=flagged.project, order="flagged")
    assert [item.comparison.pk for item in page.items] == [flagged.pk]
    assert page.items[0].annotations == []


def test_disagreement_queue_filters_by_attribute_annotator_spread_and_domain(project) -> None:
    people = [member(project) for _ in range(3)]
    outsider = member(project)
    helpful_split = ComparisonFactory(project=project, prompt__domain="code", prompt__language="python")
    correct_split = ComparisonFactory(project=project, prompt__domain="stem", prompt__language="english")
    small_split = ComparisonFactory(project=project)
    for i, person in enumerate(people):
        annotate(helpful_split, person, r1={"helpfulness": [0, 2, 4][i], "correctness": 2}, strength=1)
        annotate(correct_split, person, r1={"helpfulness": 2, "correctness": [0, 1, 3][i]}, strength=1)
        annotate(small_split, person, r1={"helpfulness": [2, 3, 3][i], "correctness": 2}, strength=1)
    annotate(small_split, outsider, r1={"helpfulness": 3, "correctness": 2}, strength=1)

    def ids(**filters) -> list[int]:
        return [
            i.comparison.pk for i in disagreement_queue(project=project, filters=DisagreementFilters(**filters)).items
        ]

    assert ids() == [helpful_split.pk, correct_split.pk, small_split.pk]
    # The attribute's own spread orders the queue.
    assert ids(attribute="correctness")[0] == correct_split.pk
    assert ids(attribute="helpfulness", min_spread=2) == [helpful_split.pk]
    assert ids(min_spread=3) == [helpful_split.pk, correct_split.pk]
    assert ids(annotator_id=outsider.pk) == [small_split.pk]
    assert ids(domain="stem") == [correct_split.pk]
    assert ids(domain="law") == []
    assert ids(language="python") == [helpful_split.pk]
    assert ids(domain="stem", language="python") == []
    with pytest.raises(ValidationFailed):
        disagreement_queue(project=project, filters=DisagreementFilters(attribute="password"))
    annotators, scopes = disagreement_filter_choices(project=project)
    assert (scopes.domains, scopes.languages) == (["code", "stem"], ["english", "python"])
    assert {user_id for user_id, _ in annotators} == {p.pk for p in [*people, outsider]}
