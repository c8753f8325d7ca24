from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from annotator.stats.agreement import krippendorff_alpha
from annotator.stats.calibration import expected_calibration_error, ordinal_calibration, preference_calibration


def test_ordinal_calibration_matches_the_reference_alpha_and_kappa() -> None:
    rng = np.random.default_rng(0)
    human = rng.integers(0, 5, 60).astype(float)
    judge = np.clip(human + rng.integers(-1, 2, 60), 0, 4)
    report = ordinal_calibration("helpfulness", judge, human, low=0, high=4, n_resamples=200, seed=1)
    assert report.n == 60
    assert report.alpha.value == pytest.approx(krippendorff_alpha(np.vstack([human, judge]), level="ordinal",
                                                                  value_domain=np.arange(5.0)))  # fmt: skip
    assert report.kappa.value == pytest.approx(cohen_kappa_score(human, judge, weights="quadratic", labels=range(5)))
    assert report.alpha.low <= report.alpha.value <= report.alpha.high
    assert report.kappa.low <= report.kappa.value <= report.kappa.high
    assert sum(map(sum, report.confusion)) == 60
    assert report.exact_agreement == pytest.approx(float(np.mean(judge == human)))


def test_human_aggregates_are_rounded_onto_the_scale_and_missing_units_left_out() -> None:
    report = ordinal_calibration("x", [4, 0, np.nan], [3.5, -0.4, 2], low=0, high=4, n_resamples=0)
    assert report.n == 2
    assert report.confusion[4][4] == 1 and report.confusion[0][0] == 1
    assert report.exact_agreement == 1.0 and np.isnan(report.kappa.low)


def test_preference_accuracy_ignores_human_ties_and_the_direction_matrix_counts_all() -> None:
    report = preference_calibration([-2, 1, 3, -1, 2], [-3, 2, 2, 1, 0], n_resamples=0)
    assert (report.n, report.n_decided, report.accuracy) == (5, 4, 0.75)
    # rows: humans (response_1, tie, response_2); columns: judge
    assert report.direction_confusion == [[1, 0, 0], [0, 0, 1], [1, 0, 2]]
    assert np.isnan(report.ece) and report.bins == []


def test_ece_is_zero_when_confidence_equals_accuracy_and_grows_with_overconfidence() -> None:
    calibrated, _ = expected_calibration_error([0.75] * 4, [1, 1, 1, 0])
    overconfident, bins = expected_calibration_error([1.0] * 4, [1, 0, 1, 0])
    assert calibrated == pytest.approx(0.0)
    assert overconfident == pytest.approx(0.5)
    assert [(b.count, b.accuracy) for b in bins] == [(4, 0.5)]


def test_preference_ece_uses_only_comparisons_with_a_confidence() -> None:
    report = preference_calibration([-1, 1, 1], [-2, -1, 2], confidences=[0.9, None, 0.9], n_resamples=50)
    assert report.ece == pytest.approx(0.1)
    assert report.accuracy_interval.low <= report.accuracy <= report.accuracy_interval.high


def test_the_vectorised_kappa_of_confusion_counts_is_scikit_learns() -> None:
    from annotator.stats.calibration import _quadratic_kappa

    rng = np.random.default_rng(3)
    human, judge = rng.integers(0, 5, 40), rng.integers(0, 5, 40)
    counts = np.zeros((5, 5))
    np.add.at(counts, (human, judge), 1)
    assert float(_quadratic_kappa(counts)) == pytest.approx(
        cohen_kappa_score(human, judge, weights="quadratic", labels=range(5))
    )
