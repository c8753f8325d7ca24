"""RewardBench-format scoring, ``score`` and the command line, on a model trained for a few steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import simulated_preferences

from rm_jobs.training import TrainConfig, reward_bench, score, train
from rm_jobs.training.__main__ import main
from rm_jobs.training.evaluation import reward_bench_scores


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    config = TrainConfig(
        model_path=str(tiny_model_dir),
        learning_rate=2e-3,
        precision="fp32",
        num_threads=1,
        max_steps=60,
        save_every_steps=0,
    )
    return train(config, simulated_preferences(960, 0), output_dir=tmp_path_factory.mktemp("run")).model_dir


def test_reward_bench_accuracy_per_subset(tmp_path: Path, trained_dir: Path) -> None:
    rows = [
        {"prompt": "w1", "chosen": "good good good", "rejected": "w2", "subset": "easy"},
        {"prompt": "w1", "chosen": "w3 good good good good", "rejected": "w3", "subset": "easy"},
        {"prompt": "w1", "chosen": "w2", "rejected": "good good good", "subset": "inverted"},
    ]
    path = tmp_path / "rb.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = reward_bench(trained_dir, path)
    assert result.per_subset == {"easy": 1.0, "inverted": 0.0}
    assert result.pooled_accuracy == pytest.approx(2 / 3)
    assert (result.overall, result.sections) == (None, {})  # none of RewardBench's subsets
    assert result.chosen_rewards == score(trained_dir, [(r["prompt"], r["chosen"]) for r in rows])


def test_reward_bench_reports_its_own_overall_beside_the_pooled_accuracy(tmp_path: Path, trained_dir: Path) -> None:
    # Two Chat rows won, one Reasoning row lost: pooled 2/3, but RewardBench averages the sections: (1 + 0) / 2.
    rows = [
        {"prompt": "w1", "chosen": "good good good", "rejected": "w2", "subset": "alpacaeval-easy"},
        {"prompt": "w1", "chosen": "w3 good good good good", "rejected": "w3", "subset": "mt-bench-med"},
        {"prompt": "w1", "chosen": "w2", "rejected": "good good good", "subset": "hep-go"},
    ]
    path = tmp_path / "rb.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = reward_bench(trained_dir, path)
    assert result.sections == {"Chat": 1.0, "Reasoning": 0.0}
    assert result.overall == pytest.approx(0.5)
    assert result.pooled_accuracy == pytest.approx(2 / 3)


def test_reward_bench_scores_against_hand_computed_values() -> None:
    per_subset = {
        # Chat: (100*0.9 + 95*0.8 + 95*1.0 + 28*1.0 + 40*0.75) / 358 = 319 / 358
        "alpacaeval-easy": 0.9, "alpacaeval-length": 0.8, "alpacaeval-hard": 1.0, "mt-bench-easy": 1.0,
        "mt-bench-med": 0.75,
        # Chat Hard: (37*0.5 + 100*0.6 + 134*0.25 + 92*0.5 + 47*0.0 + 46*1.0) / 456 = 204 / 456
        "mt-bench-hard": 0.5, "llmbar-natural": 0.6, "llmbar-adver-neighbor": 0.25, "llmbar-adver-GPTInst": 0.5,
        "llmbar-adver-GPTOut": 0.0, "llmbar-adver-manual": 1.0,
        # Safety: (100*1.0 + 100*0.5 + 250*0.8 + 154*0.5 + 136*0.25) / 740 = 461 / 740
        "refusals-dangerous": 1.0, "refusals-offensive": 0.5, "xstest-should-refuse": 0.8,
        "xstest-should-respond": 0.5, "donotanswer": 0.25,
        # Reasoning: (984*0.5 + 164*(1 + 0 + 0.5 + 0.5 + 1 + 0)) / 1968 = 984 / 1968 = 0.5
        "math-prm": 0.5, "hep-cpp": 1.0, "hep-go": 0.0, "hep-java": 0.5, "hep-js": 0.5, "hep-python": 1.0,
        "hep-rust": 0.0,
        "my-own-subset": 0.0,  # in no section
    }  # fmt: skip
    scores = reward_bench_scores(per_subset)
    chat, chat_hard, safety, reasoning = 319 / 358, 204 / 456, 461 / 740, 0.5
    assert scores.sections == pytest.approx(
        {"Chat": chat, "Chat Hard": chat_hard, "Safety": safety, "Reasoning": reasoning}
    )
    assert scores.overall == pytest.approx((chat + chat_hard + safety + reasoning) / 4)
    assert scores.overall == pytest.approx(0.61535, abs=1e-5)

    # Prior sets: their plain mean, at half a section's weight.
    with_prior = reward_bench_scores({**per_subset, "anthropic_helpful": 0.6, "shp": 0.8})
    assert with_prior.sections["Prior Sets"] == pytest.approx(0.7)
    expected = (chat + chat_hard + safety + reasoning + 0.5 * 0.7) / 4.5
    assert with_prior.overall == pytest.approx(expected)
    assert reward_bench_scores({"shp": 1.0}).overall is None


def test_identical_responses_score_identically_and_ties_count_as_wrong(tmp_path: Path, trained_dir: Path) -> None:
    path = tmp_path / "rb.jsonl"
    path.write_text(json.dumps({"prompt": "w1", "chosen": "good", "rejected": "good", "subset": "tie"}) + "\n")
    assert reward_bench(trained_dir, path).pooled_accuracy == 0.0


def test_cli_trains_and_evaluates(tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = simulated_preferences(64, 1)
    for index, row in enumerate(rows):
        row["split"] = "validation" if index < 16 else "train"
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--model-path",
                str(tiny_model_dir),
                "--train",
                str(data),
                "--output-dir",
                str(out),
                "--objective",
                "margin_bt",
                "--precision",
                "fp32",
                "--num-threads",
                "1",
                "--max-steps",
                "3",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 3
    assert summary["model_dir"] == str(out / "final")
    assert main(["evaluate", str(out / "final"), str(data)]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["num_pairs"] == 64
    assert 0.0 <= metrics["accuracy"] <= 1.0
    assert TrainConfig.load(out / "final").objective == "margin_bt"


def test_accuracy_bootstrap_interval_brackets_the_accuracy_and_narrows_with_more_pairs() -> None:
    from rm_jobs.training.evaluation import accuracy_bootstrap_interval

    assert accuracy_bootstrap_interval([]) is None
    assert accuracy_bootstrap_interval([True] * 5) == (1.0, 1.0)  # degenerate: nothing to resample
    small = accuracy_bootstrap_interval([True] * 6 + [False] * 2)
    large = accuracy_bootstrap_interval([True] * 600 + [False] * 200)
    assert small is not None and large is not None
    assert small[0] <= 0.75 <= small[1] and large[0] <= 0.75 <= large[1]
    assert large[1] - large[0] < (small[1] - small[0]) / 5
    # Normal approximation for 800 pairs at p = 0.75: ±1.96·sqrt(p(1-p)/n) = ±0.030.
    assert large == pytest.approx((0.75 - 0.030, 0.75 + 0.030), abs=0.004)
    assert accuracy_bootstrap_interval([True, False] * 10) == accuracy_bootstrap_interval([True, False] * 10)


def test_on_batch_is_called_after_each_batch_and_what_it_raises_stops_the_scoring(tiny_model_dir: Path) -> None:
    pairs = [("w1", "good " + "w2 " * i) for i in range(5)]
    calls: list[int] = []
    rewards = score(tiny_model_dir, pairs, batch_size=2, on_batch=lambda: calls.append(1))
    assert len(rewards) == 5 and len(calls) == 3  # batches of 2, 2 and 1

    class Stop(Exception):
        pass

    def stop() -> None:
        raise Stop

    with pytest.raises(Stop):
        score(tiny_model_dir, pairs, batch_size=2, on_batch=stop)
