"""The training loop: one function, a progress callback and a cancellation check.

Single process on CPU or one GPU; under ``torchrun`` (``WORLD_SIZE > 1``) the same code runs as DDP, each rank
taking every ``world``-th batch of the shared plan, and only rank 0 writes checkpoints and reports progress.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor
from transformers import PreTrainedTokenizerBase

from rm_jobs.training.checkpoint import (
    LoopPosition,
    save_model_dir,
)
from rm_jobs.training.config import TrainConfig
from rm_jobs.training.data import (
    Batch,
    Example,
    PairExample,
    RatedExample,
    Row,
    batch_plan,
    build_pair_examples,
    build_rated_examples,
    collate,
)
from rm_jobs.training.distributed import Parallel, model_source
from rm_jobs.training.evaluation import (
    PairMetrics,
    RegressionMetrics,
    autocast,
    evaluate_pairs,
    evaluate_regression,
)
from rm_jobs.training.lora import base_transformer, load_adapter
from rm_jobs.training.model import RewardModel, load_model, load_tokenizer, resolve_precision
from rm_jobs.training.objectives import masked_mse, pairwise_loss
from rm_jobs.training.precision import MasterWeights

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """What ``on_progress`` receives after every optimizer step (rank 0 only)."""

    step: int
    total_steps: int
    epoch: float  # fractional: 1.5 = half-way through the second pass
    loss: float  # this step's batch loss (mean over ranks)
    accuracy: float | None  # share of the batch's pairs with r_c > r_r; None for regression
    tokens_per_s: float  # real (non-pad) tokens per second over all ranks
    examples_per_s: float  # pairs (or rated rows) per second over all ranks
    lr: float
    validation: PairMetrics | RegressionMetrics | None = None  # set on evaluation steps


@dataclass(frozen=True)
class TrainResult:
    """Outcome of :func:`train`. ``model_dir`` loads with ``from_pretrained``: ``final/`` after a full run, the
    last checkpoint after a cancellation."""

    model_dir: Path
    checkpoint_dir: Path
    steps: int
    total_steps: int
    cancelled: bool
    train_loss: float  # mean batch loss over the steps run in this call
    validation: PairMetrics | RegressionMetrics | None
    wall_s: float
    tokens_per_s: float
    examples_per_s: float


ProgressCallback = Callable[[Progress], None]
StopCheck = Callable[[], bool]


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _distributed_context() -> tuple[int, int, torch.device]:
    """(rank, world size, device); joins the process group torchrun describes in the environment."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    if torch.cuda.is_available():
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        return rank, world, torch.device("cuda", local_rank)
    return rank, world, torch.device("cpu")


def _schedule(config: TrainConfig, total_steps: int) -> Callable[[int], float]:
    warmup = int(config.warmup_ratio * total_steps)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        if config.lr_scheduler == "constant":
            return 1.0
        progress = (step - warmup) / max(1, total_steps - warmup)
        if config.lr_scheduler == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        return max(0.0, 1.0 - progress)

    return factor


def extrapolate(model: torch.nn.Module, initial: torch.nn.Module, alpha: float) -> None:
    """ExPO (Zheng et al. 2024, arXiv 2404.16792, Eq. 1): θ ← θ_T + alpha (θ_T - θ_0), in place, for every float
    parameter; alpha = 0 is the identity."""
    initial_state = initial.state_dict()
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point() and name in initial_state:
                tensor.add_(tensor - initial_state[name].to(tensor.device, tensor.dtype), alpha=alpha)


