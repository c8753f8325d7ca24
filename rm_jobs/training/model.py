"""Loading a sequence-classification model as a reward model, and the padding-free BERT forward.

The reward is the raw head output (no sigmoid): one output for the BT family, one per attribute for regression.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.models.bert.modeling_bert import BertForSequenceClassification

from rm_jobs.training.config import TrainConfig

logger = logging.getLogger(__name__)


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerBase:
    """Tokenizer from a local directory; a missing pad token falls back to EOS (decoder models)."""
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError(f"tokenizer at {path} has neither a pad nor an EOS token")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(path: str | Path, config: TrainConfig, tokenizer: PreTrainedTokenizerBase) -> PreTrainedModel:
    """``AutoModelForSequenceClassification.from_pretrained`` with the head the objective needs.

    Pairwise objectives get a 1-output head. Starting them from a multi-attribute regression checkpoint keeps the
    ``config.reward_attribute`` row of its head (the "regression then Scaled BT" recipe of HelpSteer2-Preference,
    which takes the helpfulness output, NeMo-Aligner ``load_rm_head_weights``). Regression gets one output per
    attribute, named in ``id2label``.
    """
    labels = ("reward",) if config.is_pairwise else config.attributes
    hf_config = AutoConfig.from_pretrained(str(path))
    saved_labels = [hf_config.id2label[i] for i in sorted(hf_config.id2label)] if hf_config.id2label else []
    kwargs: dict[str, Any] = {"dtype": torch.float32}
    if config.is_pairwise and len(saved_labels) > 1 and config.reward_attribute in saved_labels:
        model = AutoModelForSequenceClassification.from_pretrained(str(path), **kwargs)
        _keep_head_row(model, saved_labels.index(config.reward_attribute))
    else:
        model = AutoModelForSequenceClassification.from_pretrained(
            str(path),
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={name: i for i, name in enumerate(labels)},
            ignore_mismatched_sizes=True,
            **kwargs,
        )
    model.config.id2label = dict(enumerate(labels))
    model.config.label2id = {name: i for i, name in enumerate(labels)}
    model.config.problem_type = "regression"
    # Decoder heads read the rightmost non-pad token, so the pad id must be the tokenizer's (TRL issue #937).
    model.config.pad_token_id = tokenizer.pad_token_id
    if config.disable_dropout:
        for module in model.modules():
            if isinstance(module, nn.Dropout):
                module.p = 0.0
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    loaded: PreTrainedModel = model
    return loaded


def _keep_head_row(model: PreTrainedModel, row: int) -> None:
    """Replace the n-output head by a 1-output head holding row ``row`` of the old weights."""
    num_labels = int(model.config.num_labels or 1)
    for name, module in reversed(list(model.named_modules())):
        if isinstance(module, nn.Linear) and module.out_features == num_labels:
            head = nn.Linear(module.in_features, 1, bias=module.bias is not None)
            with torch.no_grad():
                head.weight.copy_(module.weight[row : row + 1])
                if module.bias is not None and head.bias is not None:
                    head.bias.copy_(module.bias[row : row + 1])
            parent_name, _, attribute = name.rpartition(".")
            setattr(model.get_submodule(parent_name) if parent_name else model, attribute, head)
            model.config.num_labels = 1
            return
    raise ValueError(f"no {num_labels}-output linear head found in {type(model).__name__}")


def supports_unpadded(model: nn.Module) -> bool:
    """The padding-free path covers BERT encoders with absolute positions (MiniLM, BERT, …)."""
    return (
        type(model) is BertForSequenceClassification
        and getattr(model.config, "position_embedding_type", "absolute") == "absolute"
        and not model.config.is_decoder
        and not getattr(model.bert, "gradient_checkpointing", False)
    )


class RewardModel(nn.Module):
    """Wraps the HF model so DDP and autocast see one module whose forward returns head outputs ``(N, outputs)``.

    With ``unpad`` the BERT forward runs every linear layer over the real tokens only; padding exists only inside
    attention (re-inserted per layer, since CPU SDPA has no variable-length kernel). The last layer computes its
    query, output projection and feed-forward for the [CLS] rows only, because the head reads nothing else.
    """

    def __init__(self, model: PreTrainedModel, *, unpad: bool) -> None:
        super().__init__()
        self.model = model
        self.unpad = unpad and supports_unpadded(model)

    def forward(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None = None) -> Tensor:
        if self.unpad:
            assert isinstance(self.model, BertForSequenceClassification)
            return unpadded_bert_logits(self.model, input_ids, attention_mask, token_type_ids)
        kwargs: dict[str, Tensor] = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        logits: Tensor = self.model(**kwargs).logits
        return logits


def unpadded_bert_logits(
    model: BertForSequenceClassification, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None
) -> Tensor:
    """``model(input_ids, attention_mask, token_type_ids).logits`` computed over real tokens only.

    Parameters
    ----------
    input_ids, attention_mask, token_type_ids : Tensor, shape (N, L)
        Right-padded batch (every row starts with [CLS]).

    Returns
    -------
    Tensor, shape (N, num_labels)
        Same values as the padded HF forward (up to float summation order).
    """
    bert: Any = model.bert  # transformers' modules are untyped; the attribute names are BERT's
    n, width = input_ids.shape
    real = attention_mask.reshape(-1).bool()
    index = real.nonzero().squeeze(1)  # (T,) positions of real tokens in the flattened (N·L) grid
    # [CLS] is column 0 of each row, so its place in the packed (T, H) activations is the row's start offset.
    cls_packed = torch.cumsum(attention_mask.sum(1), 0) - attention_mask.sum(1)

    embeddings = bert.embeddings
    positions = torch.arange(width, device=input_ids.device).repeat(n)[index]
    hidden = embeddings.word_embeddings(input_ids.reshape(-1)[index]) + embeddings.position_embeddings(positions)
    if token_type_ids is None:
        hidden = hidden + embeddings.token_type_embeddings.weight[0]
    else:
        hidden = hidden + embeddings.token_type_embeddings(token_type_ids.reshape(-1)[index])
    hidden = embeddings.dropout(embeddings.LayerNorm(hidden))

    key_mask = attention_mask.bool()[:, None, None, :]  # (N, 1, 1, L) True = may attend
    layers: list[Any] = list(bert.encoder.layer)
    for depth, layer in enumerate(layers):
        attention = layer.attention.self
        heads, head_dim = attention.num_attention_heads, attention.attention_head_size
        hidden_size = heads * head_dim
        last = depth == len(layers) - 1

        dropout_p = attention.dropout.p if model.training else 0.0
        if not last:
            weight = torch.cat([attention.query.weight, attention.key.weight, attention.value.weight])
            bias = torch.cat([attention.query.bias, attention.key.bias, attention.value.bias])
            query, key, value = _to_heads(F.linear(hidden, weight, bias), index, n, width, heads, head_dim)
            context = F.scaled_dot_product_attention(query, key, value, attn_mask=key_mask, dropout_p=dropout_p)
            context = context.transpose(1, 2).reshape(n * width, hidden_size).index_select(0, index)
            residual = hidden
        else:
            weight = torch.cat([attention.key.weight, attention.value.weight])
            bias = torch.cat([attention.key.bias, attention.value.bias])
            key, value = _to_heads(F.linear(hidden, weight, bias), index, n, width, heads, head_dim)
            residual = hidden.index_select(0, cls_packed)
            query = attention.query(residual).view(n, 1, heads, head_dim).transpose(1, 2)
            context = F.scaled_dot_product_attention(query, key, value, attn_mask=key_mask, dropout_p=dropout_p)
            context = context.transpose(1, 2).reshape(n, hidden_size)
        attended = layer.attention.output(context, residual)  # dense + dropout + LayerNorm(· + residual)
        hidden = layer.output(layer.intermediate(attended), attended)
    pooled = bert.pooler.activation(bert.pooler.dense(hidden)) if bert.pooler is not None else hidden
    logits: Tensor = model.classifier(model.dropout(pooled))
    return logits


def _to_heads(packed: Tensor, index: Tensor, rows: int, width: int, heads: int, head_dim: int) -> Tensor:
    """Packed projections (T, k·H) → padded per-head tensors (k, N, heads, L, d), zeros at the padding."""
    grid = packed.new_zeros(rows * width, packed.shape[-1]).index_copy(0, index, packed)
    return grid.view(rows, width, -1, heads, head_dim).permute(2, 0, 3, 1, 4)


def resolve_precision(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or None for fp32. ``auto`` picks bf16 where the hardware has bf16 matmuls."""
    if config.precision == "fp32":
        return None
    if config.precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return torch.bfloat16 if cpu_has_bf16_matmul() else None


def cpu_has_bf16_matmul() -> bool:
    """AMX-BF16 or AVX512-BF16 in /proc/cpuinfo (where bf16 autocast measured ~2x faster than fp32 here)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags
