"""Aggregation rules: documented selection, rounding, dropping and review filtering; recovery of a known truth."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from annotator.stats.aggregation import (
    DROP_REASONS,
    HelpSteer2Rule,
    MeanRule,
    MedianRule,
    aggregate,
    aggregation_preview,
    retained_annotations,
    round_half_away_from_zero,
    rule_from_dict,
)
from annotator.stats.simulation import HELPSTEER2_ATTRIBUTES, SimulatedAnnotator, make_truth, simulate_annotations

nan = np.nan
ATTRS = ("helpfulness", "correctness")


def table(comparison: str, rows: Sequence[dict[str, object]], start: int = 0) -> pd.DataFrame:
    """Annotations of one comparison; defaults fill what a row leaves out. Row order = submission order."""
    records = []
    for i, row in enumerate(rows):
        record: dict[str, object] = {
            "comparison_id": comparison,
            "annotation_id": f"{comparison}-{i}",
            "annotator_id": f"ann{i}",
            "submitted_at": pd.Timestamp("2025-01-01", tz="UTC") + pd.Timedelta(minutes=start + i),
            "review_status": "unreviewed",
            "strength": nan,
            "justification": f"text {comparison}-{i}",
        }
        for side in (1, 2):
            for attribute in ATTRS:
                record[f"r{side}_{attribute}"] = 2.0
        record.update(row)
        records.append(record)
    return pd.DataFrame(records)


def test_round_half_away_from_zero() -> None:
    np.testing.assert_array_equal(round_half_away_from_zero([0.5, 1.5, 2.5, -0.5, -2.5, 2.4]), [1, 2, 3, -1, -3, 2])


def test_helpsteer2_card_disagreement_example() -> None:
    # HelpSteer2 card "disagreements": helpfulness [3,3,4] -> 3, correctness [3,4,4] -> 4.
    frame = table(
        "c",
        [
            {"r1_helpfulness": 3.0, "r1_correctness": 3.0},
            {"r1_helpfulness": 3.0, "r1_correctness": 4.0},
            {"r1_helpfulness": 4.0, "r1_correctness": 4.0},
        ],
    )
    result = aggregate(frame, HelpSteer2Rule(), ATTRS).comparisons.loc["c"]
    assert result["r1_helpfulness"] == 3.0
    assert result["r1_correctness"] == 4.0
    assert result["kept"]


def test_half_rounds_away_from_zero_with_two_annotations() -> None:
    frame = table(
        "c",
        [
            {"r1_helpfulness": 2.0, "strength": -1.0},
            {"r1_helpfulness": 3.0, "strength": -2.0},
        ],
    )
    result = aggregate(frame, HelpSteer2Rule(), ATTRS).comparisons.loc["c"]
    assert result["r1_helpfulness"] == 3.0  # 2.5 -> 3 (Python's round would give 2)
    assert result["strength"] == -2.0  # -1.5 -> -2


def test_selection_minimises_helpfulness_range() -> None:
    frame = table("c", [{"r1_helpfulness": h} for h in (0.0, 4.0, 3.0, 1.0, 3.0)])
    result = aggregate(frame, HelpSteer2Rule(), ATTRS)
    kept = result.kept_annotations
    r1 = kept.loc[kept["part"] == "r1", "annotation_id"].tolist()
    # {4, 3, 3} has range 1, the only 3-subset that narrow.
    assert r1 == ["c-1", "c-2", "c-4"]
    assert result.comparisons.loc["c", "r1_helpfulness"] == 3.0
    assert result.comparisons.loc["c", "r1_helpfulness_spread"] == 1.0


def test_tie_on_range_goes_to_smaller_summed_distance_over_all_attributes() -> None:
    # Helpfulness 3,3,4,4: every 3-subset has range 1. Correctness separates them: annotation 0 disagrees.
    frame = table(
        "c",
        [
            {"r1_helpfulness": 3.0, "r1_correctness": 0.0},
            {"r1_helpfulness": 3.0, "r1_correctness": 4.0},
            {"r1_helpfulness": 4.0, "r1_correctness": 4.0},
            {"r1_helpfulness": 4.0, "r1_correctness": 4.0},
        ],
    )
    kept = aggregate(frame, HelpSteer2Rule(), ATTRS).kept_annotations
    assert kept.loc[kept["part"] == "r1", "annotation_id"].tolist() == ["c-1", "c-2", "c-3"]


def test_remaining_ties_go_to_earliest_submissions_not_row_order() -> None:
    rows = [{"r1_helpfulness": 2.0} for _ in range(5)]
    frame = table("c", rows)
    shuffled = frame.iloc[[4, 2, 0, 3, 1]]  # submission times unchanged, rows reordered
    kept = aggregate(shuffled, HelpSteer2Rule(), ATTRS).kept_annotations
    assert kept.loc[kept["part"] == "r1", "annotation_id"].tolist() == ["c-0", "c-1", "c-2"]


def test_preference_keeps_three_most_similar_strengths_and_their_justifications() -> None:
    strengths = [3.0, -3.0, 1.0, 2.0, 1.0]
    frame = table("c", [{"strength": s} for s in strengths])
    result = aggregate(frame, HelpSteer2Rule(), ATTRS)
    row = result.comparisons.loc["c"]
    assert row["strength"] == 1.0  # mean of {1, 2, 1} = 1.33
    assert row["justifications"] == ("text c-2", "text c-3", "text c-4")
    assert row["justification"] == "text c-2"  # first kept whose strength equals the aggregate
    assert row["strength_spread"] == 1.0
    kept = result.kept_annotations
    assert kept.loc[kept["part"] == "preference", "annotation_id"].tolist() == ["c-2", "c-3", "c-4"]


def test_drop_when_either_response_spread_exceeds_threshold() -> None:
    wide = table("wide", [{"r2_helpfulness": h} for h in (0.0, 2.0, 4.0)])
    ok = table("ok", [{"r2_helpfulness": h} for h in (1.0, 2.0, 3.0)], start=10)
    frame = pd.concat([wide, ok], ignore_index=True)
    comparisons = aggregate(frame, HelpSteer2Rule(), ATTRS).comparisons
    assert comparisons.loc["wide", "drop_reason"] == "helpfulness_spread"
    assert not comparisons.loc["wide", "kept"]
    assert comparisons.loc["ok", "kept"]  # range exactly 2 is kept
    lenient = aggregate(frame, HelpSteer2Rule(max_helpfulness_spread=4.0), ATTRS).comparisons
    assert lenient["kept"].all()


def test_optional_strength_spread_filter() -> None:
    frame = table("c", [{"strength": s} for s in (-3.0, 0.0, 3.0)])
    assert aggregate(frame, HelpSteer2Rule(), ATTRS).comparisons.loc["c", "kept"]
    strict = aggregate(frame, HelpSteer2Rule(max_strength_spread=2.0), ATTRS).comparisons.loc["c"]
    assert strict["drop_reason"] == "strength_spread"


def test_review_status_filtering() -> None:
    frame = table(
        "c",
        [
            {"r1_helpfulness": 4.0, "review_status": "rejected"},
            {"r1_helpfulness": 1.0, "review_status": "accepted"},
            {"r1_helpfulness": 1.0, "review_status": "accepted"},
            {"r1_helpfulness": 3.0, "review_status": "unreviewed"},
        ],
    )
    everything = aggregate(frame, MeanRule(), ATTRS).comparisons.loc["c"]
    assert everything["n_r1"] == 3  # the rejected one never counts
    assert everything["r1_helpfulness"] == 2.0  # mean(1, 1, 3) = 1.67 -> 2
    accepted = aggregate(frame, MeanRule(accepted_reviews_only=True), ATTRS).comparisons.loc["c"]
    assert accepted["n_r1"] == 2
    assert accepted["r1_helpfulness"] == 1.0


def test_drop_reasons_no_and_too_few_annotations() -> None:
    gone = table("gone", [{"review_status": "rejected"}])
    single = table("single", [{}], start=5)
    frame = pd.concat([gone, single], ignore_index=True)
    comparisons = aggregate(frame, HelpSteer2Rule(), ATTRS).comparisons
    assert comparisons.loc["gone", "drop_reason"] == "no_annotations"
    assert comparisons.loc["single", "drop_reason"] == "too_few_annotations"
    assert comparisons.index.tolist() == ["gone", "single"]  # every input comparison is reported
    assert aggregate(frame, MeanRule(), ATTRS).comparisons.loc["single", "kept"]


def test_skipped_annotations_are_not_counted() -> None:
    frame = table(
        "c",
        [
            {},
            {"r1_helpfulness": nan, "r1_correctness": nan, "r2_helpfulness": nan, "r2_correctness": nan},
            {},
        ],
    )
    assert aggregate(frame, HelpSteer2Rule(), ATTRS).comparisons.loc["c", "n_r1"] == 2


def test_mean_and_median_rules() -> None:
    frame = table("c", [{"r1_helpfulness": h, "strength": s} for h, s in ((0.0, 3.0), (3.0, 1.0), (4.0, 1.0))])
    mean = aggregate(frame, MeanRule(), ATTRS).comparisons.loc["c"]
    median = aggregate(frame, MedianRule(), ATTRS).comparisons.loc["c"]
    raw_mean = aggregate(frame, MeanRule(round_to_integer=False), ATTRS).comparisons.loc["c"]
    assert mean["r1_helpfulness"] == 2.0  # 7/3
    assert raw_mean["r1_helpfulness"] == pytest.approx(7 / 3)
    assert median["r1_helpfulness"] == 3.0
    assert median["strength"] == 1.0
    assert mean["justifications"] == ("text c-0", "text c-1", "text c-2")
    even = table("e", [{"r1_helpfulness": h} for h in (1.0, 2.0, 3.0, 4.0)])
    assert aggregate(even, MedianRule(round_to_integer=False), ATTRS).comparisons.loc["e", "r1_helpfulness"] == 2.5


def test_preference_only_project() -> None:
    frame = table("c", [{"strength": s} for s in (1.0, 2.0, 2.0)]).drop(
        columns=[f"r{s}_{a}" for s in (1, 2) for a in ATTRS]
    )
    row = aggregate(frame, HelpSteer2Rule(), ()).comparisons.loc["c"]
    assert row["kept"]
    assert row["strength"] == 2.0


def test_rule_dict_round_trip_and_errors() -> None:
    rule = HelpSteer2Rule(max_helpfulness_spread=1.0, accepted_reviews_only=True)
    stored = rule.as_dict()
    assert stored["name"] == "helpsteer2"
    assert stored["version"] == 1
    assert rule_from_dict(stored) == rule
    assert rule_from_dict(MedianRule().as_dict()) == MedianRule()
    with pytest.raises(ValueError, match="Unknown aggregation rule"):
        rule_from_dict({"name": "vote", "version": 1, "params": {}})
    with pytest.raises(ValueError, match="version"):
        rule_from_dict({"name": "mean", "version": 99, "params": {}})
    with pytest.raises(ValueError, match="Unknown parameters"):
        rule_from_dict({"name": "mean", "version": 1, "params": {"keep": 3}})


def test_missing_columns_are_reported() -> None:
    frame = table("c", [{}]).drop(columns=["r2_correctness"])
    with pytest.raises(ValueError, match="r2_correctness"):
        aggregate(frame, MeanRule(), ATTRS)


# --- known truth -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def noisy_collection() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Four careful annotators and one random clicker on every comparison (HelpSteer2's 5-annotator case)."""
    truth = make_truth(1500, seed=21)
    team = [SimulatedAnnotator("careful", seed=i, annotator_id=f"careful-{i}") for i in range(4)]
    team.append(SimulatedAnnotator("random", seed=9, annotator_id="random"))
    frame = simulate_annotations(truth, team, per_comparison_k=5, seed=4)
    return frame, truth.as_frame().set_index("comparison_id")


