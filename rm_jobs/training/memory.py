"""Memory planner: peak memory per GPU of a reward-model run, and how many GPUs it needs. Pure arithmetic.

Model states (bytes per parameter, Rajbhandari et al. 2020, ZeRO, §3.1, with this engine's precisions):

============  =======  =========  ==========  ===============================================
precision     weights  gradients  AdamW m, v  note
============  =======  =========  ==========  ===============================================
fp32          4        4          8           16 B/param
bf16-mixed    4 (+2)   4          8           autocast keeps a bf16 copy of each weight for
                                              the backward: +2 B/param while the step runs
bf16          2 + 4    4          8           bf16 weights, fp32 master copy; the bf16 grads
                                              become fp32 master grads before the step
============  =======  =========  ==========  ===============================================

FSDP over N GPUs (FSDP2 ``MixedPrecisionPolicy(param_dtype=bf16, reduce_dtype=fp32)``): fp32 sharded weights,
gradients and AdamW states are divided by N; each GPU also holds two unsharded blocks in bf16 (the one computing and
the one prefetched) and one block's unsharded gradients. LoRA: the frozen base in the compute dtype (2 B/param, or
4 in fp32), adapters and reward head at 16 B/param. QLoRA: the base's linear layers in NF4 with double quantization
(Dettmers et al. 2023: 0.5 B + ≈0.127 bit of constants per parameter), embeddings and norms in bf16.

Activations (saved for the backward, per transformer block and token, in the compute dtype), Llama-style block with
hidden ``h``, query width ``q = heads·head_dim``, key/value width ``k``, MLP width ``i``: each RMSNorm's input,
normalized value and output (6h for two); q before rotary, its rotated half and after rotary, the attention kernel's
output and the o_proj input (5q); key and value as the kernel saves them (grouped heads expanded: q + 4k, counting
k's rotary copies); the MLP's gate, activation, up and product (4i). That is 6h + 6q + 4k + 4i, checked against the
tensors autograd saves for tiny Llama and Qwen2 on CPU (tests/rm_jobs/training/test_memory.py). With activation checkpointing only each
block's input (h) is kept, plus one block's full set during its recomputation. Attention is assumed to run in a
memory-efficient kernel (FlashAttention, PyTorch SDPA), so nothing grows with the square of the length.
Tokens: the padding-free forward holds only real tokens; the plan uses the worst case, every sequence at
``max_length``, and two sequences per pair.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Strategy = Literal["full", "ddp", "fsdp", "lora", "qlora"]
PrecisionName = Literal["fp32", "bf16-mixed", "bf16"]

GIB = 1024**3
# Allocator fragmentation, CUDA context, NCCL buffers, kernels' workspaces: a flat share on top of the sum
# (PyTorch's caching allocator typically reserves 5-15 % more than it has allocated).
OVERHEAD_FRACTION = 0.10
CUDA_CONTEXT_BYTES = 1 * GIB
QLORA_BYTES_PER_PARAM = 0.5 + 0.127 / 8  # NF4 + double-quantized constants (QLoRA paper, §3)


@dataclass(frozen=True)
class ModelShape:
    """What the planner needs of a transformers config (decoder: Llama, Qwen2/3, Mistral, Gemma; BERT works too)."""

    vocab_size: int
    hidden_size: int
    num_layers: int
    intermediate_size: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    tie_word_embeddings: bool = False
    attention_bias: bool = False  # q/k/v biases (Qwen2)
    qk_norm: bool = False  # per-head RMSNorm on q and k (Qwen3)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ModelShape:
        """From a ``config.json`` dict (or ``PretrainedConfig.to_dict()``)."""
        hidden = int(config["hidden_size"])
        heads = int(config["num_attention_heads"])
        model_type = str(config.get("model_type", ""))
        return cls(
            vocab_size=int(config["vocab_size"]),
            hidden_size=hidden,
            num_layers=int(config["num_hidden_layers"]),
            intermediate_size=int(config["intermediate_size"]),
            num_heads=heads,
            num_kv_heads=int(config.get("num_key_value_heads") or heads),
            head_dim=int(config.get("head_dim") or hidden // heads),
            tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
            attention_bias=bool(config.get("attention_bias", model_type == "qwen2")),
            qk_norm=model_type == "qwen3",
        )

    @property
    def query_width(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_width(self) -> int:
        return self.num_kv_heads * self.head_dim

    @property
    def block_linear_params(self) -> int:
        """Weights of one block's linear layers (what LoRA targets and QLoRA quantizes)."""
        h, q, k, i = self.hidden_size, self.query_width, self.kv_width, self.intermediate_size
        return h * q + 2 * h * k + q * h + 3 * h * i

    @property
    def block_params(self) -> int:
        extra = 2 * self.hidden_size  # the two RMSNorms
        if self.attention_bias:
            extra += self.query_width + 2 * self.kv_width
        if self.qk_norm:
            extra += 2 * self.head_dim
        return self.block_linear_params + extra

    def causal_lm_params(self) -> int:
        """Parameters of the ``*ForCausalLM`` (embeddings, blocks, final norm, LM head unless tied)."""
        embeddings = self.vocab_size * self.hidden_size
        head = 0 if self.tie_word_embeddings else embeddings
        return embeddings + self.num_layers * self.block_params + self.hidden_size + head

    def reward_model_params(self, num_labels: int = 1) -> int:
        """Parameters of the ``*ForSequenceClassification``: the LM head replaced by an ``h x labels`` score."""
        embeddings = self.vocab_size * self.hidden_size
        return embeddings + self.num_layers * self.block_params + self.hidden_size + self.hidden_size * num_labels

    def lora_params(self, rank: int) -> int:
        """Adapter parameters with rank ``rank`` on every attention and MLP projection: r·(in + out) each."""
        h, q, k, i = self.hidden_size, self.query_width, self.kv_width, self.intermediate_size
        per_block = rank * ((h + q) + 2 * (h + k) + (q + h) + 2 * (h + i) + (i + h))
        return self.num_layers * per_block

    def activation_elements_per_token(self) -> int:
        """Elements one block saves for its backward, per token (see the module docstring)."""
        h, q, k, i = self.hidden_size, self.query_width, self.kv_width, self.intermediate_size
        return 6 * h + 6 * q + 4 * k + 4 * i


