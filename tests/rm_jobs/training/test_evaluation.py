"""RewardBench-format scoring, ``score`` and the command line, on a model trained for a few steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import simulated_preferences

from rm_jobs.training import TrainConfig, reward_bench, score, train
from rm_jobs.training.__main__ import main


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
    assert result.accuracy == pytest.approx(2 / 3)
    assert result.chosen_rewards == score(trained_dir, [(r["prompt"], r["chosen"]) for r in rows])


def test_identical_responses_score_identically_and_ties_count_as_wrong(tmp_path: Path, trained_dir: Path) -> None:
    path = tmp_path / "rb.jsonl"
    path.write_text(json.dumps({"prompt": "w1", "chosen": "good", "rejected": "good", "subset": "tie"}) + "\n")
    assert reward_bench(trained_dir, path).accuracy == 0.0


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
