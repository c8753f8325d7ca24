"""Reward-model training engine (no Django): the objectives of HelpSteer2-Preference, fast on CPU and GPU.

The API the Celery job calls::

    from rm_jobs.training import TrainConfig, load_rows, split_rows, train

    rows = load_rows("snapshot-42/preferences.parquet")          # trainer-ready export (JSONL or Parquet)
    train_rows, val_rows = split_rows(rows)                      # by the optional ``split`` column
    config = TrainConfig(model_path="/models/minilm", objective="scaled_bt", save_every_steps=100)
    result = train(
        config, train_rows, val_rows,
        output_dir="runs/job-7",
        on_progress=lambda p: report(p.step, p.total_steps, p.loss, p.accuracy, p.tokens_per_s, p.lr),
        should_stop=lambda: job_is_cancelled(),                  # polled every step; a checkpoint is kept
        resume_from=None,                                        # or a runs/job-7/checkpoint-<step> directory
    )
    result.model_dir            # final/ (or the last checkpoint when cancelled): loads with from_pretrained
    evaluate(result.model_dir, val_rows)                         # PairMetrics or RegressionMetrics
    score(result.model_dir, [("prompt text", "response text")])  # list of rewards
    reward_bench(result.model_dir, "reward-bench.jsonl")         # per-subset accuracy
    run_benchmark(result.model_dir, "judgebench.jsonl")          # RewardBench 2, RM-Bench, JudgeBench (benchmarks.py)

Objectives (``TrainConfig.objective``): ``bt``, ``margin_bt``, ``scaled_bt`` (pairs), ``regression`` (rated rows,
``attributes=("helpfulness",)`` for helpfulness-only); regression → Scaled BT = a second run whose ``model_path`` is
the regression run's ``final/`` directory, optionally with ``expo_alpha``. Command line: ``python -m rm_jobs.training``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rm_jobs.training.config import TrainConfig

if TYPE_CHECKING:
    from rm_jobs.training.data import load_rows, split_rows
    from rm_jobs.training.evaluation import (
        PairMetrics,
        RegressionMetrics,
        RewardBenchResult,
        evaluate,
        reward_bench,
        run_benchmark,
        score,
    )
    from rm_jobs.training.loop import Progress, TrainResult, train

# torch and transformers take seconds to import: the web process, which only needs the config, never pays for them.
_LAZY = {
    "load_rows": "data",
    "split_rows": "data",
    "PairMetrics": "evaluation",
    "RegressionMetrics": "evaluation",
    "RewardBenchResult": "evaluation",
    "evaluate": "evaluation",
    "reward_bench": "evaluation",
    "run_benchmark": "evaluation",
    "score": "evaluation",
    "Progress": "loop",
    "TrainResult": "loop",
    "train": "loop",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"rm_jobs.training.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'rm_jobs.training' has no attribute {name!r}")


__all__ = [
    "PairMetrics",
    "Progress",
    "RegressionMetrics",
    "RewardBenchResult",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "load_rows",
    "reward_bench",
    "run_benchmark",
    "score",
    "split_rows",
    "train",
]
