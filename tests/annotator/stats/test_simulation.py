"""Simulated annotators: seeded, on the scale, and behaving as their profiles say."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from annotator.stats.simulation import (
    HELPSTEER2_ATTRIBUTES,
    PROFILES,
    AnnotatorProfile,
    SimulatedAnnotator,
    make_truth,
    simulate_annotations,
)


def test_make_truth_is_seeded_and_on_the_scale() -> None:
    truth = make_truth(2000, seed=5)
    again = make_truth(2000, seed=5)
    np.testing.assert_array_equal(truth.scores, again.scores)
    assert not np.array_equal(truth.scores, make_truth(2000, seed=6).scores)
    assert truth.scores.shape == (2000, 2, len(HELPSTEER2_ATTRIBUTES))
    assert set(np.unique(truth.scores)) <= {0.0, 1.0, 2.0, 3.0, 4.0}
    assert set(np.unique(truth.strength)) <= set(range(-3, 4))
    helpfulness_gap = truth.scores[:, 1, 0] - truth.scores[:, 0, 0]
    assert np.corrcoef(helpfulness_gap, truth.strength)[0, 1] > 0.8
    # Correctness follows helpfulness (HS2 Table 2: r = 0.94); verbosity hardly does.
    help_, correct, verbose = truth.scores[:, 0, 0], truth.scores[:, 0, 1], truth.scores[:, 0, 4]
    assert np.corrcoef(help_, correct)[0, 1] > 0.7
    assert abs(np.corrcoef(help_, verbose)[0, 1]) < 0.2
    frame = truth.as_frame()
    assert list(frame.columns[:3]) == ["comparison_id", "r1_helpfulness", "r1_correctness"]
    assert frame.loc[7, "strength"] == truth.comparison(7).strength


def test_annotate_one_comparison() -> None:
    truth = make_truth(3, seed=0)
    annotator = SimulatedAnnotator("careful", seed=3)
    row = annotator.annotate(truth.comparison(1), shown_swapped=True)
    assert row["annotator_id"] == "careful-3"
    assert row["comparison_id"] == 1
    assert row["shown_swapped"] is True
    for side in (1, 2):
        for attribute in HELPSTEER2_ATTRIBUTES:
            value = row[f"r{side}_{attribute}"]
            assert isinstance(value, float)
            assert np.isnan(value) or value in {0.0, 1.0, 2.0, 3.0, 4.0}
    same = SimulatedAnnotator("careful", seed=3).annotate(truth.comparison(1), shown_swapped=True)
    assert same == row


def test_justification_matches_the_strength() -> None:
    truth = make_truth(300, seed=1)
    frame = simulate_annotations(truth, [SimulatedAnnotator("careful", seed=i) for i in range(3)], 3, seed=0)
    answered = frame[~frame["skipped"]]
    better_2 = answered["strength"] > 0
    assert answered.loc[better_2, "justification"].str.startswith("@Response 2 is").all()
    assert answered.loc[answered["strength"] < 0, "justification"].str.startswith("@Response 1 is").all()
    much = answered["strength"] == -3
    assert answered.loc[much, "justification"].str.contains("much better than @Response 2 because").all()
    assert (frame.loc[frame["skipped"], "justification"] == "").all()


def test_simulate_annotations_contract() -> None:
    truth = make_truth(400, seed=2)
    team = [SimulatedAnnotator(name, seed=i, annotator_id=f"a{i}") for i, name in enumerate(PROFILES)]
    frame = simulate_annotations(truth, team, per_comparison_k=(3, 5), seed=8)
    again = simulate_annotations(truth, team, per_comparison_k=(3, 5), seed=8)
    pd.testing.assert_frame_equal(frame, again)
    per_comparison = frame.groupby("comparison_id")["annotator_id"]
    assert per_comparison.size().between(3, 5).all()
    assert set(per_comparison.size().unique()) == {3, 4, 5}
    assert (per_comparison.nunique() == per_comparison.size()).all()  # distinct annotators
    assert frame["annotation_id"].is_unique
    assert frame["submitted_at"].is_monotonic_increasing
    assert str(frame["submitted_at"].dt.tz) == "UTC"
    assert set(frame["review_status"]) == {"unreviewed"}
    expected = {f"r{s}_{a}" for s in (1, 2) for a in HELPSTEER2_ATTRIBUTES}
    assert expected <= set(frame.columns)
    skipped = frame[frame["skipped"]]
    assert skipped[sorted(expected)].isna().all().all()
    assert skipped["strength"].isna().all()
    usage = frame["annotator_id"].value_counts()
    assert usage.max() < 1.25 * usage.min()  # uniform assignment


def test_k_larger_than_the_pool_is_refused() -> None:
    with pytest.raises(ValueError, match="pool size"):
        simulate_annotations(make_truth(5), [SimulatedAnnotator("careful")], per_comparison_k=2)


@pytest.fixture(scope="module")
def profile_frame() -> tuple[pd.DataFrame, pd.DataFrame]:
    truth = make_truth(3000, seed=4)
    team = [SimulatedAnnotator(name, seed=i, annotator_id=name) for i, name in enumerate(PROFILES)]
    frame = simulate_annotations(truth, team, per_comparison_k=len(team), seed=1)
    merged = frame.merge(truth.as_frame(), on="comparison_id", suffixes=("", "_true"))
    return frame, merged


def test_profiles_bias_and_noise(profile_frame: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, merged = profile_frame
    error = merged["r1_helpfulness"] - merged["r1_helpfulness_true"]
    by_profile = error.groupby(merged["profile"]).mean()
    assert by_profile["lenient"] > 0.3
    assert by_profile["harsh"] < -0.3
    assert abs(by_profile["careful"]) < 0.1
    correlation = (
        merged.groupby("profile")[["r1_helpfulness", "r1_helpfulness_true"]]
        .corr()
        .xs("r1_helpfulness_true", level=1)["r1_helpfulness"]
    )
    assert correlation["careful"] > 0.85
    assert abs(correlation["random"]) < 0.1


def test_position_bias_and_random_clicker(profile_frame: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    frame, merged = profile_frame
    decisive = frame[frame["strength"].fillna(0) != 0]
    favours_left = np.where(decisive["shown_swapped"], decisive["strength"] > 0, decisive["strength"] < 0)
    left_rate = pd.Series(favours_left, index=decisive.index).groupby(decisive["profile"]).mean()
    assert left_rate["position_left"] > 0.85
    assert left_rate["position_right"] < 0.15
    assert 0.4 < left_rate["careful"] < 0.6
    agrees = np.sign(merged["strength"]) == np.sign(merged["strength_true"])
    direction_accuracy = agrees.groupby(merged["profile"]).mean()
    assert direction_accuracy["careful"] > 0.75
    assert direction_accuracy["random"] < 0.5
    times = frame.groupby("profile")["time_on_task_s"].median()
    assert times["random"] < times["careful"] / 3


def test_custom_profile() -> None:
    exact = AnnotatorProfile("oracle", rating_noise=0.0, strength_noise=0.0, skip_rate=0.0)
    truth = make_truth(50, seed=0)
    frame = simulate_annotations(truth, [SimulatedAnnotator(exact, annotator_id="o")], 1, seed=0)
    np.testing.assert_array_equal(frame["r2_verbosity"], truth.scores[:, 1, 4])
    np.testing.assert_array_equal(frame["strength"], truth.strength)
