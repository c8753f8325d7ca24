"""Scoring with a multi-output (regression) head: the reward is helpfulness, and every attribute's output is given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rm_jobs.services.scoring import reward_model_score
from tests.rm_jobs.conftest import build_tiny_model, succeeded_job

pytestmark = pytest.mark.django_db


def test_regression_heads_give_each_attribute_and_helpfulness_is_the_reward(snapshot: Any, tmp_path: Path) -> None:
    model_dir = build_tiny_model(tmp_path / "regression", labels=("correctness", "helpfulness", "verbosity"))
    job = succeeded_job(snapshot, model_dir, objective="regression")
    result = reward_model_score(job=job, prompt="How?", responses=["clear correct", "wrong rude"])
    assert [sorted(out) for out in result.outputs] == [["correctness", "helpfulness", "verbosity"]] * 2
    assert result.rewards == [out["helpfulness"] for out in result.outputs]
    assert len({out["correctness"] for out in result.outputs} | {result.outputs[0]["verbosity"]}) == 3


def test_a_single_output_head_has_no_per_attribute_outputs(snapshot: Any, tiny_model: Path) -> None:
    job = succeeded_job(snapshot, tiny_model)
    result = reward_model_score(job=job, prompt="How?", responses=["a"])
    assert (len(result.rewards), result.outputs) == (1, [])
