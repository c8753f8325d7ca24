"""The GPU check behind ``benchmarks/gpu_check.sh``: a ~1.2B Llama-config reward model in bf16 on one GPU.

    python benchmarks/gpu_check.py build --dir /tmp/gpu-check       # model (random weights), tokenizer, data
    python benchmarks/gpu_check.py ours  --dir /tmp/gpu-check [--lora]
    python benchmarks/gpu_check.py trl   --dir /tmp/gpu-check

Each measuring command runs in its own process (so peak memory is its own) and prints ``name: value unit`` lines.
The model is Llama-3.2-1B's shape (hidden 2048, 16 layers, 32 heads / 8 KV heads, MLP 8192, vocabulary 128256)
with random weights, the tokenizer a word-level one over that vocabulary (``t0 … t128255``, one token a word), the
data HelpSteer2-like pairs (log-normal lengths, median ~250 tokens a sequence, truncated at 1024). Both trainers see
the same pairs in batches of 16, AdamW, lr 1e-5, and are timed after ``WARMUP_STEPS`` steps.

tokens/s counts real (non-pad) tokens. MFU = achieved / peak bf16 dense FLOP/s, with 6 x (non-embedding
parameters) + 12 x layers x hidden x mean length FLOPs per token (forward + backward, attention included, PaLM
appendix B); the peak is 989 TFLOP/s for H100/H200 SXM, 756 for H100 PCIe.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

# GPU_CHECK_SMOKE=1: a tiny model and a few steps, runnable on CPU, to check the script itself.
SMOKE = os.environ.get("GPU_CHECK_SMOKE") == "1"
VOCAB = 1_000 if SMOKE else 128_256
MAX_LENGTH = 128 if SMOKE else 1024
BATCH_PAIRS = 4 if SMOKE else 16
PAIRS = 40 if SMOKE else 1200
WARMUP_STEPS = 2 if SMOKE else 5
MEASURED_STEPS = 3 if SMOKE else 40
LLAMA_1B = {
    "hidden_size": 2048,
    "intermediate_size": 8192,
    "num_hidden_layers": 16,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "max_position_embeddings": 4096,
    "rope_theta": 500000.0,
    "tie_word_embeddings": False,
}
if SMOKE:
    LLAMA_1B.update(
        hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2
    )


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _peak_bytes() -> int:
    return torch.cuda.max_memory_allocated() if torch.cuda.is_available() else 0


def report(name: str, value: float | str, unit: str = "") -> None:
    text = f"{value:.3f}" if isinstance(value, float) else str(value)
    print(f"{name}: {text} {unit}".rstrip(), flush=True)


# --- build ---------------------------------------------------------------------------------------------------------
def build(directory: Path) -> None:
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import WhitespaceSplit
    from transformers import LlamaConfig, LlamaForSequenceClassification, PreTrainedTokenizerFast

    model_dir = directory / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    specials = ["<pad>", "<unk>", "<s>", "</s>"]
    vocab = {token: i for i, token in enumerate(specials + [f"t{i}" for i in range(VOCAB - len(specials))])}
    backend = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )
    tokenizer.save_pretrained(model_dir)
    config = LlamaConfig(vocab_size=VOCAB, pad_token_id=0, bos_token_id=2, eos_token_id=3, num_labels=1, **LLAMA_1B)
    torch.manual_seed(0)
    model = LlamaForSequenceClassification(config).to(torch.bfloat16)
    model.save_pretrained(model_dir)
    report("model_parameters", float(sum(p.numel() for p in model.parameters()) / 1e9), "B")

    rng = random.Random(0)

    def text(tokens: int) -> str:
        return " ".join(f"t{rng.randrange(100, VOCAB - 10)}" for _ in range(max(1, tokens)))

    def length(median: float) -> int:
        return int(min(2000, rng.lognormvariate(math.log(median), 0.6)))

    rows = []
    for index in range(PAIRS):
        prompt = text(length(90))
        rows.append(
            {"id": index, "prompt": prompt, "chosen": text(length(160)), "rejected": text(length(160)),
             "margin": 1.0, "split": "train"}
        )  # fmt: skip
    (directory / "pairs.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))


# --- shared measurement --------------------------------------------------------------------------------------------
def model_flops_per_token(model_dir: Path, mean_length: float) -> tuple[float, float]:
    """(FLOPs per trained token, non-embedding parameters)."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(model_dir))
    d, layers, ffn = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    kv = d * config.num_key_value_heads // config.num_attention_heads
    per_layer = d * d * 2 + d * kv * 2 + 3 * d * ffn + 2 * d
    non_embedding = layers * per_layer + d + d  # + final norm + 1-output head
    return 6 * non_embedding + 12 * layers * d * mean_length, float(non_embedding)


