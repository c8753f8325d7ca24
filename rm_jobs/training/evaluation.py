"""Evaluation and scoring: validation loss/accuracy, per-attribute RMSE/Pearson, RewardBench-format files."""

from __future__ import annotations

import contextlib
import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from transformers import AutoModelForSequenceClassification, PreTrainedTokenizerBase

from rm_jobs.training.config import TrainConfig
from rm_jobs.training.data import (
    Encoded,
    PairExample,
    RatedExample,
    Row,
    build_pair_examples,
    build_rated_examples,
    encode_pairs,
    load_rows,
    pad_sequences,
    render_prompt,
)
from rm_jobs.training.lora import base_transformer
from rm_jobs.training.model import RewardModel, load_tokenizer, resolve_precision
from rm_jobs.training.objectives import masked_mse, pairwise_loss


@dataclass(frozen=True)
class PairMetrics:
    """Pairwise validation: ``accuracy`` = share of pairs with r_c > r_r (ties count as wrong, as RewardBench)."""

    loss: float
    accuracy: float
    mean_margin: float
    num_pairs: int


@dataclass(frozen=True)
class RegressionMetrics:
    """Regression validation over rated cells only; Pearson is NaN for an attribute with constant values."""

    loss: float
    rmse: dict[str, float]
    pearson: dict[str, float]
    num_rows: int


@dataclass(frozen=True)
class RewardBenchResult:
    """Accuracy on a RewardBench-format file (rows: prompt, chosen, rejected, subset)."""

    accuracy: float
    per_subset: dict[str, float]
    chosen_rewards: list[float]
    rejected_rewards: list[float]


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast on ``device`` when ``dtype`` is set, else a no-op."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def _batches_by_length(sequences: Sequence[Encoded], batch_size: int) -> Iterator[list[int]]:
    order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i].input_ids))
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