def train(
    config: TrainConfig,
    train_rows: Sequence[Row],
    val_rows: Sequence[Row] = (),
    *,
    output_dir: str | Path,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
    resume_from: str | Path | None = None,
) -> TrainResult:
    """Train a reward model on trainer-ready rows.

    Parameters
    ----------
    config
        The run's :class:`TrainConfig` (saved into every checkpoint).
    train_rows, val_rows
        Preference rows (``prompt``, ``chosen``, ``rejected``, ``margin``) for the BT family, rated rows
        (``prompt``, ``response``, one column per attribute) for regression; see :mod:`rm_jobs.training.data`.
    output_dir
        Receives ``checkpoint-<step>/`` every ``config.save_every_steps`` steps, on cancellation and at the end, and
        ``final/`` (ExPO applied when ``config.expo_alpha``) after a complete run.
    on_progress
        Called after every optimizer step with a :class:`Progress`.
    should_stop
        Polled after every step; when it returns True a checkpoint is written and the function returns with
        ``cancelled=True``.
    resume_from
        A ``checkpoint-<step>`` directory; model, optimizer, scheduler, sampler position and RNG continue from it,
        so the result equals an uninterrupted run.
    """
    with _intra_op_threads(config.num_threads):
        return _train(config, train_rows, val_rows, Path(output_dir), on_progress, should_stop, resume_from)


@contextlib.contextmanager
def _intra_op_threads(n: int | None) -> Iterator[None]:
    """torch's intra-op threads set to ``n`` for one run, then put back (a worker process runs many jobs)."""
    previous = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass
class _Run:
    """What the steps of one run share: decided once in :func:`_prepare`, then read by every step."""

    config: TrainConfig
    output: Path
    rank: int
    world: int
    device: torch.device
    tokenizer: PreTrainedTokenizerBase
    model: torch.nn.Module  # the trained module (a PeftModel with LoRA); checkpoints save it
    reward_model: RewardModel
    forward: torch.nn.Module  # reward_model, wrapped by DDP / torch.compile
    dtype: torch.dtype | None  # autocast dtype, None = fp32 compute
    examples: list[Example]
    val_pairs: list[PairExample]
    val_rated: list[RatedExample]
    steps_per_epoch: int
    total_steps: int
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    master: MasterWeights | None
    parallel: Parallel  # single process, DDP or FSDP2 (rm_jobs.training.distributed)

    @property
    def pad_token_id(self) -> int:
        return int(self.tokenizer.pad_token_id)


def _train(
    config: TrainConfig,
    train_rows: Sequence[Row],
    val_rows: Sequence[Row],
    output: Path,
    on_progress: ProgressCallback | None,
    should_stop: StopCheck | None,
    resume_from: str | Path | None,
) -> TrainResult:
    started = time.perf_counter()
    run = _prepare(config, train_rows, val_rows, output, resume_from)
    position = _restore(run, resume_from)
    step, losses = position.step, []
    run_tokens, run_examples, loop_started = 0, 0, time.perf_counter()
    last_checkpoint: Path | None = Path(resume_from) if resume_from else None
    cancelled = run.parallel.agree(bool(should_stop and should_stop()))  # every rank stops, or none
    if cancelled:
        last_checkpoint = _checkpoint(run, position, consolidate=True)
    epoch, batch_index = position.epoch, position.batch
    run.reward_model.train()
    while not cancelled and step < run.total_steps:
        local_plan = _epoch_plan(run, epoch)
        while batch_index < len(local_plan) and step < run.total_steps:
            step_started = time.perf_counter()
            batch = collate([run.examples[i] for i in local_plan[batch_index]], run.pad_token_id).to(run.device)
            loss, accuracy = _optimizer_step(run, batch)
            step += 1
            batch_index += 1
            stats = _step_stats(run, batch, loss, accuracy)
            elapsed = time.perf_counter() - step_started
            run_tokens += int(stats[2])
            run_examples += int(stats[3])
            losses.append(float(stats[0]))
            validation = None
            if config.eval_every_steps and step % config.eval_every_steps == 0 and step < run.total_steps:
                validation = _validate(run)
            if run.rank == 0 and on_progress is not None:
                on_progress(
                    Progress(
                        step=step,
                        total_steps=run.total_steps,
                        epoch=epoch + batch_index / len(local_plan),
                        loss=float(stats[0]),
                        accuracy=float(stats[1]) if config.is_pairwise else None,
                        tokens_per_s=float(stats[2]) / elapsed,
                        examples_per_s=float(stats[3]) / elapsed,
                        lr=float(run.scheduler.get_last_lr()[0]),
                        validation=validation,
                    )
                )
            at = LoopPosition(step, epoch, batch_index)
            if _stop_requested(run, should_stop):
                last_checkpoint = _checkpoint(run, at, consolidate=True)
                cancelled = True
                break
            if config.save_every_steps and step % config.save_every_steps == 0 and step < run.total_steps:
                last_checkpoint = _checkpoint(run, at)
        if batch_index >= len(local_plan):
            epoch, batch_index = epoch + 1, 0
    loop_s = time.perf_counter() - loop_started

    if not cancelled:
        last_checkpoint = _checkpoint(run, LoopPosition(step, epoch, batch_index), consolidate=True)
        _gather_sharded(run)
    assert last_checkpoint is not None
    model_dir, validation = _finish(run, last_checkpoint, cancelled=cancelled)
    return TrainResult(
        model_dir=model_dir,
        checkpoint_dir=last_checkpoint,
        steps=step,
        total_steps=run.total_steps,
        cancelled=cancelled,
        train_loss=float(np.mean(losses)) if losses else math.nan,
        validation=validation,
        wall_s=time.perf_counter() - started,
        tokens_per_s=run_tokens / loop_s if loop_s > 0 else 0.0,
        examples_per_s=run_examples / loop_s if loop_s > 0 else 0.0,
    )


