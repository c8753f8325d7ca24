"""Padding-free forward for decoder reward models (Llama, Qwen2/3, Mistral, Gemma), on transformers' own machinery.

A right-padded batch ``(N, L)`` becomes one packed row ``(1, T)`` of its real tokens, with ``position_ids``
restarting at 0 for every sequence: transformers' packed-sequence convention (``DataCollatorWithFlattening``).
The model's own backbone runs on that row; the reward head is applied only at each sequence's last real token.

Attention must not cross sequence boundaries. Three ways, all transformers' own dispatch (``attn_implementation``):

* ``flash_attention_2`` (GPU with ``flash-attn`` installed): transformers derives ``cu_seqlens`` from the
  ``position_ids`` and calls FlashAttention's variable-length kernel; no padding anywhere.
* ``sdpa`` / ``eager`` with no attention mask: transformers' ``masking_utils.find_packed_sequence_indices`` detects
  the restarts in ``position_ids`` and builds a block-diagonal causal mask over the whole ``T x T`` row. Correct,
  but attention then costs ``T²`` instead of ``Σ Lᵢ²`` (32x more for 32 sequences), so it is used only as the
  reference in the tests.
* ``prefstack_varlen`` (everywhere else, registered below through ``AttentionInterface``): query, key and value are
  re-padded to ``(N, heads, L_max, d)`` inside attention only, SDPA runs with ``is_causal=True`` (right padding:
  a real token never sees a pad), and the result is packed again. Every linear layer, norm and MLP still runs over
  the ``T`` real tokens only, the same design as the hand-written BERT path (:mod:`rm_jobs.training.bert_unpadded`).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers import AttentionInterface, PreTrainedModel

VARLEN_ATTENTION = "prefstack_varlen"
# Families whose attention is plain causal softmax attention (no soft-capping, no per-layer sliding window by
# default), so re-padding inside attention computes exactly what the padded forward does.
PACKABLE_MODEL_TYPES = frozenset({"llama", "qwen2", "qwen3", "mistral", "gemma"})


@dataclass(frozen=True)
class PackedBatch:
    """A right-padded batch flattened to its real tokens.

    ``input_ids``, ``position_ids``: shape (1, T); ``cu_seqlens``: (N + 1,) int32 offsets of each sequence in the
    row (FlashAttention's convention); ``grid_index``: (T,) place of each real token in the (N·L_max) padded grid;
    ``last``: (N,) index of each sequence's last real token in the row.
    """

    input_ids: Tensor
    position_ids: Tensor
    cu_seqlens: Tensor
    max_length: int
    grid_index: Tensor
    last: Tensor


def pack(input_ids: Tensor, attention_mask: Tensor) -> PackedBatch:
    """Flatten a right-padded batch ``(N, L)`` into one row of real tokens with restarting positions.

    >>> p = pack(torch.tensor([[5, 6, 7], [8, 0, 0]]), torch.tensor([[1, 1, 1], [1, 0, 0]]))
    >>> p.input_ids.tolist(), p.position_ids.tolist(), p.cu_seqlens.tolist(), p.last.tolist()
    ([[5, 6, 7, 8]], [[0, 1, 2, 0]], [0, 3, 4], [2, 3])
    """
    real = attention_mask.bool()
    lengths = real.sum(1)
    width = input_ids.shape[1]
    grid_index = real.reshape(-1).nonzero().squeeze(1)
    positions = torch.arange(width, device=input_ids.device).expand_as(input_ids)[real]
    cu_seqlens = F.pad(torch.cumsum(lengths, 0), (1, 0)).to(torch.int32)
    return PackedBatch(
        input_ids=input_ids[real].unsqueeze(0),
        position_ids=positions.unsqueeze(0),
        cu_seqlens=cu_seqlens,
        max_length=int(lengths.max()),
        grid_index=grid_index,
        last=(cu_seqlens[1:] - 1).long(),
    )


def varlen_sdpa_attention(
    module: nn.Module,
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attention_mask: Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[Tensor, None]:
    """Causal attention over a packed row, per sequence: ``(1, heads, T, d)`` in, ``(1, T, heads, d)`` out.

    Needs ``cu_seq_lens_q``, ``max_length_q`` and ``packed_grid_index`` in ``kwargs`` (what
    :class:`PackedDecoder` passes to the backbone; transformers forwards them to every attention call).
    """
    grid: Tensor | None = kwargs.get("packed_grid_index")
    cu_seqlens: Tensor | None = kwargs.get("cu_seq_lens_q")
    if grid is None or cu_seqlens is None:
        raise RuntimeError(f"{VARLEN_ATTENTION} attention runs only on packed batches (see rm_jobs.training.packing)")
    rows, width = cu_seqlens.numel() - 1, int(kwargs["max_length_q"])
    heads, head_dim = query.shape[1], query.shape[-1]
    groups = heads // key.shape[1]

    def to_grid(packed: Tensor) -> Tensor:  # (1, h, T, d) -> (rows, h, width, d), zeros at the padding
        flat = packed[0].transpose(0, 1)  # (T, h, d)
        padded = flat.new_zeros(rows * width, flat.shape[1], head_dim).index_copy(0, grid, flat)
        return padded.view(rows, width, flat.shape[1], head_dim).transpose(1, 2)

    if groups > 1:  # grouped-query attention: every query head group reads its key/value head
        key, value = key.repeat_interleave(groups, dim=1), value.repeat_interleave(groups, dim=1)
    output = F.scaled_dot_product_attention(
        to_grid(query), to_grid(key), to_grid(value), dropout_p=dropout, is_causal=True, scale=scaling
    )
    packed = output.transpose(1, 2).reshape(rows * width, heads, head_dim).index_select(0, grid)
    return packed.unsqueeze(0), None


AttentionInterface.register(VARLEN_ATTENTION, varlen_sdpa_attention)


def flash_attention_available(device: torch.device) -> bool:
    """FlashAttention-2 through transformers: a CUDA device and the ``flash-attn`` package."""
    return device.type == "cuda" and importlib.util.find_spec("flash_attn") is not None


def supports_packing(model: PreTrainedModel, max_length: int) -> bool:
    """Decoder ``*ForSequenceClassification`` of a family whose attention the packed path reproduces exactly.

    A sliding window shorter than the sequences (Mistral v0.1: 4096) would change what a token sees, so those
    models stay padded.
    """
    config = model.config
    window = getattr(config, "sliding_window", None)
    windowed = window is not None and getattr(config, "use_sliding_window", True) and window < max_length
    return (
        getattr(config, "model_type", None) in PACKABLE_MODEL_TYPES
        and hasattr(model, "score")
        and hasattr(model, getattr(model, "base_model_prefix", ""))
        and not windowed
    )


def packed_decoder_logits(model: PreTrainedModel, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
    """Reward-head outputs ``(N, num_labels)`` of a right-padded batch, computed on the packed row.

    The attention path is the model's ``config._attn_implementation``: ``flash_attention_2``,
    ``prefstack_varlen``, or ``sdpa``/``eager`` (transformers' block-diagonal mask from the position ids).
    """
    packed = pack(input_ids, attention_mask)
    backbone: Any = getattr(model, model.base_model_prefix)
    kwargs: dict[str, Any] = {}
    if model.config._attn_implementation in (VARLEN_ATTENTION, "flash_attention_2"):
        kwargs = {
            "cu_seq_lens_q": packed.cu_seqlens,
            "cu_seq_lens_k": packed.cu_seqlens,
            "max_length_q": packed.max_length,
            "max_length_k": packed.max_length,
        }
        if model.config._attn_implementation == VARLEN_ATTENTION:
            kwargs["packed_grid_index"] = packed.grid_index
    hidden: Tensor = backbone(
        input_ids=packed.input_ids, position_ids=packed.position_ids, use_cache=False, **kwargs
    ).last_hidden_state[0]
    score: Any = model.score
    logits: Tensor = score(hidden.index_select(0, packed.last))
    return logits
