"""Agreement from kept counts equals agreement from the annotations, bit for bit (annotator.stats.agreement_counts)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from annotator.stats.agreement import LIKERT_DOMAIN, agreement_overview
from annotator.stats.agreement_counts import (
    CountedAnnotation,
    comparison_contribution,
    comparison_counts,
    measure_specs,
    overview_from_tallies,
    tallies_add,
    tallies_empty,
    tallies_from_comparisons,
)
from annotator.stats.simulation import SimulatedAnnotator, make_truth, simulate_annotations

ATTRIBUTES = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")
PROFILES = ["careful", "careful", "lenient", "harsh", "position_left", "random"]


def _frame(seed: int, n: int = 300, k: int | tuple[int, int] = (1, 5)) -> pd.DataFrame:
    truth = make_truth(n, ATTRIBUTES, seed=seed)
    pool = [SimulatedAnnotator(p, seed=seed * 10 + i, annotator_id=100 - 7 * i) for i, p in enumerate(PROFILES)]
    frame = simulate_annotations(truth, pool, per_comparison_k=k, seed=seed)
    frame = frame[~frame["skipped"]].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    for column in [f"r{s}_{a}" for s in (1, 2) for a in ATTRIBUTES] + ["strength"]:  # missing values here and there
        frame.loc[rng.random(len(frame)) < 0.1, column] = np.nan
    frame["annotation_id"] = np.arange(len(frame))
    return frame.sort_values(["comparison_id", "annotation_id"], ignore_index=True)


def _assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.index) == list(b.index)
    for column in ("level", "n_units", "n_values"):
        assert list(a[column]) == list(b[column])
    for column in ("alpha", "kappa", "ci_low", "ci_high"):
        np.testing.assert_array_equal(a[column].to_numpy(float), b[column].to_numpy(float))  # exact, NaN == NaN


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("with_kappa", [True, False])
def test_figures_from_the_counts_equal_the_figures_from_the_annotations(seed: int, with_kappa: bool) -> None:
    frame = _frame(seed)
    specs = measure_specs(ATTRIBUTES)
    tallies = tallies_from_comparisons(comparison_counts(frame, specs), specs)
    expected = agreement_overview(frame, ATTRIBUTES, with_kappa=with_kappa)
    _assert_same(overview_from_tallies(tallies, specs, with_kappa=with_kappa), expected)


def test_adding_comparisons_one_by_one_gives_the_sums_of_all_at_once() -> None:
    frame = _frame(3, n=120)
    specs = measure_specs(ATTRIBUTES)
    counts = comparison_counts(frame, specs)
    running = tallies_empty(specs)
    for row in range(len(counts.comparison_ids)):
        tallies_add(running, counts.to_json(row), 1)
    assert running == tallies_from_comparisons(counts, specs)
    # Taking a comparison out and putting another version in is the same as counting the new data.
    first = int(counts.comparison_ids[0])
    changed = frame.copy()
    changed.loc[changed["comparison_id"] == first, "r1_helpfulness"] = 0.0
    tallies_add(running, counts.to_json(0), -1)
    tallies_add(running, comparison_counts(changed[changed["comparison_id"] == first], specs).to_json(0), 1)
    assert running == tallies_from_comparisons(comparison_counts(changed, specs), specs)
    _assert_same(overview_from_tallies(running, specs), agreement_overview(changed, ATTRIBUTES))


def test_taking_everything_out_leaves_no_pattern_behind() -> None:
    frame = _frame(4, n=40)
    specs = measure_specs(ATTRIBUTES)
    counts = comparison_counts(frame, specs)
    tallies = tallies_from_comparisons(counts, specs)
    for row in range(len(counts.comparison_ids)):
        tallies_add(tallies, counts.to_json(row), -1)
    assert tallies == tallies_empty(specs)


def test_pairs_are_ordered_by_annotator_as_the_pooled_kappa_orders_them() -> None:
    # Annotator 9 gives 4, annotator 2 gives 1 on the same unit: the pair is (annotator 2's 1, annotator 9's 4).
    frame = pd.DataFrame(
        {"comparison_id": [5, 5], "annotator_id": [9, 2], "annotation_id": [1, 2], "strength": [np.nan, np.nan]}
        | {f"r{s}_helpfulness": [4.0, 1.0] for s in (1, 2)}
    )
    specs = measure_specs(["helpfulness"], LIKERT_DOMAIN)
    contribution = comparison_counts(frame, specs).to_json(0)["helpfulness"]
    assert contribution["units"] == [[0, 1, 0, 0, 1], [0, 1, 0, 0, 1]]
    assert contribution["pairs"] == [[1 * 5 + 4, 2]]  # both responses


@pytest.mark.parametrize("seed", [5, 6])
def test_one_comparison_in_plain_python_gives_the_vectorised_contribution(seed: int) -> None:
    frame = _frame(seed, n=80, k=(1, 6))
    specs = measure_specs(ATTRIBUTES)
    counts = comparison_counts(frame, specs)
    ratings = [f"r{s}_{a}" for s in (1, 2) for a in ATTRIBUTES]
    for row, comparison_id in enumerate(counts.comparison_ids):
        rows = frame[frame["comparison_id"] == comparison_id]
        annotations = [
            CountedAnnotation(int(r.annotator_id), int(r.annotation_id), float(r.strength), {c: r[c] for c in ratings})
            for _, r in rows.sample(frac=1.0, random_state=seed).iterrows()  # any order in
        ]
        assert comparison_contribution(annotations, specs) == counts.to_json(row)
