"""Agreement statistics against published tables and reference implementations (krippendorff, scikit-learn)."""

from __future__ import annotations

import itertools

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from annotator.stats.agreement import (
    LIKERT_DOMAIN,
    STRENGTH_DOMAIN,
    AgreementAccumulator,
    agreement_overview,
    alpha_bootstrap_ci,
    alpha_from_value_counts,
    annotator_summary,
    cohen_kappa,
    comparison_spread,
    krippendorff_alpha,
    leave_one_out_agreement,
    pooled_pairwise_kappa,
    pooled_pairwise_kappa_long,
    position_preference_rate,
    preference_direction,
    rating_pairs,
    reliability_matrix,
    robust_z_scores,
    unit_codes,
    value_counts_from_long,
    value_counts_from_matrix,
)
from annotator.stats.simulation import HELPSTEER2_ATTRIBUTES, SimulatedAnnotator, make_truth, simulate_annotations

nan = np.nan
LEVELS = ("nominal", "ordinal", "interval")

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", and Wikipedia's computational example:
# 3 coders x 15 units with missing values.
WIKIPEDIA_3x15 = np.array(
    [
        [nan, nan, nan, nan, nan, 3, 4, 1, 2, 1, 1, 3, 3, nan, 3],
        [1, nan, 2, 1, 3, 3, 4, 3, nan, nan, nan, nan, nan, nan, nan],
        [nan, nan, 2, 1, 3, 4, 4, nan, 2, 1, 1, 3, 3, nan, 4],
    ]
)
# Krippendorff (2011), section C, 4 observers x 12 units, values 1..5.
KRIPPENDORFF_4x12 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
)


def random_reliability_data(seed: int, raters: int = 6, units: int = 40, missing: float = 0.35) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 5, size=(raters, units)).astype(float)
    # Correlated raters, so alpha is not ~0 everywhere.
    data = np.clip(np.round(0.6 * data + 0.4 * data[0]), 0, 4)
    data[rng.random(data.shape) < missing] = nan
    return data


# --- published numbers -----------------------------------------------------------------------------------------


def test_wikipedia_example_published_values() -> None:
    assert krippendorff_alpha(WIKIPEDIA_3x15, level="nominal") == pytest.approx(0.691, abs=5e-4)
    assert krippendorff_alpha(WIKIPEDIA_3x15, level="interval") == pytest.approx(0.811, abs=5e-4)