@dataclass(frozen=True)
class MemoryPlan:
    """Peak bytes per GPU, by kind; ``total`` includes the overhead."""

    strategy: Strategy
    precision: PrecisionName
    gpus: int
    parameters: int
    trainable_parameters: int
    weights: float
    gradients: float
    optimizer: float
    activations: float
    overhead: float
    host: float = 0.0
    """Bytes of CPU memory per GPU's process for offloaded model states (FSDP2 ``CPUOffloadPolicy``)."""

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.optimizer + self.activations + self.overhead

    def as_gib(self) -> dict[str, float]:
        """The plan in GiB (rounded to 0.01), for forms, the API and tables."""
        parts = ("weights", "gradients", "optimizer", "activations", "overhead", "total")
        return {name: round(float(getattr(self, name)) / GIB, 2) for name in parts}


def plan_memory(
    shape: ModelShape,
    *,
    strategy: Strategy = "full",
    precision: PrecisionName = "bf16",
    gpus: int = 1,
    activation_checkpointing: bool = False,
    batch_size: int = 16,
    max_length: int = 1024,
    pairwise: bool = True,
    lora_rank: int = 16,
    num_labels: int = 1,
    offload: bool = False,
    device_overhead: bool = True,
) -> MemoryPlan:
    """Estimate the peak memory of one GPU for a training step.

    Parameters
    ----------
    shape
        The model (see :meth:`ModelShape.from_config`).
    strategy
        ``full``/``ddp``: every GPU holds everything (DDP); ``fsdp``: model states sharded over ``gpus``;
        ``lora``/``qlora``: adapters on a frozen (bf16 / 4-bit) base, replicated per GPU.
    precision
        The engine's precision (``TrainConfig.precision`` after ``auto`` is resolved).
    batch_size, max_length, pairwise
        Pairs (2 sequences each) or rows per step, across all GPUs (each GPU takes ``batch_size / gpus``);
        worst case: every sequence ``max_length`` tokens long.
    offload
        FSDP only: the sharded fp32 weights, gradients and AdamW states live in host memory and the optimizer
        steps on the CPU (FSDP2 ``CPUOffloadPolicy``); the GPU keeps the unsharded blocks it computes with.
    device_overhead
        Add the CUDA context and allocator slack (off to compare with tensor bytes measured on CPU).

    Returns
    -------
    MemoryPlan
        Bytes per GPU.
    """
    if gpus < 1:
        raise ValueError("gpus must be >= 1")
    params = shape.reward_model_params(num_labels)
    head = shape.hidden_size * num_labels
    act_bytes = 4 if precision == "fp32" else 2
    n = gpus if strategy == "fsdp" else 1

    if strategy in ("lora", "qlora"):
        trainable = shape.lora_params(lora_rank) + head
        linear = shape.num_layers * shape.block_linear_params
        if strategy == "qlora":
            weights = linear * QLORA_BYTES_PER_PARAM + (params - linear - head) * 2.0
        else:
            weights = (params - head) * (4.0 if precision == "fp32" else 2.0)
        weights += trainable * 4.0
        gradients = trainable * 4.0
        optimizer = trainable * 8.0
    else:
        trainable = params
        block_bf16 = shape.block_params * 2.0
        if strategy == "fsdp":
            weights = params * 4.0 / n + 2 * block_bf16  # fp32 shard + two unsharded bf16 blocks
            gradients = params * 4.0 / n + block_bf16  # fp32 reduced shard + one block's unsharded bf16 grads
        else:
            weights = params * {"fp32": 4.0, "bf16-mixed": 6.0, "bf16": 6.0}[precision]
            gradients = params * 4.0
        optimizer = params * 8.0 / n
    host = 0.0
    if offload and strategy == "fsdp":
        host = params * 16.0 / n
        weights, gradients, optimizer = 2 * block_bf16, 2 * block_bf16, 0.0

    sequences = batch_size * (2 if pairwise else 1)
    tokens = math.ceil(sequences / gpus) * max_length
    per_block = shape.activation_elements_per_token() * tokens * act_bytes
    final_norm = 3 * shape.hidden_size * tokens * act_bytes
    if activation_checkpointing:  # each block's input (the first is the embedding output) + one recomputed block
        activations = shape.num_layers * shape.hidden_size * tokens * act_bytes + per_block + final_norm
    else:
        activations = shape.num_layers * per_block + final_norm
    overhead = 0.0
    if device_overhead:
        overhead = OVERHEAD_FRACTION * (weights + gradients + optimizer + activations) + CUDA_CONTEXT_BYTES
    return MemoryPlan(
        strategy=strategy,
        precision=precision,
        gpus=gpus,
        parameters=params,
        trainable_parameters=trainable,
        weights=weights,
        gradients=gradients,
        optimizer=optimizer,
        activations=activations,
        overhead=overhead,
        host=host,
    )


