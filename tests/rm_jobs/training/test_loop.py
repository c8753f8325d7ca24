"""The training loop end to end on a tiny model: it learns, resumes exactly, stops on request, saves loadable models."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import simulated_preferences, simulated_ratings
from transformers import AutoModelForSequenceClassification

from rm_jobs.training import Progress, RegressionMetrics, TrainConfig, evaluate, score, train
from rm_jobs.training.checkpoint import latest_checkpoint
from rm_jobs.training.config import CONFIG_FILE_NAME


def tiny_config(model_dir: Path, **changes: object) -> TrainConfig:
    base = TrainConfig(
        model_path=str(model_dir),
        batch_size=16,
        max_length=48,
        learning_rate=2e-3,
        precision="fp32",  # bf16 autocast costs more than it saves on a 32-wide model
        save_every_steps=0,
        num_threads=1,  # tiny matrices: one thread, and no OpenMP stalls when the CPU is shared
    )
    return base.replace(**changes)


def test_tiny_model_learns_a_simulated_preference(tmp_path: Path, tiny_model_dir: Path) -> None:
    progress: list[Progress] = []
    result = train(
        tiny_config(tiny_model_dir, objective="scaled_bt", max_steps=150),
        simulated_preferences(2400, seed=0),
        simulated_preferences(200, seed=1),
        output_dir=tmp_path,
        on_progress=progress.append,
    )
    assert result.validation is not None
    assert result.validation.num_pairs == 200
    assert result.validation.accuracy > 0.8  # chance is 0.5
    assert [p.step for p in progress] == list(range(1, 151))
    assert progress[-1].total_steps == 150
    assert progress[-1].tokens_per_s > 0
    assert progress[-1].accuracy is not None
    assert progress[-1].lr == pytest.approx(0.0)  # linear decay to 0
    assert not result.cancelled
    assert result.model_dir == tmp_path / "final"


def weights(directory: Path) -> dict[str, torch.Tensor]:
    return AutoModelForSequenceClassification.from_pretrained(str(directory)).state_dict()


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path: Path, tiny_model_dir: Path) -> None:
    rows = simulated_preferences(160, seed=2)
    # Dropout on, so the restored RNG matters too.
    config = tiny_config(tiny_model_dir, epochs=2, disable_dropout=False, group_by_length=True)
    whole = train(config, rows, output_dir=tmp_path / "whole")

    calls = iter(range(1000))
    stopped = train(config, rows, output_dir=tmp_path / "parts", should_stop=lambda: next(calls) == 13)
    assert stopped.cancelled
    assert stopped.steps == 13
    assert stopped.model_dir == tmp_path / "parts/checkpoint-13"
    assert latest_checkpoint(tmp_path / "parts") == stopped.checkpoint_dir
    resumed = train(config, rows, output_dir=tmp_path / "parts", resume_from=stopped.checkpoint_dir)
    assert resumed.steps == whole.steps == 20

    expected, actual = weights(whole.model_dir), weights(resumed.model_dir)
    for name, tensor in expected.items():
        torch.testing.assert_close(actual[name], tensor, rtol=0, atol=0, msg=name)


def test_stop_before_the_first_step_still_leaves_a_loadable_checkpoint(tmp_path: Path, tiny_model_dir: Path) -> None:
    result = train(
        tiny_config(tiny_model_dir), simulated_preferences(40, 3), output_dir=tmp_path, should_stop=lambda: True
    )
    assert result.cancelled
    assert result.steps == 0
    assert (result.checkpoint_dir / CONFIG_FILE_NAME).exists()
    AutoModelForSequenceClassification.from_pretrained(str(result.checkpoint_dir))


def test_a_runs_thread_count_is_put_back_afterwards(tmp_path: Path, tiny_model_dir: Path) -> None:
    before = torch.get_num_threads()
    seen: list[int] = []
    train(
        tiny_config(tiny_model_dir, num_threads=before + 1, max_steps=1),
        simulated_preferences(40, 3),
        output_dir=tmp_path,
        on_progress=lambda _: seen.append(torch.get_num_threads()),
    )
    assert seen == [before + 1]  # the run used its own count ...
    assert torch.get_num_threads() == before  # ... and the worker process has its own back


def test_periodic_checkpoints_are_pruned(tmp_path: Path, tiny_model_dir: Path) -> None:
    train(
        tiny_config(tiny_model_dir, save_every_steps=2, keep_checkpoints=2),
        simulated_preferences(120, 4),
        output_dir=tmp_path,
    )
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-6", "checkpoint-8"]


def test_regression_then_scaled_bt_with_expo(tmp_path: Path, tiny_model_dir: Path) -> None:
    regression = train(
        tiny_config(tiny_model_dir, objective="regression", attributes=("helpfulness", "correctness"), epochs=3),
        simulated_ratings(480, seed=5),
        simulated_ratings(96, seed=6),
        output_dir=tmp_path / "regression",
    )
    metrics = regression.validation
    assert isinstance(metrics, RegressionMetrics)
    assert set(metrics.rmse) == {"helpfulness", "correctness"}
    assert metrics.pearson["helpfulness"] > 0.5
    assert evaluate(regression.model_dir, simulated_ratings(96, seed=6)) == metrics

    pairs = simulated_preferences(160, seed=7)
    config = tiny_config(regression.model_dir, objective="scaled_bt", learning_rate=5e-4)
    plain = train(config, pairs, pairs[:64], output_dir=tmp_path / "bt")
    expo = train(config.replace(expo_alpha=0.5), pairs, pairs[:64], output_dir=tmp_path / "expo")
    assert AutoModelForSequenceClassification.from_pretrained(str(expo.model_dir)).config.num_labels == 1
    # θ_expo = θ_T + alpha(θ_T - θ_0): check one tensor against the three checkpoints.
    name = "classifier.weight"
    start = weights(regression.model_dir)[name][0:1]  # the helpfulness row
    trained, extrapolated = weights(plain.model_dir)[name], weights(expo.model_dir)[name]
    torch.testing.assert_close(extrapolated, trained + 0.5 * (trained - start))

    rewards = score(plain.model_dir, [("w1", "good good good"), ("w1", "w2 w3")])
    assert rewards[0] > rewards[1]
