"""RewardBench 2, RM-Bench and JudgeBench scoring on small files in each released layout, with a stub scorer whose
reward is the number after "#" at the end of each response, so every expected figure is computed by hand below."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from rm_jobs.training.benchmarks import (
    BenchmarkLayoutError,
    best_of_n_result,
    check_rows,
    detect_benchmark,
    read_benchmark_file,
    score_judgebench,
    score_rewardbench2,
    score_rm_bench,
    style_accuracy,
    ties_score,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "benchmarks"


class StubScorer:
    """Reward = the number after the last "#"; records each call's size (one batched call per benchmark)."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, pairs: Sequence[tuple[Any, str]]) -> list[float]:
        self.calls.append(len(pairs))
        return [float(response.rsplit("#", 1)[1]) for _, response in pairs]


def load(name: str) -> list[dict[str, Any]]:
    rows = read_benchmark_file(FIXTURES / name)
    check_rows(detect_benchmark(rows), rows)
    return rows


# --- RewardBench 2 ---------------------------------------------------------------------------------------------------


def test_best_of_4_counts_a_prompt_only_when_chosen_beats_every_rejected():
    assert best_of_n_result([3.0], [1.0, 2.0, 0.0]) == 1.0
    assert best_of_n_result([1.0], [2.0, 0.0, 0.0]) == 0.0
    assert best_of_n_result([2.0], [2.0, 1.0, 0.0]) == 0.5  # shares the top with one: run_v2's 1/k
    assert best_of_n_result([0.0], [0.0, 0.0, 0.0]) == 0.25


def test_ties_score_by_hand():
    # ref:1 gap 3-2=1 (right); tied:1 gap 4.5-1=3.5, spread 0.5 (right); ref:2 gap -1; tied:2 gap 2-3=-1, spread 2.
    score = ties_score(
        [
            ("ref", 1, [3.0], [1.0, 2.0]),
            ("tied", 1, [5.0, 4.5], [1.0]),
            ("ref", 2, [1.0], [2.0]),
            ("tied", 2, [4.0, 2.0], [1.0, 3.0]),
        ]
    )
    assert (score.ref_accuracy, score.tied_accuracy) == (0.5, 0.5)
    assert score.correctness_preferred == 0.5  # 3.5 > 0.5; -1 > 2 is false
    assert score.correctness_preferred_hard == 0.5  # min(1, 3.5) > 0.5; min(-1, -1) > 2 is false
    margin = (math.tanh(1 / 0.5 - 1) + math.tanh(-1 / 2 - 1)) / 2
    assert score.margin == pytest.approx(margin)
    assert score.overall == pytest.approx(0.3 * 0.5 + 0.3 * 0.5 + 0.2 * 0.5 + 0.2 * 0.5 + 0.01 * margin)
    assert score.overall == pytest.approx(0.4992822)


def test_ties_with_an_equal_spread_of_zero_takes_the_sign_of_the_gap():
    score = ties_score([("ref", 1, [3.0], [1.0]), ("tied", 1, [2.0, 2.0], [1.0])])
    assert score.margin == 1.0  # gap 1 / spread 0 → tanh(inf) as numpy gives it


def test_rewardbench2_parquet_as_released():
    scorer = StubScorer()
    result = score_rewardbench2(load("rewardbench2.parquet"), scorer)
    assert scorer.calls == [36]  # all 36 completions of the 10 prompts in one batched call
    ties = 0.3 * 0.5 + 0.3 * 0.5 + 0.2 * 0.5 + 0.2 * 0.5 + 0.01 * (math.tanh(1) + math.tanh(-1.5)) / 2
    expected = {"Factuality": 0.75, "Focus": 0.25, "Math": 0.0, "Precise IF": 1.0, "Safety": 0.0, "Ties": ties}
    assert result.per_subset == pytest.approx(expected)
    assert result.overall == pytest.approx(sum(expected.values()) / 6)
    assert result.num_rows == 10
    assert result.export["Factuality"] == 0.75
    assert result.export["model_type"] == "Seq. Classifier"
    records = {r["id"]: r for r in result.export["per_prompt"]}
    assert records["2"] == {"id": "2", "subset": "Factuality", "scores": [2.0, 2.0, 1.0, 0.0], "num_correct": 1,
                            "results": 0.5}  # fmt: skip
    assert records["tied:1"]["results"] is None
    assert result.details["ties"]["correctness_preferred"] == 0.5


# --- RM-Bench --------------------------------------------------------------------------------------------------------


def test_style_matrix_upper_triangle_is_hard_diagonal_normal_lower_easy():
    # chosen scores (1, 2, 3) against rejected (2, 2, 2): only the markdown chosen (row 2) wins.
    only_markdown = [[False, False, False], [False, False, False], [True, True, True]]
    assert style_accuracy([only_markdown]) == pytest.approx({"easy": 2 / 3, "normal": 1 / 3, "hard": 0.0})