@torch.no_grad()
def predict(
    reward_model: RewardModel,
    sequences: Sequence[Encoded],
    *,
    pad_token_id: int,
    batch_size: int = 32,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """Head outputs for each sequence, shape (N, outputs), float32, in input order (batched longest first)."""
    device = next(reward_model.parameters()).device
    was_training = reward_model.training
    reward_model.eval()
    outputs: list[Tensor] = [torch.empty(0)] * len(sequences)
    try:
        for indices in _batches_by_length(sequences, batch_size):
            ids, mask, types = pad_sequences([sequences[i] for i in indices], pad_token_id)
            with autocast(device, dtype):
                logits = reward_model(
                    ids.to(device), mask.to(device), None if types is None else types.to(device)
                ).float()
            for row, index in enumerate(indices):
                outputs[index] = logits[row].cpu()
    finally:
        reward_model.train(was_training)
    return torch.stack(outputs) if outputs else torch.empty(0, 1)


def evaluate_pairs(
    reward_model: RewardModel,
    examples: Sequence[PairExample],
    config: TrainConfig,
    *,
    pad_token_id: int,
    dtype: torch.dtype | None = None,
) -> PairMetrics:
    """Validation loss (the config's objective) and accuracy over preference pairs."""
    if not examples:
        return PairMetrics(math.nan, math.nan, math.nan, 0)
    sequences = [e.chosen for e in examples] + [e.rejected for e in examples]
    rewards = predict(reward_model, sequences, pad_token_id=pad_token_id, batch_size=2 * config.batch_size, dtype=dtype)
    chosen, rejected = rewards[: len(examples), 0], rewards[len(examples) :, 0]
    strength = torch.tensor([e.strength for e in examples])
    loss = pairwise_loss(
        config.objective,
        chosen,
        rejected,
        strength,
        margin_scale=config.margin_scale,
        center_rewards_coefficient=config.center_rewards_coefficient,
    )
    return PairMetrics(
        loss=float(loss),
        accuracy=float((chosen > rejected).float().mean()),
        mean_margin=float((chosen - rejected).mean()),
        num_pairs=len(examples),
    )


def evaluate_regression(
    reward_model: RewardModel,
    examples: Sequence[RatedExample],
    config: TrainConfig,
    *,
    pad_token_id: int,
    dtype: torch.dtype | None = None,
) -> RegressionMetrics:
    """Masked MSE plus per-attribute RMSE and Pearson r over the rated cells."""
    if not examples:
        return RegressionMetrics(math.nan, {}, {}, 0)
    predictions = predict(
        reward_model,
        [e.sequence for e in examples],
        pad_token_id=pad_token_id,
        batch_size=config.batch_size,
        dtype=dtype,
    )
    targets = torch.tensor([e.ratings for e in examples])
    mask = torch.tensor([e.mask for e in examples])
    rmse: dict[str, float] = {}
    pearson: dict[str, float] = {}
    for column, name in enumerate(config.attributes):
        rated = mask[:, column]
        predicted, actual = predictions[rated, column].numpy(), targets[rated, column].numpy()
        rmse[name] = float(np.sqrt(np.mean((predicted - actual) ** 2))) if rated.any() else math.nan
        pearson[name] = _pearson(predicted, actual)
    return RegressionMetrics(float(masked_mse(predictions, targets, mask)), rmse, pearson, len(examples))


def _pearson(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> float:
    if len(x) < 2 or np.std(x) == 0 or np.std(y) == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


# --- public entry points on saved model directories ------------------------------------------------------------------
def load_for_inference(
    model_dir: str | Path, *, device: str | torch.device = "cpu"
) -> tuple[RewardModel, PreTrainedTokenizerBase, TrainConfig]:
    """A saved model directory (ours or any sequence classifier) ready to score, with its training config."""
    model_dir = Path(model_dir)
    tokenizer = load_tokenizer(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir), dtype=torch.float32)
    model.config.pad_token_id = tokenizer.pad_token_id
    try:
        config = TrainConfig.load(model_dir)
    except FileNotFoundError:
        config = TrainConfig(model_path=str(model_dir))
    model.to(torch.device(device))  # type: ignore[arg-type]  # before wrapping: the attention kernel depends on it
    reward_model = RewardModel(model, unpad=config.unpad != "off", max_length=config.max_length).eval()
    return reward_model, tokenizer, config


def evaluate(model_dir: str | Path, rows: Sequence[Row], *, device: str = "cpu") -> PairMetrics | RegressionMetrics:
    """Evaluate a saved model on trainer-ready rows (pairs or rated responses, as it was trained on)."""
    reward_model, tokenizer, config = load_for_inference(model_dir, device=device)
    dtype = resolve_precision(config, torch.device(device))
    pad = int(tokenizer.pad_token_id)
    if config.is_pairwise:
        pairs = build_pair_examples(rows, tokenizer, config.max_length)
        return evaluate_pairs(reward_model, pairs, config, pad_token_id=pad, dtype=dtype)
    rated = build_rated_examples(rows, tokenizer, config.max_length, config.attributes)
    return evaluate_regression(reward_model, rated, config, pad_token_id=pad, dtype=dtype)


def reward_column(reward_model: RewardModel) -> int:
    """Which head output is "the reward": the only one, else ``helpfulness`` (HelpSteer2-Preference), else the first."""
    labels = base_transformer(reward_model.model).config.id2label or {}
    for index, name in labels.items():
        if name == "helpfulness":
            return int(index)
    return 0


def score(
    model_dir: str | Path,
    pairs: Sequence[tuple[Any, str]],
    *,
    batch_size: int = 32,
    max_length: int | None = None,
    device: str = "cpu",
) -> list[float]:
    """Reward of each ``(prompt, response)``; ``prompt`` is a string or a list of {role, content} turns."""
    reward_model, tokenizer, config = load_for_inference(model_dir, device=device)
    prompts = [render_prompt(prompt, tokenizer) for prompt, _ in pairs]
    sequences = encode_pairs(tokenizer, prompts, [response for _, response in pairs], max_length or config.max_length)
    outputs = predict(
        reward_model,
        sequences,
        pad_token_id=int(tokenizer.pad_token_id),
        batch_size=batch_size,
        dtype=resolve_precision(config, torch.device(device)),
    )
    return [float(v) for v in outputs[:, reward_column(reward_model)]] if len(sequences) else []


def reward_bench(
    model_dir: str | Path, path: str | Path, *, batch_size: int = 32, device: str = "cpu"
) -> RewardBenchResult:
    """Score a RewardBench-format JSONL/Parquet file and report accuracy per ``subset`` (ties count as wrong,
    as in allenai/reward-bench ``scripts/run_rm.py``). Section weighting is left to the caller."""
    rows = load_rows(path)
    chosen = score(model_dir, [(r["prompt"], r["chosen"]) for r in rows], batch_size=batch_size, device=device)
    rejected = score(model_dir, [(r["prompt"], r["rejected"]) for r in rows], batch_size=batch_size, device=device)
    wins: dict[str, list[bool]] = defaultdict(list)
    for row, c, r in zip(rows, chosen, rejected, strict=True):
        wins[str(row.get("subset", "all"))].append(c > r)
    per_subset = {name: sum(v) / len(v) for name, v in sorted(wins.items())}
    total = sum(c > r for c, r in zip(chosen, rejected, strict=True))
    return RewardBenchResult(total / len(rows) if rows else math.nan, per_subset, chosen, rejected)
