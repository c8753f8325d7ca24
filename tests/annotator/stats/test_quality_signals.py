"""Annotator quality signals against scipy and hand-built frames; the flags each profile raises."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from annotator.stats.quality import QualityThresholds, annotator_quality, position_bias_test, straight_lining_share
from annotator.stats.simulation import SimulatedAnnotator, make_truth, simulate_annotations

ATTRS = ("helpfulness", "correctness")


@pytest.mark.parametrize(("k", "n"), [(0, 1), (5, 10), (9, 10), (30, 40), (17, 20), (50, 120)])
def test_position_bias_p_value_is_scipys_binomial_test(k, n) -> None:
    assert position_bias_test(k, n) == pytest.approx(binomtest(k, n, 0.5).pvalue)


def test_position_bias_without_decisive_preferences_is_undefined() -> None:
    assert position_bias_test(0, 0) is None


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def test_straight_lining_share_counts_annotations_with_one_rating_everywhere() -> None:
    frame = _frame(
        [
            {"annotator_id": 1, "r1_helpfulness": 3, "r1_correctness": 3, "r2_helpfulness": 3, "r2_correctness": 3},
            {"annotator_id": 1, "r1_helpfulness": 2, "r1_correctness": 2, "r2_helpfulness": 2, "r2_correctness": 2},
            {"annotator_id": 1, "r1_helpfulness": 2, "r1_correctness": 1, "r2_helpfulness": 2, "r2_correctness": 2},
            {"annotator_id": 2, "r1_helpfulness": 4, "r1_correctness": np.nan, "r2_helpfulness": 4, "r2_correctness": 0},
            # One rating only: says nothing about straight-lining.
            {"annotator_id": 3, "r1_helpfulness": 4, "r1_correctness": np.nan, "r2_helpfulness": np.nan, "r2_correctness": np.nan},
        ]
    )  # fmt: skip
    share = straight_lining_share(frame, ATTRS)
    assert share[1] == pytest.approx(2 / 3)
    assert share[2] == 0.0
    assert np.isnan(share[3])


def _simulated(profiles: list[str], n: int = 120, seed: int = 1) -> pd.DataFrame:
    truth = make_truth(n, ATTRS, seed=seed)
    pool = [SimulatedAnnotator(p, seed=seed * 10 + i, annotator_id=i) for i, p in enumerate(profiles)]
    frame = simulate_annotations(truth, pool, per_comparison_k=3, seed=seed)
    return frame[~frame["skipped"]].reset_index(drop=True)


def test_a_position_biased_annotator_is_flagged_and_careful_ones_are_not() -> None:
    frame = _simulated(["careful", "careful", "position_left", "careful"])
    quality = annotator_quality(frame, ATTRS)
    assert "position" in quality.loc[2, "flags"]
    assert quality.loc[2, "left_p_value"] < 1e-3
    for careful in (0, 1, 3):
        assert "position" not in quality.loc[careful, "flags"]
    # The p-value is scipy's on the counts the table shows.
    row = quality.loc[2]
    assert row["left_p_value"] == pytest.approx(binomtest(int(row["n_left"]), int(row["n_decisive"])).pvalue)


def test_speed_flags_a_median_far_below_the_projects_or_below_the_floor() -> None:
    frame = _simulated(["careful", "careful", "careful"])
    frame.loc[frame["annotator_id"] == 1, "time_on_task_s"] = 12.0  # above the floor, far below the others
    quality = annotator_quality(frame, ATTRS, thresholds=QualityThresholds(speed_floor_s=5.0))
    assert quality.loc[1, "flags"] == ("speed",)
    assert quality.loc[0, "flags"] == ()
    floor = annotator_quality(frame, ATTRS, thresholds=QualityThresholds(speed_floor_s=1000.0))
    assert all("speed" in f for f in floor["flags"])


def test_straight_lining_and_gold_flags() -> None:
    frame = _simulated(["careful", "careful", "careful"])
    ratings = [c for c in frame if c.startswith(("r1_", "r2_"))]
    frame.loc[frame["annotator_id"] == 0, ratings] = 2.0
    quality = annotator_quality(frame, ATTRS, gold_accuracy={1: 0.4, 2: 0.9})
    assert quality.loc[0, "straight_share"] == 1.0
    assert quality.loc[0, "flags"] == ("straight",)
    assert quality.loc[1, "flags"] == ("gold",)
    assert quality.loc[2, "flags"] == ()


def test_too_little_evidence_raises_no_flag() -> None:
    frame = _simulated(["position_left", "careful", "careful"], n=6)
    ratings = [c for c in frame if c.startswith(("r1_", "r2_"))]
    frame[ratings] = 1.0
    frame["time_on_task_s"] = 1.0
    assert all(f == () for f in annotator_quality(frame, ATTRS)["flags"])


def test_an_empty_frame_gives_an_empty_table() -> None:
    empty = pd.DataFrame(columns=["comparison_id", "annotator_id", "strength", "shown_swapped", "time_on_task_s"])
    assert annotator_quality(empty, ATTRS).empty