def test_rm_bench_json_as_released():
    scorer = StubScorer()
    result = score_rm_bench(load("rm_bench.json"), scorer)
    assert scorer.calls == [24]
    chat = result.details["per_domain"]["chat"]
    # chat/1 wins all 9 cells; chat/2 wins only row 2 → mean matrix [[.5]*3, [.5]*3, [1]*3]
    assert chat == pytest.approx({"easy": 5 / 6, "normal": 2 / 3, "hard": 0.5})
    # safety-refuse wins columns 0 and 2 in every row, safety-response nothing: pooled into "safety"
    assert result.details["per_domain"]["safety"] == pytest.approx({"easy": 1 / 3, "normal": 1 / 3, "hard": 1 / 3})
    assert result.per_subset == pytest.approx({"chat": 2 / 3, "safety": 1 / 3})
    assert result.overall == pytest.approx(0.5)
    assert (result.details["easy"], result.details["normal"], result.details["hard"]) == pytest.approx(
        (7 / 12, 0.5, 5 / 12)
    )
    assert result.export[0]["score_chosen"] == [3.0, 2.0, 1.0]
    assert result.export[0]["domain"] == "chat" and result.export[0]["id"] == "chat/1"


# --- JudgeBench ------------------------------------------------------------------------------------------------------


def test_judgebench_jsonl_as_released():
    scorer = StubScorer()
    result = score_judgebench(load("judgebench.jsonl"), scorer)
    assert scorer.calls == [8]
    # biology right (2 > 1, A>B), law wrong (2 > 1 but B>A), math a tie (wrong), code right (3 > 0, B>A)
    assert result.per_subset == {"coding": 1.0, "knowledge": 0.5, "math": 0.0}
    assert result.details["per_source"]["mmlu-pro-law"] == 0.0
    assert result.overall == 0.5
    decisions = [pair["judgments"][0]["decision"] for pair in result.export]
    assert decisions == ["A>B", "A>B", "A=B", "B>A"]
    assert all(pair["judge_name"] == "reward_model" for pair in result.export)


# --- layouts ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "benchmark"),
    [("rewardbench2.parquet", "rewardbench2"), ("rm_bench.json", "rm-bench"), ("judgebench.jsonl", "judgebench")],
)
def test_each_release_layout_is_recognised(name, benchmark):
    assert detect_benchmark(read_benchmark_file(FIXTURES / name)) == benchmark


def test_a_rewardbench_v1_row_is_recognised():
    assert detect_benchmark([{"prompt": "Q", "chosen": "a", "rejected": "b", "subset": "chat"}]) == "reward-bench"


def test_rm_bench_rows_with_two_styles_are_refused_with_the_row():
    rows = read_benchmark_file(FIXTURES / "rm_bench_two_styles.json")
    with pytest.raises(BenchmarkLayoutError, match=r"Row 1 .* 3 responses") as caught:
        check_rows(detect_benchmark(rows), rows)
    assert caught.value.where == "row 1"


def test_a_file_checked_against_the_wrong_benchmark_is_refused():
    rows = read_benchmark_file(FIXTURES / "judgebench.jsonl")
    with pytest.raises(BenchmarkLayoutError, match="lacks id, prompt, chosen, rejected, subset"):
        check_rows("rewardbench2", rows)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"question": "q", "response_A": "a", "response_B": "b", "label": "A=B"}, "label must be"),
        ({"id": "ties-1", "prompt": "q", "chosen": ["a", "b"], "rejected": ["c"], "subset": "Ties"}, "ref:<n>"),
        ({"id": "1", "prompt": "q", "chosen": ["a"], "rejected": ["b"], "subset": "Math", "num_correct": 2}, "holds 1"),
    ],
)
def test_bad_rows_name_their_fault(row, message):
    with pytest.raises(BenchmarkLayoutError, match=message):
        check_rows(detect_benchmark([row]), [row])


def test_unknown_layouts_and_unreadable_files(tmp_path):
    with pytest.raises(BenchmarkLayoutError, match="Not a known benchmark layout"):
        detect_benchmark([{"text": "hello"}])
    (tmp_path / "a.json").write_text(json.dumps({"not": "a list"}))
    with pytest.raises(BenchmarkLayoutError, match="list of objects"):
        read_benchmark_file(tmp_path / "a.json")
    (tmp_path / "b.parquet").write_bytes(b"not parquet")
    with pytest.raises(BenchmarkLayoutError, match="Parquet"):
        read_benchmark_file(tmp_path / "b.parquet")
    (tmp_path / "c.jsonl").write_text('{"a": 1}\n{oops\n')
    with pytest.raises(BenchmarkLayoutError, match="Line 2"):
        read_benchmark_file(tmp_path / "c.jsonl")
    (tmp_path / "d.csv").write_text("a,b\n")
    with pytest.raises(BenchmarkLayoutError, match="Unsupported"):
        read_benchmark_file(tmp_path / "d.csv")
