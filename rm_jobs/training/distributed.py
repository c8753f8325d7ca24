"""How one run spreads over the processes ``torchrun`` starts: nothing (one process), DDP, or FSDP2.

The loop stays one function; it asks a :class:`Parallel` (decided once, from the config and the world size) to wrap
the model, to write and read checkpoints and to hand back a plain model at the end.

* **DDP** (``strategy="ddp"``, or ``"auto"`` with several processes): every rank keeps a full copy of weights,
  gradients and AdamW states; gradients are averaged by all-reduce. For models that fit one device.
* **FSDP2** (``strategy="fsdp"``): ``torch.distributed.fsdp.fully_shard`` on every transformer block and on the
  root, so each rank holds 1/world of the weights, gradients and optimizer states (ZeRO-3); a block's weights are
  all-gathered for its forward and backward only. On GPU the policy is ``MixedPrecisionPolicy(param_dtype=bf16,
  reduce_dtype=fp32)``: matmuls in bf16, gradients reduced and AdamW states kept in fp32. With
  ``gradient_checkpointing`` every block recomputes its activations in backward (transformers' per-block
  checkpointing, non-reentrant, which composes with ``fully_shard``).

FSDP checkpoints are written with ``torch.distributed.checkpoint`` (each rank writes its own shard of the weights
and optimizer states, ``dcp/``), next to the ``trainer_state.pt`` of the plain loop (position, scheduler, RNG; its
``optimizer`` entry is None, the states live in ``dcp/``). The checkpoints written on cancellation and at the end
are also consolidated into a plain ``save_pretrained`` directory, so they load with ``from_pretrained`` like every
other checkpoint; an intermediate one holds the shards only (consolidating 70B weights every few hundred steps would
cost minutes and 140 GB of host memory each time) and resumes from the base model plus its shards.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from transformers import PreTrainedTokenizerBase

from rm_jobs.training.checkpoint import (
    STATE_FILE_NAME,
    LoopPosition,
    load_training_state,
    prune_checkpoints,
    restore_rng,
    save_checkpoint,
    save_model_dir,
)
from rm_jobs.training.config import TrainConfig
from rm_jobs.training.precision import MasterWeights

logger = logging.getLogger(__name__)

SHARDS_DIR_NAME = "dcp"
"""The ``torch.distributed.checkpoint`` folder inside an FSDP ``checkpoint-<step>/`` (one ``.distcp`` per rank)."""

Kind = Literal["single", "ddp", "fsdp"]


def strategy_kind(config: TrainConfig, world: int) -> Kind:
    """What actually runs: FSDP when asked for (even on one process, so a checkpoint's layout follows the config),
    DDP for several processes otherwise, a plain loop for one."""
    if config.strategy == "fsdp":
        return "fsdp"
    return "ddp" if world > 1 else "single"


def transformer_blocks(model: nn.Module) -> list[nn.Module]:
    """The repeated blocks to shard one by one: the classes transformers names in ``_no_split_modules`` (Llama's
    ``LlamaDecoderLayer``, …), else the children of the model's largest ``nn.ModuleList`` (BERT's ``encoder.layer``)."""
    names = set(getattr(model, "_no_split_modules", None) or ())
    blocks = [module for module in model.modules() if type(module).__name__ in names]
    if blocks:
        return blocks
    lists = [m for m in model.modules() if isinstance(m, nn.ModuleList) and len(m) > 0]
    if not lists:
        return []
    largest = max(lists, key=lambda m: sum(p.numel() for p in m.parameters()))
    return list(largest)


@dataclass
class Parallel:
    """The run's distribution, decided once. ``sharded`` is True while the weights live as FSDP shards (it becomes
    False after :meth:`consolidate`, when rank 0 holds a plain copy)."""

    kind: Kind
    rank: int
    world: int
    device: torch.device
    sharded: bool = False

    @classmethod
    def create(cls, config: TrainConfig, rank: int, world: int, device: torch.device) -> Parallel:
        kind = strategy_kind(config, world)
        if kind == "fsdp" and not dist.is_initialized():
            # fully_shard needs a process group even for one process (``torchrun --nproc-per-node 1``).
            if "MASTER_ADDR" not in os.environ:
                raise ValueError("strategy='fsdp' runs under torchrun (python -m torch.distributed.run …)")
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return cls(kind=kind, rank=rank, world=world, device=device)

    def agree(self, flag: bool) -> bool:
        """True on every rank when it is True on any (a stop request that reached the ranks at different times)."""
        if self.world == 1:
            return flag
        tensor = torch.tensor([int(flag)], device=self.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return bool(tensor.item())

    # --- model ---------------------------------------------------------------------------------------------------
    def wrap(self, reward_model: nn.Module) -> nn.Module:
        """The module the loop calls forward on. FSDP shards ``reward_model`` in place (its parameters become
        DTensor shards, so the optimizer built afterwards holds sharded states)."""
        if self.kind == "ddp":
            from torch.nn.parallel import DistributedDataParallel

            return DistributedDataParallel(
                reward_model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        if self.kind == "fsdp":
            from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

            if getattr(reward_model, "bert_unpad", False):
                # The hand-written padding-free BERT forward calls a block's sub-layers directly, past the hook
                # that all-gathers the block's weights; the padded forward goes through the blocks.
                setattr(reward_model, "bert_unpad", False)  # noqa: B010  # RewardModel's flag, not an nn.Module
                logger.info("FSDP2: the padding-free BERT forward is off (it bypasses the per-block all-gather)")
            policy = MixedPrecisionPolicy()
            if self.device.type == "cuda":
                policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
            blocks = transformer_blocks(reward_model)
            for block in blocks:
                fully_shard(block, mp_policy=policy)
            fully_shard(reward_model, mp_policy=policy)
            self.sharded = True
            logger.info("FSDP2: %d blocks + root sharded over %d ranks", len(blocks), self.world)
        return reward_model

    def consolidate(
        self, model: nn.Module, config: TrainConfig, tokenizer: PreTrainedTokenizerBase
    ) -> nn.Module | None:
        """Gather the full weights (collective: every rank calls it). Rank 0 gets a plain CPU model holding them;
        the other ranks get None. Without sharding, ``model`` itself."""
        if not self.sharded:
            return model
        state = _full_state_dict(model)
        if self.rank != 0:
            return None
        from rm_jobs.training.model import load_model

        plain = load_model(config.model_path, config, tokenizer)
        plain.load_state_dict(state)
        return plain

    # --- checkpoints ---------------------------------------------------------------------------------------------
    def save_checkpoint(
        self,
        directory: Path,
        *,
        model: nn.Module,
        tokenizer: PreTrainedTokenizerBase,
        config: TrainConfig,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        position: LoopPosition,
        consolidate: bool,
        master: MasterWeights | None = None,
    ) -> Path:
        """Write ``directory`` (every rank calls it; it returns once the checkpoint is complete on disk)."""
        if not self.sharded:
            if self.rank == 0:
                save_checkpoint(
                    directory,
                    model=model,
                    tokenizer=tokenizer,
                    config=config,
                    optimizer=optimizer,
                    scheduler=scheduler,
                    position=position,
                    master=master.state() if master is not None else None,
                )
                prune_checkpoints(directory.parent, config.keep_checkpoints)
        else:
            self._save_sharded(
                directory, model, tokenizer, config, optimizer, scheduler, position, consolidate=consolidate
            )
        if self.world > 1:
            dist.barrier()
        return directory

    def _save_sharded(
        self,
        directory: Path,
        model: nn.Module,
        tokenizer: PreTrainedTokenizerBase,
        config: TrainConfig,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        position: LoopPosition,
        *,
        consolidate: bool,
    ) -> None:
        import torch.distributed.checkpoint as dcp
        from torch.distributed.checkpoint.state_dict import get_state_dict

        staging = directory.with_name(directory.name + ".tmp")
        if self.rank == 0 and staging.exists():
            shutil.rmtree(staging)
        dist.barrier()
        model_state, optimizer_state = get_state_dict(model, optimizer)
        dcp.save({"model": model_state, "optimizer": optimizer_state}, checkpoint_id=staging / SHARDS_DIR_NAME)
        plain = self.consolidate(model, config, tokenizer) if consolidate else None
        if self.rank == 0:
            if plain is not None:
                save_model_dir(staging, plain, tokenizer, config)
            else:  # the shards only: the HF config and tokenizer keep the directory self-describing
                model.config.save_pretrained(staging)  # type: ignore[union-attr,operator]  # a transformers model
                tokenizer.save_pretrained(staging)
                config.save(staging)
            torch.save(_trainer_state(scheduler, position), staging / STATE_FILE_NAME)
            if directory.exists():
                shutil.rmtree(directory)
            staging.rename(directory)
            prune_checkpoints(directory.parent, config.keep_checkpoints)

    def load_checkpoint(
        self,
        directory: Path,
        *,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        master: MasterWeights | None = None,
    ) -> LoopPosition:
        """Restore optimizer, scheduler, fp32 master weights, RNG (and, for shards, the weights) from ``directory``;
        the loop position."""
        state = load_training_state(directory)
        shards = directory / SHARDS_DIR_NAME
        if self.sharded != shards.is_dir():
            raise ValueError(
                f"{directory} was written by a {'sharded' if shards.is_dir() else 'plain'} run; resume it with "
                f"strategy={'fsdp' if shards.is_dir() else 'ddp or auto'}"
            )
        if self.sharded:
            import torch.distributed.checkpoint as dcp
            from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

            model_state, optimizer_state = get_state_dict(model, optimizer)
            # dcp.load fills the dicts in place, each rank reading its shards from the files every rank wrote.
            loaded: dict[str, Any] = {"model": model_state, "optimizer": optimizer_state}
            dcp.load(loaded, checkpoint_id=shards)
            set_state_dict(model, optimizer, model_state_dict=loaded["model"], optim_state_dict=loaded["optimizer"])
        else:
            optimizer.load_state_dict(state["optimizer"])
            if master is not None and state.get("master"):
                master.load_state(state["master"])
        scheduler.load_state_dict(state["scheduler"])
        restore_rng(state)
        return LoopPosition(**state["position"])


def model_source(resume_from: str | Path | None, config: TrainConfig) -> str | Path:
    """Where to load the weights from before the loop starts: the checkpoint when it holds a full model, else the
    base model (an intermediate FSDP checkpoint holds shards only; they are loaded after sharding)."""
    if resume_from is None:
        return config.model_path
    directory = Path(resume_from)
    has_weights = any(directory.glob("*.safetensors")) or any(directory.glob("pytorch_model*.bin"))
    return directory if has_weights else config.model_path


def _full_state_dict(model: nn.Module) -> dict[str, Any]:
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    return dict(get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True)))


def _trainer_state(scheduler: torch.optim.lr_scheduler.LRScheduler, position: LoopPosition) -> dict[str, Any]:
    return {
        "position": asdict(position),
        "optimizer": None,  # in dcp/
        "scheduler": scheduler.state_dict(),
        "rng": {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "python": random.getstate(),
            "numpy": np.random.get_state(),
        },
    }