@pytest.mark.parametrize(("level", "published"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_krippendorff_2011_four_observer_example(level: str, published: float) -> None:
    assert krippendorff_alpha(KRIPPENDORFF_4x12, level=level) == pytest.approx(published, abs=5e-4)  # type: ignore[arg-type]
    counts = value_counts_from_matrix(KRIPPENDORFF_4x12, [1, 2, 3, 4, 5])
    fast = alpha_from_value_counts(counts, level=level, value_domain=[1, 2, 3, 4, 5])  # type: ignore[arg-type]
    assert fast == pytest.approx(published, abs=5e-4)


def test_artstein_poesio_kappa() -> None:
    # Artstein & Poesio (2008), Table 1 contingency [[20, 20], [10, 50]] -> kappa 0.348.
    first = np.array([0] * 40 + [1] * 60, dtype=float)
    second = np.array([0] * 20 + [1] * 20 + [0] * 10 + [1] * 50, dtype=float)
    assert cohen_kappa(first, second, weights=None) == pytest.approx(0.348, abs=5e-4)


def test_ecosystem_note_values() -> None:
    # Values verified with krippendorff 0.9.0 / scikit-learn 1.9.1 in reference/ecosystem-verified.md section 5.
    data = [[1, 2, 3, 3, 4, 5, 2, nan], [1, 2, 3, 4, 4, 5, 3, 2], [2, 2, 3, 3, 5, 4, nan, 2]]
    assert krippendorff_alpha(data, level="ordinal") == pytest.approx(0.8716, abs=5e-5)
    assert krippendorff_alpha(data, level="interval") == pytest.approx(0.8458, abs=5e-5)
    assert krippendorff_alpha(data, level="nominal") == pytest.approx(0.4324, abs=5e-5)
    a, b = [1, 2, 3, 3, 4, 5, 2, 1], [1, 2, 3, 4, 4, 5, 3, 2]
    assert cohen_kappa(a, b) == pytest.approx(0.8889, abs=5e-5)
    assert cohen_kappa(a, b, weights=None) == pytest.approx(0.5294, abs=5e-5)


# --- reference implementations on random data ------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("level", LEVELS)
def test_fast_alpha_matches_krippendorff_package(seed: int, level: str) -> None:
    data = random_reliability_data(seed)
    reference = krippendorff.alpha(reliability_data=data, level_of_measurement=level, value_domain=LIKERT_DOMAIN)
    counts = value_counts_from_matrix(data, LIKERT_DOMAIN)
    assert alpha_from_value_counts(counts, level=level, value_domain=LIKERT_DOMAIN) == pytest.approx(  # type: ignore[arg-type]
        reference, abs=1e-9
    )
    assert krippendorff_alpha(data, level=level, value_domain=LIKERT_DOMAIN) == pytest.approx(reference, abs=1e-9)  # type: ignore[arg-type]
    package_from_counts = krippendorff.alpha(value_counts=counts, level_of_measurement=level)
    assert package_from_counts == pytest.approx(reference, abs=1e-9)


def test_interval_alpha_uses_domain_values() -> None:
    data = random_reliability_data(3)
    shifted = data * 2.0 - 4.0  # affine maps leave interval alpha unchanged
    counts = value_counts_from_matrix(shifted, LIKERT_DOMAIN * 2.0 - 4.0)
    assert alpha_from_value_counts(counts, level="interval", value_domain=LIKERT_DOMAIN * 2.0 - 4.0) == pytest.approx(
        krippendorff_alpha(data, level="interval"), abs=1e-9
    )


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("weights", ["quadratic", "linear", None])
def test_cohen_kappa_matches_sklearn_with_missing(seed: int, weights: str | None) -> None:
    data = random_reliability_data(seed, raters=2, units=60)
    both = ~np.isnan(data).any(axis=0)
    reference = cohen_kappa_score(data[0, both], data[1, both], weights=weights, labels=LIKERT_DOMAIN)
    assert cohen_kappa(data[0], data[1], weights=weights, labels=LIKERT_DOMAIN) == pytest.approx(reference, abs=1e-9)  # type: ignore[arg-type]
    assert pooled_pairwise_kappa(data, weights=weights, labels=LIKERT_DOMAIN) == pytest.approx(reference, abs=1e-9)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(3))
def test_pooled_pairwise_kappa_equals_naive_pooling(seed: int) -> None:
    data = random_reliability_data(seed, raters=5, units=30)
    first: list[float] = []
    second: list[float] = []
    for i, j in itertools.combinations(range(data.shape[0]), 2):
        for u in range(data.shape[1]):
            if not (np.isnan(data[i, u]) or np.isnan(data[j, u])):
                first.append(data[i, u])
                second.append(data[j, u])
    reference = cohen_kappa_score(first, second, weights="quadratic", labels=LIKERT_DOMAIN)
    assert pooled_pairwise_kappa(data, labels=LIKERT_DOMAIN) == pytest.approx(reference, abs=1e-12)
    pair_first, pair_second = rating_pairs(np.tile(np.arange(30), 5), np.repeat(np.arange(5), 30), data.ravel())
    assert len(pair_first) == len(first)
    assert sorted(zip(pair_first, pair_second, strict=True)) == sorted(zip(first, second, strict=True))


# --- long format builders -------------------------------------------------------------------------------------


def test_unit_codes_joint_keys() -> None:
    codes, n = unit_codes(["c1", "c1", "c2", "c1"], [1, 2, 1, 1])
    assert n == 3
    assert codes.tolist() == [0, 1, 2, 0]


def test_reliability_matrix_round_trip_and_counts() -> None:
    data = random_reliability_data(7, raters=4, units=25)
    raters, units = np.nonzero(~np.isnan(data))
    built = reliability_matrix([f"r{r}" for r in raters], units, data[raters, units], n_units=25)
    np.testing.assert_array_equal(built.values, data)
    assert built.raters.tolist() == ["r0", "r1", "r2", "r3"]
    np.testing.assert_array_equal(
        value_counts_from_long(units, data[raters, units], LIKERT_DOMAIN, n_units=25),
        value_counts_from_matrix(data, LIKERT_DOMAIN),
    )


def test_reliability_matrix_rejects_duplicate_ratings() -> None:
    with pytest.raises(ValueError, match="more than once"):
        reliability_matrix(["a", "a"], [0, 0], [1.0, 2.0])


def test_out_of_domain_value_rejected() -> None:
    with pytest.raises(ValueError, match="outside value_domain"):
        value_counts_from_long([0, 0], [1.0, 7.0], LIKERT_DOMAIN)


# --- degenerate cases ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param([[1.0, 2.0, 3.0]], id="one-rater"),
        pytest.param([[2.0, 2.0, nan], [2.0, 2.0, 2.0]], id="all-identical"),
        pytest.param([[nan, nan], [nan, nan]], id="all-missing"),
        pytest.param([[1.0, nan], [nan, 3.0]], id="no-shared-unit"),
    ],
)
@pytest.mark.parametrize("level", LEVELS)
def test_degenerate_alpha_is_nan(data: list[list[float]], level: str) -> None:
    assert np.isnan(krippendorff_alpha(data, level=level))  # type: ignore[arg-type]
    counts = value_counts_from_matrix(data, LIKERT_DOMAIN)
    assert np.isnan(alpha_from_value_counts(counts, level=level, value_domain=LIKERT_DOMAIN))  # type: ignore[arg-type]
    interval = alpha_bootstrap_ci(counts, level=level, value_domain=LIKERT_DOMAIN, n_resamples=20)  # type: ignore[arg-type]
    assert np.isnan(interval.alpha)
    assert np.isnan(interval.low)
    assert np.isnan(interval.high)