def _prepare(
    config: TrainConfig,
    train_rows: Sequence[Row],
    val_rows: Sequence[Row],
    output: Path,
    resume_from: str | Path | None,
) -> _Run:
    """Join the process group, load tokenizer and model, tokenize, wrap, and build optimizer and schedule."""
    rank, world, device = _distributed_context()
    parallel = Parallel.create(config, rank, world, device)
    _seed_everything(config.seed)
    tokenizer, model = _load_trainable(config, resume_from, device)
    examples, val_pairs, val_rated = _tokenize(config, tokenizer, train_rows, val_rows)
    reward_model, forward = _wrap(config, model, parallel)  # before the optimizer: FSDP shards in place
    steps_per_epoch = max(1, math.ceil(len(examples) / config.batch_size) // world)
    total_steps = config.epochs * steps_per_epoch
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    optimizer, master = _optimizer(config, model, device)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(config, total_steps))
    return _Run(
        config=config,
        output=output,
        rank=rank,
        world=world,
        device=device,
        tokenizer=tokenizer,
        model=model,
        reward_model=reward_model,
        forward=forward,
        dtype=resolve_precision(config, device),
        examples=examples,
        val_pairs=val_pairs,
        val_rated=val_rated,
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        optimizer=optimizer,
        scheduler=scheduler,
        master=master,
        parallel=parallel,
    )


def _load_trainable(
    config: TrainConfig, resume_from: str | Path | None, device: torch.device
) -> tuple[PreTrainedTokenizerBase, torch.nn.Module]:
    """Tokenizer and model on ``device``. A full fine-tuning run resumes from the checkpoint's weights; a LoRA run
    rebuilds its base from ``config.model_path`` and loads the checkpoint's adapter (and head) into it."""
    tokenizer = load_tokenizer(resume_from or config.model_path)
    if config.uses_lora:
        model = load_model(config.model_path, config, tokenizer, device=device)
        if resume_from is not None:
            load_adapter(model, Path(resume_from))
    else:
        # an intermediate FSDP checkpoint holds shards only: the base model is loaded, the shards after sharding
        model = load_model(model_source(resume_from, config), config, tokenizer, device=device)
    if not config.qlora:  # a 4-bit model is placed on its device while loading
        model.to(device)
    return tokenizer, model


def _tokenize(
    config: TrainConfig, tokenizer: PreTrainedTokenizerBase, train_rows: Sequence[Row], val_rows: Sequence[Row]
) -> tuple[list[Example], list[PairExample], list[RatedExample]]:
    """Training examples (pairs or rated rows) and the validation examples of the same kind."""
    examples: list[Example]
    val_pairs: list[PairExample] = []
    val_rated: list[RatedExample] = []
    if config.is_pairwise:
        examples = list(build_pair_examples(train_rows, tokenizer, config.max_length))
        val_pairs = build_pair_examples(val_rows, tokenizer, config.max_length)
    else:
        examples = list(build_rated_examples(train_rows, tokenizer, config.max_length, config.attributes))
        val_rated = build_rated_examples(val_rows, tokenizer, config.max_length, config.attributes)
    if not examples:
        raise ValueError("no usable training rows (all ties or unrated?)")
    return examples, val_pairs, val_rated