def rmse(result: pd.DataFrame, truth: pd.DataFrame, column: str) -> float:
    kept = result[result["kept"]]
    return float(np.sqrt(np.mean((kept[column] - truth.loc[kept.index, column]) ** 2)))


def test_helpsteer2_rule_recovers_truth_better_than_mean(noisy_collection: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    frame, truth = noisy_collection
    helpsteer2 = aggregate(frame, HelpSteer2Rule(), HELPSTEER2_ATTRIBUTES).comparisons
    mean = aggregate(frame, MeanRule(), HELPSTEER2_ATTRIBUTES).comparisons
    for column in ("r1_helpfulness", "r2_correctness", "strength"):
        assert rmse(helpsteer2, truth, column) < 0.85 * rmse(mean, truth, column), column
    # The filter drops some, but not most, comparisons.
    assert 0.5 < helpsteer2["kept"].mean() < 1.0


def test_preview_reports_counts_and_raises_agreement(noisy_collection: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    frame, _ = noisy_collection
    preview = aggregation_preview(frame, HelpSteer2Rule(), HELPSTEER2_ATTRIBUTES)
    assert set(preview.dropped_by_reason) == set(DROP_REASONS)
    assert preview.n_kept + sum(preview.dropped_by_reason.values()) == preview.n_comparisons
    assert preview.n_annotations_before == len(frame)
    assert preview.n_annotations_after < preview.n_annotations_before
    for measure in ("helpfulness", "correctness", "preference_strength", "preference_direction"):
        assert preview.alpha_after[measure] > preview.alpha_before[measure] + 0.1, measure
    assert (preview.agreement_after["kappa"] > preview.agreement_before["kappa"]).all()


def test_retained_annotations_masks_each_part(noisy_collection: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    frame, _ = noisy_collection
    small = frame[frame["comparison_id"] < 50]
    result = aggregate(small, HelpSteer2Rule(), HELPSTEER2_ATTRIBUTES)
    retained = retained_annotations(small, result)
    kept_ids = set(result.comparisons.index[result.comparisons["kept"]])
    assert set(retained["comparison_id"]) == kept_ids
    per_comparison = retained.groupby("comparison_id")
    assert (per_comparison["r1_helpfulness"].count() <= 3).all()
    assert (per_comparison["strength"].count() <= 3).all()
    # Aggregating what was retained with the plain mean gives the rule's own numbers back.
    again = aggregate(retained, MeanRule(), HELPSTEER2_ATTRIBUTES).comparisons
    expected = result.comparisons.loc[again.index]
    np.testing.assert_array_equal(again["r1_helpfulness"], expected["r1_helpfulness"])
    np.testing.assert_array_equal(again["strength"], expected["strength"])


def test_empty_and_fully_rejected_inputs() -> None:
    frame = table("c", [{"review_status": "rejected"}, {"review_status": "unreviewed"}])
    only_accepted = aggregate(frame, HelpSteer2Rule(accepted_reviews_only=True), ATTRS).comparisons.loc["c"]
    assert only_accepted["drop_reason"] == "no_annotations"
    assert only_accepted["justifications"] == ()
    empty = aggregate(frame.iloc[:0], HelpSteer2Rule(), ATTRS)
    assert empty.comparisons.empty
    assert empty.kept_annotations.empty
    preview = aggregation_preview(frame.iloc[:0], HelpSteer2Rule(), ATTRS)
    assert preview.n_comparisons == 0
    assert np.isnan(preview.alpha_after["helpfulness"])
