"""Command line: ``python -m rm_jobs.training {train,evaluate,score,reward-bench} …``.

Examples::

    python -m rm_jobs.training train --model-path /models/minilm --train pairs.parquet --output-dir runs/bt \\
        --objective scaled_bt --epochs 1
    python -m rm_jobs.training train --model-path runs/reg/final --train pairs.jsonl --output-dir runs/sbt \\
        --objective scaled_bt --expo-alpha 0.3
    python -m rm_jobs.training evaluate runs/bt/final pairs.parquet
    python -m rm_jobs.training reward-bench runs/bt/final reward-bench.jsonl

Every :class:`TrainConfig` field is a ``--flag`` (``--attributes helpfulness,correctness``); without ``--val`` the
training file is split by its ``split`` column.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch.distributed as dist

from rm_jobs.training.config import TrainConfig
from rm_jobs.training.data import Row, load_rows, split_rows
from rm_jobs.training.evaluation import evaluate, reward_bench, score
from rm_jobs.training.launcher import install_stop_signal, progress_line, result_to_json
from rm_jobs.training.loop import Progress, train

CONFIG_FIELDS = [f for f in dataclasses.fields(TrainConfig) if f.name != "extra"]


def _parse_value(name: str, text: str) -> Any:
    if name in ("attributes", "lora_target_modules"):
        return tuple(part.strip() for part in text.split(",") if part.strip())
    if text.lower() in ("none", "null"):
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text  # strings such as paths and objective names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rm_jobs.training", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    train_parser = commands.add_parser("train", help="train a reward model")
    train_parser.add_argument("--train", required=True, help="trainer-ready JSONL/Parquet file")
    train_parser.add_argument("--val", help="validation file (default: rows of --train whose split is validation)")
    train_parser.add_argument("--output-dir", required=True)
    train_parser.add_argument("--resume-from", help="a checkpoint-<step> directory to continue from")
    train_parser.add_argument("--config", help="JSON file with TrainConfig fields (flags override it)")
    train_parser.add_argument("--progress-file", help="rank 0 appends one JSON line per optimizer step")
    train_parser.add_argument("--result-file", help="rank 0 writes the run's result as JSON at the end")
    for field in CONFIG_FIELDS:
        train_parser.add_argument(f"--{field.name.replace('_', '-')}", dest=field.name, default=None)

    for name, help_text in (
        ("evaluate", "validation metrics of a saved model on a trainer-ready file"),
        ("reward-bench", "per-subset accuracy on a RewardBench-format file"),
        ("score", "reward of every (prompt, response) row, as JSON lines"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("model_dir")
        sub.add_argument("data")
    return parser


def _print_progress(progress: Progress) -> None:
    accuracy = "" if progress.accuracy is None else f" acc {progress.accuracy:.3f}"
    print(
        f"step {progress.step}/{progress.total_steps} loss {progress.loss:.4f}{accuracy} "
        f"{progress.tokens_per_s:.0f} tok/s lr {progress.lr:.2e}",
        file=sys.stderr,
        flush=True,
    )


class _ProgressFile:
    """Rank 0's progress as JSON lines (read live by :func:`rm_jobs.training.launcher.supervise`), and on stderr."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def __call__(self, progress: Progress) -> None:
        _print_progress(progress)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(progress_line(progress))


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    if arguments.command == "train":
        values: dict[str, Any] = {}
        if arguments.config:
            with open(arguments.config, encoding="utf-8") as handle:
                values.update(json.load(handle))
        for field in CONFIG_FIELDS:
            raw = getattr(arguments, field.name)
            if raw is not None:
                values[field.name] = _parse_value(field.name, raw)
        config = TrainConfig.from_dict(values)
        rows: list[Row] = list(load_rows(arguments.train))
        train_rows: list[Row]
        val_rows: list[Row]
        if arguments.val:
            train_rows, val_rows = rows, list(load_rows(arguments.val))
        else:
            train_rows, val_rows = split_rows(rows)
        # SIGTERM (torchrun forwards it to every rank) stops the loop at its next step, with a checkpoint.
        stop = install_stop_signal()
        on_progress = _print_progress
        if arguments.progress_file:
            on_progress = _ProgressFile(arguments.progress_file)
        result = train(
            config,
            train_rows,
            val_rows,
            output_dir=arguments.output_dir,
            on_progress=on_progress,
            should_stop=stop,
            resume_from=arguments.resume_from,
        )
        # Leave the process group before exiting: gloo's threads can otherwise abort a rank that finished its work
        # ("terminate called without an active exception"), and torchrun then fails the whole group.
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
        if os.environ.get("RANK", "0") != "0":
            return 0
        if arguments.result_file:
            Path(arguments.result_file).write_text(result_to_json(result))
        summary = {k: str(v) if not isinstance(v, (int, float)) else v for k, v in dataclasses.asdict(result).items()}
        print(json.dumps(summary, indent=2))
    elif arguments.command == "evaluate":
        print(json.dumps(dataclasses.asdict(evaluate(arguments.model_dir, load_rows(arguments.data))), indent=2))
    elif arguments.command == "reward-bench":
        result_rb = reward_bench(arguments.model_dir, arguments.data)
        summary_rb = {
            "rewardbench_overall": result_rb.overall,
            "sections": result_rb.sections,
            "pooled_accuracy": result_rb.pooled_accuracy,
            "per_subset": result_rb.per_subset,
        }
        print(json.dumps(summary_rb, indent=2))
    else:
        rows = list(load_rows(arguments.data))
        for row, reward in zip(
            rows, score(arguments.model_dir, [(r["prompt"], r["response"]) for r in rows]), strict=True
        ):
            print(json.dumps({"id": row.get("id"), "reward": reward}))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    raise SystemExit(main())