def peak_flops() -> float:
    if not torch.cuda.is_available():
        return 1e12  # smoke runs on CPU: a nominal figure
    name = torch.cuda.get_device_name()
    return 756e12 if "PCIe" in name else 989e12


def pair_token_lengths(directory: Path) -> list[tuple[int, int]]:
    """Real tokens of (chosen, rejected) per pair, as the engine tokenizes them (truncated at MAX_LENGTH)."""
    from rm_jobs.training.data import build_pair_examples, load_rows
    from rm_jobs.training.model import load_tokenizer

    tokenizer = load_tokenizer(directory / "model")
    examples = build_pair_examples(list(load_rows(directory / "pairs.jsonl")), tokenizer, MAX_LENGTH)
    return [(len(e.chosen.input_ids), len(e.rejected.input_ids)) for e in examples]


def finish(label: str, directory: Path, seconds: float, steps: int) -> None:
    lengths = pair_token_lengths(directory)
    tokens_per_pair = sum(a + b for a, b in lengths) / len(lengths)
    mean_length = tokens_per_pair / 2
    pairs_per_s = steps * BATCH_PAIRS / seconds
    tokens_per_s = pairs_per_s * tokens_per_pair
    flops, _ = model_flops_per_token(directory / "model", mean_length)
    report(f"{label}_pairs_per_s", pairs_per_s, "pairs/s")
    report(f"{label}_tokens_per_s", tokens_per_s, "tokens/s")
    report(f"{label}_mfu_percent", 100 * tokens_per_s * flops / peak_flops(), "%")
    report(f"{label}_peak_memory_gib", _peak_bytes() / 2**30, "GiB")


def planner_estimate(label: str, directory: Path, *, lora: bool) -> None:
    """The memory planner's estimate for this run, when the engine has one (rm_jobs.training.memory)."""
    try:
        from rm_jobs.training import memory  # type: ignore[attr-defined]
    except ImportError:
        report(f"{label}_planner_estimate_gib", "n/a (no memory planner in this build)")
        return
    planner = getattr(memory, "estimate", None) or getattr(memory, "plan", None)
    if planner is None:
        report(f"{label}_planner_estimate_gib", "n/a (memory module has no estimate/plan function)")
        return
    try:
        from transformers import AutoConfig

        estimate = planner(
            AutoConfig.from_pretrained(str(directory / "model")),
            strategy="lora" if lora else "full",
            precision="bf16",
            gpus=1,
            batch_size=BATCH_PAIRS,
            max_length=MAX_LENGTH,
        )
    except TypeError as error:
        report(f"{label}_planner_estimate_gib", f"n/a (planner signature differs: {error})")
        return
    total = getattr(estimate, "total_bytes", None) or getattr(estimate, "peak_bytes", None)
    if total is None:
        report(f"{label}_planner_estimate", str(estimate))
        return
    measured = _peak_bytes()
    report(f"{label}_planner_estimate_gib", total / 2**30, "GiB")
    report(f"{label}_peak_vs_estimate_percent", 100 * (measured - total) / total, "%")


