"""Checkpoints: a ``from_pretrained``-loadable model directory plus what the loop needs to resume.

Layout of ``<output_dir>/checkpoint-<step>/`` (and of ``<output_dir>/final/``)::

    config.json, model.safetensors            save_pretrained (head outputs named in id2label; LoRA merged in)
    adapter/                                  LoRA runs: the peft adapter (and the head), what a resume loads
    tokenizer.json, tokenizer_config.json …   the tokenizer, so the directory is self-contained
    prefstack_training_config.json            the TrainConfig that produced it
    trainer_state.pt                          optimizer, scheduler, sampler position, RNG, fp32 master weights
                                              (not in final/)
"""

from __future__ import annotations

import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from transformers import PreTrainedTokenizerBase

from rm_jobs.training.config import TrainConfig
from rm_jobs.training.lora import is_peft, save_lora_model

STATE_FILE_NAME = "trainer_state.pt"


@dataclass(frozen=True)
class LoopPosition:
    """Where the loop stands: ``step`` optimizer steps done; the next batch is ``batch`` of ``epoch``'s plan."""

    step: int
    epoch: int
    batch: int


def save_model_dir(directory: Path, model: nn.Module, tokenizer: PreTrainedTokenizerBase, config: TrainConfig) -> None:
    """Write a self-contained model directory (weights, HF config, tokenizer, training config); a LoRA model is
    saved merged, with its adapter in ``adapter/``."""
    directory.mkdir(parents=True, exist_ok=True)
    if is_peft(model):
        save_lora_model(model, directory)
    else:
        model.save_pretrained(directory)  # type: ignore[operator]
    tokenizer.save_pretrained(directory)
    config.save(directory)


def save_checkpoint(
    directory: Path,
    *,
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    config: TrainConfig,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    position: LoopPosition,
    master: list[Tensor] | None = None,
) -> Path:
    """Write a resumable checkpoint atomically (to ``<dir>.tmp``, then renamed), so a crash never leaves half of one."""
    staging = directory.with_name(directory.name + ".tmp")
    if staging.exists():
        shutil.rmtree(staging)
    save_model_dir(staging, model, tokenizer, config)
    state: dict[str, Any] = {
        "position": asdict(position),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "master": master,
        "rng": {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "python": random.getstate(),
            "numpy": np.random.get_state(),
        },
    }
    torch.save(state, staging / STATE_FILE_NAME)
    if directory.exists():
        shutil.rmtree(directory)
    staging.rename(directory)
    return directory


def load_training_state(directory: Path) -> dict[str, Any]:
    """The ``trainer_state.pt`` of a checkpoint (trusted: written by :func:`save_checkpoint`)."""
    state: dict[str, Any] = torch.load(directory / STATE_FILE_NAME, map_location="cpu", weights_only=False)
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Put every random generator back where the checkpoint left it (dropout, sampling)."""
    rng = state["rng"]
    torch.set_rng_state(rng["torch"])
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    random.setstate(rng["python"])
    np.random.set_state(rng["numpy"])


def prune_checkpoints(output_dir: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` ``checkpoint-<step>`` directories."""
    found = sorted(
        (p for p in output_dir.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()),
        key=lambda p: int(p.name.split("-")[-1]),
    )
    for old in found[: max(0, len(found) - max(keep, 1))]:
        shutil.rmtree(old)


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The newest resumable checkpoint under ``output_dir``, or None."""
    found = [p for p in output_dir.glob("checkpoint-*") if (p / STATE_FILE_NAME).exists()]
    return max(found, key=lambda p: int(p.name.split("-")[-1]), default=None)
