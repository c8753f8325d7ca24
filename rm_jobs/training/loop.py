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

from rm_jobs.training.checkpoint import LoopPosition, save_model_dir
from rm_jobs.training.config import TrainConfig
from rm_jobs.training.data import (
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
from rm_jobs.training.model import RewardModel, load_model, load_tokenizer, resolve_precision, supports_unpadded
from rm_jobs.training.objectives import masked_mse, pairwise_loss

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
    rank, world, device = _distributed_context()
    parallel = Parallel.create(config, rank, world, device)  # [distributed] single, DDP or FSDP2
    _seed_everything(config.seed)

    tokenizer = load_tokenizer(resume_from or config.model_path)
    model = load_model(model_source(resume_from, config), config, tokenizer)
    model.to(device)  # type: ignore[arg-type]  # transformers types .to() oddly
    pad_token_id = int(tokenizer.pad_token_id)
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
    lengths = [e.length for e in examples]

    if config.unpad == "on" and not supports_unpadded(model):
        raise ValueError(
            f"unpad='on' needs a BERT-family model without gradient checkpointing, not {type(model).__name__}"
        )
    reward_model = RewardModel(model, unpad=config.unpad != "off")
    forward: torch.nn.Module = parallel.wrap(reward_model)  # [distributed] before the optimizer: FSDP shards in place
    if config.compile:
        forward = torch.compile(forward, dynamic=True)  # type: ignore[assignment]
    dtype = resolve_precision(config, device)

    steps_per_epoch = max(1, math.ceil(len(examples) / config.batch_size) // world)
    total_steps = config.epochs * steps_per_epoch
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim >= 2 and "embeddings" not in n]
    no_decay = [
        p for n, p in model.named_parameters() if p.requires_grad and not (p.ndim >= 2 and "embeddings" not in n)
    ]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.learning_rate,
        fused=device.type == "cuda",
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(config, total_steps))
    position = LoopPosition(step=0, epoch=0, batch=0)
    if resume_from is not None:  # [distributed] FSDP reads its shards with torch.distributed.checkpoint
        position = parallel.load_checkpoint(Path(resume_from), model=model, optimizer=optimizer, scheduler=scheduler)

    def checkpoint(at: LoopPosition, *, consolidate: bool = False) -> Path:
        return parallel.save_checkpoint(
            output / f"checkpoint-{at.step}",
            model=model,
            tokenizer=tokenizer,
            config=config,
            optimizer=optimizer,
            scheduler=scheduler,
            position=at,
            consolidate=consolidate,  # [distributed] sharded runs write a from_pretrained model only when asked
        )

    def validate() -> PairMetrics | RegressionMetrics | None:
        if rank != 0 and not parallel.sharded:  # sharded forwards are collective: every rank runs them
            return None
        if val_pairs:
            return evaluate_pairs(reward_model, val_pairs, config, pad_token_id=pad_token_id, dtype=dtype)
        if val_rated:
            return evaluate_regression(reward_model, val_rated, config, pad_token_id=pad_token_id, dtype=dtype)
        return None

    reward_model.train()
    step, losses = position.step, []
    run_tokens, run_examples, loop_started = 0, 0, time.perf_counter()
    last_checkpoint: Path | None = Path(resume_from) if resume_from else None
    cancelled = parallel.agree(bool(should_stop and should_stop()))  # [distributed] every rank stops, or none
    if cancelled:
        last_checkpoint = checkpoint(position, consolidate=True)
    epoch, batch_index = position.epoch, position.batch
    while not cancelled and step < total_steps:
        plan = batch_plan(
            lengths,
            config.batch_size,
            seed=config.seed,
            epoch=epoch,
            group_by_length=config.group_by_length,
            length_group_factor=config.length_group_factor,
        )
        local_plan = plan[rank::world][:steps_per_epoch]
        while batch_index < len(local_plan) and step < total_steps:
            step_started = time.perf_counter()
            batch = collate([examples[i] for i in local_plan[batch_index]], pad_token_id).to(device)
            with autocast(device, dtype):
                outputs = forward(batch.input_ids, batch.attention_mask, batch.token_type_ids)
            outputs = outputs.float()
            accuracy: Tensor | None = None
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
                accuracy = (chosen > rejected).float().mean()
            else:
                assert batch.targets is not None
                assert batch.target_mask is not None
                loss = masked_mse(outputs, batch.targets, batch.target_mask)
            loss.backward()  # type: ignore[no-untyped-call]
            if config.max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            batch_index += 1

            stats = torch.tensor(
                [
                    float(loss.detach()),
                    float(accuracy) if accuracy is not None else 0.0,
                    batch.num_tokens,
                    int(batch.input_ids.shape[0] // (2 if config.is_pairwise else 1)),
                ],
                dtype=torch.float64,
            )
            if world > 1:
                stats = stats.to(device)
                dist.all_reduce(stats)
                stats = stats.cpu()
                stats[:2] /= world
            elapsed = time.perf_counter() - step_started
            run_tokens += int(stats[2])
            run_examples += int(stats[3])
            losses.append(float(stats[0]))
            validation = None
            if config.eval_every_steps and step % config.eval_every_steps == 0 and step < total_steps:
                validation = validate()
            if rank == 0 and on_progress is not None:
                on_progress(
                    Progress(
                        step=step,
                        total_steps=total_steps,
                        epoch=epoch + batch_index / len(local_plan),
                        loss=float(stats[0]),
                        accuracy=float(stats[1]) if config.is_pairwise else None,
                        tokens_per_s=float(stats[2]) / elapsed,
                        examples_per_s=float(stats[3]) / elapsed,
                        lr=float(scheduler.get_last_lr()[0]),
                        validation=validation,
                    )
                )
            at = LoopPosition(step, epoch, batch_index)
            stop_now = bool(should_stop and should_stop())
            if world > 1:
                flag = torch.tensor([int(stop_now)], device=device)
                dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                stop_now = bool(flag.item())
            if stop_now:
                last_checkpoint = checkpoint(at, consolidate=True)
                cancelled = True
                break
            if config.save_every_steps and step % config.save_every_steps == 0 and step < total_steps:
                last_checkpoint = checkpoint(at)
        if batch_index >= len(local_plan):
            epoch, batch_index = epoch + 1, 0
    loop_s = time.perf_counter() - loop_started

    if not cancelled:
        last_checkpoint = checkpoint(LoopPosition(step, epoch, batch_index), consolidate=True)
    assert last_checkpoint is not None
    if parallel.sharded and not cancelled:  # [distributed] rank 0 continues with a plain copy of the full weights
        plain = parallel.consolidate(model, config, tokenizer)
        parallel.sharded = False
        if plain is not None:
            model, reward_model = plain, RewardModel(plain, unpad=config.unpad != "off")
    validation = validate() if not cancelled else None
    model_dir = last_checkpoint
    if not cancelled and rank == 0:
        model_dir = output / "final"
        if config.expo_alpha:
            torch.manual_seed(config.seed)  # the same fresh head initialisation as at the start
            initial = load_model(config.model_path, config, tokenizer)
            extrapolate(model, initial, config.expo_alpha)
            validation = validate()
        save_model_dir(model_dir, model, tokenizer, config)
    if world > 1:
        dist.barrier()
    return TrainResult(
        model_dir=model_dir,
        checkpoint_dir=last_checkpoint,
        steps=step,
        total_steps=total_steps,
        cancelled=cancelled,
        train_loss=float(np.mean(losses)) if losses else math.nan,
        validation=validation,
        wall_s=time.perf_counter() - started,
        tokens_per_s=run_tokens / loop_s if loop_s > 0 else 0.0,
        examples_per_s=run_examples / loop_s if loop_s > 0 else 0.0,
    )
