"""The frozen training config round-trips through the JSON file saved with every checkpoint."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from rm_jobs.training.config import TrainConfig


def test_config_round_trips_through_its_json_file(tmp_path: Path) -> None:
    config = TrainConfig(model_path="/m", objective="regression", attributes=("helpfulness",), extra={"job": 7})
    config.save(tmp_path)
    assert TrainConfig.load(tmp_path) == config


def test_config_is_frozen_and_rejects_unknown_fields_and_objectives() -> None:
    config = TrainConfig(model_path="/m")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.objective = "scaled_bt"  # type: ignore[misc]
    with pytest.raises(ValueError, match="unknown TrainConfig fields"):
        TrainConfig.from_dict({"model_path": "/m", "learning_rat": 1.0})
    with pytest.raises(ValueError, match="unknown objective"):
        TrainConfig(model_path="/m", objective="dpo")  # type: ignore[arg-type]
    assert config.is_pairwise and not config.replace(objective="regression").is_pairwise