def test_degenerate_kappa_is_nan() -> None:
    assert np.isnan(cohen_kappa([1.0, nan], [nan, 2.0]))  # nothing shared
    assert np.isnan(cohen_kappa([3.0, 3.0], [3.0, 3.0]))  # one label only
    assert np.isnan(pooled_pairwise_kappa([[1.0, 2.0, 3.0]]))  # one rater


def test_perfect_agreement_is_one() -> None:
    data = [[0.0, 1.0, 4.0, 2.0], [0.0, 1.0, 4.0, 2.0]]
    for level in LEVELS:
        assert krippendorff_alpha(data, level=level) == pytest.approx(1.0)  # type: ignore[arg-type]
    assert pooled_pairwise_kappa(data) == pytest.approx(1.0)


# --- bootstrap -------------------------------------------------------------------------------------------------


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    counts = value_counts_from_matrix(random_reliability_data(1, units=80), LIKERT_DOMAIN)
    first = alpha_bootstrap_ci(counts, n_resamples=300, seed=5)
    again = alpha_bootstrap_ci(counts, n_resamples=300, seed=5)
    other = alpha_bootstrap_ci(counts, n_resamples=300, seed=6)
    assert first == again
    assert first.low != other.low
    assert first.low < first.alpha < first.high
    assert first.n_units == int((counts.sum(axis=1) >= 2).sum())


def test_bootstrap_matches_naive_unit_resampling() -> None:
    data = random_reliability_data(2, raters=4, units=120, missing=0.2)
    counts = value_counts_from_matrix(data, LIKERT_DOMAIN)
    pairable = counts.sum(axis=1) >= 2
    ours = alpha_bootstrap_ci(counts, n_resamples=2000, seed=0)
    rng = np.random.default_rng(1)
    columns = np.flatnonzero(pairable)
    naive = [
        krippendorff.alpha(
            reliability_data=data[:, rng.choice(columns, size=columns.size)],
            level_of_measurement="ordinal",
            value_domain=LIKERT_DOMAIN,
        )
        for _ in range(400)
    ]
    low, high = np.percentile(naive, [2.5, 97.5])
    assert ours.low == pytest.approx(low, abs=0.03)
    assert ours.high == pytest.approx(high, abs=0.03)


def test_bootstrap_interval_narrows_with_more_units() -> None:
    small = value_counts_from_matrix(random_reliability_data(4, units=40), LIKERT_DOMAIN)
    large = value_counts_from_matrix(random_reliability_data(4, units=1000), LIKERT_DOMAIN)
    small_ci = alpha_bootstrap_ci(small, n_resamples=300)
    large_ci = alpha_bootstrap_ci(large, n_resamples=300)
    assert large_ci.high - large_ci.low < (small_ci.high - small_ci.low) / 2


# --- preference, per annotator, per comparison ---------------------------------------------------------------


