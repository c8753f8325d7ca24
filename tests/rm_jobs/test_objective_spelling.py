"""One spelling of the objectives: a job's objective that is a single engine run has the engine's name."""

from __future__ import annotations

from typing import get_args

from rm_jobs.models import Objective
from rm_jobs.services.jobs import _STAGES
from rm_jobs.training.config import Objective as EngineObjective


def test_single_run_objectives_are_spelled_as_the_engine_spells_them() -> None:
    engine = set(get_args(EngineObjective))
    assert set(_STAGES) == set(Objective.values)
    for objective, stages in _STAGES.items():
        assert all(stage[0] in engine for stage in stages)
        if len(stages) == 1 and objective in engine:
            assert stages[0][0] == objective
    assert {Objective.MARGIN_BT, Objective.SCALED_BT} <= engine