# --- ours ----------------------------------------------------------------------------------------------------------
def run_ours(directory: Path, *, lora: bool) -> None:
    from rm_jobs.training import Progress, TrainConfig, train
    from rm_jobs.training.data import load_rows

    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    overrides: dict[str, Any] = {}
    try:
        import flash_attn  # noqa: F401

        attention = "flash_attention_2"
    except ImportError:
        attention = "sdpa"
    for name, value in (("attn_implementation", attention), ("attention", attention)):
        if name in fields:
            overrides[name] = value
    report("ours_attention", attention if overrides else "transformers default (no attention setting in this build)")
    label = "ours_lora" if lora else "ours"
    if lora:
        lora_fields = sorted(name for name in fields if name.startswith("lora"))
        if not lora_fields:
            report("ours_lora", "skipped (no LoRA settings in this build's TrainConfig)")
            return
        for name, value in (("lora", True), ("lora_rank", 16), ("lora_r", 16), ("lora_alpha", 32)):
            if name in fields:
                overrides[name] = value
        report("ours_lora_settings", json.dumps({k: overrides[k] for k in overrides if k.startswith("lora")}))
    if "unpad" in fields:
        overrides["unpad"] = "auto"
    config = TrainConfig(
        model_path=str(directory / "model"),
        batch_size=BATCH_PAIRS,
        max_length=MAX_LENGTH,
        learning_rate=1e-5,
        precision="bf16",
        max_steps=WARMUP_STEPS + MEASURED_STEPS,
        save_every_steps=100_000,
        keep_checkpoints=1,
        **overrides,
    )
    marks: dict[int, float] = {}

    def record(progress: Progress) -> None:
        _sync()
        marks[progress.step] = time.perf_counter()

    started = time.perf_counter()
    train(config, list(load_rows(directory / "pairs.jsonl")), output_dir=directory / f"run-{label}", on_progress=record)
    report(f"{label}_wall_s", time.perf_counter() - started, "s")
    finish(label, directory, marks[WARMUP_STEPS + MEASURED_STEPS] - marks[WARMUP_STEPS], MEASURED_STEPS)
    planner_estimate(label, directory, lora=lora)


# --- TRL -----------------------------------------------------------------------------------------------------------
def run_trl(directory: Path) -> None:
    import tempfile

    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, TrainerCallback
    from trl import RewardConfig, RewardTrainer

    from rm_jobs.training.data import build_pair_examples, load_rows
    from rm_jobs.training.model import load_tokenizer

    tokenizer = load_tokenizer(directory / "model")
    examples = build_pair_examples(list(load_rows(directory / "pairs.jsonl")), tokenizer, MAX_LENGTH)
    dataset = Dataset.from_dict(
        {
            "chosen_ids": [list(e.chosen.input_ids) for e in examples],
            "rejected_ids": [list(e.rejected.input_ids) for e in examples],
            "length": [e.length for e in examples],
        }
    )
    marks: dict[int, float] = {}

    class Clock(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            _sync()
            marks[state.global_step] = time.perf_counter()

    model = AutoModelForSequenceClassification.from_pretrained(
        str(directory / "model"), num_labels=1, dtype=torch.float32, attn_implementation="sdpa"
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    with tempfile.TemporaryDirectory() as scratch:
        # TRL at its best here: fp32 weights with bf16 autocast (as ours), length-grouped batches, fused AdamW,
        # no activation checkpointing (its default), dropout off.
        args = RewardConfig(
            output_dir=scratch,
            per_device_train_batch_size=BATCH_PAIRS,
            max_steps=WARMUP_STEPS + MEASURED_STEPS,
            max_length=MAX_LENGTH,
            learning_rate=1e-5,
            bf16=True,
            optim="adamw_torch_fused",
            train_sampling_strategy="group_by_length",
            length_column_name="length",
            remove_unused_columns=False,
            save_strategy="no",
            report_to=[],
            logging_steps=10,
            dataloader_num_workers=0 if SMOKE else 2,
            use_cpu=not torch.cuda.is_available(),
            seed=42,
        )
        trainer = RewardTrainer(
            model=model, args=args, train_dataset=dataset, processing_class=tokenizer, callbacks=[Clock()]
        )
        trainer.train()
    finish("trl", directory, marks[WARMUP_STEPS + MEASURED_STEPS] - marks[WARMUP_STEPS], MEASURED_STEPS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["build", "ours", "trl"])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--lora", action="store_true")
    arguments = parser.parse_args()
    if arguments.command == "build":
        build(arguments.dir)
        return 0
    if not torch.cuda.is_available() and not SMOKE:
        print("gpu_check: no CUDA device", file=sys.stderr)
        return 2
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    if arguments.command == "ours":
        run_ours(arguments.dir, lora=arguments.lora)
    else:
        run_trl(arguments.dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