def test_preference_direction() -> None:
    np.testing.assert_array_equal(preference_direction([-3, -1, 0, 1, 3, nan]), [-1, -1, 0, 1, 1, nan])


def test_leave_one_out_matches_a_loop() -> None:
    rng = np.random.default_rng(0)
    units = rng.integers(0, 15, size=60)
    raters = rng.integers(0, 4, size=60)
    keep = ~pd.DataFrame({"u": units, "r": raters}).duplicated().to_numpy()
    units, raters = units[keep], raters[keep]
    values = rng.integers(0, 5, size=units.size).astype(float)
    result = leave_one_out_agreement(units, raters, values)
    for rater in np.unique(raters):
        mine, others = [], []
        for i in np.flatnonzero(raters == rater):
            rest = (units == units[i]) & (np.arange(units.size) != i)
            if rest.any():
                mine.append(values[i])
                others.append(values[rest].mean())
        assert result.loc[rater, "n_shared"] == len(mine)
        assert result.loc[rater, "loo_bias"] == pytest.approx(np.mean(np.subtract(mine, others)))
        assert result.loc[rater, "loo_correlation"] == pytest.approx(np.corrcoef(mine, others)[0, 1])


def test_robust_z_scores() -> None:
    z = robust_z_scores([0.8, 0.78, 0.82, 0.79, 0.1])
    assert z[-1] < -2.5
    assert np.all(np.abs(z[:-1]) < 2.5)
    assert np.isnan(robust_z_scores([0.5, 0.5, 0.5])).all()  # MAD 0 and no floor: undefined
    assert not np.isnan(robust_z_scores([0.5, 0.5, 0.5], mad_floor=0.05)).any()


def test_position_preference_rate() -> None:
    # a: always the left one (swapped -> response 2 left); b: always response 2 whatever the position.
    raters = ["a", "a", "a", "b", "b", "b", "b"]
    strength = [-2, 1, 0, 2, 1, 3, nan]
    swapped = [False, True, True, False, True, False, True]
    rates = position_preference_rate(raters, strength, swapped)
    assert rates.loc["a", "left_rate"] == 1.0
    assert rates.loc["a", "n_decisive"] == 2
    assert rates.loc["b", "left_rate"] == pytest.approx(1 / 3)


def test_comparison_spread() -> None:
    frame = pd.DataFrame(
        {
            "comparison_id": ["x", "x", "x", "y"],
            "r1_helpfulness": [1.0, 4.0, 2.0, 3.0],
            "r2_helpfulness": [2.0, 2.0, nan, nan],
            "strength": [-1.0, 2.0, nan, 0.0],
        }
    )
    spread = comparison_spread(frame, ["helpfulness"])
    assert spread.loc["x", "r1_helpfulness"] == 3.0
    assert spread.loc["x", "r2_helpfulness"] == 0.0
    assert spread.loc["x", "strength"] == 3.0
    assert spread.loc["x", "n_annotations"] == 3
    assert spread.loc["y", "r1_helpfulness"] == 0.0
    assert np.isnan(spread.loc["y", "r2_helpfulness"])
    assert spread.loc["x", "max_rating_spread"] == 3.0


@pytest.fixture(scope="module")
def team_annotations() -> pd.DataFrame:
    truth = make_truth(600, seed=3)
    profiles = ["careful", "careful", "careful", "lenient", "harsh", "position_left", "random"]
    team = [SimulatedAnnotator(p, seed=i, annotator_id=f"{p}-{i}") for i, p in enumerate(profiles)]
    return simulate_annotations(truth, team, per_comparison_k=4, seed=11)


def test_annotator_summary_flags_the_random_clicker_only(team_annotations: pd.DataFrame) -> None:
    summary = annotator_summary(team_annotations, HELPSTEER2_ATTRIBUTES)
    assert summary.index[summary["outlier"]].tolist() == ["random-6"]
    assert summary.loc["random-6", "outlier_reason"] == "low_agreement"
    assert summary.loc["lenient-3", "bias_helpfulness"] > 0.4
    assert summary.loc["harsh-4", "bias_helpfulness"] < -0.4
    assert summary.loc["position_left-5", "left_rate"] > 0.8
    assert 0.35 < summary.loc["careful-0", "left_rate"] < 0.65
    assert summary.loc["random-6", "median_time_on_task_s"] < summary.loc["careful-0", "median_time_on_task_s"] / 3
    assert summary["skip_rate"].between(0, 0.1).all()