def _wrap(config: TrainConfig, model: torch.nn.Module, parallel: Parallel) -> tuple[RewardModel, torch.nn.Module]:
    """The reward forward (padding-free where the model has one), under DDP or FSDP2 and torch.compile when asked."""
    reward_model = RewardModel(model, unpad=config.unpad != "off", max_length=config.max_length)
    if config.unpad == "on" and not reward_model.unpad:
        raise ValueError(
            "unpad='on' needs a BERT-family model without gradient checkpointing or a Llama/Qwen2/Qwen3/Mistral/Gemma "
            f"decoder, not {type(base_transformer(model)).__name__}"
        )
    forward: torch.nn.Module = parallel.wrap(reward_model)
    if config.compile:
        forward = torch.compile(forward, dynamic=True)  # type: ignore[assignment]
    return reward_model, forward


def _optimizer(
    config: TrainConfig, model: torch.nn.Module, device: torch.device
) -> tuple[torch.optim.Optimizer, MasterWeights | None]:
    """AdamW over the trainable parameters, no weight decay on biases, norms and embeddings. bf16 parameters are
    optimised through fp32 master copies, so AdamW's states and the update stay fp32."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    master = MasterWeights(named) if any(p.dtype != torch.float32 for _, p in named) else None
    if master is not None:
        named = master.named_parameters()
    decay = [p for n, p in named if p.ndim >= 2 and "embeddings" not in n]
    no_decay = [p for n, p in named if not (p.ndim >= 2 and "embeddings" not in n)]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.learning_rate,
        fused=device.type == "cuda",
    )
    return optimizer, master


def _restore(run: _Run, resume_from: str | Path | None) -> LoopPosition:
    """Optimizer, scheduler, master weights, RNG and loop position of a checkpoint; the start for a fresh run."""
    if resume_from is None:
        return LoopPosition(step=0, epoch=0, batch=0)
    # FSDP reads its shards with torch.distributed.checkpoint; a plain run reads trainer_state.pt
    return run.parallel.load_checkpoint(
        Path(resume_from), model=run.model, optimizer=run.optimizer, scheduler=run.scheduler, master=run.master
    )


def _epoch_plan(run: _Run, epoch: int) -> list[list[int]]:
    """This rank's batches of ``epoch`` (every ``world``-th batch of the shared, seeded plan)."""
    plan = batch_plan(
        [e.length for e in run.examples],
        run.config.batch_size,
        seed=run.config.seed,
        epoch=epoch,
        group_by_length=run.config.group_by_length,
        length_group_factor=run.config.length_group_factor,
    )
    return plan[run.rank :: run.world][: run.steps_per_epoch]


def _loss(run: _Run, outputs: Tensor, batch: Batch) -> tuple[Tensor, Tensor | None]:
    """The objective's mean loss over the batch, and the pair accuracy (None for regression)."""
    config = run.config
    if config.is_pairwise:
        assert batch.strength is not None
        chosen, rejected = outputs[:, 0].chunk(2)
        loss = pairwise_loss(
            config.objective,
            chosen,
            rejected,
            batch.strength,
            margin_scale=config.margin_scale,
            center_rewards_coefficient=config.center_rewards_coefficient,
        )
        return loss, (chosen > rejected).float().mean()
    assert batch.targets is not None
    assert batch.target_mask is not None
    return masked_mse(outputs, batch.targets, batch.target_mask), None