def gpus_needed(shape: ModelShape, gpu_bytes: float, *, max_gpus: int = 512, **options: Any) -> int | None:
    """The fewest GPUs of ``gpu_bytes`` each on which the run fits (FSDP shards over them; other strategies need
    one GPU to hold everything, so the answer is 1 or None). None when even ``max_gpus`` do not suffice."""
    strategy = options.get("strategy", "full")
    counts = range(1, max_gpus + 1) if strategy == "fsdp" else range(1, 2)
    for count in counts:
        if plan_memory(shape, gpus=count, **{k: v for k, v in options.items() if k != "gpus"}).total <= gpu_bytes:
            return count
    return None


def suggestions(shape: ModelShape, gpu_bytes: float, **options: Any) -> list[str]:
    """What would make a run that does not fit ``gpu_bytes`` fit: each a change that alone suffices."""
    tips: list[str] = []
    base = dict(options)

    def fits(**changes: Any) -> bool:
        return plan_memory(shape, **{**base, **changes}).total <= gpu_bytes

    if not base.get("activation_checkpointing") and fits(activation_checkpointing=True):
        tips.append("turn on activation checkpointing")
    batch = int(base.get("batch_size", 16))
    for smaller in (batch // 2, batch // 4, 1):
        if 1 <= smaller < batch and fits(batch_size=smaller):
            tips.append(f"lower the batch size to {smaller}")
            break
    length = int(base.get("max_length", 1024))
    for shorter in (length // 2, length // 4):
        if shorter >= 16 and fits(max_length=shorter):
            tips.append(f"lower max_length to {shorter}")
            break
    if base.get("strategy", "full") in ("full", "ddp", "fsdp"):
        count = gpus_needed(shape, gpu_bytes, **{**base, "strategy": "fsdp", "activation_checkpointing": True})
        if count is not None:
            tips.append(f"FSDP over {count} GPUs with activation checkpointing")
        if fits(strategy="lora"):
            tips.append("train LoRA adapters (strategy lora)")
    if base.get("strategy") != "qlora" and fits(strategy="qlora", activation_checkpointing=True):
        tips.append("QLoRA (4-bit base) with activation checkpointing")
    return tips