def test_agreement_floor_flags_when_everyone_is_random() -> None:
    truth = make_truth(200, seed=0)
    team = [SimulatedAnnotator("random", seed=i) for i in range(5)]
    frame = simulate_annotations(truth, team, per_comparison_k=3, seed=0)
    summary = annotator_summary(frame, HELPSTEER2_ATTRIBUTES)
    assert summary["outlier"].all()
    assert set(summary["outlier_reason"]) == {"below_floor"}


def test_agreement_overview_matches_reference_per_measure(team_annotations: pd.DataFrame) -> None:
    frame = team_annotations
    overview = agreement_overview(frame, HELPSTEER2_ATTRIBUTES, n_resamples=50)
    comp, n_comp = unit_codes(frame["comparison_id"])
    for attribute in ("helpfulness", "verbosity"):
        units = np.concatenate([comp * 2, comp * 2 + 1])
        raters = np.concatenate([frame["annotator_id"]] * 2)
        values = np.concatenate([frame[f"r1_{attribute}"], frame[f"r2_{attribute}"]])
        matrix = reliability_matrix(raters, units, values, n_units=2 * n_comp).values
        row = overview.loc[attribute]
        assert row["alpha"] == pytest.approx(krippendorff_alpha(matrix, level="ordinal"), abs=1e-9)
        assert row["kappa"] == pytest.approx(pooled_pairwise_kappa(matrix, labels=LIKERT_DOMAIN), abs=1e-9)
        assert row["ci_low"] < row["alpha"] < row["ci_high"]
    strength = reliability_matrix(frame["annotator_id"], comp, frame["strength"], n_units=n_comp).values
    assert overview.loc["preference_strength", "alpha"] == pytest.approx(
        krippendorff_alpha(strength, level="ordinal", value_domain=STRENGTH_DOMAIN), abs=1e-9
    )
    assert overview.loc["preference_direction", "alpha"] == pytest.approx(
        krippendorff_alpha(preference_direction(strength), level="nominal"), abs=1e-9
    )
    assert overview.loc["preference_direction", "kappa"] == pytest.approx(
        pooled_pairwise_kappa_long(comp, frame["annotator_id"], preference_direction(frame["strength"]), weights=None),
        abs=1e-9,
    )


def test_accumulated_blocks_give_the_overview_of_the_whole(team_annotations: pd.DataFrame) -> None:
    frame = team_annotations.sort_values("comparison_id", kind="stable", ignore_index=True)
    whole = agreement_overview(frame, HELPSTEER2_ATTRIBUTES, n_resamples=100, seed=5)
    accumulator = AgreementAccumulator(HELPSTEER2_ATTRIBUTES)
    ids = frame["comparison_id"].to_numpy()
    edges = [0, *np.searchsorted(ids, np.unique(ids)[37::37]).tolist(), len(ids)]  # blocks of 37 comparisons
    for lo, hi in itertools.pairwise(edges):
        accumulator.add(frame.iloc[lo:hi])
    accumulator.add(frame.iloc[:0])  # an empty block changes nothing
    blocks = accumulator.overview(n_resamples=100, seed=5)
    assert accumulator.n_annotations == len(frame)
    assert blocks.index.tolist() == whole.index.tolist()
    numbers = ["alpha", "ci_low", "ci_high", "kappa", "n_units", "n_values"]
    np.testing.assert_allclose(blocks[numbers].to_numpy(float), whole[numbers].to_numpy(float), rtol=0, atol=1e-12)
    assert (blocks["level"] == whole["level"]).all()


def test_accumulator_without_data_reports_every_measure_as_not_measurable() -> None:
    accumulator = AgreementAccumulator(["helpfulness"], with_kappa=False)
    accumulator.add(
        pd.DataFrame(columns=["comparison_id", "annotator_id", "r1_helpfulness", "r2_helpfulness", "strength"])
    )
    overview = accumulator.overview(n_resamples=10)
    assert overview.index.tolist() == ["helpfulness", "preference_strength", "preference_direction"]
    assert overview["alpha"].isna().all() and (overview["n_units"] == 0).all()
    with pytest.raises(ValueError, match="n_resamples"):
        accumulator.overview(n_resamples=-1)