def _optimizer_step(run: _Run, batch: Batch) -> tuple[Tensor, Tensor | None]:
    """Forward, backward, clip, step, schedule."""
    with autocast(run.device, run.dtype):
        outputs = run.forward(batch.input_ids, batch.attention_mask, batch.token_type_ids)
    loss, accuracy = _loss(run, outputs.float(), batch)
    loss.backward()  # type: ignore[no-untyped-call]
    if run.master is not None:
        run.master.grads_to_master()
    if run.config.max_grad_norm is not None:
        params = run.master.parameters() if run.master is not None else run.model.parameters()
        torch.nn.utils.clip_grad_norm_(params, run.config.max_grad_norm)
    run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    if run.master is not None:
        run.master.master_to_model()
    return loss, accuracy


def _step_stats(run: _Run, batch: Batch, loss: Tensor, accuracy: Tensor | None) -> Tensor:
    """(loss, accuracy, real tokens, examples) of the step, loss and accuracy averaged and counts summed over ranks."""
    stats = torch.tensor(
        [
            float(loss.detach()),
            float(accuracy) if accuracy is not None else 0.0,
            batch.num_tokens,
            int(batch.input_ids.shape[0] // (2 if run.config.is_pairwise else 1)),
        ],
        dtype=torch.float64,
    )
    if run.world > 1:
        stats = stats.to(run.device)
        dist.all_reduce(stats)
        stats = stats.cpu()
        stats[:2] /= run.world
    return stats


def _stop_requested(run: _Run, should_stop: StopCheck | None) -> bool:
    """The cancellation check, agreed by every rank (any rank asking stops them all)."""
    stop_now = bool(should_stop and should_stop())
    if run.world > 1:
        flag = torch.tensor([int(stop_now)], device=run.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        stop_now = bool(flag.item())
    return stop_now


def _checkpoint(run: _Run, at: LoopPosition, *, consolidate: bool = False) -> Path:
    """Write ``checkpoint-<step>`` and prune old ones; every rank waits for it. A sharded run writes its shards
    (every rank) and a ``from_pretrained`` model only when ``consolidate`` (on cancel and at the end)."""
    return run.parallel.save_checkpoint(
        run.output / f"checkpoint-{at.step}",
        model=run.model,
        tokenizer=run.tokenizer,
        config=run.config,
        optimizer=run.optimizer,
        scheduler=run.scheduler,
        position=at,
        consolidate=consolidate,
        master=run.master,
    )


def _gather_sharded(run: _Run) -> None:
    """After a sharded run, rank 0 goes on (validation, ExPO, ``final/``) with a plain copy of the full weights."""
    if not run.parallel.sharded:
        return
    plain = run.parallel.consolidate(run.model, run.config, run.tokenizer)  # collective
    run.parallel.sharded = False
    if plain is not None:
        run.model = plain
        run.reward_model = RewardModel(plain, unpad=run.config.unpad != "off", max_length=run.config.max_length)


def _validate(run: _Run) -> PairMetrics | RegressionMetrics | None:
    """Validation metrics on rank 0 (None elsewhere, or without validation rows); a sharded forward is collective,
    so there every rank runs it."""
    if run.rank != 0 and not run.parallel.sharded:
        return None
    if run.val_pairs:
        return evaluate_pairs(
            run.reward_model, run.val_pairs, run.config, pad_token_id=run.pad_token_id, dtype=run.dtype
        )
    if run.val_rated:
        return evaluate_regression(
            run.reward_model, run.val_rated, run.config, pad_token_id=run.pad_token_id, dtype=run.dtype
        )
    return None


def _finish(
    run: _Run, last_checkpoint: Path, *, cancelled: bool
) -> tuple[Path, PairMetrics | RegressionMetrics | None]:
    """Final validation, ExPO, and ``final/`` (rank 0); a cancelled run's model is its last checkpoint."""
    validation = _validate(run) if not cancelled else None
    model_dir = last_checkpoint
    if not cancelled and run.rank == 0:
        model_dir = run.output / "final"
        if run.config.expo_alpha:
            torch.manual_seed(run.config.seed)  # the same fresh head initialisation as at the start
            initial = load_model(run.config.model_path, run.config, run.tokenizer)
            extrapolate(run.model, initial, run.config.expo_alpha)
            validation = _validate(run)
        save_model_dir(model_dir, run.model, run.tokenizer, run.config)
    if run.world > 1:
        dist.barrier()
    return model_dir, validation
